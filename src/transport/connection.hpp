// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TRANSPORT_CONNECTION_HPP
#define GLUE_TRANSPORT_CONNECTION_HPP

// One keep-alive connection over TCP or TLS: opening it (connect, SNI, ALPN, the peer's name
// checked during the handshake), telling whether it went stale while idle, and what it keeps of a
// request. Over HTTP/1.1 the holder of its lease does its I/O; one that negotiated HTTP/2 is
// driven by its h2_session. The TLS and socket code is defined in connection.cpp only.

#include "protocol/origin.hpp"
#include "support/clock.hpp"
#include "transport/http_pool.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/intrusive/list_hook.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace glue::detail {

template <class Timer>
class strand_task;
struct tunnel_request;
class h2_session;

/// The TLS client context of a pool: TLS 1.2 at least, the peer verified against `opts`' CA
/// file and PEM, or the system trust store when neither is given; ALPN offers "h2" and
/// "http/1.1" unless `opts.http2` is off (then no ALPN at all). Throws glue::error
/// (errc::invalid_argument) when they can't be loaded.
std::unique_ptr<boost::asio::ssl::context> make_tls_context(const transport_options& opts);

/// Only the holder of its lease performs I/O on a connection; the pool may abort it from any
/// thread (shutdown(2), not close: the descriptor stays valid, so that is safe alongside the
/// holder's I/O and makes it fail at once).
struct connection
    : boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>,
      std::enable_shared_from_this<connection> {
    using tcp = boost::asio::ip::tcp;

    /// Over TLS when `tls_ctx` is given; `buffer_limit` bounds the bytes read ahead of the parser.
    connection(const boost::asio::any_io_executor& ex, boost::asio::ssl::context* tls_ctx,
               std::size_t buffer_limit);
    ~connection(); // wipes a request an exchange cut short
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    /// Connects to one of `endpoints` (happy_eyeballs.hpp), then, with `tunnel`, asks that
    /// proxy for a tunnel to `org` (proxy_tunnel.hpp), then, over TLS, handshakes with `org`'s
    /// host checked. Terminal cancellation ends whichever step is running.
    boost::asio::awaitable<error_code> open(const std::vector<tcp::endpoint>& endpoints,
                                            const origin& org,
                                            const tunnel_request* tunnel = nullptr);

    tcp::socket& socket() { return tls ? tls->next_layer() : *plain; }

    /// Calls `f` with the stream the connection speaks: TLS or plain, for its whole life.
    template <class F>
    decltype(auto) with_stream(F&& f) {
        return tls ? f(*tls) : f(*plain);
    }

    /// Makes pending and later I/O on the socket fail (pool mutex held).
    void abort();

    /// After the TLS handshake: whether the server selected "h2" by ALPN.
    bool negotiated_h2() const;

    /// Whether the idle connection must be discarded (pool_policy.hpp's check_idle), looked at
    /// without blocking.
    bool stale();

    /// After each exchange: every request carries the client secret or a Bearer token (and a
    /// CONNECT the proxy's password), so its bytes are overwritten before the buffer is reused (a
    /// shorter request would leave them in the spare capacity) or freed.
    void wipe_request();

    std::optional<tcp::socket> plain;
    std::optional<boost::asio::ssl::stream<tcp::socket>> tls;
    boost::beast::flat_buffer buffer; // response bytes read ahead of the parser (bounded)
    std::string out;                  // the request being written, reused for the next one
    bool reused = false;              // has carried a complete exchange before
    connect_times times;              // how opening it went (open() and the pool's lookup)
    // Guarded by the pool's mutex:
    std::shared_ptr<strand_task<boost::asio::steady_timer>> connect_task; // set while opening
    steady_time exchange_deadline{}; // while leased: when the exchange must be over
    steady_time opened_at{};         // by transport_options::now, for its lifetime
    bool opened_ok = false;          // opening it succeeded
    /// Set when it negotiated HTTP/2, while it is opened (then read only): its streams.
    std::unique_ptr<h2_session> h2;
    std::atomic<bool> h2_used{false}; // a stream has been taken: the next is not its first
    /// HTTP/2, guarded by the pool's mutex: why it closes once drained (GOAWAY or a failure).
    close_reason drain_reason = close_reason::aged;
};

} // namespace glue::detail

#endif
