// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_SHARED_CACHE_FLEET_PERMITS_HPP
#define GLUE_SHARED_CACHE_FLEET_PERMITS_HPP

// The fleet-wide rate limit (client_config::fleet_rate_limit): every process sharing a Redis
// takes its turns to send from one bucket there, keyed glue:<client_id>:rate. A process reserves
// turns in batches (one round trip each) and hands them out to its own calls in the order they
// asked; while Redis is unreachable it keeps to its own share of the rate.
//
// The bucket is a GCRA: Redis keeps the fleet's next turn (lua_scripts.hpp), and a script
// reserves n consecutive turns by Redis's clock (TIME), so the processes' own clocks don't
// matter. A reservation is mapped onto this process's steady clock at the moment its reply
// arrives (never earlier than Redis meant). One round trip is in flight at a time; callers
// arriving meanwhile queue, in order. The batch is the callers queued plus a look-ahead of
// those expected before its turns pass, at most 50 (fleet_schedule.hpp): turns reserved but
// never handed out are lost to the fleet, and so is a held turn once its time has passed: every
// turn goes out at its time, never later along with the next ones. While Redis is unreachable (a
// failed or slow round trip, the connection lost) turns come from a local bucket at fallback_rate,
// fleet_rate_down is told once and fleet_rate_up when a round trip succeeds again; Redis is
// asked again once the link has reconnected (when a take() needs it, never in the background)
// and at least a second after the failure. Idle, it runs no timer and holds no work.

#include <glue/metrics.hpp>

#include "shared_cache/redis_url.hpp"
#include "support/clock.hpp"
#include "support/outcome.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace glue::detail {

struct fleet_permit_options {
    redis_address address;
    std::string client_id;    ///< names the key: glue:<client_id>:rate
    double rate = 0;          ///< the fleet's requests per second (> 0)
    double burst = 1;         ///< requests the fleet's bucket lets through at once
    double fallback_rate = 0; ///< this process's own rate while Redis is down (<= 0: `rate`)
    std::chrono::milliseconds timeout{500}; ///< per round trip, and for connecting
    token_event_hook on_event;              ///< fleet_rate_down / fleet_rate_up, once each
};

struct fleet_permit_stats {
    std::uint64_t batches = 0; ///< round trips to Redis that reserved turns
    bool fallback = false;     ///< Redis unreachable now: the local share is in force
};

class fleet_permits {
public:
    virtual ~fleet_permits() = default;

    /// The time this process's next request may be sent: a turn from the batch it holds, else
    /// from a new batch (one round trip, shared by every call waiting), else while Redis is
    /// unreachable from a local bucket at fallback_rate. Turns go out in the order take() was
    /// called. Fails with errc::rate_limited, its diagnostics' retry_after set, when the turn
    /// would come after `deadline` (nothing is reserved then); operation_aborted after
    /// shutdown() or when the caller is cancelled; errc::timeout when `deadline` passes before
    /// the turn is known (Redis slower than the deadline). It does not wait for the turn itself.
    /// Thread-safe: callers may be on any executors.
    virtual boost::asio::awaitable<result<steady_time>> take(steady_time deadline) = 0;

    /// Ends the connection to Redis and fails every take() waiting; idempotent, thread-safe.
    virtual void shutdown() = 0;

    virtual fleet_permit_stats stats() const = 0;
};

/// Connects when first needed, on a strand of `ex`; round trips run on `ex`.
std::shared_ptr<fleet_permits> make_fleet_permits(boost::asio::any_io_executor ex,
                                                  fleet_permit_options opts);

} // namespace glue::detail

#endif
