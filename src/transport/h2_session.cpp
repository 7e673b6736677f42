// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.

#include "transport/h2_session.hpp"

#include "support/saturating.hpp"
#include "transport/connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <tuple>
#include <utility>

namespace glue::detail {

namespace asio = boost::asio;

namespace {

/// One read at most: a TLS record's plaintext.
constexpr std::size_t read_size = 16 * 1024;
/// One write at most, about: the codec's output is taken in frames, so it ends within a frame
/// (16 KiB) past this.
constexpr std::size_t write_size = 64 * 1024;

} // namespace

h2_session::h2_session(connection& c, const h2_codec::limits& limits, const header_capture& capture,
                       const h2_fixed_fields& fixed, std::chrono::milliseconds ping_timeout)
    : conn_(c)
    , strand_(asio::make_strand(c.socket().get_executor()))
    , codec_(limits, capture, fixed)
    , in_(read_size)
    , ping_timeout_(ping_timeout)
    , ping_timer_(strand_)
    , await_settings_(limits.assumed_streams == 0) {}

h2_session::~h2_session() {
    wipe_output();
}

void h2_session::wipe_output() {
    OPENSSL_cleanse(out_.data(), out_.size());
    out_.clear();
}

std::size_t h2_session::max_concurrent_streams() const {
    return codec_.max_concurrent_streams();
}

void h2_session::set_events(events e) {
    events_ = std::move(e);
}

// GCC 12 pairs the inlined aligned_alloc inside Asio's frame allocator with the frame's
// operator delete and warns; that delete does release the block through Asio's matching
// aligned_delete.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
asio::awaitable<error_code> h2_session::start() {
    auto& s = *conn_.tls;
    auto token = asio::as_tuple(asio::use_awaitable);
    error_code ec;
    try {
        for (bool settled = !await_settings_;;) {
            if (auto e = codec_.take_output(out_, write_size)) {
                co_return e;
            }
            if (!out_.empty()) {
                std::tie(ec, std::ignore) =
                    co_await asio::async_write(s, asio::buffer(out_), token);
                wipe_output();
                if (ec) {
                    co_return ec;
                }
            }
            if (settled) {
                co_return error_code{};
            }
            std::size_t n = 0;
            std::tie(ec, n) = co_await s.async_read_some(asio::buffer(in_), token);
            if (ec) {
                co_return ec;
            }
            if (auto e = codec_.receive(in_.data(), n)) {
                co_return e;
            }
            settled = codec_.settings_received(); // then its acknowledgement goes out
        }
    } catch (const boost::system::system_error& e) {
        co_return e.code(); // cancelled before an operation could start
    }
}

asio::awaitable<h2_outcome> h2_session::exchange(std::shared_ptr<connection> keep,
                                                 const http_request& req, http_response& into,
                                                 steady_time deadline, bool mutation) {
    auto x = std::make_shared<h2_exchange>(req, into);
    waiter<asio::steady_timer> w(co_await asio::this_coro::executor, x->mtx);
    asio::post(strand_, [this, keep, x, mutation] { submit(keep, x, mutation); });
    bool waits = false;
    {
        std::lock_guard lock(x->mtx);
        if (!x->done) {
            x->waiters.push_back(w);
            waits = true;
        }
    }
    error_code ec;
    if (waits) {
        ec = co_await w.wait(x->mtx, deadline);
    }
    std::lock_guard lock(x->mtx);
    if (x->done) {
        co_return x->outcome;
    }
    // Given up (the deadline, or cancelled): detached, nothing touches the caller's memory any
    // more, and the stream is reset.
    x->detach();
    h2_outcome o = x->outcome;
    o.ec = ec;
    o.why = {};
    const bool deadline_reached = ec == errc::timeout;
    asio::post(strand_, [this, keep, x, deadline_reached] {
        codec_.cancel(x);
        std::erase(after_ping_, x);
        if (deadline_reached && reads_ == x->reads_at_submit) {
            ping(keep); // silent since this request: is anyone there?
        }
        flush(keep);
        read(keep);
        settle();
    });
    co_return o;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

void h2_session::stop(std::shared_ptr<connection> keep) {
    asio::post(strand_,
               [this, keep] { lost(asio::error::operation_aborted, "the connection was closed"); });
}

void h2_session::submit(const std::shared_ptr<connection>& keep, std::shared_ptr<h2_exchange> x,
                        bool mutation) {
    if (dead_) {
        codec_.open(x); // completes it refused: the connection went away
        return;
    }
    x->reads_at_submit = reads_;
    // A mutation may be sent again only if it certainly never ran: on a connection that carried
    // nothing, which may have died unseen, a PING's answer first proves it alive (the idle
    // notion of the HTTP/1.1 pool's stale check: no exchange in progress).
    if (mutation && (ping_out_ || codec_.open_streams() == 0)) {
        after_ping_.push_back(std::move(x));
        ping(keep);
    } else {
        codec_.open(x);
    }
    flush_soon(keep);
    read(keep);
}

// Sends a PING, unless one is out already; no answer within ping_timeout_ and the connection
// is lost: every stream fails, and those never sent (the mutations waiting for this answer) go
// again on another connection.
void h2_session::ping(const std::shared_ptr<connection>& keep) {
    if (ping_out_ || dead_) {
        return;
    }
    ping_out_ = true;
    codec_.ping();
    ping_timer_.expires_at(saturating_add(std::chrono::steady_clock::now(), ping_timeout_));
    ping_timer_.async_wait(
        asio::bind_executor(strand_, [this, keep, sent = ++pings_](error_code ec) {
            if (!ec && ping_out_ && sent == pings_) {
                lost(make_error_code(errc::timeout), "the server did not answer a PING in time");
            }
        }));
}

// The streams opened in one turn of the strand leave in one write: the flush is queued behind
// the submissions already waiting on the strand (callers resumed together submit together).
void h2_session::flush_soon(const std::shared_ptr<connection>& keep) {
    if (flush_queued_ || writing_ || dead_) {
        return; // a write in progress flushes when it completes
    }
    flush_queued_ = true;
    asio::post(strand_, [this, keep] {
        flush_queued_ = false;
        flush(keep);
    });
}

// Whether a response or a PING's answer is awaited.
bool h2_session::outstanding() const {
    return codec_.open_streams() != 0 || ping_out_;
}

// Reads while something is outstanding: a stream's response, or a PING's answer for a mutation.
// Idle, the connection is not read; what arrives meanwhile (a GOAWAY) is read with the next
// stream.
void h2_session::read(const std::shared_ptr<connection>& keep) {
    if (reading_ || dead_ || !outstanding()) {
        return;
    }
    reading_ = true;
    conn_.tls->async_read_some(
        asio::buffer(in_), asio::bind_executor(strand_, [this, keep](error_code ec, std::size_t n) {
            reading_ = false;
            if (std::exchange(parked_, false) && ec == asio::error::operation_aborted) {
                read(keep); // settle() ended it: read again only if something is awaited now
                return;
            }
            if (dead_) {
                return;
            }
            if (ec) {
                lost(ec, "the HTTP/2 connection failed");
                return;
            }
            ++reads_;
            if (codec_.receive(in_.data(), n)) {
                lost(make_error_code(errc::bad_response), "HTTP/2 protocol error");
                return;
            }
            after_input(keep, take_received());
        }));
}

// Asio's TLS read completes with one TLS record, and a server that writes each response as it is
// ready sends a record each: taken one per read, the streams they end would resume their callers
// one at a time and go out again one write each. The records already received (in the TLS
// engine, taken off the socket by the read that just completed) are decrypted here, without I/O:
// SSL_read on the engine's memory BIO, which holds at most one socket read, until the codec
// wants no more (a GOAWAY ended it). Anything but data or "wants more input" is an error of the
// connection, reported after what came before it, as the next read would have. What TLS
// answers meanwhile (a KeyUpdate's own) waits in the BIO and leaves ahead of our next write, as
// RFC 8446 §4.6.3 asks.
error_code h2_session::take_received() {
    SSL* ssl = conn_.tls->native_handle();
    while (codec_.alive()) {
        std::size_t n = 0;
        ::ERR_clear_error();
        if (::SSL_read_ex(ssl, in_.data(), in_.size(), &n) != 1) {
            const int why = ::SSL_get_error(ssl, 0);
            const auto code = static_cast<int>(::ERR_get_error());
            ::ERR_clear_error();
            switch (why) {
            case SSL_ERROR_WANT_READ:
            case SSL_ERROR_WANT_WRITE: // the BIO is full: the next Asio read writes it out first
                return {};
            case SSL_ERROR_ZERO_RETURN:
                return asio::error::eof; // close_notify
            default:
                return code != 0 ? error_code(code, asio::error::get_ssl_category())
                                 : error_code(asio::ssl::error::unspecified_system_error);
            }
        }
        if (codec_.receive(in_.data(), n)) {
            return make_error_code(errc::bad_response);
        }
    }
    return {};
}

// What the codec took in is acted on; then `failed` (take_received()'s) ends the connection.
void h2_session::after_input(const std::shared_ptr<connection>& keep, error_code failed) {
    const auto news = codec_.take_news();
    if (news.ping_ack && ping_out_) {
        ping_out_ = false;
        ping_timer_.cancel();
        for (auto& x : after_ping_) {
            codec_.open(x);
        }
        after_ping_.clear();
    }
    if (news.settings && events_.limit) {
        events_.limit(codec_.max_concurrent_streams());
    }
    if (news.goaway && events_.drain) {
        events_.drain(true);
    }
    flush(keep);
    if (failed) {
        lost(failed, failed == errc::bad_response ? "HTTP/2 protocol error"
                                                  : "the HTTP/2 connection failed");
        return;
    }
    if (!codec_.alive()) {
        // A connection error, or a GOAWAY with nothing left to finish: done.
        lost(asio::error::eof, "the HTTP/2 connection ended");
        return;
    }
    read(keep);
}

void h2_session::flush(const std::shared_ptr<connection>& keep) {
    if (writing_ || dead_) {
        return;
    }
    if (codec_.take_output(out_, write_size)) {
        lost(make_error_code(errc::bad_response), "HTTP/2 protocol error");
        return;
    }
    if (out_.empty()) {
        return;
    }
    writing_ = true;
    asio::async_write(*conn_.tls, asio::buffer(out_),
                      asio::bind_executor(strand_, [this, keep](error_code ec, std::size_t) {
                          writing_ = false;
                          wipe_output(); // it held the requests' fields and bodies
                          if (dead_) {
                              return;
                          }
                          if (ec) {
                              lost(ec, "the HTTP/2 connection failed");
                              return;
                          }
                          flush(keep);
                          read(keep);
                          settle();
                      }));
}

// The last awaited stream ended without a read completing (its caller gave up): the read still
// pending is ended, so an idle connection keeps no work on the io_context. A TLS read may be
// cancelled: what it had taken stays in the TLS engine for the next read. A write is left to
// finish first (settle() runs again after it): cutting one short would break the TLS stream.
void h2_session::settle() {
    if (reading_ && !writing_ && !parked_ && !dead_ && !outstanding()) {
        parked_ = true;
        error_code ignored;
        conn_.socket().cancel(ignored);
    }
}

// The connection is gone: every stream fails (refused if none of it was written), and so do the
// mutations waiting for the PING, which never left. The pool drains it.
void h2_session::lost(error_code ec, std::string_view why) {
    if (dead_) {
        return;
    }
    dead_ = true;
    ping_timer_.cancel();
    codec_.fail_all(ec, why);
    for (auto& x : after_ping_) {
        codec_.open(x); // refused: the codec is broken now
    }
    after_ping_.clear();
    if (events_.drain) {
        events_.drain(false);
    }
    conn_.abort(); // a read or write in progress ends at once
}

} // namespace glue::detail
