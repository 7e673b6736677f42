// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_CACHE_TOKEN_CACHE_HPP
#define GLUE_CACHE_TOKEN_CACHE_HPP

// The single-flight token cache (DESIGN.md, "Single-flight token cache"). It decides who
// fetches, when, and what is handed out; how one token request is made is a parameter (the
// fetch function), and so is the clock, so unit tests drive every rule with a fake fetcher and
// a manual clock.
//
// Per workspace: at most one flight (token request, retried inside on transient failures);
// a token handed out until its hard margin and refreshed ahead in its soft window; after a
// failure, a remembered error for a backoff. Across workspaces: a FIFO cap on requests in
// flight, a pause of the whole endpoint when it says it is overloaded, and a bound on entries
// (the least recently used of a few sampled shards goes; expired entries are swept as new ones
// arrive).
//
// Locking: entries are split over shards, each with its own mutex, so threads looking up
// different workspaces rarely meet; each flight has its own mutex for its waiters and outcome,
// so waking 10,000 waiters blocks no lookup. Locks are never nested, except the endpoint pause's
// inside a shard's, and other shards' inside a shard's when evicting, which only try_lock (never
// wait). Hooks and completions never run inside any lock, and flights start by being posted.

#include <glue/metrics.hpp>
#include <glue/types.hpp>

#include "cache/cached_token.hpp"
#include "cache/failure_class.hpp"
#include "protocol/protocol.hpp"
#include "shared_cache/shared_cache.hpp"
#include "support/backoff.hpp"
#include "support/fifo_semaphore.hpp"
#include "support/hook_gate.hpp"
#include "support/outcome.hpp"
#include "support/saturating.hpp"
#include "support/strand_task.hpp"
#include "support/waiter.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/intrusive/list.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace glue::detail {

struct token_cache_options {
    std::chrono::milliseconds flight_timeout{std::chrono::seconds(10)};
    std::chrono::milliseconds forced_refresh_interval{std::chrono::seconds(5)};
    std::chrono::nanoseconds soft_window_cap{std::chrono::minutes(15)};
    double soft_window_jitter = 0.10;
    std::chrono::milliseconds refresh_min_interval{std::chrono::seconds(10)};
    unsigned retry_attempts = 3;
    std::chrono::milliseconds retry_base_delay{200};
    std::chrono::milliseconds backoff_initial{std::chrono::seconds(1)};
    std::chrono::milliseconds backoff_max{std::chrono::seconds(60)};
    std::chrono::milliseconds permanent_failure_memory{std::chrono::seconds(30)};
    std::size_t max_concurrent_requests = 32;
    std::chrono::seconds retry_after_cap{600};
    std::size_t max_entries = 100'000;
    token_event_hook on_event;
    /// What on_event runs through; shutdown() closes it, and no hook runs once that returned.
    /// A client shares its own with the shared cache's hook.
    std::shared_ptr<hook_gate> hooks = std::make_shared<hook_gate>();
    /// The second level shared with other processes; null: in-process only.
    std::shared_ptr<shared_cache> shared;
};

enum class invalidate_result {
    applied,  ///< the key held the rejected token: dropped, the next get() fetches
    stale,    ///< the key no longer holds it (already replaced or dropped): nothing to do
    throttled ///< it does, but a forced refresh happened too recently: don't refetch
};

/// A workspace id as a map key, stored inside the map's node when short (real ids are 31
/// characters): a lookup then reads no memory beyond the node it compares against.
class workspace_key {
public:
    explicit workspace_key(std::string_view id) : size_(id.size()) {
        if (size_ > inline_size) {
            heap_ = std::make_unique<char[]>(size_);
        }
        std::copy(id.begin(), id.end(), data());
    }

    std::string_view view() const noexcept { return {data(), size_}; }
    operator std::string_view() const noexcept { return view(); }

private:
    static constexpr std::size_t inline_size = 40;

    char* data() noexcept { return heap_ ? heap_.get() : inline_; }
    const char* data() const noexcept { return heap_ ? heap_.get() : inline_; }

    std::size_t size_;
    std::unique_ptr<char[]> heap_;
    char inline_[inline_size];
};

/// Hashing and comparison by string_view, so lookups don't build a key.
struct key_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};
struct key_equal {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
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
    /// One token request for the workspace; must finish by the deadline and honour terminal
    /// cancellation. Runs on the flight's own strand, not on any caller's executor.
    using fetch_fn = std::function<boost::asio::awaitable<result<token_grant>>(
        std::string workspace, time_point deadline)>;

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
        typename state::evictions evicted;
        std::optional<failure> remembered;
        {
            const auto now = Clock::now();
            auto& sh = st->shard_of(workspace);
            std::lock_guard lock(sh.mtx);
            if (st->stopped) {
                co_return make_failure(boost::asio::error::operation_aborted);
            }
            auto it = sh.entries.find(workspace);
            if (it == sh.entries.end()) {
                st->make_room(sh, now, evicted);
                it = sh.entries.try_emplace(workspace_key(workspace)).first;
                it->second.key = &it->first;
                st->total_entries.fetch_add(1, std::memory_order_relaxed);
            }
            entry& e = it->second;
            if (usable(e.token, now)) { // arrived since the caller's find()
                co_return st->hit(sh, e, now);
            }
            sh.touch(e);
            e.last_used = now;
            ++sh.counts.misses;
            if (!e.running) {
                if (now < e.retry_not_before && e.remembered) {
                    remembered = *e.remembered;
                } else {
                    remembered = st->endpoint_pause(now);
                }
                if (remembered) {
                    ++sh.counts.remembered_error_hits;
                } else {
                    st->start_flight(it->first, e, now, e.forced_pending ? "forced" : "miss");
                }
            }
            if (!remembered) {
                ++sh.counts.waiters_joined;
                f = e.running;
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
            auto& sh = st_->shard_of(workspace);
            std::lock_guard lock(sh.mtx);
            auto it = sh.entries.find(workspace);
            if (it != sh.entries.end() && rejected && it->second.token.get() == rejected) {
                entry& e = it->second;
                if (st_->forced_recently(e, now)) {
                    result = invalidate_result::throttled;
                } else {
                    e.rejected_stamp = e.token->stamp;
                    e.token.reset();
                    e.last_forced = now;
                    e.forced_pending = true;
                    result = invalidate_result::applied;
                }
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
        for (std::size_t i = 0; i < st_->shard_count; ++i) {
            auto& sh = st_->shards[i];
            std::lock_guard lock(sh.mtx);
            const auto& c = sh.counts;
            s.hits += sh.hits;
            s.misses += c.misses;
            s.flights += c.flights;
            s.waiters_joined += c.waiters_joined;
            s.refresh_aheads += c.refresh_aheads;
            s.remembered_error_hits += c.remembered_error_hits;
            s.invalidations_applied += c.invalidations_applied;
            s.invalidations_noop += c.invalidations_noop;
            s.evictions += c.evictions;
            s.entries += sh.entries.size();
        }
        const auto& r = st_->requests;
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

    token_ptr lookup(std::string_view workspace, bool as_use) const {
        const auto now = Clock::now();
        auto& sh = st_->shard_of(workspace);
        std::lock_guard lock(sh.mtx);
        auto it = sh.entries.find(workspace);
        if (it == sh.entries.end() || st_->stopped || !usable(it->second.token, now)) {
            return {};
        }
        return as_use ? st_->hit(sh, it->second, now) : it->second.token;
    }
    using lru_hook = boost::intrusive::list_base_hook<
        boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

    static bool usable(const token_ptr& t, time_point now) { return t && now < t->usable_until; }

    // One token request, shared by everyone who asks for the workspace while it runs. It
    // belongs to the cache, not to the caller that started it.
    struct flight {
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

    // A flight's result: a grant or the last failure, how many requests failed on the way, and
    // whether the endpoint's pause stopped it (then `outcome` is the pause's failure).
    struct flight_result {
        result<token_grant> outcome = make_failure(boost::asio::error::operation_aborted);
        unsigned failed_requests = 0;
        bool paused = false;
    };

    // Everything the cache knows about one workspace. Bounded: a fixed set of fields.
    struct entry : lru_hook {
        const workspace_key* key = nullptr; // the map node's own key
        token_ptr token;
        std::shared_ptr<flight> running;
        time_point last_used{};          // the previous use: is the workspace in steady use?
        time_point refresh_not_before{}; // no refresh-ahead before (min interval, backoff)
        time_point retry_not_before{};   // until then, callers without a token get `remembered`
        std::optional<failure> remembered;
        unsigned failed_requests = 0; // in a row, across flights: drives the backoff
        std::optional<time_point> last_forced;
        bool forced_pending = false; // the next flight follows an applied 401
        std::string rejected_stamp;  // with forced_pending: the rejected token's, if shared
    };

    struct shard_counts {
        std::uint64_t misses = 0, flights = 0, waiters_joined = 0, refresh_aheads = 0,
                      remembered_error_hits = 0, invalidations_applied = 0, invalidations_noop = 0,
                      evictions = 0;
    };

    struct state : std::enable_shared_from_this<state> {
        state(boost::asio::any_io_executor e, fetch_fn f, token_cache_options o)
            : ex(std::move(e))
            , fetch(std::move(f))
            , opts(std::move(o))
            , shard_count(std::clamp<std::size_t>(opts.max_entries / 256, 1, max_shards))
            , request_slots(std::max<std::size_t>(opts.max_concurrent_requests, 1)) {}

        struct alignas(64) shard { // a cache line each: no false sharing between shards
            mutable std::mutex mtx;
            std::uint64_t hits = 0; // beside the mutex: a hit writes just the line it locks
            std::unordered_map<workspace_key, entry, key_hash, key_equal> entries;
            boost::intrusive::list<entry, boost::intrusive::constant_time_size<false>> lru;
            shard_counts counts;

            void touch(entry& e) { // most recently used at the front
                e.unlink();
                lru.push_front(e);
            }
        };

        static constexpr std::size_t max_shards = 64;

        shard& shard_of(std::string_view workspace) {
            return shards[key_hash{}(workspace) % shard_count];
        }

        const boost::asio::any_io_executor ex;
        const fetch_fn fetch;
        const token_cache_options opts;
        // Small bounds get fewer shards, so that every shard holds a fair number of entries.
        const std::size_t shard_count;
        std::array<shard, max_shards> shards;
        // Entries in all shards together. The bound is on this, not on each shard: the hash
        // never spreads workspaces exactly evenly, and a per-shard share would start evicting
        // before the cache holds max_entries. Written only when an entry comes or goes.
        std::atomic<std::size_t> total_entries{0};
        fifo_semaphore<timer_type> request_slots;
        std::atomic<bool> stopped{false};
        std::atomic<std::size_t> next_sample{0}; // where evict_one starts looking at others

        struct {
            std::atomic<std::uint64_t> sent{0}, transient{0}, permanent{0}, rate_limited{0},
                flight_timeouts{0};
            std::atomic<std::size_t> in_flight{0};
        } requests;
        struct {
            std::atomic<std::uint64_t> hits{0}, leases{0}, unavailable{0};
        } shared_counts;

        std::mutex pause_mtx; // nested inside a shard's mutex, never the other way round
        time_point paused_until{};
        std::optional<failure> pause_failure;

        //----------------------------------------------------------------------
        // Entries

        using evictions = std::vector<std::pair<std::string, std::string_view>>;

        // Before adding an entry: sweep a few expired ones from this shard's least recently used
        // end, then, while the cache is full, evict the least recently used entry of a few
        // shards. Entries with a flight are never dropped (so the bound may be passed while they
        // all have one).
        void make_room(shard& sh, time_point now, evictions& evicted) {
            constexpr int sweep_per_insert = 2;
            int looked = 0;
            for (entry* e = oldest(sh); e && looked < sweep_per_insert; ++looked) {
                entry* newer = next_newer(sh, *e); // taken before `e` may go
                if (dead(*e, now)) {
                    drop(sh, *e, "expired", evicted);
                }
                e = newer;
            }
            while (total_entries.load(std::memory_order_relaxed) >= opts.max_entries &&
                   evict_one(sh, now, evicted)) {
            }
        }

        // Evicts the least recently used entry among this shard (locked by the caller) and up
        // to `sampled_shards` others that can be locked without waiting (so shards never wait
        // for each other): close to one LRU over the whole cache, with no global lock, so a hot
        // entry is not evicted while another shard holds long-idle ones. An entry that still
        // remembers something (an error in force, a recent forced refresh) goes only when no
        // sampled shard has one that doesn't, so the throttles outlive the churn of a bulk job.
        bool evict_one(shard& sh, time_point now, evictions& evicted) {
            constexpr std::size_t sampled_shards = 3;
            shard* from = nullptr;
            entry* worst = nullptr;
            auto consider = [&](shard& s) {
                entry* e = victim(s, now);
                if (e && (!worst || std::pair(keeps_state(*e, now), e->last_used) <
                                        std::pair(keeps_state(*worst, now), worst->last_used))) {
                    from = &s;
                    worst = e;
                }
            };
            consider(sh);
            std::array<std::unique_lock<std::mutex>, sampled_shards> held;
            const std::size_t start = next_sample.fetch_add(1, std::memory_order_relaxed);
            for (std::size_t i = 0, n = 0; i < shard_count && n < sampled_shards; ++i) {
                shard& s = shards[(start + i) % shard_count];
                if (&s == &sh) {
                    continue;
                }
                std::unique_lock lock(s.mtx, std::try_to_lock);
                if (lock) {
                    consider(s);
                    held[n++] = std::move(lock);
                }
            }
            if (!worst) {
                return false;
            }
            drop(*from, *worst, "lru", evicted);
            return true;
        }

        // A shard's candidate: its least recently used entry without a flight, or a little
        // newer one that remembers nothing.
        entry* victim(shard& s, time_point now) const {
            constexpr int look_further = 8;
            entry* first = nullptr;
            int looked = 0;
            for (entry* e = oldest(s); e && (!first || looked < look_further);
                 e = next_newer(s, *e)) {
                if (e->running) {
                    continue;
                }
                if (!keeps_state(*e, now)) {
                    return e;
                }
                first = first ? first : e;
                ++looked;
            }
            return first;
        }

        bool keeps_state(const entry& e, time_point now) const {
            return (e.remembered && now < e.retry_not_before) || forced_recently(e, now);
        }

        bool forced_recently(const entry& e, time_point now) const {
            return e.last_forced &&
                   now < saturating_add(*e.last_forced, opts.forced_refresh_interval);
        }

        static entry* oldest(shard& sh) { return sh.lru.empty() ? nullptr : &sh.lru.back(); }

        static entry* next_newer(shard& sh, entry& e) {
            auto it = sh.lru.iterator_to(e);
            return it == sh.lru.begin() ? nullptr : &*std::prev(it);
        }

        // Nothing left worth keeping: no flight, no token that could still be used, no error
        // still being remembered.
        static bool dead(const entry& e, time_point now) {
            return !e.running && (!e.token || now >= e.token->token.expires_at) &&
                   now >= e.retry_not_before;
        }

        void drop(shard& sh, entry& e, std::string_view why, evictions& evicted) {
            ++sh.counts.evictions;
            total_entries.fetch_sub(1, std::memory_order_relaxed);
            auto it = sh.entries.find(*e.key);
            evicted.emplace_back(it->first.view(), why);
            sh.entries.erase(it);
        }

        void emit_evictions(const evictions& evicted) {
            for (const auto& [ws, why] : evicted) {
                emit(token_event::kind::eviction, ws, why);
            }
        }

        // A caller gets the usable token of `e`. Inside the soft window of a workspace in steady
        // use this also starts a refresh, in the background: the caller doesn't wait for it.
        token_ptr hit(shard& sh, entry& e, time_point now) {
            ++sh.hits;
            const auto& t = *e.token;
            // Only a workspace in use, not one touched once after a long pause, is refreshed
            // ahead: its previous use must lie within the last soft window.
            const auto window = t.token.expires_at - t.refresh_from;
            const bool in_use = now - e.last_used <= window;
            // Recorded only every 1/16 of the window: most hits then write nothing but the
            // shard's own line, which keeps two threads from passing cache lines back and forth.
            if (now - e.last_used >= window / 16) {
                e.last_used = now;
                sh.touch(e);
            }
            if (now >= t.refresh_from && in_use && !e.running && now >= e.refresh_not_before &&
                !endpoint_pause(now)) {
                ++sh.counts.refresh_aheads;
                start_flight(*e.key, e, now, "refresh_ahead");
            }
            return e.token;
        }

        //----------------------------------------------------------------------
        // Flights

        // Called with the shard's mutex held; spawning only posts to the flight's new strand, so
        // the flight's first step (and its refresh_start hook) runs later, outside this lock.
        void start_flight(std::string_view ws, entry& e, time_point now, std::string_view why) {
            // With a shared cache, a flight may first wait (at most one flight_timeout) for
            // another process's flight, and then has a whole flight_timeout of its own.
            const auto deadline =
                saturating_add(saturating_add(now, opts.flight_timeout),
                               opts.shared ? opts.flight_timeout : std::chrono::milliseconds(0));
            auto f = std::make_shared<flight>(std::string(ws), deadline, why,
                                              e.forced_pending ? std::move(e.rejected_stamp)
                                              : e.token        ? e.token->stamp
                                                               : std::string());
            e.running = f;
            ++shard_of(ws).counts.flights;
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
                    ++st->requests.flight_timeouts;
                    if (f->on_the_wire) {
                        ++st->requests.transient;
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
                co_await request(*f, deadline, r);
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

        // The requests of one flight, into `r`.
        boost::asio::awaitable<void> request(flight& f, time_point deadline, flight_result& r) {
            for (unsigned attempt = 1;; ++attempt) {
                if (auto paused = endpoint_pause(Clock::now())) {
                    r.outcome = *paused; // sends nothing more, and doesn't lengthen the pause
                    r.paused = true;
                    co_return;
                }
                if (auto ec = co_await request_slots.acquire(deadline)) {
                    r.outcome = make_failure(ec, ec == errc::timeout
                                                     ? "deadline passed while queued for the "
                                                       "token endpoint"
                                                     : std::string_view{});
                    co_return;
                }
                // The endpoint may have asked for a pause while this flight was queued: a slot
                // is no licence to send into it.
                if (auto paused = endpoint_pause(Clock::now())) {
                    request_slots.release();
                    r.outcome = *paused;
                    r.paused = true;
                    co_return;
                }
                bool threw = false; // a bug or no memory: another try would do the same
                {
                    // Gives the slot back however the request ends, a throwing fetch included.
                    struct slot {
                        state& st;
                        flight& f;
                        slot(state& s, flight& fl) : st(s), f(fl) {
                            ++st.requests.sent;
                            ++st.requests.in_flight;
                            f.on_the_wire = true;
                        }
                        ~slot() {
                            f.on_the_wire = false;
                            --st.requests.in_flight;
                            st.request_slots.release();
                        }
                    } held(*this, f);
                    try {
                        r.outcome = co_await fetch(f.workspace, deadline);
                    } catch (...) {
                        r.outcome = failure_from(std::current_exception());
                        threw = true;
                    }
                }
                if (r.outcome) {
                    co_return;
                }
                const auto cls = classify(r.outcome.error());
                if (cls == failure_class::aborted) {
                    co_return;
                }
                ++r.failed_requests;
                ++(cls == failure_class::transient         ? requests.transient
                   : cls == failure_class::permanent       ? requests.permanent
                   : cls == failure_class::client_rejected ? requests.permanent
                                                           : requests.rate_limited);
                if (cls != failure_class::transient || attempt >= opts.retry_attempts || threw) {
                    co_return;
                }
                const auto delay =
                    backoff_delay(opts.retry_base_delay, attempt, std::chrono::nanoseconds::max());
                if (saturating_add(Clock::now(), delay) >= deadline) {
                    co_return;
                }
                timer_type pause(co_await boost::asio::this_coro::executor, delay);
                auto [ec] =
                    co_await pause.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
                if (ec) {
                    co_return; // stopped: the flight has already been finished for callers
                }
            }
        }

        result<token_ptr> publishable(result<token_grant> r) const {
            if (!r) {
                return r.error();
            }
            thread_local std::minstd_rand rng{std::random_device{}()};
            std::uniform_real_distribution<double> jitter(0.0, opts.soft_window_jitter);
            auto t = make_cached_token(std::move(*r), opts.soft_window_cap, jitter(rng));
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
        void finish(flight& f, result<token_ptr> r, unsigned failed_requests, bool paused = false) {
            {
                const auto now = Clock::now();
                auto& sh = shard_of(f.workspace);
                std::lock_guard lock(sh.mtx);
                if (f.finished) {
                    return;
                }
                f.finished = true;
                auto it = sh.entries.find(f.workspace);
                if (it != sh.entries.end() && it->second.running.get() == &f) {
                    entry& e = it->second;
                    if (r) {
                        succeeded(e, *r, now);
                    } else {
                        failed(e, r.error(), failed_requests, paused, now);
                    }
                    e.running.reset();
                    e.forced_pending = false;
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

        void succeeded(entry& e, const token_ptr& t, time_point now) {
            e.token = t;
            e.failed_requests = 0;
            e.remembered.reset();
            e.retry_not_before = {};
            // A token that arrives already inside its soft window isn't refreshed at once.
            e.refresh_not_before = now >= t->refresh_from
                                       ? saturating_add(now, opts.refresh_min_interval)
                                       : time_point{};
        }

        // A failure never drops a usable token: it only decides how long callers without one
        // get the error at once, and when the next request may go. A flight that sent nothing
        // (stopped by the endpoint's pause, or never given a slot before its deadline) failed
        // for reasons that are not the key's: it leaves the key's state alone. One the pause
        // stopped after failures of its own backs off for those, and leaves the pause as it is.
        void failed(entry& e, const failure& why, unsigned failed_requests, bool paused,
                    time_point now) {
            const auto cls = classify(why);
            if (cls == failure_class::aborted || failed_requests == 0) {
                return;
            }
            e.failed_requests = std::min(e.failed_requests + failed_requests, 63u);
            auto wait = doubled(opts.backoff_initial, e.failed_requests, opts.backoff_max);
            // The server's Retry-After lengthens the backoff, never shortens it: `Retry-After: 0`
            // must not let every new caller send another request.
            const auto retry_after = why.diag ? why.diag->retry_after : std::chrono::seconds(-1);
            const auto asked = std::max<std::chrono::nanoseconds>(
                wait, std::min(saturating_cast<std::chrono::nanoseconds>(retry_after),
                               saturating_cast<std::chrono::nanoseconds>(opts.retry_after_cap)));
            switch (paused ? failure_class::transient : cls) {
            case failure_class::permanent:
                wait = saturating_cast<std::chrono::nanoseconds>(opts.permanent_failure_memory);
                break;
            case failure_class::client_rejected:
                wait = saturating_cast<std::chrono::nanoseconds>(opts.permanent_failure_memory);
                pause_endpoint(saturating_add(now, wait), why);
                break;
            case failure_class::rate_limited:
                wait = asked;
                break;
            case failure_class::overloaded:
                wait = asked;
                pause_endpoint(saturating_add(now, wait), why);
                break;
            default:
                break;
            }
            e.remembered = why;
            e.retry_not_before = saturating_add(now, wait);
            e.refresh_not_before = e.retry_not_before;
        }

        //----------------------------------------------------------------------
        // The endpoint as a whole

        void pause_endpoint(time_point until, const failure& why) {
            std::lock_guard lock(pause_mtx);
            if (until > paused_until) {
                paused_until = until;
                pause_failure = why;
            }
        }

        std::optional<failure> endpoint_pause(time_point now) {
            std::lock_guard lock(pause_mtx);
            if (now < paused_until) {
                return pause_failure;
            }
            return std::nullopt;
        }

        //----------------------------------------------------------------------

        void emit(token_event::kind what, std::string_view ws, std::string_view reason,
                  error_code ec = {}) const {
            if (opts.on_event) { // a hook must not throw; if it does, the cache carries on
                opts.hooks->run([&] { opts.on_event(token_event{what, ws, reason, ec}); });
            }
        }

        void shutdown() {
            std::vector<std::shared_ptr<flight>> flights;
            stopped = true;
            for (std::size_t i = 0; i < shard_count; ++i) {
                auto& sh = shards[i];
                std::lock_guard lock(sh.mtx);
                for (auto& [ws, e] : sh.entries) {
                    if (e.running) {
                        flights.push_back(std::move(e.running));
                    }
                }
            }
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
