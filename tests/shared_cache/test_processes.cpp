// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The shared token cache with a real Redis (Debian's redis-server on a free port of 127.0.0.1)
// and real processes: workers (glue_shared_cache_worker) against one mock server in this
// process. One token request per workspace for all the processes sharing the cache, and none
// after a restart; a killed lease holder; Redis killed mid-run; a 401 invalidating the shared
// copy; what is stored. A fleet of workers keeping to one rate limit through Redis, and to their
// shares of it while Redis is gone.

#include <glue/glue.hpp>
#include <glue/testing/mock_server.hpp>

#include "shared_cache/test_fixture.hpp"
#include "support/child_process.hpp"
#include "support/redis_server.hpp"
#include "support/test_support.hpp"

#include <boost/json.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using glue::test::child_process;
using glue::test::eventually;
using glue::test::key_hex;
using glue::test::redis_now_ms;
using glue::test::redis_server;
using glue::test::test_key;
using glue::testing::endpoint;
using glue::testing::mock_server;

/// The settings a worker process gets, as GLUE_* variables.
std::map<std::string, std::string> worker_env(const mock_server& mock, const redis_server& redis) {
    const auto cfg = mock.client_config();
    return {{"GLUE_API_URL", cfg.api_url},
            {"GLUE_CLIENT_ID", cfg.client_id},
            {"GLUE_CLIENT_SECRET", cfg.client_secret},
            {"GLUE_REDIRECT_URI", cfg.redirect_uri},
            {"GLUE_SHARED_CACHE_URL", redis.url()},
            {"GLUE_SHARED_CACHE_KEY", std::string(key_hex)}};
}

/// A worker process; its arguments after the program.
std::unique_ptr<child_process> start_worker(const mock_server& mock, const redis_server& redis,
                                            std::vector<std::string> args) {
    args.insert(args.begin(), GLUE_SHARED_CACHE_WORKER);
    return std::make_unique<child_process>(std::move(args), worker_env(mock, redis));
}

struct worker_report {
    boost::json::object summary;
    int status = -1;

    std::uint64_t operator[](std::string_view k) const {
        const auto* v = summary.if_contains(k);
        return v ? v->to_number<std::uint64_t>() : ~std::uint64_t{0};
    }
    bool flag(std::string_view k) const {
        const auto* v = summary.if_contains(k);
        return v && v->is_bool() && v->get_bool();
    }
};

/// Waits for the worker's summary line and its exit.
worker_report finish(child_process& w, std::chrono::seconds limit = 120s) {
    worker_report r;
    std::string line;
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        line = w.read_line(std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now()));
        if (line.empty() || line.front() == '{') {
            break;
        }
    }
    REQUIRE_MESSAGE(!line.empty(), "the worker printed no summary");
    r.summary = boost::json::parse(line).as_object();
    r.status = w.wait(10s);
    INFO("worker: ", line);
    CHECK(WIFEXITED(r.status));
    CHECK(WEXITSTATUS(r.status) == 0);
    return r;
}

// A fleet of four workers, each making fleet_calls GraphQL calls (64 in flight) over 10
// workspaces with the fleet-wide rate limit at fleet_rate, against a mock that admits fleet_rate
// requests a second across the app. Under a sanitizer the rate is scaled down with the calls,
// so a case takes as long (about 10 s).
constexpr unsigned fleet_workers = 4;
constexpr unsigned fleet_rate = 400 / GLUE_TEST_SCALE;
constexpr unsigned fleet_calls = 1000 / GLUE_TEST_SCALE;
// Calls in flight per worker, scaled with the rate: a worker holds about as many turns from one
// batch as it has calls waiting, and those must run out within the Redis outage below for the
// worker to notice it (64 waiting calls at a tenth of the rate would outlast it).
constexpr unsigned fleet_in_flight = 64 / GLUE_TEST_SCALE;

glue::testing::mock_server_options fleet_mock_options() {
    glue::testing::mock_server_options o;
    o.threads = 2;
    o.graphql_rate_limit = fleet_rate;
    return o;
}

std::vector<std::unique_ptr<child_process>> start_fleet(const mock_server& mock,
                                                        const redis_server& redis) {
    const std::vector<std::string> args = {"--graphql",    "1",
                                           "--workspaces", "10",
                                           "--calls",      std::to_string(fleet_calls),
                                           "--in-flight",  std::to_string(fleet_in_flight),
                                           "--fleet-rate", std::to_string(fleet_rate),
                                           "--fleet-size", std::to_string(fleet_workers)};
    std::vector<std::unique_ptr<child_process>> workers;
    for (unsigned i = 0; i < fleet_workers; ++i) {
        workers.push_back(start_worker(mock, redis, args));
    }
    return workers;
}

std::vector<std::string> keys(const redis_server& redis, const std::string& pattern) {
    std::vector<std::string> out;
    for (const auto& e : redis.command({"KEYS", pattern}).elements) {
        out.push_back(e.str);
    }
    return out;
}

/// A client in this process sharing through Redis (one of the processes sharing the cache, as
/// much as a worker process is), with the shared cache's events counted.
struct sharing_client {
    sharing_client(boost::asio::io_context& io, const mock_server& mock, const std::string& url,
                   std::chrono::milliseconds timeout = 500ms)
        : ioc(io)
        , client(io.get_executor(), config(mock, url, timeout)) {}

    ~sharing_client() { client.shutdown(); }

    glue::client_config config(const mock_server& mock, const std::string& url,
                               std::chrono::milliseconds timeout) {
        auto cfg = mock.client_config();
        cfg.shared_cache_url = url;
        cfg.shared_cache_key = key_hex;
        cfg.shared_cache_timeout = timeout;
        cfg.on_token_event = [this](const glue::token_event& e) {
            if (e.what == glue::token_event::kind::shared_cache_down) {
                down.emplace_back(e.reason);
            }
            up += e.what == glue::token_event::kind::shared_cache_up;
        };
        return cfg;
    }

    void fetch(const std::string& ws) { glue::test::run(ioc, client.fetch_token(ws)); }
    void query(const std::string& ws) {
        glue::test::run(ioc, client.graphql(ws, {"{ me { id } }"}));
    }

    boost::asio::io_context& ioc;
    std::vector<std::string> down; // before the client: its hook writes here
    int up = 0;
    glue::client client;
};

} // namespace

TEST_SUITE("shared cache processes") {
    TEST_CASE("ten workers of a thousand concurrent calls over 100 workspaces make 100 token "
              "requests, restarted they make none, and what Redis holds is sealed") {
        redis_server redis;
        glue::testing::mock_server_options o;
        o.threads = 2;
        mock_server mock(o);
        const std::vector<std::string> args = {"--workspaces",        "100", "--calls", "1000",
                                               "--shared-timeout-ms", "5000"};

        for (int generation = 0; generation < 2; ++generation) {
            CAPTURE(generation);
            std::vector<std::unique_ptr<child_process>> workers;
            for (int i = 0; i < 10; ++i) {
                workers.push_back(start_worker(mock, redis, args));
            }
            std::uint64_t leases = 0, hits = 0, requests = 0;
            for (auto& w : workers) {
                const auto r = finish(*w);
                CHECK(r["calls"] == 1000);
                CHECK(r["failed"] == 0);
                CHECK(r["shared_unavailable"] == 0);
                leases += r["shared_leases"];
                hits += r["shared_hits"];
                requests += r["token_requests"];
            }
            // Exactly one token request per workspace, for all the processes sharing the cache,
            // ever.
            CHECK(mock.token_requests() == 100);
            if (generation == 0) {
                CHECK(leases == 100);
                CHECK(requests == 100);
                CHECK(hits == 10 * 100 - 100);
            } else {
                CHECK(leases == 0); // restarted: every token comes from Redis
                CHECK(requests == 0);
                CHECK(hits == 10 * 100);
            }
        }

        // What Redis holds: 100 sealed tokens, no lease left behind, no plaintext.
        const auto stored = keys(redis, "glue:glue-test-client:tok:*");
        CHECK(stored.size() == 100);
        CHECK(keys(redis, "glue:glue-test-client:lease:*").empty());
        auto wrong_key = test_key();
        wrong_key[0] ^= 1;
        for (const auto& k : stored) {
            CAPTURE(k);
            const std::string sealed = redis.command({"GET", k}).str;
            const auto opened = glue::detail::open_token(test_key(), k, sealed);
            REQUIRE(opened.has_value());
            CHECK(opened->grant.value.size() >= 16);
            CHECK(sealed.find(opened->grant.value) == std::string::npos);
            CHECK(sealed.find("Bearer") == std::string::npos);
            CHECK_FALSE(glue::detail::open_token(wrong_key, k, sealed).has_value());
            // It expires with the token's hard margin: 3600 s less 60 s; the token's own expiry,
            // on Redis's clock, is sealed in it.
            const auto pttl = redis.command({"PTTL", k}).integer;
            CHECK(pttl > 3500'000);
            CHECK(pttl <= 3540'000);
            const auto sealed_left = opened->expires_at_ms - redis_now_ms(redis);
            CHECK(sealed_left > 3500'000);
            CHECK(sealed_left <= 3600'000);
        }
    }

    TEST_CASE("a worker killed while it holds a lease: another finishes the flight once the "
              "lease has expired") {
        redis_server redis;
        mock_server mock;
        // The first token request hangs: its worker holds the lease until it is killed.
        glue::testing::fault hang;
        hang.delay = 60s;
        hang.times = 1;
        mock.set_fault(endpoint::token, hang);
        const std::vector<std::string> args = {
            "--workspaces",        "1",   "--calls", "10", "--token-timeout-ms", "3000",
            "--shared-timeout-ms", "5000"};
        const std::string lease = "glue:glue-test-client:lease:wks_Shared0";

        auto holder = start_worker(mock, redis, args);
        REQUIRE(eventually([&] {
            return mock.token_requests() == 1 && redis.command({"EXISTS", lease}).integer == 1;
        }));
        const std::string holder_id = redis.command({"GET", lease}).str;
        auto waiting = start_worker(mock, redis, args);
        REQUIRE(waiting->read_line(30s) == "started");
        holder->kill();

        // While the dead holder's lease lasts (3 s), nobody requests a token.
        const auto lease_end = std::chrono::steady_clock::now() + 3s;
        while (redis.command({"GET", lease}).str == holder_id) {
            REQUIRE(mock.token_requests() == 1);
            REQUIRE(std::chrono::steady_clock::now() < lease_end + 1s);
            std::this_thread::sleep_for(20ms);
        }
        const auto r = finish(*waiting);
        CHECK(r["failed"] == 0);
        CHECK(r["shared_leases"] == 1);
        CHECK(r["token_requests"] == 1);
        CHECK(mock.token_requests() == 2);
        CHECK(redis.command({"EXISTS", "glue:glue-test-client:tok:wks_Shared0"}).integer == 1);
    }

    TEST_CASE("Redis killed in the middle of a run: no call fails, each worker reports the "
              "outage once, and uses Redis again when it is back") {
        redis_server redis;
        mock_server mock;
        // Two-second tokens: every workspace in use is refreshed every 1.6 s or so, so some
        // flights fall into the outage.
        mock.set_token_lifetime(2s);
        const std::vector<std::string> args = {"--workspaces",
                                               "20",
                                               "--calls",
                                               "100",
                                               "--rounds",
                                               "40",
                                               "--interval-ms",
                                               "150",
                                               "--expect-up",
                                               "2",
                                               "--shared-timeout-ms",
                                               "2000"};
        std::vector<std::unique_ptr<child_process>> workers;
        for (int i = 0; i < 3; ++i) {
            workers.push_back(start_worker(mock, redis, args));
            REQUIRE(workers.back()->read_line(30s) == "started");
        }
        // Once every worker has used Redis (its last command an EVAL) and the workers share all
        // 20 tokens through it, Redis dies for 2 s: longer than a refresh period, so every
        // workspace in use needs a token while it is gone.
        auto workers_using_redis = [&] {
            const std::string clients = redis.command({"CLIENT", "LIST"}).str;
            std::size_t n = 0;
            for (auto at = clients.find("cmd=eval"); at != std::string::npos;
                 at = clients.find("cmd=eval", at + 1)) {
                ++n;
            }
            return n;
        };
        REQUIRE(eventually([&] {
            return workers_using_redis() == 3 &&
                   keys(redis, "glue:glue-test-client:tok:*").size() == 20;
        }));
        redis.kill();
        std::this_thread::sleep_for(2s);
        redis.restart();
        for (auto& w : workers) {
            const auto r = finish(*w);
            CHECK(r["failed"] == 0);
            CHECK(r["calls"] >= 4000); // and more while it waits to reconnect
            CHECK(r["down_events"] == 1);
            CHECK(r["up_events"] == 2);
            CHECK(r["shared_unavailable"] > 0); // flights during the outage went in-process
        }
    }

    TEST_CASE("four workers with a fleet-wide rate limit keep to the server's limit together: "
              "every call succeeds, almost none is refused, and turns come in batches") {
        redis_server redis;
        mock_server mock(fleet_mock_options());
        auto workers = start_fleet(mock, redis);
        for (auto& w : workers) {
            const auto r = finish(*w, 60s);
            CHECK(r["calls"] == fleet_calls);
            CHECK(r["failed"] == 0);
            // A round trip to Redis hands out many turns.
            CHECK(r["fleet_batches"] > 0);
            // (At most a batch per 3 turns when scaled: fewer calls wait, so batches are smaller.)
            CHECK(r["fleet_batches"] <= fleet_calls / (GLUE_TEST_SCALE > 1 ? 3 : 5));
            CHECK(r["fleet_down_events"] == 0);
            CHECK_FALSE(r.flag("fleet_fallback_seen"));
        }
        // Each worker alone would send at the whole rate, four times what the server admits;
        // together they keep to it: under 2% of the requests it saw are refused.
        const auto seen = mock.graphql_requests();
        const auto limits = mock.rate_limit_stats();
        CAPTURE(seen);
        CAPTURE(limits.refused);
        CHECK(seen >= fleet_workers * fleet_calls);
        CHECK(limits.refused * 50 < seen);
    }

    TEST_CASE("Redis killed in the middle of a fleet's run: each worker keeps to its share and "
              "reports the outage once, every call succeeds, and the fleet's bucket is used "
              "again when Redis is back") {
        redis_server redis;
        mock_server mock(fleet_mock_options());
        auto workers = start_fleet(mock, redis);
        const std::size_t total = fleet_workers * fleet_calls;
        // Redis is gone from 15% to 30% of the requests. The 70% left take 7 s or more at the
        // fleet's rate, more than the link's longest reconnection backoff (5 s).
        REQUIRE(eventually([&] { return mock.graphql_requests() >= total * 15 / 100; }));
        redis.kill();
        REQUIRE(eventually([&] { return mock.graphql_requests() >= total * 30 / 100; }));
        redis.restart();
        for (auto& w : workers) {
            const auto r = finish(*w, 60s);
            CHECK(r["calls"] == fleet_calls);
            CHECK(r["failed"] == 0);
            CHECK(r.flag("fleet_fallback_seen"));
            CHECK(r["fleet_down_events"] == 1);
            CHECK(r["fleet_up_events"] == 1);
        }
        // While Redis is gone each worker sends at fleet_rate / fleet_size, so the four together
        // still keep to the server's rate. What may go over: the turns a worker held from Redis
        // when it died, each worker's share of the burst as it falls back, and the fleet's new
        // bucket (a full burst) when Redis is back: a few dozen requests, which the server's
        // bucket (a second's worth) mostly absorbs. Under 5%, against about 75% refused were each
        // worker to send at the whole rate.
        const auto seen = mock.graphql_requests();
        const auto limits = mock.rate_limit_stats();
        CAPTURE(seen);
        CAPTURE(limits.refused);
        CHECK(seen >= total);
        CHECK(limits.refused * 20 < seen);
    }

    TEST_CASE("a 401 invalidates the shared copy only if it is the rejected token") {
        redis_server redis;
        mock_server mock;
        boost::asio::io_context ioc;
        // Two clients share the cache as two processes would: only Redis joins them.
        sharing_client a(ioc, mock, redis.url()), b(ioc, mock, redis.url());
        const std::string ws = "wks_Shared401";
        a.query(ws);
        b.query(ws);
        CHECK(mock.token_requests(ws) == 1);
        CHECK(b.client.stats().shared_hits == 1);

        mock.revoke_tokens(ws);
        // a: 401 → its token is the stored one: dropped there too, one new token request.
        a.query(ws);
        CHECK(mock.token_requests(ws) == 2);
        // b: 401 for the old token → the stored one is newer: kept, and b takes it.
        b.query(ws);
        CHECK(mock.token_requests(ws) == 2);
        CHECK(b.client.stats().shared_hits == 2);
        CHECK(a.client.stats().invalidations_applied == 1);
        CHECK(b.client.stats().invalidations_applied == 1);
    }

    TEST_CASE("Redis unreachable from the start: calls succeed in-process, and the outage is "
              "reported once") {
        mock_server mock;
        std::uint16_t closed_port = 0;
        {
            redis_server gone; // a port where Redis was, and no longer is
            closed_port = gone.port();
        }
        boost::asio::io_context ioc;
        sharing_client c(ioc, mock, "redis://127.0.0.1:" + std::to_string(closed_port));
        for (int i = 0; i < 5; ++i) {
            c.fetch("wks_Alone" + std::to_string(i));
        }
        CHECK(mock.token_requests() == 5);
        CHECK(c.client.stats().shared_unavailable == 5);
        REQUIRE(c.down.size() == 1);
        CHECK(c.down[0].find("connect") != std::string::npos);
    }

    TEST_CASE("Redis that stops answering: a flight falls back after shared_cache_timeout, "
              "and the shared cache recovers when Redis answers again") {
        redis_server redis;
        mock_server mock;
        boost::asio::io_context ioc;
        sharing_client c(ioc, mock, redis.url(), 300ms);
        c.fetch("wks_Slow0");
        CHECK(c.client.stats().shared_leases == 1);

        redis.pause();
        // The claim's command gets no answer: after 300 ms the shared cache counts as down and the
        // flight requests in-process; the calls after it don't wait at all.
        for (int i = 1; i <= 3; ++i) {
            c.fetch("wks_Slow" + std::to_string(i));
        }
        CHECK(mock.token_requests() == 4);
        CHECK(c.client.stats().shared_unavailable == 3);
        REQUIRE(c.down.size() == 1);
        CHECK(c.down[0].find("shared_cache_timeout") != std::string::npos);

        redis.resume();
        // It reconnects when next needed, after its backoff: the flights in between go
        // in-process, and then Redis is used again.
        for (int i = 4; i < 200 && c.client.stats().shared_leases < 2; ++i) {
            c.fetch("wks_Slow" + std::to_string(i));
            std::this_thread::sleep_for(50ms); // a flight every 50 ms, at most 10 s
        }
        CHECK(c.client.stats().shared_leases == 2);
        CHECK(c.up == 2);
        CHECK(c.down.size() == 1);
    }

    TEST_CASE("an idle shared cache is no work for the io_context: run() returns when the "
              "calls are done, with the client alive") {
        redis_server redis;
        mock_server mock;
        boost::asio::io_context ioc;
        sharing_client c(ioc, mock, redis.url());
        int done = 0;
        for (int i = 0; i < 10; ++i) {
            boost::asio::co_spawn(ioc, c.client.fetch_token("wks_Idle" + std::to_string(i % 2)),
                                  [&](std::exception_ptr e, glue::access_token) { done += !e; });
        }
        ioc.run_for(20s);
        CHECK(done == 10);
        CHECK(ioc.stopped()); // out of work, not out of time
        CHECK(c.client.stats().shared_leases == 2);
        CHECK(c.up == 1);
    }

#ifdef GLUE_CLI
    TEST_CASE("glue bulk --shared-cache: a second run of the job makes no token request") {
        redis_server redis;
        mock_server mock;
        auto env = worker_env(mock, redis);
        env.erase("GLUE_SHARED_CACHE_URL"); // from the flag this time
        const std::string list =
            std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
            "/glue-shared-cache-workspaces-" + std::to_string(::getpid());
        {
            std::FILE* f = std::fopen(list.c_str(), "w");
            REQUIRE(f);
            for (int i = 0; i < 20; ++i) {
                std::fprintf(f, "wks_Bulk%d\n", i);
            }
            std::fclose(f);
        }
        for (int run = 0; run < 2; ++run) {
            child_process bulk({GLUE_CLI, "bulk", "--workspaces", list, "--shared-cache",
                                redis.url(), "-o", "/dev/null", "{ me { id } }"},
                               env);
            CHECK(bulk.wait(120s) == 0);
            CHECK(mock.token_requests() == 20);
        }
        std::remove(list.c_str());
    }
#endif
}
