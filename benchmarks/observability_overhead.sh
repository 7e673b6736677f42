#!/usr/bin/env bash
# Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#
# What observability (issue 20: request events, call metrics) costs on the hot path: the
# throughput benchmark (glue_loadgen against nginx) before the instrumentation and after, with
# metrics on, off, and on with a request-event hook, in alternating order, one run.
#
#   benchmarks/observability_overhead.sh [BASELINE]     (default 3184568: the last commit
#                                                        before issue 20's instrumentation)
#   ROUNDS=10 REQUESTS=300000 WORKSPACES=1000 CONNECTIONS=64 benchmarks/observability_overhead.sh
#   INSTRUCTIONS=10000,30000 benchmarks/observability_overhead.sh   (the default; INSTRUCTIONS=
#                                        leaves out the callgrind count of instructions per call)
#
# Builds glue_loadgen twice with the default preset: from the work tree (build/default), and at
# BASELINE in a temporary git worktree (/tmp/glue-observability-baseline-<commit>, its own
# build/default; a fixed path per commit, so ccache serves a second run; removed at exit). Then
# benchmarks/observability_overhead.py runs them against one nginx (started the way harness.py
# starts it) and prints the tables for benchmarks/RESULTS.md. Installs nginx-light, openssl and
# valgrind when missing (apt, as run.sh does). Builds run under nice, at most 2 jobs; the measured runs
# don't. Only 127.0.0.1 is used; nginx and the worktree are gone when it ends, Ctrl-C included.
set -euo pipefail
cd "$(dirname "$0")/.."

baseline=$(git rev-parse --verify "${1:-3184568}^{commit}")
ROUNDS=${ROUNDS:-10}
REQUESTS=${REQUESTS:-300000}
WORKSPACES=${WORKSPACES:-1000}
CONNECTIONS=${CONNECTIONS:-64}
INSTRUCTIONS=${INSTRUCTIONS-10000,30000}

source scripts/packages.bash
install_missing nginx-light openssl ${INSTRUCTIONS:+valgrind}

build_loadgen() { # build_loadgen SOURCE_DIR: configures (once) and builds its glue_loadgen
    (
        cd "$1"
        [ -f build/default/CMakeCache.txt ] || nice cmake --preset default >/dev/null
        nice cmake --build --preset default --target glue_loadgen -j 2 >&2
    )
}

echo "observability_overhead.sh: building glue_loadgen from the work tree" >&2
build_loadgen .

# One run at a time: the baseline's worktree has a fixed path.
exec 9>/tmp/glue-observability-baseline.lock
flock -n 9 || { echo "observability_overhead.sh: another run is going" >&2; exit 1; }
worktree=/tmp/glue-observability-baseline-${baseline:0:12}
py_pid=
cleanup() {
    if [ -n "$py_pid" ]; then
        kill -TERM "$py_pid" 2>/dev/null || true
        wait "$py_pid" 2>/dev/null || true
    fi
    git worktree remove --force "$worktree" 2>/dev/null || rm -rf "$worktree"
    git worktree prune
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
cleanup # a worktree an earlier, killed run left behind
git worktree add --detach "$worktree" "$baseline" >/dev/null
echo "observability_overhead.sh: building glue_loadgen at ${baseline:0:12} in $worktree" >&2
build_loadgen "$worktree"

# In the background and waited for, so that a signal to this script reaches the trap at once
# (the trap stops the Python side, which stops nginx).
/usr/bin/python3 benchmarks/observability_overhead.py \
    --head build/default/benchmarks/glue_loadgen \
    --baseline "$worktree/build/default/benchmarks/glue_loadgen" \
    --baseline-name "${baseline:0:7}" --rounds "$ROUNDS" --requests "$REQUESTS" \
    --workspaces "$WORKSPACES" --connections "$CONNECTIONS" --instructions "$INSTRUCTIONS" &
py_pid=$!
status=0
wait "$py_pid" || status=$?
py_pid=
exit "$status"
