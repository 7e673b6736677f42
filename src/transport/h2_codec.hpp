// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TRANSPORT_H2_CODEC_HPP
#define GLUE_TRANSPORT_H2_CODEC_HPP

// One HTTP/2 client connection's protocol, without I/O: nghttp2's session with our callbacks
// (bytes in, bytes out, streams opened, reset and completed), the per-stream limits, and what
// the peer said about the connection (its stream limit, GOAWAY, PING acknowledgements).
// h2_codec.cpp is the one translation unit that includes nghttp2; h2_session.cpp drives a
// codec with Asio, and the fuzz target feeds one arbitrary bytes (docs/design.md, "HTTP/2").

#include "protocol/http_message.hpp"
#include "support/waiter.hpp"
#include "transport/header_capture.hpp"

#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace glue::detail {

/// How one request on an HTTP/2 stream ended, or how far it got.
struct h2_outcome {
    error_code ec;        ///< none: the whole response is in the caller's http_response
    std::string_view why; ///< a string literal, when `ec` alone doesn't say
    /// The server certainly never processed it: refused (REFUSED_STREAM), beyond a GOAWAY's last
    /// stream id, or never opened (the connection failed or went away first). It may go again,
    /// a mutation included.
    bool refused = false;
    bool written = false;       ///< any frame of the request was handed to the connection
    bool got_response = false;  ///< any frame of a response came
    std::uint64_t sent = 0;     ///< bytes of the request's frames handed to the connection
    std::uint64_t received = 0; ///< bytes of the response's frames received
};

/// One request and its response on an HTTP/2 connection, shared by the caller who waits for it
/// and the connection that carries it, which may run on another thread. The caller's request and
/// response are used only under `mtx`, and only while attached: a caller who gives up (deadline,
/// cancellation) detaches under `mtx`, and from then on nothing touches its memory.
struct h2_exchange {
    h2_exchange(const http_request& r, http_response& into) noexcept : req(&r), response(&into) {}

    std::mutex mtx;
    // Under mtx:
    const http_request* req; ///< null once detached
    http_response* response; ///< null once detached
    bool done = false;       ///< `outcome` is final
    h2_outcome outcome;
    waiter_list<waiter<boost::asio::steady_timer>> waiters;
    /// The codec's own (its thread only): the stream carrying it, once opened.
    std::int32_t stream_id = 0;
    /// The session's own (its strand only): its count of reads when it took this exchange.
    std::uint64_t reads_at_submit = 0;

    /// Caller side, under `mtx`: leaves it; the connection no longer touches the caller's memory.
    void detach() noexcept {
        req = nullptr;
        response = nullptr;
    }
};

/// The fields every request of a connection carries, lower case, for the codec to send: the
/// authority, the pool's fixed fields (User-Agent, Accept, Accept-Encoding) and the
/// configuration's default headers, which may be secrets (an API key: never indexed by HPACK).
struct h2_fixed_fields {
    std::string authority;
    struct field {
        std::string name, value;
        bool sensitive = false;
    };
    std::vector<field> fields;

    h2_fixed_fields() = default;
    h2_fixed_fields(const h2_fixed_fields&) = delete;
    h2_fixed_fields& operator=(const h2_fixed_fields&) = delete;
    ~h2_fixed_fields(); // wipes the values
};

/// Calls `f(name, value)` for each line "Name: value\r\n" of a checked header block (the
/// configuration's default headers, a call's own: protocol/checks.hpp's header_lines).
template <class F>
void for_each_header_line(std::string_view lines, F&& f) {
    while (!lines.empty()) {
        const auto end = lines.find("\r\n");
        const auto line = lines.substr(0, end);
        const auto colon = line.find(':');
        if (colon != std::string_view::npos) {
            auto value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') {
                value.remove_prefix(1);
            }
            f(line.substr(0, colon), value);
        }
        lines.remove_prefix(end == std::string_view::npos ? lines.size() : end + 2);
    }
}

/// What the peer said about the connection since last asked.
struct h2_news {
    bool settings = false; ///< its SETTINGS (max_concurrent_streams() may have changed)
    bool goaway = false;   ///< GOAWAY: no new stream; those past its last stream id refused
    bool ping_ack = false; ///< our PING was acknowledged
};

/// An HTTP/2 client session: feed it what arrives, write what it gives, open and reset streams
/// on it. Single-threaded: one caller at a time (h2_session's strand). Every exchange it
/// completes gets its outcome under its mutex and its waiters woken.
class h2_codec {
public:
    struct limits {
        std::size_t header_limit = 64 * 1024; ///< a response header block, decoded (RFC 9113 size)
        std::uint64_t body_limit = 32 * 1024 * 1024; ///< the largest response body of the pool
        /// The peer's stream limit until its SETTINGS come, as another connection to it learnt
        /// (0: unknown, then the 100 RFC 9113 recommends, for max_concurrent_streams() too).
        std::size_t assumed_streams = 0;
    };

    /// Queues the connection preface and our SETTINGS. Throws std::bad_alloc.
    h2_codec(const limits& l, const header_capture& capture, const h2_fixed_fields& fixed);
    ~h2_codec(); // the streams still open fail with operation_aborted
    h2_codec(const h2_codec&) = delete;
    h2_codec& operator=(const h2_codec&) = delete;

    /// Bytes received. An error: the connection is broken (a connection error, which the codec
    /// answers with GOAWAY, still to be written); every open stream has failed.
    error_code receive(const std::uint8_t* data, std::size_t size);

    /// Appends what is to be written to `out`, at most about `max` bytes more. An error: as
    /// receive()'s.
    error_code take_output(std::string& out, std::size_t max);

    /// Whether the codec has bytes to write.
    bool wants_write() const noexcept;
    /// Whether the connection is still usable: no connection error, not closed by either side.
    bool alive() const noexcept;

    /// Opens a stream for `x`, reading its request now (it must be attached). A stream that
    /// can't be opened (the connection went away, stream ids ran out) completes it refused.
    void open(const std::shared_ptr<h2_exchange>& x);
    /// Resets the stream of a detached exchange (RST_STREAM CANCEL), if it is still open.
    void cancel(const std::shared_ptr<h2_exchange>& x);
    /// Sends a PING; h2_news::ping_ack when it comes back.
    void ping();
    /// The connection is gone (I/O failed): every open stream fails with `ec`, refused if none
    /// of it was written.
    void fail_all(error_code ec, std::string_view why);

    /// Streams open (requests sent or being sent, responses not complete).
    std::size_t open_streams() const noexcept;
    /// The peer's SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113's unlimited: then the 100 it
    /// recommends); until it said, limits::assumed_streams or those 100.
    std::size_t max_concurrent_streams() const noexcept;
    /// Whether the peer's first SETTINGS came.
    bool settings_received() const noexcept;
    /// What changed since the last call.
    h2_news take_news() noexcept;

    struct state; // the callbacks' view (h2_codec.cpp)

private:
    std::unique_ptr<state> st_;
};

} // namespace glue::detail

#endif
