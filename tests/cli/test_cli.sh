#!/usr/bin/env bash
# The `glue` command end to end against glue-mock-server on 127.0.0.1: what it prints, where,
# its exit codes, and that it never prints the client secret or a token unless asked.
#
#   test_cli.sh GLUE GLUE_MOCK_SERVER
set -euo pipefail
glue=$1
mock=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
check() { # check DESCRIPTION COMMAND...
    if "${@:2}"; then echo "ok: $1"; else echo "FAILED: $1"; failures=$((failures + 1)); fi
}

# Every command has --help.
help_mentions() { # help_mentions COMMAND TEXT: `glue COMMAND --help` exits 0 and shows TEXT
    local out
    out=$("$glue" "$1" --help) && grep -qF -- "$2" <<<"$out"
}
check "token --help" help_mentions token --show-token
check "query --help" help_mentions query --variables
check "bulk --help" help_mentions bulk --concurrency
check "bulk --help shows --metrics" help_mentions bulk --metrics
check "mock-server --help" help_mentions mock-server --tls
check "mock-server --help shows --rate-limit-per-workspace" \
    help_mentions mock-server --rate-limit-per-workspace
check "demo --help" help_mentions demo --workspaces
check "token --help shows --proxy" help_mentions token --proxy
check "query --help shows --no-proxy" help_mentions query --no-proxy
check "no command is an error" bash -c "! '$glue' >/dev/null 2>&1"
check "query --help shows --no-compression" help_mentions query --no-compression
check "query --help shows --paginate" help_mentions query --paginate
check "query --help shows -F" help_mentions query --field
check "query --help shows --include" help_mentions query --include

# Against the mock server; glue-mock-server sets GLUE_* for the command it runs.
ws=wks_32kbzWHxtQvfVEgwEdQduuxRTYG
cat >"$work/script.sh" <<SCRIPT
set -u
"$glue" token -w $ws >"$work/token.out" 2>&1; echo \$? >"$work/token.rc"
"$glue" token -w $ws --show-token >"$work/token_shown.out" 2>&1
"$glue" query -w $ws '{ me { id name } }' >"$work/query.out" 2>"$work/query.err"; echo \$? >"$work/query.rc"
"$glue" query -w $ws '{ nope }' >"$work/bad_query.out" 2>"$work/bad_query.err"; echo \$? >"$work/bad_query.rc"
"$glue" query -w $ws '{ me { id } }' --variables '[1]' >/dev/null 2>"$work/bad_vars.err"; echo \$? >"$work/bad_vars.rc"
printf '%s\n' wks_A wks_B '# a comment' '' wks_C wks_D >"$work/ok.txt"
"$glue" bulk --workspaces "$work/ok.txt" '{ me { id } }' -c 2 --out "$work/ok.jsonl" 2>"$work/ok.err"; echo \$? >"$work/ok.rc"
printf '%s\n' wks_A 'bad id' wks_C | "$glue" bulk --workspaces - --file "$work/q.graphql" >"$work/mixed.jsonl" 2>"$work/mixed.err"; echo \$? >"$work/mixed.rc"
"$glue" token -w $ws --proxy 'socks5://u:pr0xy-pw@p:1' >/dev/null 2>"$work/bad_proxy.err"; echo \$? >"$work/bad_proxy.rc"
GLUE_PROXY='https://u:pr0xy-pw@p' "$glue" token -w $ws >/dev/null 2>"$work/env_proxy.err"; echo \$? >"$work/env_proxy.rc"
"$glue" -v query -w $ws 'query Me(\$x: String) { me { id } }' --operation-name Me --variables '{"x":"vArIaBlE-vAlUe"}' >/dev/null 2>"$work/verbose.err"; echo \$? >"$work/verbose.rc"
"$glue" query -w $ws '{ me { id } }' -v --variables '{"y":"vArIaBlE-vAlUe"}' >/dev/null 2>"$work/verbose_after.err"
GLUE_DEBUG=1 "$glue" token -w $ws >/dev/null 2>"$work/debug.err"
echo "\$GLUE_CLIENT_SECRET" >"$work/secret"
SCRIPT
echo '{ me { id } }' >"$work/q.graphql"
"$mock" -- bash "$work/script.sh"
# A mock that gzips its answers: the same data with and without --no-compression.
groups='{ groups(first: 100) { nodes { id name } } }'
cat >"$work/gzip.sh" <<SCRIPT
set -u
"$glue" query -w $ws '$groups' >"$work/gzip.out" 2>&1; echo \$? >"$work/gzip.rc"
"$glue" query --no-compression -w $ws '$groups' >"$work/plain.out" 2>&1; echo \$? >"$work/plain.rc"
SCRIPT
"$mock" --compress --groups 100 -- bash "$work/gzip.sh"
# A mock that admits one GraphQL request every 1000 s: the second workspace's call is refused
# with a Retry-After beyond the call's deadline. (Two workspaces: glue bulk calls an id listed
# twice once.)
printf '%s\n' wks_A wks_B >"$work/twice.txt"
"$mock" --rate-limit 0.001 -- \
    "$glue" bulk --workspaces "$work/twice.txt" '{ me { id } }' -c 1 >"$work/limited.jsonl" \
    2>"$work/limited.err" || true
secret=$(cat "$work/secret")

check "token exits 0" test "$(cat "$work/token.rc")" = 0
# -v and GLUE_DEBUG=1: a line per request on stderr, never a secret, token, variable or query.
check "-v query exits 0" test "$(cat "$work/verbose.rc")" = 0
check "-v shows the token request" \
    grep -q '^glue: POST /oauth/token ws=wks_32kbzWHxtQvfVEgwEdQduuxRTYG attempt=1 status=200 ' \
    "$work/verbose.err"
check "-v shows the GraphQL request with its operation and time split" \
    grep -Eq '^glue: POST /public/graphql ws=wks_[A-Za-z0-9]+ op=Me attempt=1 status=200 next=done conn=(new|reused) sent=[0-9]+B received=[0-9]+B total=[0-9.]+ms .*exchange=' \
    "$work/verbose.err"
check "... one line per request" test "$(wc -l <"$work/verbose.err")" = 2
check "-v after the command works too" grep -q '^glue: POST /public/graphql' "$work/verbose_after.err"
check "GLUE_DEBUG=1 works as -v" grep -q '^glue: POST /oauth/token' "$work/debug.err"
check "without -v, nothing on stderr" test ! -s "$work/query.err"
for leak in "$secret" glue_at_ vArIaBlE-vAlUe 'me { id }'; do
    check "-v never shows ${leak:0:8}..." \
        bash -c "! grep -qF -- '$leak' '$work/verbose.err' '$work/verbose_after.err' '$work/debug.err'"
done
check "--proxy with a SOCKS URL is refused" test "$(cat "$work/bad_proxy.rc")" != 0
check "... saying why" grep -q 'SOCKS' "$work/bad_proxy.err"
check "GLUE_PROXY with an https:// URL is refused" test "$(cat "$work/env_proxy.rc")" != 0
check "... saying why" grep -q 'https:// proxies' "$work/env_proxy.err"
check "... never showing the proxy's password" \
    bash -c "! grep -q 'pr0xy-pw' '$work/bad_proxy.err' '$work/env_proxy.err'"
check "token prints the user id" grep -q '^user_id  *usr_' "$work/token.out"
check "token hides the token" bash -c "! grep -q 'glue_at_' '$work/token.out'"
check "--show-token shows it" grep -q '^token  *glue_at_' "$work/token_shown.out"
check "query prints the data as JSON" grep -q '^{"me":{"id":"usr_' "$work/query.out"
check "query exits 0" test "$(cat "$work/query.rc")" = 0
check "a GraphQL error exits 1" test "$(cat "$work/bad_query.rc")" = 1
check "a GraphQL error is said on stderr" grep -q '^glue: the query failed: .*nope' "$work/bad_query.err"
check "... in one line" test "$(wc -l <"$work/bad_query.err")" = 1
check "variables that are not an object are refused" test "$(cat "$work/bad_vars.rc")" = 2
check "... in one line" test "$(wc -l <"$work/bad_vars.err")" = 1
check "a gzipped answer is decoded" test "$(cat "$work/gzip.rc")" = 0
check "--no-compression gets the same data" cmp -s "$work/gzip.out" "$work/plain.out"
check "... 100 groups of it" test "$(grep -o '"id":"grp_' "$work/gzip.out" | wc -l)" = 100
check "bulk exits 0 when all succeed" test "$(cat "$work/ok.rc")" = 0
check "bulk writes a line per workspace" test "$(wc -l <"$work/ok.jsonl")" = 4
check "bulk lines carry workspace, ok and data" \
    grep -q '^{"workspace":"wks_A","ok":true,"data":{"me":{"id":"usr_' "$work/ok.jsonl"
check "bulk summarises on stderr" grep -q 'token requests  4' "$work/ok.err"
check "bulk exits 1 when one fails" test "$(cat "$work/mixed.rc")" = 1
check "the failure is a typed line" \
    grep -q '"ok":false,"error":{"class":"invalid_argument"' "$work/mixed.jsonl"
check "the others still succeed" test "$(grep -c '"ok":true' "$work/mixed.jsonl")" = 2
check "the summary counts errors by class" grep -q 'invalid_argument *1' "$work/mixed.err"
check "glue-mock-server --rate-limit: the first call passes" \
    test "$(grep -c '"ok":true' "$work/limited.jsonl")" = 1
check "... the second is refused as rate limited" \
    grep -q '"ok":false,"error":{"class":"rate_limited"' "$work/limited.jsonl"
check "glue-mock-server refuses a rate that is not a number" \
    bash -c "! '$mock' --rate-limit fast -- true 2>/dev/null"
check "the client secret is never printed" bash -c "! grep -rqF -- '$secret' '$work'/*.out '$work'/*.err '$work'/*.jsonl"
check "no token is printed without --show-token" \
    bash -c "! grep -q 'glue_at_' '$work'/ok.jsonl '$work'/mixed.jsonl '$work'/*.err '$work'/query.out"

# glue bulk's checks before any I/O: rates, mutations, --resume with --out.
refused() { # refused TEXT COMMAND...: exits 2 saying TEXT on stderr, with nothing written
    local err rc=0
    err=$("${@:2}" 2>&1 >"$work/refused.out") || rc=$?
    ((rc == 2)) && grep -qF -- "$1" <<<"$err" && ! test -s "$work/refused.out"
}
printf '%s\n' wks_A wks_B >"$work/two.txt"
for rate in nan -1 abc inf 1e999 ''; do
    check "--rate '$rate' is refused" refused 'number of requests per second' \
        "$glue" bulk --workspaces "$work/two.txt" '{ me { id } }' --rate "$rate"
done
check "--rate-per-workspace -2 is refused" refused 'number of requests per second' \
    "$glue" bulk --workspaces "$work/two.txt" '{ me { id } }' --rate-per-workspace -2
check "GLUE_RATE=inf is refused" refused 'GLUE_RATE' \
    env GLUE_RATE=inf "$glue" bulk --workspaces "$work/two.txt" '{ me { id } }'
check "GLUE_RATE_PER_WORKSPACE=-1 is refused" refused 'GLUE_RATE_PER_WORKSPACE' \
    env GLUE_RATE_PER_WORKSPACE=-1 "$glue" bulk --workspaces "$work/two.txt" '{ me { id } }'
echo 'mutation Send($input: SendMessageInput!) { sendMessage(input: $input) { message { id } } }' \
    >"$work/send.graphql"
plain_send='{"input": {"thread": {"recipients": ["grp_1"], "subject": "Deploys"}, "message": {"text": "v1"}}}'
upsert_send='{"input": {"thread": {"recipients": ["grp_1"], "subject": "Deploys", "threadBy": "deploys"}, "message": {"text": "v1", "uniqueBy": "deploy-v1"}}}'
check "a bulk mutation without uniqueBy is refused before any I/O" refused 'uniqueBy' \
    env GLUE_API_URL=http://127.0.0.1:9 "$glue" bulk --workspaces "$work/two.txt" \
    --file "$work/send.graphql" --variables "$plain_send" -o "$work/refused.jsonl"
check "... writing no file" test ! -e "$work/refused.jsonl"
check "... and saying how to run it anyway" refused '--allow-duplicates' \
    "$glue" bulk --workspaces "$work/two.txt" --file "$work/send.graphql" --variables "$plain_send"
check "--resume with --out naming another file is refused" refused 'appends to its own file' \
    "$glue" bulk --workspaces "$work/two.txt" '{ me { id } }' --resume "$work/a.jsonl" \
    -o "$work/b.jsonl"
check "... as with --out -" refused 'appends to its own file' \
    "$glue" bulk --workspaces "$work/two.txt" '{ me { id } }' --resume "$work/a.jsonl" -o -
check "--metrics - is refused" refused 'needs a file' \
    "$glue" bulk --workspaces "$work/two.txt" '{ me { id } }' --metrics -
check "--metrics naming the results' file is refused" refused 'names the file the results go to' \
    "$glue" bulk --workspaces "$work/two.txt" '{ me { id } }' -o "$work/same.out" \
    --metrics "$work/same.out"

# glue bulk against the mock: mutations, odd input lines, --resume, the progress bar.
jsonl() { # jsonl FILE: every line is JSON and ends with a newline
    python3 - "$1" <<'PY'
import json, sys
data = open(sys.argv[1], "rb").read()
assert data == b"" or data.endswith(b"\n"), "no newline at the end"
for line in data.decode("utf-8").splitlines():
    json.loads(line)
PY
}
results_are() { # results_are FILE IDS_FILE: one "ok" line per id of IDS_FILE, no other line
    python3 - "$1" "$2" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
ids = [l.strip() for l in open(sys.argv[2]) if l.strip()]
called = [r["workspace"] for r in lines]
assert all(r["ok"] for r in lines), "a failed line"
assert len(called) == len(set(called)), "a workspace twice"
assert set(called) == set(ids), "not the list's workspaces"
PY
}
for i in $(seq 1 10); do printf 'wks_%05d\n' "$i"; done >"$work/ten.txt"
{
    # A run killed mid-job: 1 and 2 done, 3 failed, then a line cut off by the kill.
    printf '{"workspace":"wks_00001","ok":true,"data":{}}\n'
    printf '{"workspace":"wks_00002","ok":true,"data":{}}\n'
    printf '{"workspace":"wks_00003","ok":false,"error":{"class":"timeout","message":"t"}}\n'
    printf '{"workspace":"wks_00004","ok":tr'
} >"$work/cut.jsonl"
{
    # One killed just before the newline of a whole line: that line is kept.
    printf '{"workspace":"wks_00001","ok":true,"data":{}}\n'
    printf '{"workspace":"wks_00002","ok":true,"data":{}}'
} >"$work/no_newline.jsonl"
printf '{"workspace":"wks_00001","ok":true}\nnot json\n{"workspace":"wks_00002","ok":true}\n' \
    >"$work/garbage.jsonl"
cp "$work/garbage.jsonl" "$work/garbage_before.jsonl"
printf 'wks_A\n\xff\xfe\nwks_\x1b[31mB\nwks_C\n' >"$work/bad_bytes.txt"
printf '%s\n' wks_A wks_B wks_A wks_C wks_A >"$work/dups.txt"
cat >"$work/bulk.sh" <<SCRIPT
set -u
"$glue" bulk --workspaces "$work/two.txt" --file "$work/send.graphql" --variables '$plain_send' --allow-duplicates -o "$work/dup_send.jsonl" 2>"$work/dup_send.err"; echo \$? >"$work/dup_send.rc"
"$glue" bulk --workspaces "$work/two.txt" --file "$work/send.graphql" --variables '$upsert_send' -o "$work/upsert.jsonl" 2>"$work/upsert.err"; echo \$? >"$work/upsert.rc"
"$glue" bulk --workspaces "$work/bad_bytes.txt" '{ me { id } }' -o "$work/bad_bytes.jsonl" 2>"$work/bad_bytes.err"; echo \$? >"$work/bad_bytes.rc"
"$glue" bulk --workspaces - '{ me { id } }' -o "$work/dups.jsonl" <"$work/dups.txt" 2>"$work/dups.err"; echo \$? >"$work/dups.rc"
"$glue" bulk --workspaces "$work/ten.txt" '{ me { id } }' -c 3 --resume "$work/cut.jsonl" 2>"$work/cut.err"; echo \$? >"$work/cut.rc"
"$glue" bulk --workspaces "$work/ten.txt" '{ me { id } }' --resume "$work/no_newline.jsonl" -o "$work/no_newline.jsonl" 2>"$work/no_newline.err"; echo \$? >"$work/no_newline.rc"
"$glue" bulk --workspaces "$work/ten.txt" '{ me { id } }' --resume "$work/fresh.jsonl" 2>"$work/fresh.err"; echo \$? >"$work/fresh.rc"
"$glue" bulk --workspaces "$work/ten.txt" '{ me { id } }' --resume "$work/garbage.jsonl" 2>"$work/garbage.err"; echo \$? >"$work/garbage.rc"
"$glue" bulk --workspaces "$work/ten.txt" '{ me { id } }' --rate 1000 --rate-per-workspace 0.5 -o "$work/rated.jsonl" 2>"$work/rated.err"; echo \$? >"$work/rated.rc"
script -qec "'$glue' bulk --workspaces '$work/ten.txt' '{ me { id } }' -o /dev/null" /dev/null >"$work/tty.out" 2>&1; echo \$? >"$work/tty.rc"
"$glue" bulk --workspaces "$work/ten.txt" '{ me { id } }' -o "$work/metrics.jsonl" --metrics "$work/metrics.prom" 2>"$work/metrics.err"; echo \$? >"$work/metrics.rc"
"$glue" bulk --workspaces "$work/two.txt" '{ me { id } }' -o "$work/no_dir.jsonl" --metrics "$work/no/such/dir.prom" 2>"$work/no_dir.err"; echo \$? >"$work/no_dir.rc"
mkdir "$work/a_dir"
"$glue" bulk --workspaces "$work/two.txt" '{ me { id } }' -o /dev/null --metrics "$work/a_dir" 2>"$work/on_dir.err"; echo \$? >"$work/on_dir.rc"
echo "\$GLUE_CLIENT_SECRET" >"$work/bulk_secret"
SCRIPT
"$mock" -- bash "$work/bulk.sh"
check "--allow-duplicates runs a mutation without uniqueBy" test "$(cat "$work/dup_send.rc")" = 0
check "... in every workspace" results_are "$work/dup_send.jsonl" "$work/two.txt"
check "a sendMessage upsert (uniqueBy, threadBy) needs no --allow-duplicates" \
    test "$(cat "$work/upsert.rc")" = 0
check "... and runs in every workspace" results_are "$work/upsert.jsonl" "$work/two.txt"
check "ids that are not UTF-8 or hold a control character leave valid JSON lines" \
    jsonl "$work/bad_bytes.jsonl"
check "... by skipping them: the others are called" \
    test "$(grep -c '"ok":true' "$work/bad_bytes.jsonl")" = 2
check "... and only them" test "$(wc -l <"$work/bad_bytes.jsonl")" = 2
check "... saying which lines" grep -q 'bad_bytes.txt line 2: not a workspace id' "$work/bad_bytes.err"
check "... both" grep -q 'bad_bytes.txt line 3: not a workspace id' "$work/bad_bytes.err"
check "... counting them in the summary" grep -q 'invalid lines   2 skipped' "$work/bad_bytes.err"
check "... and exiting 1" test "$(cat "$work/bad_bytes.rc")" = 1
check "a workspace listed three times is called once" \
    test "$(grep -c '"workspace":"wks_A"' "$work/dups.jsonl")" = 1
check "... and every workspace of the list once" results_are "$work/dups.jsonl" "$work/dups.txt"
check "... with the repeats counted" grep -q 'duplicates      2 skipped' "$work/dups.err"
check "... and one token request each" grep -q 'token requests  3' "$work/dups.err"
check "--resume after a cut-off line exits 0" test "$(cat "$work/cut.rc")" = 0
check "... leaving JSON lines" jsonl "$work/cut.jsonl"
check "... calling only the 8 workspaces without an ok line" \
    grep -q '^8 requests over 8 workspaces' "$work/cut.err"
check "... saying 2 were done" grep -q 'already done    2 skipped' "$work/cut.err"
check "... appending their lines after the whole ones" \
    test "$(wc -l <"$work/cut.jsonl")" = $((3 + 8))
check "... and nothing of the cut-off line" bash -c "! grep -q '\"ok\":tr\$' '$work/cut.jsonl'"
check "... the failed workspace called again" \
    test "$(grep -c '"workspace":"wks_00003","ok":true' "$work/cut.jsonl")" = 1
check "... every workspace ok once" \
    test "$(grep '"ok":true' "$work/cut.jsonl" | sort -u | wc -l)" = 10
check "a whole last line without its newline is kept" jsonl "$work/no_newline.jsonl"
check "... counted as done" grep -q 'already done    2 skipped' "$work/no_newline.err"
check "... with --out naming the same file" test "$(cat "$work/no_newline.rc")" = 0
check "... the union being the list" results_are "$work/no_newline.jsonl" "$work/ten.txt"
check "--resume of a file not there yet runs the whole job" results_are "$work/fresh.jsonl" "$work/ten.txt"
check "... and says none were done" grep -q 'already done    0 skipped' "$work/fresh.err"
check "--resume of a file that isn't glue bulk's output is refused" \
    test "$(cat "$work/garbage.rc")" = 2
check "... saying which line" grep -q 'garbage.jsonl line 2 is not a result line' "$work/garbage.err"
check "... leaving it as it was" cmp -s "$work/garbage.jsonl" "$work/garbage_before.jsonl"
check "--rate and --rate-per-workspace are accepted" test "$(cat "$work/rated.rc")" = 0
check "... and the job done" results_are "$work/rated.jsonl" "$work/ten.txt"
check "the summary shows the throttling" grep -q '^  throttled       [0-9]' "$work/rated.err"
check "... the retries and those the budget denied" \
    grep -q '^  retries         [0-9]*, [0-9]* more denied by the retry budget' "$work/rated.err"
check "... and the time spent waiting" grep -q '^  waited          [0-9.]* s' "$work/rated.err"
prometheus_ok() { # prometheus_ok FILE: promtool accepts it (required under CI)
    if command -v promtool >/dev/null; then
        promtool check metrics <"$1"
    else
        echo "promtool is not installed (scripts/setup installs Debian's prometheus)"
        test -z "${CI:-}"
    fi
}
check "--metrics writes the job's figures" test "$(cat "$work/metrics.rc")" = 0
check "... in Prometheus' text format" prometheus_ok "$work/metrics.prom"
check "... whole, the .tmp file renamed" test ! -e "$work/metrics.prom.tmp"
check "... counting the calls" grep -qx 'glue_graphql_calls_total{outcome="ok"} 10' "$work/metrics.prom"
check "... and the requests sent" grep -qx 'glue_throttle_requests_sent_total 10' "$work/metrics.prom"
check "... and the token requests" grep -qx 'glue_token_requests_total 10' "$work/metrics.prom"
check "... with no secret or token in it" bash -c "! grep -qF -e '$(cat "$work/bulk_secret")' -e glue_at_ '$work/metrics.prom'"
check "--metrics that can't be written exits 1" test "$(cat "$work/no_dir.rc")" = 1
check "... saying so" grep -q "writing the metrics to $work/no/such/dir.prom failed" "$work/no_dir.err"
check "... after the job, whose results are whole" results_are "$work/no_dir.jsonl" "$work/two.txt"
check "--metrics naming a directory exits 1" test "$(cat "$work/on_dir.rc")" = 1
check "... leaving no .tmp file" test ! -e "$work/a_dir.tmp"
check "the progress bar (on a terminal) exits 0" test "$(cat "$work/tty.rc")" = 0
check "... shows the send rate, throttled answers and retries" \
    grep -q '10/10 \[.*req/s (sending [0-9.k]*/s) .* throttled [0-9]*  retries [0-9]*' "$work/tty.out"

# Interrupted jobs: calls in flight finish (or, at a second signal, are cancelled), every line
# written is whole, and --resume does the rest. GraphQL answers come 20 ms late, so the job of
# 3,000 calls 4 at a time is far from done when the first lines appear.
for i in $(seq 1 3000); do printf 'wks_%05d\n' "$i"; done >"$work/many.txt"
# What the scripts below wait with, each wait bounded.
cat >"$work/waits.sh" <<'SCRIPT'
wait_for() { # wait_for SECONDS COMMAND...: until COMMAND succeeds; 1 after SECONDS
    local deadline=$((SECONDS + $1))
    until "${@:2}"; do ((SECONDS < deadline)) || return 1; sleep 0.02; done
}
finish() { # finish PID SECONDS: its exit status; killed (137) if it runs longer
    local deadline=$((SECONDS + $2))
    while kill -0 "$1" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.02; done
    kill -KILL "$1" 2>/dev/null
    wait "$1"
}
SCRIPT
cat >"$work/interrupt.sh" <<SCRIPT
set -u
source "$work/waits.sh"
interrupt() { # interrupt NAME SIGNAL ARGS...: a job of many.txt, SIGNAL once lines appear
    "$glue" bulk --workspaces "$work/many.txt" '{ me { id } }' -o "$work/\$1.jsonl" "\${@:3}" 2>"$work/\$1.err" &
    local pid=\$!
    wait_for 60 test -s "$work/\$1.jsonl"
    kill -"\$2" \$pid
    finish \$pid 60; echo \$? >"$work/\$1.rc"
    cp "$work/\$1.jsonl" "$work/\$1_before.jsonl"
    "$glue" bulk --workspaces "$work/many.txt" '{ me { id } }' -c 64 --resume "$work/\$1.jsonl" 2>"$work/\$1_resume.err"; echo \$? >"$work/\$1_resume.rc"
}
interrupt int INT -c 4 --metrics "$work/int.prom"
interrupt term TERM -c 4 --grace-period 0
SCRIPT
"$mock" --graphql-delay 20 -- bash "$work/interrupt.sh"
# A second signal cancels the calls in flight at once, well within the 60 s grace period, and
# the end of a grace period shorter than the calls does too: they take 2 s to answer.
cat >"$work/twice.sh" <<SCRIPT
set -u
source "$work/waits.sh"
"$glue" bulk --workspaces "$work/many.txt" '{ me { id } }' -c 100 --grace-period 60 -o "$work/twice.jsonl" 2>"$work/twice.err" &
pid=\$!
wait_for 60 test -s "$work/twice.jsonl"
kill -INT \$pid
wait_for 10 grep -q 'no new calls' "$work/twice.err"
kill -INT \$pid
start=\$SECONDS
finish \$pid 60; echo \$? >"$work/twice.rc"
echo \$((SECONDS - start)) >"$work/twice.secs"
"$glue" bulk --workspaces "$work/many.txt" '{ me { id } }' -c 100 --grace-period 1 -o "$work/grace.jsonl" 2>"$work/grace.err" &
pid=\$!
wait_for 60 test -s "$work/grace.jsonl"
kill -INT \$pid
finish \$pid 60; echo \$? >"$work/grace.rc"
SCRIPT
"$mock" --graphql-delay 2000 -- bash "$work/twice.sh"

check "SIGINT exits 130" test "$(cat "$work/int.rc")" = 130
check "... after the calls in flight finished" grep -q 'by SIGINT: 0 cancelled in flight' "$work/int.err"
check "... with a summary" grep -q '^  succeeded' "$work/int.err"
check "... before the end of the job" bash -c "(( \$(wc -l <'$work/int_before.jsonl') < 3000 ))"
check "... every line whole JSON" jsonl "$work/int_before.jsonl"
check "... one per call made" test "$(wc -l <"$work/int_before.jsonl")" = \
    "$(sed -n 's/^\([0-9]*\) requests over.*/\1/p' "$work/int.err")"
check "... and the figures of the calls made" grep -qx \
    "glue_graphql_calls_total{outcome=\"ok\"} $(wc -l <"$work/int_before.jsonl")" "$work/int.prom"
check "... in Prometheus' text format" prometheus_ok "$work/int.prom"
check "--resume then does the rest" test "$(cat "$work/int_resume.rc")" = 0
check "... only the rest" grep -q "already done    $(wc -l <"$work/int_before.jsonl") skipped" \
    "$work/int_resume.err"
check "... the union being the list, each workspace once" results_are "$work/int.jsonl" "$work/many.txt"
check "SIGTERM exits 143" test "$(cat "$work/term.rc")" = 143
check "... cancelling the calls in flight without a grace period" \
    grep -Eq 'by SIGTERM: [1-9][0-9]* cancelled in flight' "$work/term.err"
check "... every line whole JSON" jsonl "$work/term_before.jsonl"
check "... and ok: no line for a cancelled call" \
    test "$(grep -c '"ok":true' "$work/term_before.jsonl")" = "$(wc -l <"$work/term_before.jsonl")"
check "--resume after SIGTERM does the rest" results_are "$work/term.jsonl" "$work/many.txt"
check "a second SIGINT exits 130" test "$(cat "$work/twice.rc")" = 130
check "... at once, cancelling the calls in flight" \
    grep -Eq 'by SIGINT: [1-9][0-9]* cancelled in flight' "$work/twice.err"
check "... within the grace period" test "$(cat "$work/twice.secs")" -lt 30
check "... every line whole JSON" jsonl "$work/twice.jsonl"
check "the end of the grace period cancels the calls in flight" \
    grep -Eq 'by SIGINT: [1-9][0-9]* cancelled in flight' "$work/grace.err"
check "... exiting 130" test "$(cat "$work/grace.rc")" = 130
check "... every line whole JSON" jsonl "$work/grace.jsonl"
check "... a line for each call that completed, none for those cancelled or not started" \
    python3 - "$work/twice.jsonl" "$work/twice.err" <<'PY'
import json, re, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
summary = open(sys.argv[2]).read()
cancelled, not_started = map(int, re.search(r"(\d+) cancelled in flight, (\d+) not started", summary).groups())
assert all(r["ok"] for r in lines)
assert len(lines) + cancelled + not_started == 3000, (len(lines), cancelled, not_started)
PY

# Error lines a person can read: what failed, against which host, what to do, in one line, for
# each class of failure brought about on 127.0.0.1 (tests/cli/test_error_text.cpp has them all);
# and the exit status: 0 done, 1 a call failed, 2 refused before anything was sent.
# A raw server for what the mock never does: 5xx with a request id, unreadable and unexpected
# answers, and the variables sent, echoed as the data. The workspace (the token's subject)
# says which.
cat >"$work/raw_server.py" <<'PY'
import http.server, json, sys, urllib.parse

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def reply(self, status, body, ctype="application/json", headers=()):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/oauth/token":
            ws = urllib.parse.parse_qs(body.decode()).get("subject", [""])[0]
            return self.reply(200, json.dumps({"access_token": "tok_" + ws,
                                               "token_type": "Bearer", "expires_in": 3600}))
        ws = self.headers.get("Authorization", "").removeprefix("Bearer tok_")
        if ws == "wks_5xx":
            return self.reply(503, "down", "text/plain", [("X-Request-Id", "req_raw5")])
        if ws == "wks_junk":
            return self.reply(200, "<html>not json</html>", "text/html",
                              [("X-Request-Id", "req_raw6")])
        if ws == "wks_404":
            return self.reply(404, "no such page", "text/plain")
        variables = json.loads(body).get("variables", {})
        return self.reply(200, json.dumps({"data": variables}))

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
__import__("os").rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
PY
python3 "$work/raw_server.py" "$work/raw.port" &
raw_pid=$!
trap 'kill "$raw_pid" 2>/dev/null; wait "$raw_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 500); do test -s "$work/raw.port" && break; sleep 0.02; done
raw="http://127.0.0.1:$(cat "$work/raw.port")"
export GLUE_CLIENT_ID=glue-test-client GLUE_CLIENT_SECRET=glue-test-secret \
    GLUE_REDIRECT_URI=http://localhost:8080/oauth/callback
says() { # says NAME STATUS LINE: NAME exited STATUS, printing LINE (HOST: its API's) on stderr
    local rc want
    rc=$(cat "$work/$1.rc")
    want=${3//HOST/$(cat "$work/$1.host")}
    if [[ $rc == "$2" && "$(cat "$work/$1.err")" == "$want" ]]; then return 0; fi
    echo "  exit $rc (want $2); stderr:"; sed 's/^/    /' "$work/$1.err"; echo "  want: $want"
    return 1
}
run_as() { # run_as NAME COMMAND...: stdout to NAME.out, stderr to NAME.err, status to NAME.rc,
    local name=$1 # and the host[:port] of GLUE_API_URL to NAME.host
    shift
    local rc=0
    "$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
    echo $rc >"$work/$name.rc"
    local url=${GLUE_API_URL:-}
    url=${url#*://}
    echo "${url%%/*}" >"$work/$name.host"
}
in_mock() { # in_mock MOCK_OPTIONS... -- NAME COMMAND...: run_as NAME COMMAND... against a mock
    local opts=()
    while [[ $1 != -- ]]; do opts+=("$1"); shift; done
    shift
    "$mock" "${opts[@]}" -- bash -c "$(declare -f run_as); work='$work'; run_as \"\$@\"" bash "$@"
}
me='{ me { id } }'
GLUE_API_URL=http://127.0.0.1:1 run_as refused "$glue" query -w wks_1 "$me"
GLUE_API_URL=http://127.0.0.1:1 run_as refused_v "$glue" -v query -w wks_1 "$me"
GLUE_API_URL=http://127.0.0.1:1 GLUE_CLIENT_SECRET='' run_as no_credentials "$glue" query -w wks_1 "$me"
GLUE_API_URL=$raw run_as raw_5xx "$glue" query -w wks_5xx "$me"
GLUE_API_URL=$raw run_as raw_junk "$glue" query -w wks_junk "$me"
GLUE_API_URL=$raw run_as raw_404 "$glue" query -w wks_404 "$me"
GLUE_API_URL=$raw run_as typed "$glue" query -w wks_echo "$me" \
    --variables '{"keep": 1, "n": "replaced"}' -F n=42 -F x=-1.5 -F t=true -F u=null \
    -F s=hello -F file=@"$work/q.graphql" -f raw=42 -f empty=
GLUE_API_URL=$raw run_as typed_stdin "$glue" query -w wks_echo "$me" -F in=@- <<<"from stdin"
GLUE_API_URL=$raw run_as field_twice "$glue" query -w wks_echo "$me" -F a=1 -f a=2
GLUE_API_URL=$raw run_as field_bad "$glue" query -w wks_echo "$me" -F 'no equals'
GLUE_API_URL=$raw run_as field_no_file "$glue" query -w wks_echo "$me" -F a=@"$work/none"
run_as unknown_flag "$glue" query -w wks_1 "$me" --no-such-flag
run_as help "$glue" query --help
run_as version "$glue" --version
in_mock -- graphql_error "$glue" query -w wks_1 '{ me { idx } }'
in_mock -- bad_secret "$glue" query -w wks_1 "$me" --client-secret wrong
in_mock -- not_installed "$glue" query -w not_a_workspace "$me"
in_mock -- bad_redirect "$glue" query -w wks_1 "$me" --redirect-uri http://localhost:1/elsewhere
in_mock -- bad_id "$glue" query -w 'bad id' "$me"
in_mock -- bad_variables "$glue" query -w wks_1 "$me" --variables '[1]'
cat >"$work/limited.sh" <<SCRIPT
$(declare -f run_as)
work='$work'
run_as limited_first "$glue" query -w wks_1 '$me'
run_as limited "$glue" query -w wks_1 '$me'
SCRIPT
"$mock" --rate-limit 0.00001 -- bash "$work/limited.sh" # Retry-After: the mock's cap, a day
in_mock --tls -- tls env -u GLUE_CA_FILE "$glue" query -w wks_1 "$me"
in_mock --tls -- bad_ca "$glue" query -w wks_1 "$me" --ca-file "$work/q.graphql"
in_mock --graphql-delay 3000 -- late "$glue" query -w wks_1 "$me" --timeout 1

check "connection refused" says refused 1 \
    'glue: cannot connect to 127.0.0.1:1 (connection refused); is GLUE_API_URL right?'
check "-v adds what() with the code and where it was set" \
    grep -Eq '^glue: detail: glue::client::graphql: Connection refused \[system:111 at /.+:[0-9]+' \
    "$work/refused_v.err"
check "... after the same line" \
    test "$(grep -c '^glue: cannot connect to 127.0.0.1:1 (connection refused)' "$work/refused_v.err")" = 1
check "without -v, no source location" bash -c "! grep -q 'system:\|\.hpp' '$work/refused.err'"
check "no credentials" says no_credentials 2 \
    'glue: credentials: no client credentials: set GLUE_CLIENT_ID and GLUE_CLIENT_SECRET (or --client-id, --client-secret)'
check "GraphQL errors" says graphql_error 1 \
    'glue: the query failed: Cannot query field "idx" on type "User". (GraphQL error at 1:8, path me.idx)'
check "credentials rejected" says bad_secret 1 \
    "glue: HOST rejected the app's credentials (invalid_client, HTTP 401); check GLUE_CLIENT_ID and GLUE_CLIENT_SECRET"
check "the app not installed in the workspace" says not_installed 1 \
    "glue: HOST gave no token for workspace not_a_workspace (invalid_grant); is the app installed in that workspace?"
check "another OAuth refusal" says bad_redirect 1 \
    "glue: HOST refused the token request (invalid_request); check GLUE_CLIENT_ID, GLUE_CLIENT_SECRET and GLUE_REDIRECT_URI (a redirect URI registered for the app)"
check "an invalid workspace id: refused before sending, exit 2" says bad_id 2 \
    'glue: workspace id contains a space, a control or a non-ASCII character (nothing was sent)'
check "variables that are not an object: exit 2" says bad_variables 2 \
    'glue: the GraphQL variables are not a JSON object (nothing was sent)'
check "the first call under the mock's rate limit passes" test "$(cat "$work/limited_first.rc")" = 0
check "rate limited" says limited 1 \
    'glue: HOST is rate limiting the app (HTTP 429, retry after 86400 s, request id req_4); wait, and try again'
check "TLS: a certificate not verified" says tls 1 \
    'glue: cannot verify the TLS certificate of HOST (certificate verify failed); if a private CA signed it, pass that CA with --ca-file or GLUE_CA_FILE'
check "a CA file that isn't one: exit 2" says bad_ca 2 \
    'glue: the trusted CA certificates could not be loaded (nothing was sent)'
check "a timeout" says late 1 \
    'glue: HOST did not answer in time (deadline passed during the HTTP exchange; --timeout is 1 s); try again, or raise --timeout'
check "a server error, with the request id" says raw_5xx 1 \
    "glue: HOST failed (HTTP 503, server error, request id req_raw5); try again later, and quote the request id if it persists"
check "an answer that is not JSON" says raw_junk 1 \
    "glue: HOST sent an answer glue can't read (the GraphQL response is not a JSON object) (HTTP 200, request id req_raw6); is GLUE_API_URL right?"
check "an unexpected status" says raw_404 1 \
    "glue: HOST gave an unexpected answer (HTTP 404); is GLUE_API_URL right?"
check "an unknown flag exits 2" test "$(cat "$work/unknown_flag.rc")" = 2
check "--help exits 0" test "$(cat "$work/help.rc")" = 0
check "--version exits 0" test "$(cat "$work/version.rc")" = 0

# -F and -f, over --variables.
check "-F types values, -f keeps strings, over --variables" test "$(cat "$work/typed.out")" = \
    '{"keep":1,"n":42,"x":-1.5E0,"t":true,"u":null,"s":"hello","file":"{ me { id } }\n","raw":"42","empty":""}'
check "-F name=@- reads stdin" test "$(cat "$work/typed_stdin.out")" = '{"in":"from stdin\n"}'
check "a variable given twice is refused" says field_twice 2 \
    'glue: -f: the variable a is given twice'
check "-F without = is refused" says field_bad 2 \
    'glue: -F: takes name=value, the name a GraphQL name ([_A-Za-z][_0-9A-Za-z]*)'
check "-F name=@FILE that can't be read is refused" says field_no_file 2 \
    "glue: -F: cannot read $work/none"

# --paginate follows a Relay connection, printing each node as a JSON line; --include shows each
# GraphQL answer's status and captured headers on stderr.
pages='query Groups($first: Int, $after: String) { groups(first: $first, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } }'
edges='query($first: Int, $after: String) { groups(first: $first, after: $after) { edges { node { id name } } pageInfo { hasNextPage endCursor } } }'
in_mock --groups 7 -- paged "$glue" query -w wks_1 "$pages" --paginate groups --page-size 2
in_mock --groups 7 -- paged_edges "$glue" -v query -w wks_1 "$edges" --paginate groups --page-size 3
in_mock --groups 7 -- paged_short "$glue" query -w wks_1 "$pages" --paginate groups --page-size 2 --max-pages 2
in_mock --groups 7 -- paged_wrong_path "$glue" query -w wks_1 "$pages" --paginate threads
in_mock --groups 7 -- paged_no_after "$glue" query -w wks_1 '{ groups { nodes { id } } }' --paginate groups
in_mock -- included "$glue" query -w wks_1 "$me" --include
check "--paginate prints every node, one JSON line each" \
    test "$(grep -c '^{"id":"grp_[A-Za-z0-9]*"}$' "$work/paged.out")" = 7
check "... each once" test "$(sort -u "$work/paged.out" | wc -l)" = 7
check "... and nothing else" test "$(wc -l <"$work/paged.out")" = 7
check "... exiting 0" test "$(cat "$work/paged.rc")" = 0
check "edges { node } too" test "$(grep -c '^{"id":"grp_[A-Za-z0-9]*","name":' "$work/paged_edges.out")" = 7
check "... in 3 requests of 3" test "$(grep -c '^glue: POST /public/graphql' "$work/paged_edges.err")" = 3
check "... the same nodes" cmp -s <(cut -d, -f1 "$work/paged_edges.out" | sed 's/$/}/') "$work/paged.out"
check "--max-pages stops the walk" says paged_short 1 \
    'glue: pagination stopped: the connection has more pages than --max-pages; raise it to get the rest'
check "... after printing its pages" test "$(wc -l <"$work/paged_short.out")" = 4
check "a path with no connection" says paged_wrong_path 1 \
    'glue: --paginate threads: the answer has no connection at the path; does the query select the connection at that path, with pageInfo { hasNextPage endCursor } and nodes or edges { node }?'
check "a query without \$after is refused" says paged_no_after 2 \
    'glue: --paginate: the query must declare $after: String and pass it to the connection, e.g. groups(first: $first, after: $after)'
check "--include shows the status line on stderr" grep -qx 'HTTP/1.1 200 OK' "$work/included.err"
check "... and the captured headers" grep -qx 'x-request-id: req_2' "$work/included.err"
check "... the content type among them" grep -qix 'content-type: application/json.*' "$work/included.err"
check "... the data still alone on stdout" grep -q '^{"me":{"id":"usr_' "$work/included.out"
check "... which is one line" test "$(wc -l <"$work/included.out")" = 1

# The demo, scaled down: every call succeeds with one token request per workspace.
check "demo" "$glue" demo --calls 3000 --workspaces 100 --concurrency 128

((failures == 0)) || { echo "$failures failed"; exit 1; }
