// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TRANSPORT_HAPPY_EYEBALLS_HPP
#define GLUE_TRANSPORT_HAPPY_EYEBALLS_HPP

// Connecting to one of a host's addresses as RFC 8305 (Happy Eyeballs) says: the addresses in
// connect_order(), the attempts started and ended as connect_race decides
// (connect_schedule.hpp), the first socket to connect kept.

#include "support/outcome.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <vector>

namespace glue::detail {

/// The Connection Attempt Delay: RFC 8305 §5's recommended value.
inline constexpr std::chrono::milliseconds connection_attempt_delay{250};

/// Connects `out` (not open) to one of `endpoints`: a new attempt every `attempt_delay` or as
/// soon as one fails, the earlier ones still racing; the first to connect becomes `out` and the
/// others are closed. Every attempt failed: the first failure; no endpoint: host_not_found.
///
/// Runs on the calling coroutine's executor, which must not run two of its handlers at once (a
/// strand: the connect task's). It has no deadline of its own: terminal cancellation (the
/// connect task's deadline) ends every attempt at once with operation_aborted. No attempt
/// outlives the call: whichever way it ends, the sockets still connecting are closed.
boost::asio::awaitable<error_code>
connect_first(const std::vector<boost::asio::ip::tcp::endpoint>& endpoints,
              boost::asio::ip::tcp::socket& out,
              std::chrono::nanoseconds attempt_delay = connection_attempt_delay);

} // namespace glue::detail

#endif
