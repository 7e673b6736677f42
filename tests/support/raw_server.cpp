// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "support/raw_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <openssl/ssl.h>

#include <sstream>

namespace glue::test {

std::unique_ptr<asio::ssl::context> tls_server_context(const std::string& cert_pem,
                                                       const std::string& key_pem) {
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    ctx->use_certificate_chain(asio::buffer(cert_pem));
    ctx->use_private_key(asio::buffer(key_pem), asio::ssl::context::pem);
    return ctx;
}

raw_server::raw_server(responder respond, asio::ssl::context* tls)
    : raw_server(std::move(respond), tls, "127.0.0.1", 0) {}

raw_server::raw_server(responder respond, asio::ssl::context* tls, const std::string& address,
                       std::uint16_t port)
    : respond_(std::move(respond))
    , tls_(tls)
    , acceptor_(ioc_, {asio::ip::make_address(address), port}) {
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
}

asio::awaitable<void> raw_server::accept_loop() {
    for (;;) {
        auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
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

asio::awaitable<void> raw_server::plain_session(tcp::socket socket) {
    co_await serve(socket);
}

asio::awaitable<void> raw_server::tls_session(tcp::socket socket) {
    namespace ssl = asio::ssl;
    ssl::stream<tcp::socket> s(std::move(socket), *tls_);
    auto [ec] =
        co_await s.async_handshake(ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
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
asio::awaitable<void> raw_server::serve(Stream& s) {
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
        auto [wec, wn] =
            co_await asio::async_write(s, asio::buffer(out), asio::as_tuple(asio::use_awaitable));
        if (wec) {
            co_return;
        }
        auto [pause, unsolicited] =
            locked([&] { return std::pair(unsolicited_pause_, unsolicited_); });
        if (!unsolicited.empty()) {
            asio::steady_timer timer(co_await asio::this_coro::executor, pause);
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
            auto [uec, un] = co_await asio::async_write(s, asio::buffer(unsolicited),
                                                        asio::as_tuple(asio::use_awaitable));
            if (!uec) {
                locked([&] { return ++unsolicited_sent_; });
            }
            co_return;
        }
    }
}

} // namespace glue::test
