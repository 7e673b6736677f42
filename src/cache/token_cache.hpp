// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_CACHE_TOKEN_CACHE_HPP
#define GLUE_CACHE_TOKEN_CACHE_HPP

// The single-flight token cache (docs/design.md, "Token cache"). It decides who fetches, when,
// and what is handed out; how one token request is made is a parameter (the fetch function), and
// so is the clock, so unit tests drive every rule with a fake fetcher and a manual clock.
//
// What each event does to a workspace's entry (a token handed out until its hard margin and
// refreshed ahead in its soft window; after a failure, a remembered error for a backoff) is the
// entry_policy's; the entries and their bound are the entry_table's; the cap on requests in
// flight, the endpoint's pause and the retries inside a flight are the token_endpoint's. Here:
// at most one flight per workspace, whose waiters share its outcome, and the actions the policy
// asks for, carried out.
//
// Locking: each shard of the table has its own mutex; each flight has its own mutex for its
// waiters and outcome, so waking 10,000 waiters blocks no lookup. Locks are never nested, except
// the endpoint pause's inside a shard's, and other shards' inside a shard's when evicting, which
// only try_lock (never wait). Hooks and completions never run inside any lock, and flights start
// by being posted.

#include <glue/metrics.hpp>
#include <glue/types.hpp>

#include "cache/cached_token.hpp"
#include "cache/entry_policy.hpp"
#include "cache/entry_table.hpp"
#include "cache/token_cache_options.hpp"
#include "cache/token_endpoint.hpp"
#include "protocol/token_grant.hpp"
#include "shared_cache/shared_cache.hpp"
#include "support/hook_gate.hpp"
#include "support/outcome.hpp"
#include "support/saturating.hpp"
#include "support/strand_task.hpp"
#include "support/waiter.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace glue::detail {

template <class Clock>
class basic_token_cache {
    static_assert(std::is_same_v<typename Clock::time_point, steady_time>,
                  "the cache's clock must measure steady_clock time points");

public:
    using clock_type = Clock;
    using time_point = steady_time;
    using timer_type = typename token_endpoint<Clock>::timer_type;
    /// One token request for the workspace; must finish by the deadline and honour terminal
    /// cancellation. Runs on the flight's own strand, not on any caller's executor.
    using fetch_fn = typename token_endpoint<Clock>::fetch_fn;

    basic_token_cache(boost::asio::any_io_executor ex, fetch_fn fetch, token_cache_options opts)
        : st_(std::make_shared<state>(std::move(ex), std::move(fetch), std::move(opts))) {}

    ~basic_token_cache() { shutdown(); }

    basic_token_cache(const basic_token_cache&) = delete;
    basic_token_cache& operator=(const basic_token_cache&) = delete;

    /// The hit path: a usable cached token, or null. Never waits, and allocates only to start
    /// a refresh ahead: inside the soft window of a workspace in steady use it starts one in
    /// the background, and the caller still gets the current token at once.
    token_ptr find(std::string_view workspace) { return lookup(workspace, true); }

    /// A usable cached token or null, with no side effect (for a second look at the token
    /// the same call already found).
    token_ptr peek(std::string_view workspace) const { return lookup(workspace, false); }

    /// The miss path: the outcome of the workspace's one flight (started here if none is
    /// running), or at once the error it remembers while it backs off. Completes with
    /// errc::timeout at `deadline`, or operation_aborted when the awaiting coroutine is
    /// cancelled; neither affects the flight.
    boost::asio::awaitable<result<token_ptr>> get(std::string_view workspace, time_point deadline) {
        auto st = st_; // the cache may be destroyed while this caller waits
        std::shared_ptr<flight> f;
        entry_table::evictions evicted;
        std::optional<failure> remembered;
        {
            const auto now = Clock::now();
            auto& sh = st->table.shard_of(workspace);
            std::lock_guard lock(sh.mtx);
            if (st->stopped) {
                co_return make_failure(boost::asio::error::operation_aborted);
            }
            entry& e = st->table.find_or_add(sh, workspace, now, evicted);
            if (entry_policy::usable(e.token, now)) { // arrived since the caller's find()
                co_return st->hit(sh, e, now);
            }
            sh.touch(e);
            ++sh.counts.misses;
            const auto action = st->policy.on_miss(e, e.running != nullptr, now);
            if (action.what == miss_action::answer_remembered) {
                remembered = *e.remembered;
            } else if (action.what == miss_action::start_flight) {
                remembered = st->endpoint.paused(now);
                if (!remembered) {
                    st->start_flight(sh, e, now, action.reason);
                }
            }
            if (remembered) {
                ++sh.counts.remembered_error_hits;
            } else {
                ++sh.counts.waiters_joined;
                f = flight_of(e);
            }
        }
        st->emit_evictions(evicted); // hooks run outside every lock
        if (remembered) {
            co_return *remembered;
        }

        waiter_type w(co_await boost::asio::this_coro::executor, f->mtx);
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
        auto result = invalidate_result::stale;
        {
            auto& sh = st_->table.shard_of(workspace);
            std::lock_guard lock(sh.mtx);
            if (entry* e = entry_table::find(sh, workspace)) {
                result = st_->policy.on_rejected(*e, rejected, now);
            }
            ++(result == invalidate_result::applied ? sh.counts.invalidations_applied
                                                    : sh.counts.invalidations_noop);
        }
        st_->emit(result == invalidate_result::applied ? token_event::kind::invalidation_applied
                                                       : token_event::kind::invalidation_noop,
                  workspace,
                  result == invalidate_result::applied     ? "401"
                  : result == invalidate_result::throttled ? "throttled"
                                                           : "stale");
        return result;
    }

    /// Completes every waiter with operation_aborted, stops every flight, and makes later
    /// calls fail the same way. Thread-safe and idempotent.
    void shutdown() { st_->shutdown(); }

    /// The counters; entries and in_flight as they are now.
    token_cache_stats stats() const {
        token_cache_stats s;
        st_->table.add_counts(s);
        const auto& r = st_->endpoint.counts;
        s.token_requests = r.sent;
        s.failures_transient = r.transient;
        s.failures_permanent = r.permanent;
        s.failures_rate_limited = r.rate_limited;
        s.flight_timeouts = r.flight_timeouts;
        s.in_flight = r.in_flight;
        s.shared_hits = st_->shared_counts.hits;
        s.shared_leases = st_->shared_counts.leases;
        s.shared_unavailable = st_->shared_counts.unavailable;
        return s;
    }

    const token_cache_options& options() const { return st_->opts; }

    /// Number of workspaces with an entry.
    std::size_t size() const { return stats().entries; }

private:
    using waiter_type = waiter<timer_type>;
    using entry = entry_table::entry;
    using shard = entry_table::shard;

    token_ptr lookup(std::string_view workspace, bool as_use) const {
        const auto now = Clock::now();
        auto& sh = st_->table.shard_of(workspace);
        std::lock_guard lock(sh.mtx);
        entry* e = entry_table::find(sh, workspace);
        if (!e || st_->stopped || !entry_policy::usable(e->token, now)) {
            return {};
        }
        return as_use ? st_->hit(sh, *e, now) : e->token;
    }

    // One token request, shared by everyone who asks for the workspace while it runs. It
    // belongs to the cache, not to the caller that started it.
    struct flight : flight_base {
        flight(std::string ws, time_point dl, std::string_view why, std::string old)
            : workspace(std::move(ws))
            , deadline(dl)
            , reason(why)
            , replacing(std::move(old)) {}

        const std::string workspace;
        const time_point deadline;
        const std::string_view reason; // "miss", "refresh_ahead" or "forced"
        // For the shared cache: the stamp of the token this flight replaces, or of the one a
        // 401 rejected ("forced").
        const std::string replacing;
        // Used on the flight's strand only: a token request is being made.
        bool on_the_wire = false;
        // Guarded by the mutex of the workspace's shard:
        std::shared_ptr<strand_task<timer_type>> task;
        bool finished = false;
        // Guarded by mtx:
        std::mutex mtx;
        waiter_list<waiter_type> waiters;
        std::optional<result<token_ptr>> outcome;
    };

    // An entry's flight: every flight the table holds is one of this cache's.
    static std::shared_ptr<flight> flight_of(const entry& e) {
        return std::static_pointer_cast<flight>(e.running);
    }

    struct state : std::enable_shared_from_this<state> {
        state(boost::asio::any_io_executor e, fetch_fn f, token_cache_options o)
            : ex(std::move(e))
            , opts(std::move(o))
            , policy(opts)
            , table(opts.max_entries, policy)
            , endpoint(std::move(f), opts.max_concurrent_requests, policy) {}

        const boost::asio::any_io_executor ex;
        const token_cache_options opts;
        const entry_policy policy;
        entry_table table;
        token_endpoint<Clock> endpoint;
        std::atomic<bool> stopped{false};
        struct {
            std::atomic<std::uint64_t> hits{0}, leases{0}, unavailable{0};
        } shared_counts;

        // A caller gets the usable token of `e`, and the policy may ask for a refresh ahead.
        token_ptr hit(shard& sh, entry& e, time_point now) {
            ++sh.hits;
            const auto action = policy.on_hit(e, e.running != nullptr, now);
            if (action.record_use) {
                sh.touch(e);
            }
            if (action.refresh_ahead && !endpoint.paused(now)) {
                ++sh.counts.refresh_aheads;
                start_flight(sh, e, now, "refresh_ahead");
            }
            return e.token;
        }

        //----------------------------------------------------------------------
        // Flights

        // Called with the shard's mutex held; spawning only posts to the flight's new strand, so
        // the flight's first step (and its refresh_start hook) runs later, outside this lock.
        void start_flight(shard& sh, entry& e, time_point now, std::string_view why) {
            auto plan = policy.on_flight_start(e, now, opts.shared != nullptr);
            auto f = std::make_shared<flight>(std::string(e.key->view()), plan.deadline, why,
                                              std::move(plan.replacing));
            e.running = f;
            ++sh.counts.flights;
            auto st = this->shared_from_this();
            f->task = strand_task<timer_type>::template spawn<flight_result>(
                ex, f->deadline, [st, f] { return st->run_flight(f); },
                [st, f](std::exception_ptr ep, flight_result r) {
                    if (ep) {
                        r.outcome = failure_from(ep);
                    }
                    st->finish(*f, st->publishable(std::move(r.outcome)), r.failed_requests,
                               r.paused);
                },
                [st, f] {
                    // The deadline cancels a request on the wire: that one failed (a timeout is
                    // transient); a flight still queued for a slot sent nothing, and its key is
                    // not made to back off for the client's own congestion.
                    ++st->endpoint.counts.flight_timeouts;
                    if (f->on_the_wire) {
                        ++st->endpoint.counts.transient;
                    }
                    st->finish(*f, make_failure(errc::timeout, "token request timed out"),
                               f->on_the_wire ? 1 : 0);
                });
        }

        // The flight: the shared cache first, if there is one; then requests under the global
        // cap, retried with backoff and full jitter while the failure is transient and time is
        // left. Runs on the flight's strand.
        boost::asio::awaitable<flight_result> run_flight(std::shared_ptr<flight> f) {
            flight_result r;
            if (stopped) {
                co_return r; // shut down before it started: nothing runs, no hook fires
            }
            emit(token_event::kind::refresh_start, f->workspace, f->reason);
            auto deadline = f->deadline;
            auto shared = shared_claim::kind::unavailable;
            if (opts.shared) {
                auto claim = co_await opts.shared->claim(
                    f->workspace, f->replacing, f->reason == std::string_view("forced"),
                    saturating_add(Clock::now(), opts.flight_timeout));
                const auto cs = co_await boost::asio::this_coro::cancellation_state;
                if (cs.cancelled() != boost::asio::cancellation_type::none) {
                    co_return r; // stopped: the flight has already been finished for callers
                }
                shared = claim.what;
                ++(shared == shared_claim::kind::token   ? shared_counts.hits
                   : shared == shared_claim::kind::lease ? shared_counts.leases
                                                         : shared_counts.unavailable);
                if (shared == shared_claim::kind::token) {
                    r.outcome = std::move(claim.grant);
                    co_return r;
                }
                // Whatever the wait took, the request has a whole flight_timeout (the lease's).
                deadline = std::min(f->deadline, saturating_add(Clock::now(), opts.flight_timeout));
            }
            // Whatever ends the requests, an exception included, a lease taken is given back.
            try {
                co_await endpoint.request(f->workspace, deadline, f->on_the_wire, r);
            } catch (...) {
                r.outcome = failure_from(std::current_exception());
            }
            if (shared == shared_claim::kind::lease) {
                if (r.outcome) {
                    r.outcome->stamp = co_await opts.shared->publish(f->workspace, *r.outcome);
                } else if (!stopped) {
                    // Cancelled by the flight's deadline or not: other processes should not wait
                    // for a lease nobody uses.
                    co_await boost::asio::this_coro::reset_cancellation_state();
                    co_await opts.shared->release(f->workspace);
                }
            }
            co_return r;
        }

        result<token_ptr> publishable(result<token_grant> r) const {
            if (!r) {
                return r.error();
            }
            thread_local std::minstd_rand rng{std::random_device{}()};
            std::uniform_real_distribution<double> jitter(0.0, opts.soft_window_jitter);
            auto t = make_cached_token(std::move(*r), opts.soft_window_cap, jitter(rng));
            if (!entry_policy::usable(t, Clock::now())) {
                return make_failure(errc::bad_response,
                                    "the token endpoint returned a token that had expired on "
                                    "arrival");
            }
            return t;
        }

        // Publishes the outcome, then removes the flight, then wakes its waiters. The token is
        // stored and the flight removed in one critical section, so a caller arriving in
        // between finds the token rather than starting a second request.
        void finish(flight& f, result<token_ptr> r, unsigned failed_requests, bool paused = false) {
            {
                const auto now = Clock::now();
                auto& sh = table.shard_of(f.workspace);
                std::lock_guard lock(sh.mtx);
                if (f.finished) {
                    return;
                }
                f.finished = true;
                entry* e = entry_table::find(sh, f.workspace);
                if (e && e->running.get() == &f) {
                    if (r) {
                        policy.on_success(*e, *r, now);
                    } else if (auto until =
                                   policy.on_failure(*e, r.error(), failed_requests, paused, now)) {
                        endpoint.pause(*until, r.error());
                    }
                    e->running.reset();
                }
            }
            if (r) {
                emit(token_event::kind::refresh_success, f.workspace, f.reason);
            } else {
                emit(token_event::kind::refresh_failure, f.workspace, f.reason, r.error().ec);
            }
            std::lock_guard lock(f.mtx);
            f.outcome = std::move(r);
            while (!f.waiters.empty()) {
                f.waiters.front().wake();
            }
        }

        //----------------------------------------------------------------------

        void emit(token_event::kind what, std::string_view ws, std::string_view reason,
                  error_code ec = {}) const {
            if (opts.on_event) { // a hook must not throw; if it does, the cache carries on
                opts.hooks->run([&] { opts.on_event(token_event{what, ws, reason, ec}); });
            }
        }

        void emit_evictions(const entry_table::evictions& evicted) {
            for (const auto& [ws, why] : evicted) {
                emit(token_event::kind::eviction, ws, why);
            }
        }

        void shutdown() {
            std::vector<std::shared_ptr<flight>> flights;
            stopped = true;
            table.for_each_shard([&](shard& sh) {
                for (auto& [ws, e] : sh.entries) {
                    if (e.running) {
                        flights.push_back(std::static_pointer_cast<flight>(std::move(e.running)));
                    }
                }
            });
            for (auto& f : flights) {
                finish(*f, make_failure(boost::asio::error::operation_aborted), 0);
                f->task->stop(); // set when the flight was created, under the shard's mutex
            }
            opts.hooks->close(); // a hook running on another thread is waited for
        }
    };

    std::shared_ptr<state> st_;
};

using token_cache = basic_token_cache<std::chrono::steady_clock>;

} // namespace glue::detail

#endif
