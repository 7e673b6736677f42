// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TRANSPORT_CONNECT_SCHEDULE_HPP
#define GLUE_TRANSPORT_CONNECT_SCHEDULE_HPP

// Happy Eyeballs (RFC 8305) without I/O, timers or clocks: the order in which a host's addresses
// are tried, and when each attempt starts and what ends the race. happy_eyeballs.cpp carries it
// out (docs/design.md, "Transport").

#include "support/clock.hpp"
#include "support/outcome.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

namespace glue::detail {

/// The order to try `endpoints` in (RFC 8305 §4, with a First Address Family Count of 1):
/// duplicates dropped, then IPv6 and IPv4 alternating, IPv6 first, each family in the order the
/// resolver gave it; once one family runs out, the rest of the other.
std::vector<boost::asio::ip::tcp::endpoint>
connect_order(const std::vector<boost::asio::ip::tcp::endpoint>& endpoints);

/// The schedule of one race over `attempts` addresses, tried in their order (RFC 8305 §5): the
/// first attempt at once, each next one `delay` (the Connection Attempt Delay) after the last
/// one started, or at once when an attempt fails. Started attempts keep racing; the first to
/// connect wins. The race is lost when every attempt has failed. Its deadline is the caller's.
class connect_race {
public:
    enum class state {
        racing,
        won,
        lost,
    };

    connect_race(std::size_t attempts, std::chrono::nanoseconds delay) noexcept;

    /// The next attempt to start at `now`, if one is due; call again until none is.
    std::optional<std::size_t> start_due(steady_time now) noexcept;

    /// When the next attempt falls due unless one fails first; steady_time::max() once none is
    /// left to start, or the race is over.
    steady_time next_due() const noexcept;

    /// Attempt `i` connected: the first to do so wins. Ignored once the race is over.
    void connected(std::size_t i) noexcept;

    /// An attempt failed with `ec` (an error): the next attempt is due at once. Ignored once
    /// the race is over.
    void failed(error_code ec) noexcept;

    state outcome() const noexcept { return state_; }
    /// The attempt that won.
    std::size_t winner() const noexcept { return winner_; }
    /// Why the race was lost: the first failure (the preferred address's, unless another
    /// failed sooner); host_not_found with no address at all.
    error_code error() const noexcept { return error_; }
    std::size_t started() const noexcept { return started_; }

private:
    const std::size_t attempts_;
    const std::chrono::nanoseconds delay_;
    std::size_t started_ = 0;
    std::size_t failed_ = 0;
    steady_time due_ = steady_time::min(); // of attempt started_
    state state_ = state::racing;
    std::size_t winner_ = 0;
    error_code error_;
};

} // namespace glue::detail

#endif
