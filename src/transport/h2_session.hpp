// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TRANSPORT_H2_SESSION_HPP
#define GLUE_TRANSPORT_H2_SESSION_HPP

// One HTTP/2 connection driven by Asio, the way the Redis link drives hiredis: the codec
// (h2_codec.hpp, nghttp2) formats and parses, this class does all the I/O on the connection's
// TLS stream, on a strand of its own. It reads only while a stream or a PING is outstanding
// and writes only when the codec has output: an idle connection runs nothing
// (docs/design.md, "HTTP/2").

#include "protocol/http_message.hpp"
#include "support/clock.hpp"
#include "transport/h2_codec.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace glue::detail {

struct connection;

class h2_session {
public:
    /// What the session tells the pool, on its strand, under no lock of its own.
    struct events {
        /// The server's stream limit changed (SETTINGS).
        std::function<void(std::size_t)> limit;
        /// The connection takes no new stream: GOAWAY (`goaway`), or it failed or ended.
        std::function<void(bool goaway)> drain;
    };

    /// On `c`, whose TLS handshake selected "h2". A PING not answered within `ping_timeout`
    /// (a round trip, like opening a connection: the pool passes connect_timeout) ends the
    /// connection. Throws std::bad_alloc.
    h2_session(connection& c, const h2_codec::limits& limits, const header_capture& capture,
               const h2_fixed_fields& fixed, std::chrono::milliseconds ping_timeout);
    ~h2_session();
    h2_session(const h2_session&) = delete;
    h2_session& operator=(const h2_session&) = delete;

    /// While the connection is being opened, before it is shared: sends the connection preface
    /// and our SETTINGS, and reads until the server's SETTINGS came (and is acknowledged), unless
    /// the limits assume its stream limit (h2_codec::limits::assumed_streams, which another
    /// connection to it learnt): then its SETTINGS are read with the first response, and the
    /// connection is used a round trip sooner. Terminal cancellation ends it.
    boost::asio::awaitable<error_code> start();

    /// The server's stream limit, as its SETTINGS said or as assumed until they come
    /// (h2_codec::max_concurrent_streams).
    std::size_t max_concurrent_streams() const;

    /// Set once, before the first exchange.
    void set_events(events e);

    /// Sends `req` on a new stream and reads its response into `into`, by `deadline`. A
    /// `mutation` on a connection that carries no stream waits for a PING's answer first, so a
    /// dead connection fails it unsent. Cancellation (any type) and the deadline end it at once
    /// and reset the stream (RST_STREAM CANCEL), leaving the connection and its other streams
    /// alone; `keep` is the connection, kept alive by the I/O in progress. A deadline reached
    /// with nothing read from the connection since the request was taken makes the session
    /// check the connection with a PING: a connection that went silent (a peer gone, a write
    /// it never takes) is closed then, instead of taking every later stream to its deadline.
    boost::asio::awaitable<h2_outcome> exchange(std::shared_ptr<connection> keep,
                                                const http_request& req, http_response& into,
                                                steady_time deadline, bool mutation);

    /// Any thread: the connection is done (the pool closes it). Every stream fails.
    void stop(std::shared_ptr<connection> keep);

private:
    void submit(const std::shared_ptr<connection>& keep, std::shared_ptr<h2_exchange> x,
                bool mutation);
    void read(const std::shared_ptr<connection>& keep);
    void ping(const std::shared_ptr<connection>& keep);
    error_code take_received();
    void after_input(const std::shared_ptr<connection>& keep, error_code failed);
    void flush(const std::shared_ptr<connection>& keep);
    void flush_soon(const std::shared_ptr<connection>& keep);
    bool outstanding() const;
    void settle();
    void lost(error_code ec, std::string_view why);
    void wipe_output();

    connection& conn_;
    boost::asio::strand<boost::asio::any_io_executor> strand_;
    // On strand_ only (and in start(), before the session is shared):
    h2_codec codec_;
    std::vector<std::uint8_t> in_; // what one read brings, bounded
    std::string out_;              // what one write takes, bounded; wiped after each
    bool reading_ = false;
    bool writing_ = false;
    bool flush_queued_ = false; // flush_soon() posted a flush
    bool dead_ = false;
    bool ping_out_ = false;
    std::uint64_t pings_ = 0; // PINGs sent: a timer's expiry is for the latest one only
    std::uint64_t reads_ = 0; // reads that brought input
    std::chrono::milliseconds ping_timeout_;
    boost::asio::steady_timer ping_timer_; // while a PING is out
    bool parked_ = false;                  // settle() cancelled the pending read
    const bool await_settings_; // start() waits for the server's SETTINGS (no limit assumed)
    std::vector<std::shared_ptr<h2_exchange>> after_ping_; // mutations waiting for the PING
    events events_;
};

} // namespace glue::detail

#endif
