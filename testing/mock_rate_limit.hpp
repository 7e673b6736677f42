// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_INTERNAL_MOCK_RATE_LIMIT_HPP
#define GLUE_TESTING_INTERNAL_MOCK_RATE_LIMIT_HPP

// The GraphQL endpoint's rate limits (mock_server_options::graphql_rate_limit and
// graphql_rate_limit_per_workspace): token buckets, one for the app and one per workspace. The
// time is passed in, so tests drive them on a manual clock.

#include <glue/testing/mock_server.hpp>

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace glue::testing::detail {

using rate_time = std::chrono::steady_clock::time_point;

/// `rate` tokens a second, at most `capacity` of them; full at first. A clock that goes back
/// adds nothing.
class token_bucket {
public:
    token_bucket(double rate, double capacity);

    /// Whether a token is there at `now`.
    bool ready(rate_time now);
    /// Takes a token; only after ready() said yes.
    void take() { tokens_ -= 1; }
    /// Whether the bucket is full at `now`: it is then as good as a new one.
    bool full(rate_time now) const;
    /// Seconds from the last ready() until a token is there (0 if one is).
    double seconds_to_token() const;

private:
    // The tokens at `now`: those at the last ready() and what has come in since.
    double tokens_at(rate_time now) const;

    double rate_, capacity_, tokens_;
    std::optional<rate_time> last_; // empty: never used, full
};

/// Whether a request may go on, and if not, which limit stopped it and when to come back.
struct rate_decision {
    enum class verdict { admitted, refused_app, refused_workspace };
    verdict what = verdict::admitted;
    /// Refused: the whole seconds until both buckets would admit it (rounded up), at least the
    /// configured Retry-After.
    std::chrono::seconds retry_after{0};
};

/// The app's bucket and the workspaces' buckets, with their counters. Thread-safe. A rate of 0
/// means no limit of that kind.
class rate_limiter {
public:
    rate_limiter(double app_rate, double workspace_rate, std::size_t burst,
                 std::chrono::seconds retry_after);

    /// Admits a request for `workspace` at `now` (taking a token from each bucket), or refuses
    /// it (taking none).
    rate_decision admit(const std::string& workspace, rate_time now);

    rate_limit_stats stats() const;
    void reset_stats();
    /// Workspace buckets held now (full ones are dropped as the map grows).
    std::size_t workspace_buckets() const;

private:
    token_bucket make_bucket(double rate) const;

    const double app_rate_, workspace_rate_;
    const std::size_t burst_;
    const std::chrono::seconds retry_after_;

    mutable std::mutex mtx_; // guards everything below
    std::optional<token_bucket> app_;
    // A full bucket is as good as none, so the full ones are swept out whenever the map has
    // doubled since the last sweep: it holds the workspaces used in the last few seconds
    // (capacity / rate), not every workspace ever seen, at an amortised O(1) a request.
    std::unordered_map<std::string, token_bucket> workspaces_;
    std::size_t sweep_at_;
    rate_limit_stats stats_;
};

} // namespace glue::testing::detail

#endif
