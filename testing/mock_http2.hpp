// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_INTERNAL_MOCK_HTTP2_HPP
#define GLUE_TESTING_INTERNAL_MOCK_HTTP2_HPP

// HTTP/2 on one accepted connection (ALPN "h2", or prior knowledge on plain HTTP): nghttp2's
// server session frames and parses, Asio does all the reading and writing, and every stream is
// answered through answer() (mock_answer.hpp), as an HTTP/1.1 request is. The only file of the
// mock with nghttp2 in it.

#include "testing/mock_state.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace glue::testing::detail {

/// Serves HTTP/2 on `stream` (after the TLS handshake) until the connection ends: the client
/// closes it, a GOAWAY drains it, it sits idle for opts.idle_timeout, or the server stops. Must
/// run on a strand of its own: the connection's coroutines share its nghttp2 session.
boost::asio::awaitable<void> serve_http2(mock_state& state,
                                         boost::asio::ssl::stream<boost::beast::tcp_stream> stream);
/// The same on plain TCP, with prior knowledge (mock_server_options::http2_prior_knowledge).
boost::asio::awaitable<void> serve_http2(mock_state& state, boost::beast::tcp_stream stream);

} // namespace glue::testing::detail

#endif
