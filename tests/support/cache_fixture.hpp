// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTS_CACHE_FIXTURE_HPP
#define GLUE_TESTS_CACHE_FIXTURE_HPP

// The token cache on a manual clock with a fake fetcher: every rule can be driven step by step,
// with no network and no sleeps.

#include "cache/token_cache.hpp"
#include "support/test_support.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/steady_timer.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace glue::test {

using detail::failure;
using detail::invalidate_result;
using detail::make_failure;
using detail::result;
using detail::steady_time;
using detail::token_grant;
using detail::token_ptr;
using glue::errc;
using token_result = result<token_ptr>;

/// Stands in for the token endpoint: counts requests, answers with `respond`, and with `hold`
/// keeps each request open until release() (or until the cache cancels it).
struct fake_fetcher {
    using hold_waiter = detail::waiter<asio::steady_timer>;

    std::atomic<int> calls{0};
    std::atomic<int> cancelled{0};
    std::atomic<int> in_flight{0};
    std::atomic<int> max_in_flight{0};
    std::atomic<bool> hold{false};
    std::chrono::seconds lifetime{3600};
    /// Answers the n-th request (1-based) for `ws` sent at `sent_at`; empty: a fresh token.
    std::function<result<token_grant>(const std::string& ws, int n, steady_time sent_at)> respond;

    std::mutex mtx;
    detail::waiter_list<hold_waiter> held;
    std::vector<std::string> order; // workspaces in the order their requests were made

    asio::awaitable<result<token_grant>> fetch(std::string ws, steady_time) {
        const int n = ++calls;
        const auto sent_at = manual_clock::now();
        max_in_flight = std::max(max_in_flight.load(), ++in_flight);
        struct leave {
            std::atomic<int>& count;
            ~leave() { --count; }
        } counted{in_flight};
        hold_waiter w(co_await asio::this_coro::executor, mtx);
        {
            std::lock_guard lock(mtx);
            order.push_back(ws);
            if (hold) {
                held.push_back(w);
            }
        }
        if (hold) {
            if (auto ec = co_await w.wait(mtx, steady_time::max())) {
                ++cancelled;
                co_return make_failure(ec);
            }
        }
        if (respond) {
            co_return respond(ws, n, sent_at);
        }
        co_return grant(ws, n, sent_at);
    }

    token_grant grant(const std::string& ws, int n, steady_time sent_at) const {
        return token_grant{"token-" + ws + "-" + std::to_string(n), "Bearer", "usr_app", lifetime,
                           sent_at};
    }

    std::size_t holding() {
        std::lock_guard lock(mtx);
        return static_cast<std::size_t>(std::distance(held.begin(), held.end()));
    }

    /// Lets every held request answer (or only the first `n`, in the order they arrived).
    void release(std::size_t n = static_cast<std::size_t>(-1)) {
        std::lock_guard lock(mtx);
        while (!held.empty() && n-- > 0) {
            held.front().wake();
        }
    }
};

/// A failure as the token endpoint would cause it.
inline failure endpoint_failure(errc e, int status, std::string oauth_error = {},
                                std::chrono::seconds retry_after = std::chrono::seconds(-1)) {
    diagnostics d;
    d.http_status = status;
    d.oauth_error = std::move(oauth_error);
    d.retry_after = retry_after;
    return make_failure(make_error_code(e), "token request failed", std::move(d));
}

/// The n-th workspace key: "wks_<n>".
inline std::string key(int n) {
    return "wks_" + std::to_string(n);
}

/// A fetcher's `respond` that answers every request with `f`.
inline auto always(failure f) {
    return [f](const std::string&, int, steady_time) -> result<token_grant> { return f; };
}

/// Options for tests: no jitter, so every window is exact.
inline detail::token_cache_options exact_options() {
    detail::token_cache_options o;
    o.soft_window_jitter = 0;
    return o;
}

struct cache_fixture {
    using cache_type = detail::basic_token_cache<manual_clock>;

    cache_fixture() { configure(exact_options()); }

    ~cache_fixture() {
        // Let every coroutine finish before the fetcher they use goes away. After a failed
        // REQUIRE this runs during unwinding: nothing here may throw (doctest's CHECKs don't).
        try {
            cache->shutdown();
            fetcher.release();
            ioc.restart();
            ioc.run_for(std::chrono::seconds(5));
        } catch (...) {
        }
    }

    /// A fresh cache with these options (the old one is shut down).
    void configure(detail::token_cache_options o) {
        if (cache) {
            cache->shutdown();
        }
        cache.emplace(
            ioc.get_executor(),
            [this](std::string ws, steady_time deadline, unsigned) {
                return fetcher.fetch(std::move(ws), deadline);
            },
            std::move(o));
    }

    asio::awaitable<token_result> get(std::string ws, std::chrono::milliseconds timeout = 30s) {
        co_return co_await cache->get(ws, manual_clock::now() + timeout);
    }

    /// Starts a get() whose outcome lands in `results`; `slot` can cancel it.
    void spawn_get(const std::string& ws, std::chrono::milliseconds timeout = 30s,
                   asio::cancellation_slot slot = {}) {
        asio::co_spawn(
            ioc, get(ws, timeout),
            asio::bind_cancellation_slot(slot, [this](std::exception_ptr e, token_result r) {
                CHECK_FALSE(e); // runs inside the io_context: must not throw out of it
                if (e) {
                    return;
                }
                results.push_back(std::move(r));
            }));
    }

    token_result get_result(const std::string& ws) { return glue::test::run(ioc, get(ws)); }

    token_ptr get_now(const std::string& ws) {
        auto r = get_result(ws);
        REQUIRE(r.has_value());
        return *r;
    }

    void run_until(const std::function<bool()>& done) { glue::test::run_until(ioc, done); }

    /// Moves the manual clock on in `step`s, running what becomes due, until `done()`.
    void drive(const std::function<bool()>& done, std::chrono::milliseconds step = 10ms) {
        for (int i = 0; i < 1'000'000 && !done(); ++i) {
            ioc.restart();
            ioc.poll();
            if (!done()) {
                manual_clock::advance(step);
            }
        }
        REQUIRE_MESSAGE(done(), "the cache never got there");
    }

    /// Runs what is ready now, without moving the clock.
    void settle() {
        ioc.restart();
        ioc.poll();
    }

    asio::io_context ioc;
    fake_fetcher fetcher;
    std::optional<cache_type> cache;
    std::vector<token_result> results;
};

inline bool has_error(const token_result& r, error_code ec) {
    return r.has_error() && r.error().ec == ec;
}

} // namespace glue::test

#endif
