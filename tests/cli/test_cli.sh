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
check "mock-server --help" help_mentions mock-server --tls
check "mock-server --help shows --rate-limit-per-workspace" \
    help_mentions mock-server --rate-limit-per-workspace
check "demo --help" help_mentions demo --workspaces
check "token --help shows --proxy" help_mentions token --proxy
check "query --help shows --no-proxy" help_mentions query --no-proxy
check "no command is an error" bash -c "! '$glue' >/dev/null 2>&1"
check "query --help shows --no-compression" help_mentions query --no-compression

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
# A mock that admits one GraphQL request a workspace every 1000 s: the second call for the
# workspace is refused with a Retry-After beyond the call's deadline.
printf '%s\n' wks_A wks_A >"$work/twice.txt"
"$mock" --rate-limit-per-workspace 0.001 -- \
    "$glue" bulk --workspaces "$work/twice.txt" '{ me { id } }' -c 1 >"$work/limited.jsonl" \
    2>"$work/limited.err" || true
secret=$(cat "$work/secret")

check "token exits 0" test "$(cat "$work/token.rc")" = 0
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
check "a GraphQL error is said on stderr" grep -q '^glue: .*graphql errors: .*nope' "$work/bad_query.err"
check "... in one line" test "$(wc -l <"$work/bad_query.err")" = 1
check "variables that are not an object are refused" test "$(cat "$work/bad_vars.rc")" = 1
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
check "glue-mock-server --rate-limit-per-workspace: the first call passes" \
    test "$(grep -c '"ok":true' "$work/limited.jsonl")" = 1
check "... the second is refused as rate limited" \
    grep -q '"ok":false,"error":{"class":"rate_limited"' "$work/limited.jsonl"
check "glue-mock-server refuses a rate that is not a number" \
    bash -c "! '$mock' --rate-limit fast -- true 2>/dev/null"
check "the client secret is never printed" bash -c "! grep -rqF -- '$secret' '$work'/*.out '$work'/*.err '$work'/*.jsonl"
check "no token is printed without --show-token" \
    bash -c "! grep -q 'glue_at_' '$work'/ok.jsonl '$work'/mixed.jsonl '$work'/*.err '$work'/query.out"

# The demo, scaled down: every call succeeds with one token request per workspace.
check "demo" "$glue" demo --calls 3000 --workspaces 100 --concurrency 128

((failures == 0)) || { echo "$failures failed"; exit 1; }
