// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_DETAIL_TOKEN_CACHE_HPP
#define GLUE_DETAIL_TOKEN_CACHE_HPP

// The single-flight token cache (DESIGN.md, "Single-flight token cache"). It decides who fetches
// and what is handed out; how a token is fetched is a parameter (the fetch function), and so is
// the clock, so unit tests drive every rule with a fake fetcher and a manual clock.
//
// Locking: the entries are split over shards, each with its own mutex, so threads looking up
// different workspaces rarely meet; each flight has its own mutex guarding its waiters and
// outcome, so waking 10,000 waiters of one flight blocks no lookup. No two are held together.

#include <glue/types.hpp>

#include "detail/outcome.hpp"
#include "detail/strand_task.hpp"
#include "detail/token.hpp"
#include "detail/waiter.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace glue::detail {

struct token_cache_options {
    /// A flight's own deadline, whoever waits for it.
    std::chrono::milliseconds flight_timeout{std::chrono::seconds(10)};
    /// At most one forced refresh (after a 401) per workspace per this interval.
    std::chrono::milliseconds forced_refresh_interval{std::chrono::seconds(5)};
};

enum class invalidate_result {
    applied,  ///< the key held the rejected token: dropped, the next get() fetches
    stale,    ///< the key no longer holds it (already replaced or dropped): nothing to do
    throttled ///< it does, but a forced refresh happened too recently: don't refetch
};

/// Transparent hashing so lookups by string_view don't allocate.
struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

template <class Clock>
class basic_token_cache {
    static_assert(std::is_same_v<typename Clock::time_point, steady_time>,
                  "the cache's clock must measure steady_clock time points");

public:
    using clock_type = Clock;
    using time_point = steady_time;
    using timer_type = boost::asio::basic_waitable_timer<Clock, boost::asio::wait_traits<Clock>,
                                                         boost::asio::any_io_executor>;
    /// Fetches a token for the workspace; must finish by the deadline and honour terminal
    /// cancellation. Runs on a strand of its own, not on any caller's executor.
    using fetch_fn = std::function<boost::asio::awaitable<result<token_grant>>(
        std::string workspace, time_point deadline)>;

    basic_token_cache(boost::asio::any_io_executor ex, fetch_fn fetch, token_cache_options opts)
        : st_(std::make_shared<state>(std::move(ex), std::move(fetch), opts)) {}

    ~basic_token_cache() { shutdown(); }

    basic_token_cache(const basic_token_cache&) = delete;
    basic_token_cache& operator=(const basic_token_cache&) = delete;

    /// A usable cached token, or null (also once shut down). Never waits, never allocates.
    token_ptr find(std::string_view workspace) const {
        const auto now = Clock::now();
        auto& sh = st_->shard_of(workspace);
        std::lock_guard lock(sh.mtx);
        auto it = sh.entries.find(workspace);
        if (it != sh.entries.end() && usable(it->second.token, now) && !st_->stopped) {
            return it->second.token;
        }
        return {};
    }

    /// A usable token: the cached one, or the outcome of the workspace's one flight (started
    /// here if none is running). Completes with errc::timeout at `deadline`, or
    /// operation_aborted when the awaiting coroutine is cancelled; neither affects the flight.
    boost::asio::awaitable<result<token_ptr>> get(std::string_view workspace, time_point deadline) {
        auto st = st_; // the cache may be destroyed while this caller waits
        std::shared_ptr<flight> f;
        {
            const auto now = Clock::now();
            auto& sh = st->shard_of(workspace);
            std::lock_guard lock(sh.mtx);
            if (st->stopped) {
                co_return make_failure(boost::asio::error::operation_aborted);
            }
            auto it = sh.entries.find(workspace);
            if (it == sh.entries.end()) {
                it = sh.entries.emplace(std::string(workspace), entry{}).first;
            }
            entry& e = it->second;
            if (usable(e.token, now)) {
                co_return e.token;
            }
            if (!e.running) {
                e.running = std::make_shared<flight>(it->first, now + st->opts.flight_timeout);
                state::start(st, e.running);
            }
            f = e.running;
        }

        waiter_type w(co_await boost::asio::this_coro::executor);
        {
            std::lock_guard lock(f->mtx);
            if (f->outcome) {
                co_return *f->outcome;
            }
            f->waiters.push_back(w);
        }
        // The flight always ends by its own deadline; a timer is only needed for an earlier one.
        auto ec = co_await w.wait(f->mtx, deadline < f->deadline ? deadline : time_point::max());
        if (ec) {
            co_return make_failure(ec, ec == errc::timeout
                                           ? "deadline passed while waiting for a token"
                                           : std::string_view{});
        }
        co_return *f->outcome; // set before the wake-up, which wait() synchronised with
    }

    /// A 401 came back for `rejected`: drop it if the workspace still holds it (compare and
    /// invalidate), at most once per forced_refresh_interval.
    invalidate_result invalidate(std::string_view workspace, const cached_token* rejected) {
        const auto now = Clock::now();
        auto& sh = st_->shard_of(workspace);
        std::lock_guard lock(sh.mtx);
        auto it = sh.entries.find(workspace);
        if (it == sh.entries.end() || it->second.token.get() != rejected || !rejected) {
            return invalidate_result::stale;
        }
        entry& e = it->second;
        if (e.last_forced && now - *e.last_forced < st_->opts.forced_refresh_interval) {
            return invalidate_result::throttled;
        }
        e.token.reset();
        e.last_forced = now;
        return invalidate_result::applied;
    }

    /// Completes every waiter with operation_aborted, stops every flight, and makes later
    /// get() calls fail the same way. Thread-safe and idempotent.
    void shutdown() { st_->shutdown(); }

    /// Number of workspaces with an entry.
    std::size_t size() const {
        std::size_t n = 0;
        for (auto& sh : st_->shards) {
            std::lock_guard lock(sh.mtx);
            n += sh.entries.size();
        }
        return n;
    }

private:
    using waiter_type = waiter<timer_type>;

    static bool usable(const token_ptr& t, time_point now) { return t && now < t->usable_until; }

    // One token request, shared by everyone who asks for the workspace while it runs. It
    // belongs to the cache, not to the caller that started it.
    struct flight {
        flight(std::string ws, time_point dl) : workspace(std::move(ws)), deadline(dl) {}

        const std::string workspace;
        const time_point deadline;
        // Guarded by the mutex of the workspace's shard:
        std::shared_ptr<strand_task<timer_type>> task;
        bool finished = false;
        // Guarded by mtx:
        std::mutex mtx;
        waiter_list<waiter_type> waiters;
        std::optional<result<token_ptr>> outcome;
    };

    struct entry {
        token_ptr token;
        std::shared_ptr<flight> running;
        std::optional<time_point> last_forced;
    };

    struct state {
        state(boost::asio::any_io_executor e, fetch_fn f, token_cache_options o)
            : ex(std::move(e))
            , fetch(std::move(f))
            , opts(o) {}

        struct alignas(64) shard { // a cache line each: no false sharing between shards
            std::mutex mtx;
            std::unordered_map<std::string, entry, string_hash, std::equal_to<>> entries;
        };

        shard& shard_of(std::string_view workspace) {
            return shards[string_hash{}(workspace) % shards.size()];
        }

        const boost::asio::any_io_executor ex;
        const fetch_fn fetch;
        const token_cache_options opts;
        std::array<shard, 64> shards;
        std::atomic<bool> stopped{false};

        // Called with the shard's mutex held; spawning only posts to the flight's new strand.
        static void start(const std::shared_ptr<state>& st, const std::shared_ptr<flight>& f) {
            f->task = strand_task<timer_type>::template spawn<result<token_grant>>(
                st->ex, f->deadline, [st, f] { return st->fetch(f->workspace, f->deadline); },
                [st, f](std::exception_ptr ep, result<token_grant> r) {
                    st->finish(*f, publishable(ep, std::move(r)));
                },
                [st, f] {
                    st->finish(*f, make_failure(errc::timeout, "token request timed out"));
                });
        }

        static result<token_ptr> publishable(std::exception_ptr ep, result<token_grant> r) {
            if (ep) {
                try {
                    std::rethrow_exception(ep);
                } catch (const boost::system::system_error& e) {
                    return make_failure(e.code());
                } catch (...) {
                    return make_failure(errc::bad_response, "token request failed");
                }
            }
            if (!r) {
                return r.error();
            }
            auto t = make_cached_token(std::move(*r));
            if (!usable(t, Clock::now())) {
                return make_failure(errc::bad_response,
                                    "the token endpoint returned a token that had expired on "
                                    "arrival");
            }
            return t;
        }

        // Publishes the outcome, then removes the flight, then wakes its waiters. The token is
        // stored and the flight removed in one critical section, so a caller arriving in
        // between finds the token rather than starting a second request.
        void finish(flight& f, result<token_ptr> r) {
            {
                auto& sh = shard_of(f.workspace);
                std::lock_guard lock(sh.mtx);
                if (f.finished) {
                    return;
                }
                f.finished = true;
                auto it = sh.entries.find(f.workspace);
                if (it != sh.entries.end() && it->second.running.get() == &f) {
                    if (r) {
                        it->second.token = *r;
                    }
                    it->second.running.reset();
                }
            }
            std::lock_guard lock(f.mtx);
            f.outcome = std::move(r);
            while (!f.waiters.empty()) {
                f.waiters.front().wake();
            }
        }

        void shutdown() {
            std::vector<std::shared_ptr<flight>> flights;
            stopped = true;
            for (auto& sh : shards) {
                std::lock_guard lock(sh.mtx);
                for (auto& [ws, e] : sh.entries) {
                    if (e.running) {
                        flights.push_back(std::move(e.running));
                    }
                }
            }
            for (auto& f : flights) {
                finish(*f, make_failure(boost::asio::error::operation_aborted));
                f->task->stop(); // set when the flight was created, under the shard's mutex
            }
        }
    };

    std::shared_ptr<state> st_;
};

using token_cache = basic_token_cache<std::chrono::steady_clock>;

} // namespace glue::detail

#endif
