// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// One worker process of the shared cache's process tests: a client sharing its tokens through Redis
// (from GLUE_* variables, GLUE_SHARED_CACHE_URL and GLUE_SHARED_CACHE_KEY among them) makes rounds
// of concurrent fetch_token() calls over a set of workspaces, or GraphQL calls, then prints what
// happened as one JSON line. It never prints a token.
//
//   glue_shared_cache_worker --workspaces N --calls C [--rounds R] [--interval-ms I]
//                     [--token-timeout-ms T] [--shared-timeout-ms S] [--expect-up U]
//                     [--graphql 1] [--in-flight K] [--fleet-rate F] [--fleet-size S]
//
// Round r makes C calls, K at a time (--in-flight; 0, the default: all C at once); call i asks
// for workspace i mod N ("wks_Shared<i mod N>"). --graphql 1 makes each call a GraphQL query
// rather than a fetch_token(). --fleet-rate F sets the fleet-wide rate limit
// (client_config::fleet_rate_limit, max_requests_per_second = F, fleet_size = S). Before the
// first round it prints "started". With --expect-up it waits (at most 20 s) after the last round,
// still calling, until the shared cache has been connected U times. Exit status 0 when no call
// failed.

#include <glue/glue.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

struct options {
    unsigned workspaces = 10, calls = 100, rounds = 1, interval_ms = 0, expect_up = 0;
    unsigned token_timeout_ms = 0, shared_timeout_ms = 0;
    unsigned graphql = 0, in_flight = 0, fleet_rate = 0, fleet_size = 1;
};

options parse(int argc, char** argv) {
    options o;
    const std::map<std::string, unsigned*> flags = {{"--workspaces", &o.workspaces},
                                                    {"--calls", &o.calls},
                                                    {"--rounds", &o.rounds},
                                                    {"--interval-ms", &o.interval_ms},
                                                    {"--expect-up", &o.expect_up},
                                                    {"--token-timeout-ms", &o.token_timeout_ms},
                                                    {"--shared-timeout-ms", &o.shared_timeout_ms},
                                                    {"--graphql", &o.graphql},
                                                    {"--in-flight", &o.in_flight},
                                                    {"--fleet-rate", &o.fleet_rate},
                                                    {"--fleet-size", &o.fleet_size}};
    for (int i = 1; i + 1 < argc; i += 2) {
        auto it = flags.find(argv[i]);
        if (it == flags.end()) {
            throw std::invalid_argument(std::string("unknown option ") + argv[i]);
        }
        *it->second = static_cast<unsigned>(std::stoul(argv[i + 1]));
    }
    return o;
}

struct tally {
    std::atomic<unsigned> done{0}, failed{0}, down{0}, up{0}, fleet_down{0}, fleet_up{0};
    // The fleet's events in order: "down <seconds since start> <reason>", "up <seconds>".
    std::mutex fleet_mtx;
    std::vector<std::string> fleet_events;
    const std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    void fleet_event(std::string_view what, std::string_view reason) {
        const double at =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        char when[32];
        std::snprintf(when, sizeof when, " %.3f", at);
        std::lock_guard lock(fleet_mtx);
        fleet_events.push_back(std::string(what) + when + (reason.empty() ? "" : " ") +
                               std::string(reason));
    }
    // On the io_context's one thread:
    std::map<std::string, unsigned> errors;
    bool fleet_fallback_seen = false; // throttling().fleet_fallback after some call
    unsigned next = 0;                // the round's next call
};

asio::awaitable<void> one_call(glue::client& c, std::string ws, const options& o, tally& t) {
    try {
        if (o.graphql) {
            glue::graphql_request request("{ me { id } }"); // named: see types.hpp on GCC 12
            co_await c.graphql(ws, std::move(request));
        } else {
            const auto token = co_await c.fetch_token(ws);
            if (token.value.empty()) {
                ++t.failed;
            }
        }
    } catch (const glue::error& e) {
        ++t.failed;
        ++t.errors[e.code().message()];
    }
    t.fleet_fallback_seen = t.fleet_fallback_seen || c.throttling().fleet_fallback;
    ++t.done;
}

// Makes the round's calls up to `end`, one at a time.
asio::awaitable<void> lane(glue::client& c, const options& o, tally& t, unsigned end) {
    while (t.next < end) {
        const unsigned i = t.next++;
        co_await one_call(c, "wks_Shared" + std::to_string(i % o.workspaces), o, t);
    }
}

asio::awaitable<void> run(glue::client& c, const options& o, tally& t) {
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer timer(ex);
    for (unsigned r = 0; r < o.rounds; ++r) {
        const unsigned target = t.done + o.calls;
        t.next = 0;
        const unsigned lanes = o.in_flight ? std::min(o.in_flight, o.calls) : o.calls;
        for (unsigned i = 0; i < lanes; ++i) {
            asio::co_spawn(ex, lane(c, o, t, o.calls), asio::detached);
        }
        while (t.done < target) {
            timer.expires_after(2ms);
            co_await timer.async_wait(asio::use_awaitable);
        }
        if (o.interval_ms) {
            timer.expires_after(std::chrono::milliseconds(o.interval_ms));
            co_await timer.async_wait(asio::use_awaitable);
        }
    }
    // The shared cache reconnects when it is next needed: keep calling (the refreshes need
    // it) until it has been connected expect_up times, at most 20 s.
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (t.up < o.expect_up && std::chrono::steady_clock::now() < until) {
        co_await one_call(c, "wks_Shared0", o, t);
        timer.expires_after(10ms);
        co_await timer.async_wait(asio::use_awaitable);
    }
}

} // namespace

int main(int argc, char** argv) {
    try {
        const options o = parse(argc, argv);
        tally t;
        auto cfg = glue::client_config::from_env();
        if (o.token_timeout_ms) {
            cfg.token_request_timeout = std::chrono::milliseconds(o.token_timeout_ms);
        }
        if (o.shared_timeout_ms) {
            cfg.shared_cache_timeout = std::chrono::milliseconds(o.shared_timeout_ms);
        }
        if (o.fleet_rate) {
            cfg.fleet_rate_limit = true;
            cfg.max_requests_per_second = o.fleet_rate;
            cfg.fleet_size = o.fleet_size;
        }
        cfg.on_token_event = [&t](const glue::token_event& e) {
            using kind = glue::token_event::kind;
            switch (e.what) {
            case kind::shared_cache_down:
                ++t.down;
                break;
            case kind::shared_cache_up:
                ++t.up;
                break;
            case kind::fleet_rate_down:
                ++t.fleet_down;
                t.fleet_event("down", e.reason);
                break;
            case kind::fleet_rate_up:
                ++t.fleet_up;
                t.fleet_event("up", {});
                break;
            default:
                break;
            }
        };
        asio::io_context ioc;
        glue::client c(ioc.get_executor(), cfg);
        std::cout << "started" << std::endl;
        asio::co_spawn(ioc, run(c, o, t), [](std::exception_ptr e) {
            if (e) {
                std::rethrow_exception(e);
            }
        });
        ioc.run();

        const auto s = c.stats();
        const auto throttling = c.throttling();
        boost::json::object errors;
        for (const auto& [what, n] : t.errors) {
            errors[what] = n;
        }
        boost::json::array fleet_events;
        {
            std::lock_guard lock(t.fleet_mtx);
            for (const auto& e : t.fleet_events) {
                fleet_events.emplace_back(e);
            }
        }
        boost::json::object out{{"calls", t.done.load()},
                                {"failed", t.failed.load()},
                                {"token_requests", s.token_requests},
                                {"shared_hits", s.shared_hits},
                                {"shared_leases", s.shared_leases},
                                {"shared_unavailable", s.shared_unavailable},
                                {"down_events", t.down.load()},
                                {"up_events", t.up.load()},
                                {"requests_sent", throttling.requests_sent},
                                {"throttled", throttling.throttled},
                                {"retries", throttling.retries},
                                {"app_pauses", throttling.app_pauses},
                                {"workspace_pauses", throttling.workspace_pauses},
                                {"calls_failed_waiting", throttling.calls_failed_waiting},
                                {"app_rate_limit", throttling.app_rate_limit},
                                {"fleet_batches", throttling.fleet_batches},
                                {"fleet_fallback_seen", t.fleet_fallback_seen},
                                {"fleet_down_events", t.fleet_down.load()},
                                {"fleet_up_events", t.fleet_up.load()},
                                {"fleet_events", fleet_events},
                                {"errors", errors}};
        std::cout << boost::json::serialize(out) << std::endl;
        return t.failed == 0 ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "glue_shared_cache_worker: " << e.what() << "\n";
        return 2;
    }
}
