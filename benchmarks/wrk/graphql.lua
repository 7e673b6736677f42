-- wrk script for benchmarks/harness.py: the ceiling. Every request is the GraphQL call the
-- other contenders make, with the token they would hold already in hand (wrk makes no token
-- requests). The request is fixed, so wrk builds it once and no Lua runs per request.
--
--   wrk -t1 -c 64 -d 5s --latency -s benchmarks/wrk/graphql.lua http://127.0.0.1:PORT/public/graphql

wrk.method = "POST"
wrk.body = '{"query":"query { me { id } }"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.headers["Authorization"] = "Bearer tok_bench_0123456789abcdef"
