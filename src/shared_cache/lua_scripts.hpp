// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_SHARED_CACHE_LUA_SCRIPTS_HPP
#define GLUE_SHARED_CACHE_LUA_SCRIPTS_HPP

// What the shared cache keeps in Redis, and the scripts that change it.
//
// Per workspace, in Redis:
//   glue:<client_id>:tok:<workspace>    the sealed token (sealing.hpp), expiring at its hard
//                                       margin
//   glue:<client_id>:lease:<workspace>  which process is requesting it (PX: one flight)
//   channel glue:<client_id>:tok-ready  the workspace, when a lease ends (token or not)
// Per client, for the fleet-wide rate limit (fleet_permits.hpp):
//   glue:<client_id>:rate               the fleet's next turn (a GCRA's theoretical arrival
//                                       time, in µs on Redis's clock), expiring when it is past
// Each step is one Lua script, so reading the token and taking the lease can't interleave
// with another process's. Each function below builds one script's EVAL command, so a script's
// keys and arguments are named in one place.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace glue::detail {

/// The names of one client's keys and channel.
class redis_layout {
public:
    explicit redis_layout(std::string_view client_id);

    std::string token_key(std::string_view workspace) const;
    std::string lease_key(std::string_view workspace) const;
    std::string rate_key() const;
    const std::string& channel() const noexcept { return channel_; }

private:
    std::string prefix_, channel_;
};

/// Reads the token and, if there is none to take, takes the lease. `replacing`: the stamp of
/// the token being replaced (or empty), which is not taken; with `rejected` (a 401 came back
/// for it), it is deleted. A lease held under `lease_id` is this process's, taken again.
/// Replies {1, sealed token, its PTTL, now} | {2, now} (the lease is ours) | {0, the lease's
/// PTTL}; `now` is Redis's clock (TIME, in ms since the epoch), the one every process reads
/// alike.
std::vector<std::string> claim_command(const redis_layout& layout, std::string_view workspace,
                                       std::string_view replacing, std::string_view lease_id,
                                       std::chrono::milliseconds lease_time, bool rejected);

/// Stores the sealed token for `ttl`, ends the lease if `lease_id` still holds it, and tells
/// the waiting processes. Replies 1.
std::vector<std::string> publish_command(const redis_layout& layout, std::string_view workspace,
                                         std::string sealed, std::chrono::nanoseconds ttl,
                                         std::string_view lease_id);

/// Ends the lease if `lease_id` still holds it, and tells the waiting processes. Replies 1.
std::vector<std::string> release_command(const redis_layout& layout, std::string_view workspace,
                                         std::string_view lease_id);

/// Reserves up to `n` consecutive turns of the fleet's rate (one every `spacing`; a bucket of
/// burst b lets a turn come up to `tolerance` = (b - 1) x spacing early), none later than
/// `horizon` after Redis's now (TIME: every process reads the same clock). Replies {first,
/// spacing, count} in µs: the batch's turn i is at max(0, first + i x spacing) from the moment
/// the script ran (first < 0: that much burst was left), and first + count x spacing is the
/// next turn not reserved. count = 0 changes nothing. A value without an expiry, or that isn't
/// a number, is not this script's and counts as none.
std::vector<std::string> reserve_turns_command(const redis_layout& layout,
                                               std::chrono::microseconds spacing,
                                               std::chrono::microseconds tolerance, long long n,
                                               std::chrono::microseconds horizon);

} // namespace glue::detail

#endif
