// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_CACHE_TOKEN_ENDPOINT_HPP
#define GLUE_CACHE_TOKEN_ENDPOINT_HPP

// The token endpoint as the cache uses it, across workspaces (docs/design.md, "Token cache"): at
// most a fixed number of requests at once, queued first come first served; no request while the
// endpoint's pause lasts; the requests of one flight, retried while the entry policy says so;
// and the counters of what was sent and how it failed.

#include "cache/entry_policy.hpp"
#include "cache/failure_class.hpp"
#include "protocol/token_grant.hpp"
#include "support/backoff.hpp"
#include "support/fifo_semaphore.hpp"
#include "support/outcome.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace glue::detail {

/// What one flight came to: a grant or the last failure, how many requests failed on the way,
/// and whether the endpoint's pause stopped it (then `outcome` is the pause's failure).
struct flight_result {
    result<token_grant> outcome = make_failure(boost::asio::error::operation_aborted);
    unsigned failed_requests = 0;
    bool paused = false;
};

template <class Clock>
class token_endpoint {
public:
    using time_point = typename Clock::time_point;
    using timer_type = boost::asio::basic_waitable_timer<Clock, boost::asio::wait_traits<Clock>,
                                                         boost::asio::any_io_executor>;
    /// One token request for the workspace, the flight's `attempt`-th (from 1); must finish by
    /// the deadline and honour terminal cancellation.
    using fetch_fn = std::function<boost::asio::awaitable<result<token_grant>>(
        std::string workspace, time_point deadline, unsigned attempt)>;

    token_endpoint(fetch_fn fetch, std::size_t max_concurrent_requests, const entry_policy& policy)
        : fetch_(std::move(fetch))
        , policy_(policy)
        , slots_(std::max<std::size_t>(max_concurrent_requests, 1)) {}

    /// Counters since the start; in_flight as it is now.
    struct {
        std::atomic<std::uint64_t> sent{0}, transient{0}, permanent{0}, rate_limited{0},
            flight_timeouts{0};
        std::atomic<std::size_t> in_flight{0};
    } counts;

    /// The requests of one flight for `workspace`, into `r`: each waits for a slot, none is sent
    /// into the endpoint's pause, and a transient failure is retried after a backoff with full
    /// jitter while the policy allows and time is left. `on_the_wire` is true while a request is
    /// being made.
    boost::asio::awaitable<void> request(const std::string& workspace, time_point deadline,
                                         bool& on_the_wire, flight_result& r) {
        for (unsigned attempt = 1;; ++attempt) {
            if (auto why = paused(Clock::now())) {
                r.outcome = *why; // sends nothing more, and doesn't lengthen the pause
                r.paused = true;
                co_return;
            }
            if (auto ec = co_await slots_.acquire(deadline)) {
                r.outcome = make_failure(ec, ec == errc::timeout
                                                 ? "deadline passed while queued for the token "
                                                   "endpoint"
                                                 : std::string_view{});
                co_return;
            }
            // The endpoint may have asked for a pause while this flight was queued: a slot is
            // no licence to send into it.
            if (auto why = paused(Clock::now())) {
                slots_.release();
                r.outcome = *why;
                r.paused = true;
                co_return;
            }
            bool threw = false; // a bug or no memory: another try would do the same
            {
                // Gives the slot back however the request ends, a throwing fetch included.
                struct slot {
                    token_endpoint& ep;
                    bool& on_the_wire;
                    slot(token_endpoint& e, bool& wire) : ep(e), on_the_wire(wire) {
                        ++ep.counts.sent;
                        ++ep.counts.in_flight;
                        on_the_wire = true;
                    }
                    ~slot() {
                        on_the_wire = false;
                        --ep.counts.in_flight;
                        ep.slots_.release();
                    }
                } held(*this, on_the_wire);
                try {
                    r.outcome = co_await fetch_(workspace, deadline, attempt);
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
            ++(cls == failure_class::transient         ? counts.transient
               : cls == failure_class::permanent       ? counts.permanent
               : cls == failure_class::client_rejected ? counts.permanent
                                                       : counts.rate_limited);
            const auto longest = policy_.retry_wait(cls, attempt, threw);
            if (!longest) {
                co_return;
            }
            const auto delay = full_jitter(*longest);
            if (!entry_policy::retry_in_time(Clock::now(), delay, deadline)) {
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

    /// Lengthens the endpoint's pause to `until`, with `why` as its failure. May be called with
    /// a shard's mutex held: the pause's own mutex is taken only inside those.
    void pause(time_point until, const failure& why) {
        std::lock_guard lock(pause_mtx_);
        pause_.extend(until, why);
    }

    /// The pause's failure while it lasts.
    std::optional<failure> paused(time_point now) {
        std::lock_guard lock(pause_mtx_);
        return pause_.at(now);
    }

private:
    const fetch_fn fetch_;
    const entry_policy& policy_;
    fifo_semaphore<timer_type> slots_;
    std::mutex pause_mtx_;
    endpoint_pause pause_;
};

} // namespace glue::detail

#endif
