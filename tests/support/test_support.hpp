// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTS_SUPPORT_HPP
#define GLUE_TESTS_SUPPORT_HPP

// What tests share: running a coroutine to completion with a bound, waiting for a condition,
// and a manual clock.
//
// GCC 12 copies an aggregate or lambda temporary bitwise when it appears in a co_await
// full-expression: never write `co_await f(Aggregate{...})` or `co_await f([s] {...})` with a
// non-trivial member or capture. Name the object first.

#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/wait_traits.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace glue::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// co_spawn's completion handler for a coroutine the test does not await: what it throws comes
/// out of the io_context's run(), so the test fails with it instead of a call going missing
/// (asio::detached drops it).
inline void rethrow(std::exception_ptr e) {
    if (e) {
        std::rethrow_exception(e);
    }
}

/// Runs the io_context (on this thread) until `done()` holds; fails the test after `limit`.
inline void run_until(asio::io_context& ioc, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = 30s) {
    ioc.restart();
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < until) {
        ioc.run_one_for(10ms);
    }
    REQUIRE_MESSAGE(done(), "timed out: the io_context did not get there");
}

/// Runs `aw` to completion on `ioc` and returns its value or rethrows its exception. If it
/// doesn't complete in time, the test fails here, and the coroutine may still complete later
/// (when a fixture runs the io_context down): its outcome then lands in state it shares with
/// this call, never in this call's dead stack frame.
template <class T>
T run(asio::io_context& ioc, asio::awaitable<T> aw, std::chrono::milliseconds limit = 30s) {
    struct outcome {
        std::optional<T> value;
        std::exception_ptr error;
        bool done = false;
    };
    auto out = std::make_shared<outcome>();
    asio::co_spawn(ioc, std::move(aw), [out](std::exception_ptr e, T v) {
        out->error = e;
        if (!e) {
            out->value.emplace(std::move(v));
        }
        out->done = true;
    });
    run_until(
        ioc, [&] { return out->done; }, limit);
    if (out->error) {
        std::rethrow_exception(out->error);
    }
    return std::move(*out->value);
}

inline void run(asio::io_context& ioc, asio::awaitable<void> aw,
                std::chrono::milliseconds limit = 30s) {
    struct outcome {
        std::exception_ptr error;
        bool done = false;
    };
    auto out = std::make_shared<outcome>();
    asio::co_spawn(ioc, std::move(aw), [out](std::exception_ptr e) {
        out->error = e;
        out->done = true;
    });
    run_until(
        ioc, [&] { return out->done; }, limit);
    if (out->error) {
        std::rethrow_exception(out->error);
    }
}

/// Polls `done` (sleeping between tries) until it holds or `limit` passes; the result says
/// which. For what other threads or processes change. `done` is not called again once it holds,
/// so it may have effects (a waitpid() that reaps).
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 20s) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= until) {
            return false;
        }
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

/// Whether `f` returns within `limit` when run on another thread. A library lock held by the
/// calling thread makes it wait until that thread lets go: then this says false (rather than
/// deadlocking, as calling `f` here would), and the other thread finishes later on its own.
inline bool returns_from_another_thread(std::function<void()> f,
                                        std::chrono::milliseconds limit = 5s) {
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::thread t([f = std::move(f), done] {
        f();
        *done = true;
    });
    if (eventually([&] { return done->load(); }, limit)) {
        t.join();
        return true;
    }
    t.detach();
    return false;
}

/// A clock that moves only when told to; it measures steady_clock time points, so the token
/// cache can run on it. Global: tests using it must not run concurrently (doctest doesn't).
struct manual_clock {
    using duration = std::chrono::steady_clock::duration;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::steady_clock::time_point;
    static constexpr bool is_steady = true;

    static time_point now() noexcept { return time_point(duration(ticks.load())); }
    static void advance(duration d) noexcept { ticks += d.count(); }

    // Far from both ends of the range, so arithmetic in tests never overflows.
    static inline std::atomic<rep> ticks{std::chrono::duration_cast<duration>(1000h).count()};
};

using manual_timer = asio::basic_waitable_timer<manual_clock>;

/// Sets an environment variable for the scope (tests run one at a time).
class scoped_env {
public:
    scoped_env(const char* name, const std::string& value) : name_(name) {
        if (const char* old = std::getenv(name)) {
            old_ = old;
        }
        ::setenv(name, value.c_str(), 1);
    }
    ~scoped_env() {
        if (old_) {
            ::setenv(name_, old_->c_str(), 1);
        } else {
            ::unsetenv(name_);
        }
    }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

} // namespace glue::test

// Timers on the manual clock must fire by the manual clock alone. Asio's epoll reactor looks at
// its timer queues only when its timerfd fires, armed from these wait durations; any real-time
// wait here (even 1 ms) lets a test move the manual clock past several timers before the reactor
// looks, so they fire together and out of order. So every wait is zero: the timerfd is always
// due, and every pass of the reactor (every poll()) compares each manual timer with the manual
// clock. A poll() that returns has then fired every timer due at the clock's current time.
template <>
struct boost::asio::wait_traits<glue::test::manual_clock> {
    using clock = glue::test::manual_clock;
    static clock::duration to_wait_duration(const clock::duration&) {
        return clock::duration::zero();
    }
    static clock::duration to_wait_duration(const clock::time_point&) {
        return clock::duration::zero();
    }
};

#endif
