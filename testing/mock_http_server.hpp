// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_INTERNAL_MOCK_HTTP_SERVER_HPP
#define GLUE_TESTING_INTERNAL_MOCK_HTTP_SERVER_HPP

// The mock's sockets: it accepts connections on 127.0.0.1 (TLS when the options say, with ALPN
// choosing HTTP/1.1 or HTTP/2), reads HTTP/1.1 requests, has answer() (mock_answer) answer them,
// acts out the faults, and delivers the webhooks. HTTP/2 connections go to mock_http2. The
// endpoints themselves know no Asio, Beast or nghttp2.

#include "testing/mock_state.hpp"

#include <cstdint>
#include <memory>

namespace glue::testing::detail {

class http_server {
public:
    /// Listens on 127.0.0.1:state.opts.port and serves on threads of its own; `state` must
    /// outlive it. Throws if the port can't be bound.
    explicit http_server(mock_state& state);
    ~http_server();
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;

    std::uint16_t port() const;
    /// Stops serving, closes every connection and drops the deliveries not made yet. True the
    /// first time, false when already stopped.
    bool stop();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace glue::testing::detail

#endif
