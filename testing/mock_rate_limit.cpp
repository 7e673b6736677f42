// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/mock_rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace glue::testing::detail {

namespace {

// Seconds since the clock's epoch as a double: differences never overflow, whatever the
// times (a manual clock may start anywhere).
double seconds_of(rate_time t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// The sweep threshold never drops below this: small maps aren't worth sweeping.
constexpr std::size_t min_sweep = 1024;

// The longest Retry-After sent (a day): a very slow bucket gives a finite, sane header.
constexpr double max_retry_after_s = 86'400;

} // namespace

token_bucket::token_bucket(double rate, double capacity)
    : rate_(rate)
    , capacity_(capacity)
    , tokens_(capacity) {}

double token_bucket::tokens_at(rate_time now) const {
    if (!last_ || now <= *last_) {
        return tokens_; // a clock that goes back adds nothing
    }
    return std::min(capacity_, tokens_ + (seconds_of(now) - seconds_of(*last_)) * rate_);
}

bool token_bucket::ready(rate_time now) {
    tokens_ = tokens_at(now);
    if (!last_ || now > *last_) {
        last_ = now; // keeps the later time: going back and forth must not refill twice
    }
    return tokens_ >= 1;
}

bool token_bucket::full(rate_time now) const {
    return tokens_at(now) >= capacity_;
}

double token_bucket::seconds_to_token() const {
    return tokens_ >= 1 ? 0 : (1 - tokens_) / rate_;
}

rate_limiter::rate_limiter(double app_rate, double workspace_rate, std::size_t burst,
                           std::chrono::seconds retry_after)
    : app_rate_(app_rate)
    , workspace_rate_(workspace_rate)
    , burst_(burst)
    , retry_after_(retry_after)
    , sweep_at_(min_sweep) {
    if (app_rate_ > 0) {
        app_.emplace(make_bucket(app_rate_));
    }
}

token_bucket rate_limiter::make_bucket(double rate) const {
    // Burst 0: a second's worth, so "N a second" lets N through at once after an idle second.
    return {rate, burst_ > 0 ? static_cast<double>(burst_) : std::max(1.0, rate)};
}

rate_decision rate_limiter::admit(const std::string& workspace, rate_time now) {
    std::lock_guard lock(mtx_);
    token_bucket* own = nullptr;
    if (workspace_rate_ > 0) {
        if (workspaces_.size() >= sweep_at_) {
            std::erase_if(workspaces_, [now](const auto& kv) { return kv.second.full(now); });
            sweep_at_ = std::max(min_sweep, 2 * workspaces_.size());
        }
        own = &workspaces_.try_emplace(workspace, make_bucket(workspace_rate_)).first->second;
    }
    const bool app_ok = !app_ || app_->ready(now);
    const bool own_ok = !own || own->ready(now);
    if (app_ok && own_ok) {
        if (app_) {
            app_->take();
        }
        if (own) {
            own->take();
        }
        ++stats_.admitted;
        return {};
    }
    ++stats_.refused;
    ++(app_ok ? stats_.refused_workspace : stats_.refused_app);
    const double wait =
        std::max(app_ ? app_->seconds_to_token() : 0.0, own ? own->seconds_to_token() : 0.0);
    const double seconds = std::min(max_retry_after_s, std::ceil(wait));
    return {app_ok ? rate_decision::verdict::refused_workspace
                   : rate_decision::verdict::refused_app,
            std::max(retry_after_, std::chrono::seconds(static_cast<long long>(seconds)))};
}

rate_limit_stats rate_limiter::stats() const {
    std::lock_guard lock(mtx_);
    return stats_;
}

void rate_limiter::reset_stats() {
    std::lock_guard lock(mtx_);
    stats_ = {};
}

std::size_t rate_limiter::workspace_buckets() const {
    std::lock_guard lock(mtx_);
    return workspaces_.size();
}

} // namespace glue::testing::detail
