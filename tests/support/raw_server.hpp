// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTS_RAW_SERVER_HPP
#define GLUE_TESTS_RAW_SERVER_HPP

// A small raw HTTP/1.1 server for tests: it answers with whatever text the test gives it, so it
// can misbehave in ways the mock server can't, and it records what it was sent.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <openssl/ssl.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/raw_http.hpp"

namespace glue::test {

namespace asio = boost::asio;

/// A request as a raw server read it.
struct seen_request {
    std::string target;
    header_map headers;
    std::string body;
    std::string text; ///< all of it: request line, headers and body
};

/// What to write back, verbatim; empty: close without answering. After writing, the server
/// reads the connection's next request, so a response that never ends just holds it open.
/// Called on the server's thread, one request at a time.
using responder = std::function<std::string(const seen_request&)>;

/// An HTTP/1.1 server on 127.0.0.1 with its own thread, plain or (given a context) TLS.
class raw_server {
public:
    explicit raw_server(responder respond, asio::ssl::context* tls = nullptr)
        : respond_(std::move(respond))
        , tls_(tls)
        , acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
        asio::co_spawn(ioc_, accept_loop(), asio::detached);
        thread_ = std::thread([this] { ioc_.run(); });
    }
    raw_server(const raw_server&) = delete;
    raw_server& operator=(const raw_server&) = delete;
    ~raw_server() { stop(); }

    /// Stops serving; every connection is closed when the io_context goes.
    void stop() {
        if (thread_.joinable()) {
            ioc_.stop();
            thread_.join();
        }
    }

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    std::size_t accepted() const {
        return locked([&] { return accepted_; });
    }
    std::size_t handshakes() const {
        return locked([&] { return handshakes_; });
    }
    std::size_t failed_handshakes() const {
        return locked([&] { return failed_handshakes_; });
    }
    std::vector<seen_request> requests() const {
        return locked([&] { return requests_; });
    }
    /// The SNI of each completed handshake ("": none sent).
    std::vector<std::string> server_names() const {
        return locked([&] { return names_; });
    }

    /// How many requests went to `target`.
    std::size_t requests_to(std::string_view target) const {
        std::size_t n = 0;
        for (const auto& r : requests()) {
            n += r.target == target;
        }
        return n;
    }

private:
    using tcp = asio::ip::tcp;

    template <class F>
    auto locked(F f) const -> decltype(f()) {
        std::lock_guard lock(mtx_);
        return f();
    }

    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] =
                co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec) {
                co_return;
            }
            locked([&] { return ++accepted_; });
            if (tls_) {
                asio::co_spawn(ioc_, tls_session(std::move(socket)), asio::detached);
            } else {
                asio::co_spawn(ioc_, plain_session(std::move(socket)), asio::detached);
            }
        }
    }

    asio::awaitable<void> plain_session(tcp::socket socket) { co_await serve(socket); }

    asio::awaitable<void> tls_session(tcp::socket socket) {
        namespace ssl = asio::ssl;
        ssl::stream<tcp::socket> s(std::move(socket), *tls_);
        auto [ec] = co_await s.async_handshake(ssl::stream_base::server,
                                               asio::as_tuple(asio::use_awaitable));
        if (ec) {
            locked([&] { return ++failed_handshakes_; });
            co_return;
        }
        const char* name = SSL_get_servername(s.native_handle(), TLSEXT_NAMETYPE_host_name);
        locked([&] {
            ++handshakes_;
            names_.emplace_back(name ? name : "");
            return 0;
        });
        co_await serve(s);
    }

    template <class Stream>
    asio::awaitable<void> serve(Stream& s) {
        namespace http = boost::beast::http;
        boost::beast::flat_buffer buffer;
        for (;;) {
            http::request<http::string_body> req;
            auto [ec, n] =
                co_await http::async_read(s, buffer, req, asio::as_tuple(asio::use_awaitable));
            if (ec) {
                co_return;
            }
            std::ostringstream text;
            text << req;
            seen_request seen;
            seen.target = std::string(req.target());
            seen.headers = header_map_of(req);
            seen.body = req.body();
            seen.text = text.str();
            locked([&] {
                requests_.push_back(seen);
                return 0;
            });
            const std::string out = respond_(seen);
            if (out.empty()) {
                co_return;
            }
            auto [wec, wn] = co_await asio::async_write(s, asio::buffer(out),
                                                        asio::as_tuple(asio::use_awaitable));
            if (wec) {
                co_return;
            }
        }
    }

    const responder respond_;
    asio::ssl::context* const tls_;
    asio::io_context ioc_; // first in, last out: the sessions die with it
    tcp::acceptor acceptor_;
    std::thread thread_;
    mutable std::mutex mtx_;
    std::size_t accepted_ = 0, handshakes_ = 0, failed_handshakes_ = 0;
    std::vector<seen_request> requests_;
    std::vector<std::string> names_;
};

} // namespace glue::test

#endif
