// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/mock_http2.hpp"

#include "testing/mock_answer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nghttp2/nghttp2.h>

namespace glue::testing::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

// What one write gathers from nghttp2 before it goes (nghttp2 hands out a frame at a time).
constexpr std::size_t h2_write_batch = 64 * 1024;
// What a read takes from the socket at a time.
constexpr std::size_t h2_read_chunk = 16 * 1024;
// fault::kind::oversized_headers' filler over HTTP/2: nghttp2 encodes a header block whole, so
// it is capped (still far beyond what a client accepts).
constexpr std::size_t h2_max_filler = 1024 * 1024;

// One request stream, and its answer as it goes out.
struct h2_stream {
    explicit h2_stream(const asio::any_io_executor& ex)
        : drained(ex, asio::steady_timer::time_point::max()) {}

    std::int32_t id = 0;
    http_request req;
    std::size_t header_bytes = 0;
    bool refused = false;    // left unprocessed: REFUSED_STREAM, or past the GOAWAY
    bool dropped = false;    // reset for going over a limit
    bool dispatched = false; // handed to respond()
    bool closed = false;     // nghttp2 closed it: nothing more may be submitted for it

    // The answer's body is `body` then `filler` spaces (oversized_body). DATA frames may carry
    // it up to `released`; nghttp2 has taken `sent` of it; `eof`: the stream ends there.
    std::string body;
    std::size_t filler = 0, released = 0, sent = 0;
    bool eof = false;
    asio::steady_timer drained; // cancelled when `sent` reaches `released`, or the stream closes

    std::size_t total() const { return body.size() + filler; }
};

char h2_lower(char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

// Fields HTTP/2 forbids (RFC 9113 §8.2.2): the endpoints send none, but a client must never see
// one.
bool connection_specific(std::string_view name) {
    return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
           name == "transfer-encoding" || name == "upgrade";
}

// One connection's nghttp2 session and streams. Its coroutines (the reader and the writer in
// run(), respond() for each stream) all run on the connection's strand.
class h2_connection : public std::enable_shared_from_this<h2_connection> {
public:
    h2_connection(mock_state& s, asio::any_io_executor e)
        : state(s)
        , ex(std::move(e))
        , wake(ex, asio::steady_timer::time_point::max()) {}
    ~h2_connection() { nghttp2_session_del(session); }
    h2_connection(const h2_connection&) = delete;
    h2_connection& operator=(const h2_connection&) = delete;

    // Makes the session and queues the server's SETTINGS. False if nghttp2 can't.
    bool start();
    // The connection is over: stops every stream's answer.
    void finish();

    template <class Stream>
    asio::awaitable<void> read_loop(Stream& stream);
    template <class Stream>
    asio::awaitable<void> write_loop(Stream& stream);

    mock_state& state;
    asio::any_io_executor ex;
    nghttp2_session* session = nullptr;

private:
    static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* self);
    static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                         std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                         std::uint8_t flags, void* self);
    static int on_data_chunk(nghttp2_session*, std::uint8_t flags, std::int32_t stream_id,
                             const std::uint8_t* data, std::size_t len, void* self);
    static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* self);
    static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* self);
    static int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code,
                               void* self);
    static ssize_t read_body(nghttp2_session*, std::int32_t stream_id, std::uint8_t* buf,
                             std::size_t length, std::uint32_t* data_flags,
                             nghttp2_data_source* source, void*);

    h2_stream* stream_of(std::int32_t id) const {
        return static_cast<h2_stream*>(nghttp2_session_get_stream_user_data(session, id));
    }
    bool refuse(std::uint64_t seen) const;

    // Answering a stream: respond() decides, the rest carry it out.
    static asio::awaitable<void> respond(std::shared_ptr<h2_connection> self,
                                         std::shared_ptr<h2_stream> st);
    bool live(const h2_stream& st) const { return !done && !st.closed; }
    void submit(h2_stream& st, const http_response& res, std::optional<std::size_t> length,
                std::size_t fillers = 0);
    void release(h2_stream& st, std::size_t n, bool eof);
    asio::awaitable<void> until_drained(h2_stream& st);
    void reset(h2_stream& st, std::uint32_t code);
    asio::awaitable<void> pause(std::chrono::milliseconds d);
    void wake_writer() { wake.cancel(); }

    std::map<std::int32_t, std::shared_ptr<h2_stream>> streams;
    std::size_t opened = 0;        // streams this connection opened
    std::size_t processing = 0;    // of them, those being processed now
    std::int32_t goaway_last = -1; // the last stream id of the GOAWAY decided on; -1: none
    bool reading_done = false;     // the reader has stopped
    bool silent = false;           // http2_silent_after_streams: reads nothing into nghttp2
    bool done = false;             // the connection is over: nothing more is submitted
    asio::steady_timer wake;       // the writer waits on it for something to send
};

bool h2_connection::start() {
    nghttp2_session_callbacks* cbs = nullptr;
    if (nghttp2_session_callbacks_new(&cbs) != 0) {
        return false;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &on_stream_close);
    nghttp2_option* opt = nullptr;
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cbs);
        return false;
    }
    const bool stall = state.opts.http2_stall_request_bodies;
    // Stalling: nghttp2 grants window back only as the application says it consumed data.
    nghttp2_option_set_no_auto_window_update(opt, stall ? 1 : 0);
    nghttp2_option_set_max_send_header_block_length(opt, h2_max_filler + 64 * 1024);
    const int rv = nghttp2_session_server_new2(&session, cbs, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    if (rv != 0) {
        session = nullptr;
        return false;
    }
    // The header table stays at the protocol's 4,096 bytes both ways (nghttp2's defaults).
    std::vector<nghttp2_settings_entry> settings = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, state.opts.http2_max_concurrent_streams},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(max_request_header)}};
    if (stall) {
        settings.push_back({NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0});
    }
    return nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings.data(), settings.size()) ==
           0;
}

void h2_connection::finish() {
    done = true;
    for (auto& [id, st] : streams) {
        st->closed = true;
        st->drained.cancel();
    }
    streams.clear();
    wake.cancel();
}

//------------------------------------------------------------------------------
// Reading and writing

// Whether TLS holds bytes already read from the socket (the next request may have come with
// the handshake).
bool h2_buffered(beast::tcp_stream&) {
    return false;
}

bool h2_buffered(ssl::stream<beast::tcp_stream>& stream) {
    SSL* ssl = stream.native_handle();
    return SSL_has_pending(ssl) || BIO_ctrl_pending(SSL_get_rbio(ssl)) != 0;
}

template <class Stream>
asio::awaitable<void> h2_connection::read_loop(Stream& stream) {
    using namespace asio::experimental::awaitable_operators;
    auto& socket = beast::get_lowest_layer(stream).socket();
    std::array<std::uint8_t, h2_read_chunk> buf;
    while (!done && nghttp2_session_want_read(session)) {
        // Idle (no stream open): wait for the client, at most idle_timeout, then say goodbye.
        if (!silent && streams.empty() && state.opts.idle_timeout.count() > 0 &&
            !h2_buffered(stream)) {
            asio::steady_timer idle(ex, state.opts.idle_timeout);
            auto first = co_await (
                socket.async_wait(tcp::socket::wait_read, asio::as_tuple(asio::use_awaitable)) ||
                idle.async_wait(asio::as_tuple(asio::use_awaitable)));
            if (first.index() == 1) {
                nghttp2_session_terminate_session(session, NGHTTP2_NO_ERROR);
                break;
            }
            if (done) {
                break;
            }
        }
        auto [ec, n] =
            co_await stream.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
        if (ec || done) {
            break;
        }
        if (silent) {
            continue; // taken and dropped, unread by nghttp2: until the client closes
        }
        if (nghttp2_session_mem_recv(session, buf.data(), n) < 0) {
            break;
        }
        wake_writer();
    }
    reading_done = true;
    wake_writer();
}

template <class Stream>
asio::awaitable<void> h2_connection::write_loop(Stream& stream) {
    std::string out;
    bool failed = false;
    while (!failed) {
        for (;;) { // everything nghttp2 has to send, a batch at a time
            out.clear();
            while (out.size() < h2_write_batch) {
                const std::uint8_t* data = nullptr;
                const ssize_t n = nghttp2_session_mem_send(session, &data);
                if (n < 0) {
                    failed = true;
                }
                if (n <= 0) {
                    break;
                }
                out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
            }
            if (out.empty()) {
                break;
            }
            auto [ec, n] = co_await asio::async_write(stream, asio::buffer(out),
                                                      asio::as_tuple(asio::use_awaitable));
            if (ec || failed) {
                failed = true;
                break;
            }
        }
        if (failed || reading_done ||
            (!nghttp2_session_want_read(session) && !nghttp2_session_want_write(session))) {
            break;
        }
        wake.expires_at(asio::steady_timer::time_point::max());
        co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    // Over (drained after a GOAWAY, the client gone, or a failure): closing the socket ends the
    // reader's wait too.
    done = true;
    boost::system::error_code ignored;
    auto& socket = beast::get_lowest_layer(stream).socket();
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
}

//------------------------------------------------------------------------------
// nghttp2's callbacks

bool h2_connection::refuse(std::uint64_t seen) const {
    const auto& o = state.opts;
    return seen <= o.http2_refuse_first_streams ||
           (o.http2_refuse_every != 0 && seen % o.http2_refuse_every == 0);
}

int h2_connection::on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame,
                                    void* self) {
    auto& c = *static_cast<h2_connection*>(self);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0;
    }
    auto st = std::make_shared<h2_stream>(c.ex);
    st->id = frame->hd.stream_id;
    ++c.opened;
    std::uint64_t seen = 0;
    {
        std::lock_guard lock(c.state.mtx);
        seen = ++c.state.h2_streams_seen;
        ++c.state.h2.streams_opened;
    }
    if (c.goaway_last >= 0 && st->id > c.goaway_last) {
        // Came in the same read as the stream that decided the GOAWAY: nghttp2 drops it
        // unanswered when the GOAWAY goes out, and the client knows it was not processed.
        st->refused = true;
        std::lock_guard lock(c.state.mtx);
        ++c.state.h2.streams_refused;
    } else if (c.refuse(seen)) {
        st->refused = true; // counted as the RST_STREAM goes out (on_frame_send)
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_REFUSED_STREAM);
    } else {
        ++c.processing;
        std::lock_guard lock(c.state.mtx);
        c.state.h2.max_concurrent_streams =
            std::max(c.state.h2.max_concurrent_streams, c.processing);
    }
    if (c.state.opts.http2_goaway_after_streams != 0 &&
        c.opened == c.state.opts.http2_goaway_after_streams) {
        c.goaway_last = st->id;
        nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR, nullptr, 0);
    }
    nghttp2_session_set_stream_user_data(session, st->id, st.get());
    c.streams.emplace(st->id, std::move(st));
    return 0;
}

int h2_connection::on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                             std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                             std::uint8_t, void* self) {
    auto& c = *static_cast<h2_connection*>(self);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0; // trailers: nothing the endpoints read
    }
    h2_stream* st = c.stream_of(frame->hd.stream_id);
    if (!st || st->refused || st->dropped) {
        return 0;
    }
    // As SETTINGS_MAX_HEADER_LIST_SIZE counts (RFC 9113 §6.5.2). Over it, nghttp2 resets the
    // stream (INTERNAL_ERROR) and takes no more of its header block.
    st->header_bytes += namelen + valuelen + 32;
    if (st->header_bytes > max_request_header) {
        st->dropped = true;
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    const std::string_view n(reinterpret_cast<const char*>(name), namelen);
    const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":method") {
        st->req.method = v;
    } else if (n == ":path") {
        st->req.target = v;
    } else if (n == ":authority") {
        st->req.fields.emplace_back("host", v); // as an HTTP/1.1 gateway would (RFC 9113 §8.3.1)
    } else if (!n.starts_with(':')) {
        st->req.fields.emplace_back(n, v);
    }
    return 0;
}

int h2_connection::on_data_chunk(nghttp2_session* session, std::uint8_t, std::int32_t stream_id,
                                 const std::uint8_t* data, std::size_t len, void* self) {
    auto& c = *static_cast<h2_connection*>(self);
    h2_stream* st = c.stream_of(stream_id);
    if (!st || st->refused || st->dropped) {
        return 0;
    }
    if (st->req.body.size() + len > max_request_body) {
        st->dropped = true;
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_INTERNAL_ERROR);
        return 0;
    }
    st->req.body.append(reinterpret_cast<const char*>(data), len);
    return 0;
}

int h2_connection::on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* self) {
    auto& c = *static_cast<h2_connection*>(self);
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
        std::lock_guard lock(c.state.mtx);
        ++c.state.h2.resets_received[frame->rst_stream.error_code];
        return 0;
    }
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) {
        return 0;
    }
    // The request is complete.
    auto it = c.streams.find(frame->hd.stream_id);
    if (it == c.streams.end()) {
        return 0;
    }
    h2_stream& st = *it->second;
    if (!st.refused && !st.dropped && !st.dispatched) {
        st.dispatched = true;
        asio::co_spawn(c.ex, respond(c.shared_from_this(), it->second), asio::detached);
    }
    return 0;
}

int h2_connection::on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* self) {
    auto& c = *static_cast<h2_connection*>(self);
    if (frame->hd.type == NGHTTP2_GOAWAY) {
        std::lock_guard lock(c.state.mtx);
        ++c.state.h2.goaways_sent;
        if (frame->goaway.error_code != NGHTTP2_NO_ERROR) {
            ++c.state.h2.goaways_sent_with_error;
        }
    } else if (frame->hd.type == NGHTTP2_RST_STREAM) {
        std::lock_guard lock(c.state.mtx);
        ++c.state.h2.resets_sent[frame->rst_stream.error_code];
        if (frame->rst_stream.error_code == NGHTTP2_REFUSED_STREAM) {
            ++c.state.h2.streams_refused;
        }
    }
    return 0;
}

int h2_connection::on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t,
                                   void* self) {
    auto& c = *static_cast<h2_connection*>(self);
    auto it = c.streams.find(stream_id);
    if (it == c.streams.end()) {
        return 0;
    }
    h2_stream& st = *it->second;
    st.closed = true;
    st.drained.cancel();
    if (!st.refused) {
        --c.processing;
    }
    c.streams.erase(it); // respond(), if running, holds it until it notices
    const std::size_t silent_after = c.state.opts.http2_silent_after_streams;
    if (silent_after != 0 && c.opened >= silent_after && c.streams.empty() && !c.silent) {
        c.silent = true;
        std::lock_guard lock(c.state.mtx);
        ++c.state.h2.connections_silenced;
    }
    return 0;
}

// The answer's DATA: what has been released, then the end of the stream once `eof` is set.
ssize_t h2_connection::read_body(nghttp2_session*, std::int32_t, std::uint8_t* buf,
                                 std::size_t length, std::uint32_t* data_flags,
                                 nghttp2_data_source* source, void*) {
    auto& st = *static_cast<h2_stream*>(source->ptr);
    const std::size_t n = std::min(length, st.released - st.sent);
    const std::size_t from_body =
        st.sent < st.body.size() ? std::min(n, st.body.size() - st.sent) : 0;
    if (from_body > 0) {
        std::memcpy(buf, st.body.data() + st.sent, from_body);
    }
    std::memset(buf + from_body, ' ', n - from_body);
    st.sent += n;
    if (st.sent == st.released) {
        st.drained.cancel();
        if (st.eof) {
            *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        } else if (n == 0) {
            return NGHTTP2_ERR_DEFERRED; // resumed by release()
        }
    }
    return static_cast<ssize_t>(n);
}

//------------------------------------------------------------------------------
// Answering a stream

// The answer, acting out the endpoint's fault in HTTP/2's terms (mock_server.hpp, `fault`).
asio::awaitable<void> h2_connection::respond(std::shared_ptr<h2_connection> self,
                                             std::shared_ptr<h2_stream> st) {
    h2_connection& c = *self;
    http_request req = std::move(st->req);
    prepared_answer answered = co_await answer(c.state, std::move(req));
    if (!c.live(*st)) {
        co_return; // reset by the client, or the connection is gone
    }
    const fault f = answered.f.value_or(fault{});
    http_response& res = answered.res;
    using kind = fault::kind;
    switch (f.what) {
    case kind::none:
    case kind::malformed_json:
    case kind::oversized_body:
    case kind::oversized_headers: {
        std::size_t fillers = 0;
        if (f.what == kind::malformed_json) {
            res = json_response(200, std::string(malformed_json_body));
        } else if (f.what == kind::oversized_body) {
            res = json_response(200, {});
            st->filler = f.oversized_bytes;
        } else if (f.what == kind::oversized_headers) {
            fillers = std::min(f.oversized_bytes, h2_max_filler) / 1000;
        }
        st->body = std::move(res.body);
        c.submit(*st, res, st->total(), fillers);
        c.release(*st, st->total(), true);
        co_return;
    }
    case kind::truncated_body:
    case kind::close_after_headers: {
        const bool truncated = f.what == kind::truncated_body;
        res = json_response(200, std::string(truncated ? truncated_body_part : ""));
        st->body = std::move(res.body);
        c.submit(*st, res, truncated ? truncated_body_length : close_after_headers_length);
        c.release(*st, st->total(), false);
        co_await c.until_drained(*st);
        c.reset(*st, NGHTTP2_INTERNAL_ERROR);
        co_return;
    }
    case kind::reset_mid_body:
        st->body = std::move(res.body);
        c.submit(*st, res, st->total());
        c.release(*st, st->total() / 2, false);
        co_await c.until_drained(*st);
        co_await c.pause(f.write_interval); // so the client has read what came
        c.reset(*st, NGHTTP2_INTERNAL_ERROR);
        co_return;
    case kind::chunked:
    case kind::slow_body: {
        // chunked: three pieces and an empty end, without a Content-Length; slow_body: a byte
        // at a time.
        const bool chunked = f.what == kind::chunked;
        st->body = std::move(res.body);
        const std::size_t size = st->total();
        const std::size_t piece = chunked ? std::max<std::size_t>(1, (size + 2) / 3) : 1;
        c.submit(*st, res, chunked ? std::nullopt : std::optional<std::size_t>(size));
        for (std::size_t at = 0; at < size; at += piece) {
            co_await c.pause(f.write_interval);
            if (!c.live(*st)) {
                co_return;
            }
            c.release(*st, piece, !chunked && at + piece >= size);
        }
        if (chunked || size == 0) {
            co_await c.pause(f.write_interval);
            if (c.live(*st)) {
                c.release(*st, 0, true);
            }
        }
        co_return;
    }
    case kind::stall_after_headers:
        // The headers, then nothing: the stream stays open until the client resets it.
        st->body = std::move(res.body);
        c.submit(*st, res, st->total());
        co_return;
    case kind::close_without_response:
    case kind::close_after_processing:
        c.reset(*st, NGHTTP2_INTERNAL_ERROR);
        co_return;
    }
}

// Submits the answer's HEADERS (`length`: its Content-Length; `fillers`: how many of
// oversized_headers' filler fields) with its body to come as release() allows.
void h2_connection::submit(h2_stream& st, const http_response& res,
                           std::optional<std::size_t> length, std::size_t fillers) {
    if (!live(st)) {
        return;
    }
    std::vector<std::pair<std::string, std::string>> fields;
    fields.emplace_back(":status", std::to_string(res.status));
    for (const auto& [field, value] : res.fields) {
        std::string name = field;
        std::transform(name.begin(), name.end(), name.begin(), h2_lower);
        if (!connection_specific(name)) {
            fields.emplace_back(std::move(name), value);
        }
    }
    if (length) {
        fields.emplace_back("content-length", std::to_string(*length));
    }
    for (std::size_t i = 0; i < fillers; ++i) {
        auto [name, value] = filler_field(i);
        std::transform(name.begin(), name.end(), name.begin(), h2_lower);
        fields.emplace_back(std::move(name), std::move(value));
    }
    std::vector<nghttp2_nv> nva;
    nva.reserve(fields.size());
    for (auto& [name, value] : fields) {
        // nghttp2 copies them (no NO_COPY flag).
        nva.push_back({reinterpret_cast<std::uint8_t*>(name.data()),
                       reinterpret_cast<std::uint8_t*>(value.data()), name.size(), value.size(),
                       NGHTTP2_NV_FLAG_NONE});
    }
    // Without a body to come, HEADERS end the stream; otherwise DATA follows as it is released.
    const bool body_follows = st.total() > 0 || !length || *length > 0;
    nghttp2_data_provider body{};
    body.source.ptr = &st;
    body.read_callback = &read_body;
    nghttp2_submit_response(session, st.id, nva.data(), nva.size(), body_follows ? &body : nullptr);
    wake_writer();
}

// Lets DATA carry `n` more bytes of the body (all that is left at most), and end the stream
// after them when `eof`.
void h2_connection::release(h2_stream& st, std::size_t n, bool eof) {
    if (!live(st)) {
        return;
    }
    st.released += std::min(n, st.total() - st.released);
    st.eof = eof;
    nghttp2_session_resume_data(session, st.id); // an error only if it was not deferred
    wake_writer();
}

// Waits until nghttp2 has taken every released byte into DATA frames: a RST_STREAM submitted
// before would overtake them.
asio::awaitable<void> h2_connection::until_drained(h2_stream& st) {
    while (live(st) && st.sent < st.released) {
        st.drained.expires_at(asio::steady_timer::time_point::max());
        co_await st.drained.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

void h2_connection::reset(h2_stream& st, std::uint32_t code) {
    if (!live(st)) {
        return;
    }
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, st.id, code);
    wake_writer();
}

asio::awaitable<void> h2_connection::pause(std::chrono::milliseconds d) {
    asio::steady_timer timer(ex, d);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

template <class Stream>
asio::awaitable<void> serve_h2_on(mock_state& state, Stream stream) {
    using namespace asio::experimental::awaitable_operators;
    // No deadline from the handshake carries over: the reader keeps to idle_timeout itself.
    beast::get_lowest_layer(stream).expires_never();
    const asio::any_io_executor ex = co_await asio::this_coro::executor;
    auto c = std::make_shared<h2_connection>(state, ex);
    {
        std::lock_guard lock(state.mtx);
        ++state.h2.connections;
    }
    if (c->start()) {
        co_await (c->read_loop(stream) && c->write_loop(stream));
    }
    c->finish();
}

} // namespace

asio::awaitable<void> serve_http2(mock_state& state, ssl::stream<beast::tcp_stream> stream) {
    co_await serve_h2_on(state, std::move(stream));
}

asio::awaitable<void> serve_http2(mock_state& state, beast::tcp_stream stream) {
    co_await serve_h2_on(state, std::move(stream));
}

} // namespace glue::testing::detail
