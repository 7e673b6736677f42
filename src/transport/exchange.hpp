// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TRANSPORT_EXCHANGE_HPP
#define GLUE_TRANSPORT_EXCHANGE_HPP

// One request and its response on a leased connection, and what its errors mean to a caller.
// exchange.cpp is the one translation unit that instantiates Beast's HTTP parser and its reads
// and writes for exchanges (proxy_tunnel.cpp reads a proxy's answer to CONNECT); this header
// names no Beast type.

#include "protocol/http_message.hpp"
#include "support/outcome.hpp"
#include "transport/header_capture.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace glue::detail {

struct connection;

/// The request in one contiguous buffer `out`, so it leaves in one write (one TLS record when
/// small). `fixed` holds the headers every request of the pool carries, each ending in CRLF;
/// the request's own extra headers follow them. Header values were checked for control
/// characters before they got here. `target_prefix`
/// goes before the target: "http://host[:port]" makes it absolute-form, for a proxy.
void serialize_request(std::string& out, std::string_view fixed, const http_request& req,
                       std::string_view target_prefix = {});

struct exchange_result {
    error_code ec;
    /// When the write failed: the bytes of the request written; else -1 (it left whole).
    std::size_t written = 0;
    /// Without `ec`: the response's end is certain and the server keeps the connection open.
    bool keep_alive = false;
    bool got_response = false;  ///< any byte of a response came
    std::uint64_t received = 0; ///< bytes of the responses parsed (interim ones included)
    /// With `ec`, when the exchange knows why better than `ec` does (a compressed body that
    /// could not be decoded); a string literal.
    std::string_view why;
};

/// Writes `c.out`, then reads the response into `into` until it is complete, skipping interim
/// (1xx) responses but a 101, at most a few of them: a response left 1xx means no answer. The
/// response is read in place, never moved, as it is the hot path's largest object; after a
/// failure `into` holds whatever arrived and means nothing. `header_limit` bounds
/// each response's header, `body_limit` its body, both as received and, when compressed (gzip
/// or deflate, decoded as it arrives), as decoded. The answer's fields `capture` matches go to
/// http_response::captured: at most max_captured_headers, each value cut at
/// max_captured_value_size. Cancellation (terminal) ends it with operation_aborted; it never
/// throws a system_error.
boost::asio::awaitable<exchange_result> exchange(connection& c, std::size_t header_limit,
                                                 std::uint64_t body_limit,
                                                 const header_capture& capture,
                                                 http_response& into);

/// Why a connection could not be opened, told the way a caller can act on.
failure connect_failure(error_code ec);

/// Why an exchange failed, told the way a caller can act on: Beast's parser errors become
/// errc::bad_response, an early close asio::error::eof. `why`: exchange_result::why.
failure map_transport_error(error_code ec, std::string_view why = {});

/// A step of send() that may run out of memory; fail_transport_step_for_testing() makes it.
void fallible_step();

/// Fault injection for tests, compiled in always and inert until set: the `n`-th step from now
/// that send() takes between leasing a connection and giving it back (calling prepare,
/// building the request, storing a part of the body) fails as if out of memory; 0 disarms it.
/// Process-wide.
void fail_transport_step_for_testing(int n) noexcept;

} // namespace glue::detail

#endif
