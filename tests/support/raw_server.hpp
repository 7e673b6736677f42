// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTS_RAW_SERVER_HPP
#define GLUE_TESTS_RAW_SERVER_HPP

// A small raw HTTP/1.1 server for tests: it answers with whatever text the test gives it, so it
// can misbehave in ways the mock server can't, and it records what it was sent.

#include "support/raw_http.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace boost::asio::ssl {
class context;
}

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

/// A TLS server context with this certificate chain and key (PEM), for a raw_server.
std::unique_ptr<asio::ssl::context> tls_server_context(const std::string& cert_pem,
                                                       const std::string& key_pem);

/// An HTTP/1.1 server on 127.0.0.1 with its own thread, plain or (given a context) TLS.
class raw_server {
public:
    explicit raw_server(responder respond, asio::ssl::context* tls = nullptr);
    /// On another loopback address (127.0.0.x, ::1) and port (0: any free one).
    raw_server(responder respond, asio::ssl::context* tls, const std::string& address,
               std::uint16_t port);
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

    /// After each reply, wait `pause`, write `text` unasked (a 408 for an idle connection, say)
    /// and close the connection. Call before the first request.
    void set_unsolicited(std::chrono::milliseconds pause, std::string text) {
        locked([&] {
            unsolicited_pause_ = pause;
            unsolicited_ = std::move(text);
            return 0;
        });
    }

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    std::size_t accepted() const {
        return locked([&] { return accepted_; });
    }
    std::size_t handshakes() const {
        return locked([&] { return handshakes_; });
    }
    /// How many unsolicited responses were written (set_unsolicited).
    std::size_t unsolicited_sent() const {
        return locked([&] { return unsolicited_sent_; });
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

    // Defined in raw_server.cpp, the one place Beast's server code is compiled for the tests.
    asio::awaitable<void> accept_loop();
    asio::awaitable<void> plain_session(tcp::socket socket);
    asio::awaitable<void> tls_session(tcp::socket socket);
    template <class Stream>
    asio::awaitable<void> serve(Stream& s);

    const responder respond_;
    asio::ssl::context* const tls_;
    asio::io_context ioc_; // first in, last out: the sessions die with it
    tcp::acceptor acceptor_;
    std::thread thread_;
    mutable std::mutex mtx_;
    std::size_t accepted_ = 0, handshakes_ = 0, failed_handshakes_ = 0, unsolicited_sent_ = 0;
    std::vector<seen_request> requests_;
    std::vector<std::string> names_;
    std::chrono::milliseconds unsolicited_pause_{0};
    std::string unsolicited_; // empty: none
};

} // namespace glue::test

#endif
