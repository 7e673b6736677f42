// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.

#include "shared_cache/lua_scripts.hpp"

#include "support/saturating.hpp"

#include <algorithm>

namespace glue::detail {

namespace {

// KEYS: token, lease. ARGV: the stamp being replaced (or ""), this process's lease id, the
// lease's PX, "1" if the replaced token was rejected by a 401.
// An empty value counts as none: it has no stamp to be skipped by, so a claim that can't use
// it would be handed it again at once, round after round. A lease without an expiry (not one
// this script set) would never end, and every claim would wait on it: it is taken over.
constexpr std::string_view claim_script = R"lua(
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local v = redis.call('GET', KEYS[1])
if v == '' then v = false end
if v and ARGV[1] ~= '' and string.sub(v, 1, #ARGV[1]) == ARGV[1] then
  if ARGV[4] == '1' then redis.call('DEL', KEYS[1]) end
  v = false
end
if v then return {1, v, redis.call('PTTL', KEYS[1]), now} end
local holder = redis.call('GET', KEYS[2])
if (not holder) or holder == ARGV[2] or redis.call('PTTL', KEYS[2]) < 0 then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  return {2, now}
end
return {0, redis.call('PTTL', KEYS[2])}
)lua";

// KEYS: token, lease. ARGV: the sealed token, its PX, the lease id, the channel, the workspace.
constexpr std::string_view publish_script = R"lua(
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
)lua";

// KEYS: lease. ARGV: the lease id, the channel, the workspace.
constexpr std::string_view release_script = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
)lua";

// KEYS: rate. ARGV: spacing, tolerance, n, horizon (µs; as reserve_turns_command() says).
// Integers all: Lua's doubles hold them exactly (Redis's clock in µs is below 2^51 until the
// year 2041 and 2^52 until 2112, and the arguments are bounded: reserve_turns_command()), and
// '%.0f' writes them back without the exponent that tostring() would use.
constexpr std::string_view reserve_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local spacing, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local n, horizon = tonumber(ARGV[3]), tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]))
if (not tat) or tat < now or redis.call('PTTL', KEYS[1]) < 0 then tat = now end
local first = tat - tolerance - now
local count = 0
if horizon >= first then count = math.min(n, math.floor((horizon - first) / spacing) + 1) end
if count > 0 then
  tat = tat + count * spacing
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.floor((tat - now) / 1000) + 1)
end
return {first, spacing, count}
)lua";

// A PX argument: whole milliseconds, saturated.
template <class Rep, class Period>
std::string px(std::chrono::duration<Rep, Period> d) {
    return std::to_string(saturating_cast<std::chrono::milliseconds>(d).count());
}

} // namespace

redis_layout::redis_layout(std::string_view client_id)
    : prefix_("glue:" + std::string(client_id) + ":")
    , channel_(prefix_ + "tok-ready") {}

std::string redis_layout::token_key(std::string_view workspace) const {
    return prefix_ + "tok:" + std::string(workspace);
}

std::string redis_layout::lease_key(std::string_view workspace) const {
    return prefix_ + "lease:" + std::string(workspace);
}

std::string redis_layout::rate_key() const {
    return prefix_ + "rate";
}

std::vector<std::string> claim_command(const redis_layout& layout, std::string_view workspace,
                                       std::string_view replacing, std::string_view lease_id,
                                       std::chrono::milliseconds lease_time, bool rejected) {
    return {"EVAL",
            std::string(claim_script),
            "2",
            layout.token_key(workspace),
            layout.lease_key(workspace),
            std::string(replacing),
            std::string(lease_id),
            px(lease_time),
            rejected ? "1" : "0"};
}

std::vector<std::string> publish_command(const redis_layout& layout, std::string_view workspace,
                                         std::string sealed, std::chrono::nanoseconds ttl,
                                         std::string_view lease_id) {
    return {"EVAL",
            std::string(publish_script),
            "2",
            layout.token_key(workspace),
            layout.lease_key(workspace),
            std::move(sealed),
            px(ttl),
            std::string(lease_id),
            layout.channel(),
            std::string(workspace)};
}

std::vector<std::string> release_command(const redis_layout& layout, std::string_view workspace,
                                         std::string_view lease_id) {
    return {"EVAL",
            std::string(release_script),
            "1",
            layout.lease_key(workspace),
            std::string(lease_id),
            layout.channel(),
            std::string(workspace)};
}

std::vector<std::string> reserve_turns_command(const redis_layout& layout,
                                               std::chrono::microseconds spacing,
                                               std::chrono::microseconds tolerance, long long n,
                                               std::chrono::microseconds horizon) {
    // Kept where the script's arithmetic is exact (see reserve_script): a turn at most 2^50 µs
    // (35 years) ahead, plus at most 2^10 spacings of at most 2^40 µs (12 days).
    auto arg = [](long long v, long long lo, int bits) {
        return std::to_string(std::clamp(v, lo, 1LL << bits));
    };
    return {"EVAL",
            std::string(reserve_script),
            "1",
            layout.rate_key(),
            arg(spacing.count(), 1, 40),
            arg(tolerance.count(), 0, 50),
            arg(n, 0, 10),
            arg(horizon.count(), 0, 50)};
}

} // namespace glue::detail
