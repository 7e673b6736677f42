// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The one translation unit that includes nghttp2: its client session, fed and drained by
// h2_session.cpp (or the fuzz target), and the callbacks that turn frames into an exchange's
// response, within the limits every response has (docs/design.md, "HTTP/2").

#include "transport/h2_codec.hpp"

#include "protocol/ascii.hpp"
#include "protocol/checks.hpp"
#include "protocol/content_coding.hpp"

#include <boost/asio/error.hpp>

#include <openssl/crypto.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <map>
#include <new>
#include <optional>
#include <utility>

#include <malloc.h>
#include <nghttp2/nghttp2.h>

namespace glue::detail {

namespace {

// nghttp2's memory, wiped when it frees it: it copies every request field it sends, the
// Authorization value included, and encodes them into its output buffer, so what it frees may
// hold a token. Its blocks are small and few per request; the wiping costs next to nothing.
void* h2_alloc(std::size_t size, void*) {
    return std::malloc(size);
}

void h2_release(void* p, void*) {
    if (p) {
        OPENSSL_cleanse(p, ::malloc_usable_size(p));
        std::free(p);
    }
}

void* h2_calloc(std::size_t n, std::size_t size, void*) {
    return std::calloc(n, size);
}

// A moved block is wiped where it was: realloc() would free it as it is.
void* h2_realloc(void* p, std::size_t size, void* user) {
    if (!p) {
        return std::malloc(size);
    }
    if (size == 0) {
        h2_release(p, user);
        return nullptr;
    }
    void* q = std::malloc(size);
    if (q) {
        std::memcpy(q, p, std::min(size, ::malloc_usable_size(p)));
        h2_release(p, user);
    }
    return q;
}

nghttp2_mem wiping_memory{nullptr, h2_alloc, h2_release, h2_calloc, h2_realloc};

/// Interim (1xx) responses skipped before the answer at most, as over HTTP/1.1.
constexpr unsigned max_interim = 8;
/// The HPACK dynamic table each side may keep: RFC 9113's default, said explicitly.
constexpr std::uint32_t header_table_size = 4096;
/// Streams assumed before the peer's SETTINGS, and in place of "unlimited": RFC 9113 §6.5.2
/// recommends allowing at least 100.
constexpr std::size_t default_streams = 100;
/// The most streams one connection carries at once, whatever the peer allows.
constexpr std::size_t max_streams = 1024;
constexpr std::int32_t max_window = std::numeric_limits<std::int32_t>::max();

std::string_view view(const std::uint8_t* p, std::size_t n) noexcept {
    return {reinterpret_cast<const char*>(p), n};
}

nghttp2_nv field(std::string_view name, std::string_view value, bool sensitive = false) noexcept {
    return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
            reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
            value.size(),
            std::uint8_t(sensitive ? NGHTTP2_NV_FLAG_NO_INDEX : NGHTTP2_NV_FLAG_NONE)};
}

error_code refused_code() {
    return boost::asio::error::connection_aborted;
}

} // namespace

h2_fixed_fields::~h2_fixed_fields() {
    for (auto& f : fields) {
        OPENSSL_cleanse(f.value.data(), f.value.size());
    }
}

/// One open stream: what its response has come to so far. The codec's thread only.
struct h2_stream {
    std::shared_ptr<h2_exchange> x;
    std::uint64_t body_limit = 0;
    std::size_t body_offset = 0; // request body bytes handed to nghttp2
    std::size_t block_bytes = 0; // the header block being decoded (RFC 9113 §6.5.2's size)
    unsigned interim = 0;        // 1xx responses so far
    bool interim_block = false;  // the block being decoded is a 1xx response's
    bool final_seen = false;     // the final response's header block began
    bool trailers = false;       // the block being decoded is the trailers
    bool finished = false;       // its exchange has its outcome
    std::uint64_t body_received = 0;
    std::string content_encoding;
    std::string_view coding_error; // an unknown coding: fails the first body byte
    std::optional<content_decoder> decoder;
};

struct h2_codec::state {
    state(const limits& l, const header_capture& c, const h2_fixed_fields& f)
        : lim(l)
        , capture(c)
        , fixed(f) {}

    ~state() {
        if (session) {
            nghttp2_session_del(session);
        }
    }

    nghttp2_session* session = nullptr;
    const limits lim;
    const header_capture& capture;
    const h2_fixed_fields& fixed;
    std::map<std::int32_t, std::unique_ptr<h2_stream>> streams; // open, by id
    std::size_t unfinished = 0;                                 // streams without their outcome yet
    std::vector<nghttp2_nv> fields; // open()'s, kept for the next request
    h2_news news;
    bool settings_seen = false;
    bool goaway_seen = false;
    bool broken = false; // a connection error, or fail_all()

    // nghttp2 is done with the connection (a GOAWAY either way, and nothing left to read): the
    // streams still open fail. After the peer's GOAWAY they were answered or refused already;
    // after ours, a connection error (a malformed frame, a HPACK table too large) ended them.
    void check_end() {
        if (!broken && nghttp2_session_want_read(session) == 0 &&
            nghttp2_session_want_write(session) == 0) {
            fail_all(goaway_seen ? error_code(boost::asio::error::eof)
                                 : make_error_code(errc::bad_response),
                     goaway_seen ? std::string_view("the server closed the HTTP/2 connection")
                                 : std::string_view("HTTP/2 protocol error"));
        }
    }

    h2_stream* find(std::int32_t id) {
        auto it = streams.find(id);
        return it == streams.end() || it->second->finished ? nullptr : it->second.get();
    }

    /// Gives the exchange its outcome (once), keeping the progress counted so far, and wakes its
    /// waiter. `x.mtx` held.
    static void complete_locked(h2_exchange& x, error_code ec, std::string_view why, bool refused) {
        if (x.done) {
            return;
        }
        x.done = true;
        x.outcome.ec = ec;
        x.outcome.why = why;
        x.outcome.refused = refused;
        while (!x.waiters.empty()) {
            x.waiters.front().wake();
        }
    }

    /// The stream's exchange has its outcome (its stream may stay open a little longer).
    void set_finished(h2_stream& s) noexcept {
        if (!s.finished) {
            s.finished = true;
            --unfinished;
        }
    }

    void complete(h2_stream& s, error_code ec = {}, std::string_view why = {},
                  bool refused = false) {
        set_finished(s);
        std::lock_guard lock(s.x->mtx);
        complete_locked(*s.x, ec, why, refused);
    }

    /// Fails the stream for a reason of ours, and resets it (CANCEL) if still open.
    void fail(h2_stream& s, error_code ec, std::string_view why) {
        complete(s, ec, why);
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s.x->stream_id, NGHTTP2_CANCEL);
    }

    void fail_bad(h2_stream& s, std::string_view why) {
        fail(s, make_error_code(errc::bad_response), why);
    }

    // The response's end: the body decoded to its end.
    void finish(h2_stream& s) {
        if (!s.final_seen) {
            fail_bad(s, "HTTP/2 stream ended without a final response");
            return;
        }
        if (s.decoder) {
            if (auto done = s.decoder->finish(); !done) {
                fail_bad(s, done.error().message);
                return;
            }
        }
        complete(s);
    }

    //--------------------------------------------------------------------------
    // The callbacks. nghttp2 is C: nothing may throw through it, so each body runs guarded and
    // a failure to allocate fails the stream (or, outside one, the connection).

    template <class F>
    static int guarded(void* user, F f) noexcept {
        try {
            return f(*static_cast<state*>(user));
        } catch (...) {
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
    }

    static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
        return guarded(user, [&](state& st) {
            if (frame->hd.type != NGHTTP2_HEADERS) {
                return 0;
            }
            if (auto* s = st.find(frame->hd.stream_id)) {
                s->block_bytes = 0;
                s->interim_block = false;
                s->trailers = s->final_seen;
            }
            return 0;
        });
    }

    static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                         std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                         std::uint8_t, void* user) {
        return guarded(user, [&](state& st) {
            auto* s = frame->hd.type == NGHTTP2_HEADERS ? st.find(frame->hd.stream_id) : nullptr;
            if (!s) {
                return 0;
            }
            // Counted as decoded, with RFC 9113's 32 bytes per field: a block of many empty
            // fields costs its share too.
            s->block_bytes += namelen + valuelen + 32;
            if (s->block_bytes > st.lim.header_limit) {
                st.fail_bad(*s, "response header larger than the limit");
                return 0;
            }
            st.on_field(*s, view(name, namelen), view(value, valuelen));
            return 0;
        });
    }

    void on_field(h2_stream& s, std::string_view name, std::string_view value) {
        if (s.trailers || (s.interim_block && name != ":status")) {
            return; // trailers and interim responses' fields carry nothing the client reads
        }
        if (name == ":status") {
            unsigned status = 0;
            std::from_chars(value.data(), value.data() + value.size(), status);
            if (status / 100 == 1) {
                s.interim_block = true;
                if (++s.interim == max_interim) {
                    fail_bad(s, "too many interim (1xx) responses");
                }
                return;
            }
            s.final_seen = true;
            std::lock_guard lock(s.x->mtx);
            if (auto* r = s.x->response) {
                r->status = status;
                r->body.clear();
                r->retry_after.clear();
                r->captured.clear();
            }
            return;
        }
        if (!s.final_seen) {
            return; // nghttp2 resets a stream whose response starts without :status
        }
        {
            std::lock_guard lock(s.x->mtx);
            auto* r = s.x->response;
            if (!r) {
                return;
            }
            capture.keep(r->captured, name, value);
            // Retry-After is one field the client reads; the first of repeated ones counts.
            if (name == "retry-after" && r->retry_after.empty()) {
                r->retry_after.assign(value);
            }
        }
        // Content-Encoding is the other; repeated ones form one list (RFC 9110 §5.3), within
        // the header limit as every field.
        if (name == "content-encoding") {
            if (!s.content_encoding.empty()) {
                s.content_encoding += ',';
            }
            s.content_encoding.append(value);
        }
    }

    // The final response's header block is complete: the body's coding is known.
    void on_final_header(h2_stream& s) {
        if (s.content_encoding.empty()) {
            return;
        }
        // A coding the client can't decode fails only if a body byte comes: an empty body has
        // nothing to decode.
        auto coding = parse_content_coding(s.content_encoding);
        if (!coding) {
            s.coding_error = coding.error().message;
        } else if (*coding != content_coding::identity) {
            s.decoder.emplace(*coding, static_cast<std::size_t>(std::min<std::uint64_t>(
                                           s.body_limit, std::numeric_limits<std::size_t>::max())));
        }
    }

    static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
        return guarded(user, [&](state& st) {
            switch (frame->hd.type) {
            case NGHTTP2_HEADERS:
            case NGHTTP2_DATA:
                if (auto* s = st.find(frame->hd.stream_id)) {
                    st.on_stream_frame(*s, *frame);
                }
                break;
            case NGHTTP2_SETTINGS:
                if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) {
                    st.settings_seen = true;
                    st.news.settings = true;
                }
                break;
            case NGHTTP2_GOAWAY:
                // nghttp2 closes our streams past its last stream id with REFUSED_STREAM.
                st.news.goaway = true;
                st.goaway_seen = true;
                break;
            case NGHTTP2_PING:
                if ((frame->hd.flags & NGHTTP2_FLAG_ACK) != 0) {
                    st.news.ping_ack = true;
                }
                break;
            default:
                break;
            }
            return 0;
        });
    }

    void on_stream_frame(h2_stream& s, const nghttp2_frame& frame) {
        {
            std::lock_guard lock(s.x->mtx);
            s.x->outcome.got_response = true;
            s.x->outcome.received += frame.hd.length + 9;
        }
        if (frame.hd.type == NGHTTP2_HEADERS && s.final_seen && !s.trailers) {
            on_final_header(s);
        }
        if ((frame.hd.flags & NGHTTP2_FLAG_END_STREAM) != 0 && !s.finished) {
            finish(s);
        }
    }

    static int on_data_chunk(nghttp2_session*, std::uint8_t, std::int32_t id,
                             const std::uint8_t* data, std::size_t len, void* user) {
        return guarded(user, [&](state& st) {
            if (auto* s = st.find(id)) {
                st.on_body(*s, view(data, len));
            }
            return 0;
        });
    }

    // The body holds twice, as over HTTP/1.1: the bytes received, and (decoder) the decoded.
    void on_body(h2_stream& s, std::string_view part) {
        s.body_received += part.size();
        if (s.body_received > s.body_limit) {
            fail_bad(s, "response body larger than the limit");
            return;
        }
        if (!s.coding_error.empty() && !part.empty()) {
            fail_bad(s, s.coding_error);
            return;
        }
        std::string_view failed;
        {
            std::lock_guard lock(s.x->mtx);
            auto* r = s.x->response;
            if (!r) {
                return;
            }
            if (!s.decoder) {
                r->body.append(part);
            } else if (auto fed = s.decoder->feed(part, r->body); !fed) {
                failed = fed.error().message;
            }
        }
        if (!failed.empty()) {
            fail_bad(s, failed);
        }
    }

    static int on_stream_close(nghttp2_session*, std::int32_t id, std::uint32_t code, void* user) {
        return guarded(user, [&](state& st) {
            auto it = st.streams.find(id);
            if (it == st.streams.end()) {
                return 0;
            }
            auto s = std::move(it->second);
            st.streams.erase(it);
            if (s->finished) {
                return 0;
            }
            if (code == NGHTTP2_REFUSED_STREAM) {
                // RST_STREAM(REFUSED_STREAM), or past a GOAWAY's last stream id: RFC 9113 §8.7
                // says the server did not process it.
                st.complete(*s, refused_code(),
                            "the server refused the HTTP/2 stream (REFUSED_STREAM, or GOAWAY "
                            "before it): the request was not processed",
                            true);
            } else if (code == NGHTTP2_NO_ERROR) {
                st.complete(*s, make_error_code(errc::bad_response), "response truncated");
            } else {
                st.complete(*s, boost::asio::error::connection_reset,
                            "the server reset the HTTP/2 stream (RST_STREAM)");
            }
            return 0;
        });
    }

    static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user) {
        return guarded(user, [&](state& st) {
            if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) {
                return 0;
            }
            if (auto it = st.streams.find(frame->hd.stream_id); it != st.streams.end()) {
                std::lock_guard lock(it->second->x->mtx);
                it->second->x->outcome.written = true;
                it->second->x->outcome.sent += frame->hd.length + 9;
            }
            return 0;
        });
    }

    // A request whose HEADERS could not go (the peer sent GOAWAY first, say): it never left.
    static int on_frame_not_send(nghttp2_session*, const nghttp2_frame* frame, int, void* user) {
        return guarded(user, [&](state& st) {
            if (frame->hd.type != NGHTTP2_HEADERS) {
                return 0;
            }
            auto it = st.streams.find(frame->hd.stream_id);
            if (it == st.streams.end()) {
                return 0;
            }
            auto s = std::move(it->second);
            st.streams.erase(it);
            if (!s->finished) {
                st.complete(*s, refused_code(),
                            "the HTTP/2 connection went away before the request was sent", true);
            }
            return 0;
        });
    }

    // The request's body, copied into nghttp2's frames as the flow-control window allows; from
    // the caller's memory, so only while the caller waits.
    static ssize_t read_body(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length,
                             std::uint32_t* flags, nghttp2_data_source* source, void*) {
        auto& s = *static_cast<h2_stream*>(source->ptr);
        std::lock_guard lock(s.x->mtx);
        if (!s.x->req) {
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; // detached: the stream is reset
        }
        const std::string_view body = s.x->req->body;
        const std::size_t n = std::min(length, body.size() - s.body_offset);
        std::memcpy(buf, body.data() + s.body_offset, n);
        s.body_offset += n;
        if (s.body_offset == body.size()) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
        }
        return static_cast<ssize_t>(n);
    }

    void fail_all(error_code ec, std::string_view why) {
        broken = true;
        for (auto& [id, s] : streams) {
            if (s->finished) {
                continue;
            }
            set_finished(*s);
            std::lock_guard lock(s->x->mtx);
            const bool refused = !s->x->outcome.written;
            complete_locked(*s->x, refused ? refused_code() : ec,
                            refused ? "the HTTP/2 connection failed before the request was sent"
                                    : why,
                            refused);
        }
    }
};

h2_codec::h2_codec(const limits& l, const header_capture& capture, const h2_fixed_fields& fixed)
    : st_(std::make_unique<state>(l, capture, fixed)) {
    nghttp2_session_callbacks* cbs = nullptr;
    if (nghttp2_session_callbacks_new(&cbs) != 0) {
        throw std::bad_alloc();
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &state::on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &state::on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &state::on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &state::on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &state::on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &state::on_frame_send);
    nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs, &state::on_frame_not_send);
    nghttp2_option* opt = nullptr;
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cbs);
        throw std::bad_alloc();
    }
    // Our HPACK encoder's table, whatever the peer's SETTINGS allow.
    nghttp2_option_set_max_deflate_dynamic_table_size(opt, header_table_size);
    // The streams nghttp2 lets open before the peer's SETTINGS (by default the 100 we assume).
    if (l.assumed_streams != 0) {
        nghttp2_option_set_peer_max_concurrent_streams(
            opt, static_cast<std::uint32_t>(std::min(l.assumed_streams, max_streams)));
    }
    const int rv = nghttp2_session_client_new3(&st_->session, cbs, st_.get(), opt, &wiping_memory);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    if (rv != 0) {
        throw std::bad_alloc();
    }
    // Windows: a stream may send the pool's largest body (32 MiB by default) without waiting for
    // a WINDOW_UPDATE, the connection four of them; data is consumed as it arrives (nghttp2
    // updates the windows), and the body limit, not the window, bounds memory.
    const auto stream_window = static_cast<std::int32_t>(
        std::clamp<std::uint64_t>(l.body_limit, 65'535, std::uint64_t(max_window)));
    const auto connection_window = static_cast<std::int32_t>(
        std::min<std::uint64_t>(std::uint64_t(stream_window) * 4, std::uint64_t(max_window)));
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        // The HPACK decoder's table: a peer that asks for more is a connection error.
        {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, header_table_size},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<std::uint32_t>(stream_window)},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
         static_cast<std::uint32_t>(
             std::min<std::size_t>(l.header_limit, std::numeric_limits<std::uint32_t>::max()))},
    };
    if (nghttp2_submit_settings(st_->session, NGHTTP2_FLAG_NONE, settings, std::size(settings)) !=
            0 ||
        nghttp2_session_set_local_window_size(st_->session, NGHTTP2_FLAG_NONE, 0,
                                              connection_window) != 0) {
        throw std::bad_alloc();
    }
}

h2_codec::~h2_codec() {
    st_->fail_all(boost::asio::error::operation_aborted, {});
}

error_code h2_codec::receive(const std::uint8_t* data, std::size_t size) {
    if (st_->broken) {
        return make_error_code(errc::bad_response);
    }
    const auto rv = nghttp2_session_mem_recv(st_->session, data, size);
    if (rv < 0) {
        st_->fail_all(make_error_code(errc::bad_response), "HTTP/2 protocol error");
        return make_error_code(errc::bad_response);
    }
    st_->check_end();
    return {};
}

error_code h2_codec::take_output(std::string& out, std::size_t max) {
    const std::size_t until = out.size() + max;
    while (!st_->broken && out.size() < until) {
        const std::uint8_t* p = nullptr;
        const auto n = nghttp2_session_mem_send(st_->session, &p);
        if (n < 0) {
            st_->fail_all(make_error_code(errc::bad_response), "HTTP/2 protocol error");
            return make_error_code(errc::bad_response);
        }
        if (n == 0) {
            break;
        }
        out.append(view(p, static_cast<std::size_t>(n)));
    }
    st_->check_end();
    return {};
}

bool h2_codec::wants_write() const noexcept {
    return !st_->broken && nghttp2_session_want_write(st_->session) != 0;
}

bool h2_codec::alive() const noexcept {
    return !st_->broken && nghttp2_session_want_read(st_->session) != 0;
}

void h2_codec::open(const std::shared_ptr<h2_exchange>& x) {
    auto s = std::make_unique<h2_stream>();
    s->x = x;
    std::lock_guard lock(x->mtx);
    if (!x->req) {
        return; // the caller left before its stream could open
    }
    if (!alive()) {
        state::complete_locked(*x, refused_code(),
                               "the HTTP/2 connection went away before the request was sent", true);
        return;
    }
    const http_request& r = *x->req;
    s->body_limit = r.body_limit;
    // The fields, pointing at the caller's and the pool's memory: nghttp2 copies them (into
    // memory it wipes when done), and the names of the call's own headers, lower-cased here,
    // are no secret.
    std::string names;
    names.reserve(r.extra_headers.size()); // never reallocated: the fields point into it
    char length[24];
    const auto length_end = std::to_chars(length, length + sizeof length, r.body.size()).ptr;
    auto& nv = st_->fields; // reused: one allocation for the connection's life
    nv.clear();
    nv.reserve(8 + st_->fixed.fields.size() + max_extra_headers);
    nv.push_back(field(":method", "POST"));
    nv.push_back(field(":scheme", "https"));
    nv.push_back(field(":authority", st_->fixed.authority));
    nv.push_back(field(":path", r.target));
    for (const auto& f : st_->fixed.fields) {
        nv.push_back(field(f.name, f.value, f.sensitive));
    }
    for_each_header_line(r.extra_headers, [&](std::string_view name, std::string_view value) {
        const auto at = names.size();
        for (char c : name) {
            names.push_back(ascii_lower(c));
        }
        nv.push_back(field(std::string_view(names).substr(at), value, true));
    });
    nv.push_back(field("content-type", r.content_type));
    if (!r.authorization.empty()) {
        // Never indexed: HPACK's tables would keep the token for the connection's life.
        nv.push_back(field("authorization", r.authorization, true));
    }
    nv.push_back(field("content-length",
                       std::string_view(length, static_cast<std::size_t>(length_end - length))));
    nghttp2_data_provider body{};
    body.source.ptr = s.get();
    body.read_callback = &state::read_body;
    const auto id = nghttp2_submit_request(st_->session, nullptr, nv.data(), nv.size(),
                                           r.body.empty() ? nullptr : &body, s.get());
    nv.clear(); // nghttp2 has copied them
    if (id < 0) {
        state::complete_locked(*x, refused_code(),
                               "no new HTTP/2 stream could be opened on the connection", true);
        return;
    }
    x->stream_id = id;
    st_->streams.emplace(id, std::move(s));
    ++st_->unfinished;
}

void h2_codec::cancel(const std::shared_ptr<h2_exchange>& x) {
    if (auto* s = st_->find(x->stream_id)) {
        st_->fail(*s, boost::asio::error::operation_aborted, {});
    }
}

void h2_codec::ping() {
    if (!st_->broken) {
        nghttp2_submit_ping(st_->session, NGHTTP2_FLAG_NONE, nullptr);
    }
}

void h2_codec::fail_all(error_code ec, std::string_view why) {
    st_->fail_all(ec, why);
}

std::size_t h2_codec::open_streams() const noexcept {
    return st_->unfinished;
}

std::size_t h2_codec::max_concurrent_streams() const noexcept {
    const auto n =
        nghttp2_session_get_remote_settings(st_->session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    if (!st_->settings_seen) {
        return st_->lim.assumed_streams != 0 ? std::min(st_->lim.assumed_streams, max_streams)
                                             : default_streams;
    }
    if (n >= NGHTTP2_INITIAL_MAX_CONCURRENT_STREAMS) {
        return default_streams;
    }
    return std::min<std::size_t>(n, max_streams);
}

bool h2_codec::settings_received() const noexcept {
    return st_->settings_seen;
}

h2_news h2_codec::take_news() noexcept {
    return std::exchange(st_->news, h2_news{});
}

} // namespace glue::detail
