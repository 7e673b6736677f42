// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// One worker process of the shared cache's process tests: a client sharing its tokens through Redis
// (from GLUE_* variables, GLUE_SHARED_CACHE_URL and GLUE_SHARED_CACHE_KEY among them) makes rounds
// of concurrent fetch_token() calls over a set of workspaces, then prints what happened as one
// JSON line. It never prints a token.
//
//   glue_shared_cache_worker --workspaces N --calls C [--rounds R] [--interval-ms I]
//                     [--token-timeout-ms T] [--shared-timeout-ms S] [--expect-up U]
//
// Round r makes C calls at once; call i asks for workspace i mod N ("wks_Shared<i mod N>").
// Before the first round it prints "started". With --expect-up it waits (at most 20 s) after
// the last round, still calling, until the shared cache has been connected U times. Exit status
// 0 when no call failed.

#include <glue/glue.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

struct options {
    unsigned workspaces = 10, calls = 100, rounds = 1, interval_ms = 0, expect_up = 0;
    unsigned token_timeout_ms = 0, shared_timeout_ms = 0;
};

options parse(int argc, char** argv) {
    options o;
    const std::map<std::string, unsigned*> flags = {{"--workspaces", &o.workspaces},
                                                    {"--calls", &o.calls},
                                                    {"--rounds", &o.rounds},
                                                    {"--interval-ms", &o.interval_ms},
                                                    {"--expect-up", &o.expect_up},
                                                    {"--token-timeout-ms", &o.token_timeout_ms},
                                                    {"--shared-timeout-ms", &o.shared_timeout_ms}};
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
    std::atomic<unsigned> done{0}, failed{0}, down{0}, up{0};
    std::map<std::string, unsigned> errors; // on the io_context's one thread
};

asio::awaitable<void> one_call(glue::client& c, std::string ws, tally& t) {
    try {
        const auto token = co_await c.fetch_token(ws);
        if (token.value.empty()) {
            ++t.failed;
        }
    } catch (const glue::error& e) {
        ++t.failed;
        ++t.errors[e.code().message()];
    }
    ++t.done;
}

asio::awaitable<void> run(glue::client& c, const options& o, tally& t) {
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer timer(ex);
    for (unsigned r = 0; r < o.rounds; ++r) {
        const unsigned target = t.done + o.calls;
        for (unsigned i = 0; i < o.calls; ++i) {
            asio::co_spawn(ex, one_call(c, "wks_Shared" + std::to_string(i % o.workspaces), t),
                           asio::detached);
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
        co_await one_call(c, "wks_Shared0", t);
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
        cfg.on_token_event = [&t](const glue::token_event& e) {
            if (e.what == glue::token_event::kind::shared_cache_down) {
                ++t.down;
            } else if (e.what == glue::token_event::kind::shared_cache_up) {
                ++t.up;
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
        boost::json::object errors;
        for (const auto& [what, n] : t.errors) {
            errors[what] = n;
        }
        boost::json::object out{{"calls", t.done.load()},
                                {"failed", t.failed.load()},
                                {"token_requests", s.token_requests},
                                {"shared_hits", s.shared_hits},
                                {"shared_leases", s.shared_leases},
                                {"shared_unavailable", s.shared_unavailable},
                                {"down_events", t.down.load()},
                                {"up_events", t.up.load()},
                                {"errors", errors}};
        std::cout << boost::json::serialize(out) << std::endl;
        return t.failed == 0 ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "glue_shared_cache_worker: " << e.what() << "\n";
        return 2;
    }
}
