// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The one translation unit that instantiates Beast's HTTP parser and its reads and writes over
// both kinds of stream, so the rest of the transport compiles without them (but for the
// header-only read of a proxy's answer to CONNECT, in proxy_tunnel.cpp).

#include "transport/exchange.hpp"

#include "protocol/content_coding.hpp"
#include "transport/connection.hpp"
#include "transport/proxy_tunnel.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/system/errc.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <limits>
#include <new>
#include <optional>
#include <span>
#include <system_error>
#include <tuple>

namespace glue::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {
std::atomic<int> steps_until_failure{0}; // fail_transport_step_for_testing()
} // namespace

// The steps of an exchange. Not in an anonymous namespace: exchange()'s coroutine frame holds
// them, and a frame of external linkage can't hold a type of internal linkage once the
// transport's sources are compiled as one unit (GCC's -Wsubobject-linkage).

// Parses a response straight into an http_response: no field container, the headers the
// client reads kept, the body appended as it arrives (chunked or not) and decoded when
// compressed. Beast's body_limit holds the encoded bytes, the decoder's limit (the same value)
// the decoded ones.
class response_parser final : public http::basic_parser<false> {
public:
    response_parser(http_response& r, std::uint64_t body_limit, const header_capture& capture)
        : r_(r)
        , decoded_limit_(static_cast<std::size_t>(
              std::min<std::uint64_t>(body_limit, std::numeric_limits<std::size_t>::max())))
        , capture_(capture) {}

    /// When the body could not be decoded (the read failed with errc::bad_response): why.
    std::string_view decode_error() const { return decode_error_; }

private:
    void on_request_impl(http::verb, beast::string_view, beast::string_view, int,
                         error_code& ec) override {
        ec = http::error::bad_version; // never called for a response parser
    }
    void on_response_impl(int code, beast::string_view, int, error_code&) override {
        r_.status = static_cast<unsigned>(code);
    }
    void on_field_impl(http::field f, beast::string_view name, beast::string_view value,
                       error_code& ec) override {
        capture(name, value, ec);
        // Retry-After is one header the client reads; the first of repeated ones counts.
        if (f == http::field::retry_after && r_.retry_after.empty()) {
            r_.retry_after.assign(value.data(), value.size());
        }
        // Content-Encoding is the other; repeated ones form one list (RFC 9110 §5.3). Within
        // the header limit, as every field.
        if (f == http::field::content_encoding) {
            guarded(ec, [&] {
                if (!content_encoding_.empty()) {
                    content_encoding_ += ',';
                }
                content_encoding_.append(value.data(), value.size());
            });
        }
    }
    void on_header_impl(error_code& ec) override {
        if (content_encoding_.empty()) {
            return;
        }
        // A coding the client can't decode fails the read only if a body byte comes: a 204, a
        // 304 or an empty body has nothing to decode.
        auto coding = parse_content_coding(content_encoding_);
        if (!coding) {
            coding_error_ = coding.error().message;
        } else if (*coding != content_coding::identity) {
            guarded(ec, [&] { decoder_.emplace(*coding, decoded_limit_); });
        }
    }
    void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
        if (length) {
            // Within body_limit by now, but a server's word is no reason to take a large limit
            // up front: beyond 64 KiB the body grows as it arrives.
            r_.body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(*length, 64 * 1024)));
        }
    }
    std::size_t on_body_impl(beast::string_view part, error_code& ec) override {
        return append(part, ec);
    }
    void on_chunk_header_impl(std::uint64_t, beast::string_view, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view part,
                                   error_code& ec) override {
        return append(part, ec);
    }
    void on_finish_impl(error_code& ec) override {
        if (decoder_) {
            if (auto done = decoder_->finish(); !done) {
                fail_decoding(done.error().message, ec);
            }
        }
    }

    // A field the client was told to keep (header_capture::keep).
    void capture(beast::string_view name, beast::string_view value, error_code& ec) {
        guarded(ec, [&] {
            capture_.keep(r_.captured, std::string_view(name.data(), name.size()),
                          std::string_view(value.data(), value.size()));
        });
    }

    // Out of memory fails the read, rather than throwing through Asio's completion handlers.
    template <class F>
    static void guarded(error_code& ec, F f) {
        try {
            f();
        } catch (const std::bad_alloc&) {
            ec = std::make_error_code(std::errc::not_enough_memory);
        }
    }

    std::size_t append(beast::string_view part, error_code& ec) {
        std::size_t taken = 0;
        guarded(ec, [&] {
            fallible_step();
            if (!coding_error_.empty() && !part.empty()) {
                fail_decoding(coding_error_, ec);
            } else if (!decoder_) {
                r_.body.append(part.data(), part.size());
                taken = part.size();
            } else if (auto fed =
                           decoder_->feed(std::string_view(part.data(), part.size()), r_.body)) {
                taken = part.size();
            } else {
                fail_decoding(fed.error().message, ec);
            }
        });
        return taken;
    }

    void fail_decoding(std::string_view why, error_code& ec) {
        decode_error_ = why;
        ec = make_error_code(errc::bad_response);
    }

    http_response& r_;
    const std::size_t decoded_limit_;
    std::string content_encoding_;
    std::string_view coding_error_; // an unknown coding: fails the first body byte
    std::optional<content_decoder> decoder_;
    std::string_view decode_error_;
    const header_capture& capture_;
};

/// The response being read. An interim (1xx) response is a message of its own, so each message
/// gets a new parser, with the same limits.
struct response_reader {
    /// Interim responses skipped before the answer at most: a server may not hold the exchange
    /// with an endless stream of them.
    static constexpr unsigned max_interim = 8;

    response_reader(http_response& into, std::size_t header_limit, std::uint64_t body_limit,
                    const header_capture& capture)
        : response(into)
        // Beast takes a 32-bit limit: a larger one saturates rather than wraps around.
        , header_limit_(static_cast<std::uint32_t>(
              std::min<std::size_t>(header_limit, std::numeric_limits<std::uint32_t>::max())))
        , body_limit_(body_limit)
        , capture_(capture) {
        next();
    }
    response_reader(const response_reader&) = delete;
    response_reader& operator=(const response_reader&) = delete;

    /// After an interim response: ready for the next message. False: too many of them.
    bool skip_interim() {
        if (++interim == max_interim) {
            return false;
        }
        next();
        return true;
    }

    /// Whether the response so far is an interim one that may be skipped; a 101 is not (the
    /// client asked for no upgrade: the connection would no longer speak HTTP).
    bool at_interim() const { return response.status / 100 == 1 && response.status != 101; }

    /// Whether any byte of a response came.
    bool got_some() const { return interim != 0 || parser->got_some(); }

    http_response& response;
    std::optional<response_parser> parser;
    unsigned interim = 0;       // skipped so far
    std::uint64_t received = 0; // bytes of every message, interim ones included

private:
    void next() {
        // Cleared rather than replaced: a retry reuses the body's capacity.
        response.status = 0;
        response.body.clear();
        response.retry_after.clear();
        response.captured.clear();
        parser.emplace(response, body_limit_, capture_);
        parser->header_limit(header_limit_);
        parser->body_limit(body_limit_);
    }

    std::uint32_t header_limit_;
    std::uint64_t body_limit_;
    const header_capture& capture_;
};

// Write, then read until the response is complete, skipping interim responses. A composed
// operation rather than a coroutine, so the steps of an exchange cost one (recycled) allocation
// instead of a coroutine frame each. The stream is chosen at each step; the connection keeps its
// TLS or plain stream for its whole life.
struct exchange_op {
    enum class step { start, written, read };
    connection& c;
    response_reader& in;
    step at = step::start;

    template <class Self>
    void operator()(Self& self, error_code ec = {}, std::size_t n = 0) {
        switch (at) {
        case step::start:
            at = step::written;
            c.with_stream(
                [&](auto& s) { asio::async_write(s, asio::buffer(c.out), std::move(self)); });
            return;
        case step::written:
            if (ec) {
                self.complete(ec, n); // n: how much of the request left
                return;
            }
            at = step::read;
            read(self);
            return;
        case step::read:
            in.received += n;
            if (!ec && in.at_interim() && in.skip_interim()) {
                read(self);
                return;
            }
            self.complete(ec, std::size_t(-1)); // the request left whole
            return;
        }
    }

    template <class Self>
    void read(Self& self) {
        c.with_stream([&](auto& s) { http::async_read(s, c.buffer, *in.parser, std::move(self)); });
    }
};

/// Completes with (error, bytes of the request written when the write failed, else -1).
template <class Token>
auto async_exchange(connection& c, response_reader& in, Token&& token) {
    return asio::async_compose<Token, void(error_code, std::size_t)>(exchange_op{c, in}, token,
                                                                     c.socket());
}

void fallible_step() {
    if (steps_until_failure.load(std::memory_order_relaxed) > 0 &&
        steps_until_failure.fetch_sub(1, std::memory_order_relaxed) == 1) {
        throw std::bad_alloc();
    }
}

void fail_transport_step_for_testing(int n) noexcept {
    steps_until_failure.store(n, std::memory_order_relaxed);
}

void serialize_request(std::string& out, std::string_view fixed, const http_request& req,
                       std::string_view target_prefix) {
    fallible_step();
    char length[24];
    const auto n = std::to_chars(length, length + sizeof length, req.body.size()).ptr - length;
    out.clear();
    out.reserve(target_prefix.size() + req.target.size() + fixed.size() + req.extra_headers.size() +
                req.content_type.size() + req.authorization.size() + req.body.size() + 96);
    out.append("POST ")
        .append(target_prefix)
        .append(req.target)
        .append(" HTTP/1.1\r\n")
        .append(fixed)
        .append(req.extra_headers);
    out.append("Content-Type: ").append(req.content_type).append("\r\n");
    if (!req.authorization.empty()) {
        out.append("Authorization: ").append(req.authorization).append("\r\n");
    }
    out.append("Content-Length: ").append(length, static_cast<std::size_t>(n));
    out.append("\r\n\r\n").append(req.body);
}

// GCC 12 pairs the inlined aligned_alloc inside Asio's frame allocator with the frame's
// operator delete and warns; that delete does release the block through Asio's matching
// aligned_delete.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
asio::awaitable<exchange_result> exchange(connection& c, std::size_t header_limit,
                                          std::uint64_t body_limit, const header_capture& capture,
                                          http_response& into) {
    response_reader in(into, header_limit, body_limit, capture);
    exchange_result r;
    try {
        std::tie(r.ec, r.written) = co_await async_exchange(c, in, asio::as_tuple(asio::deferred));
    } catch (const boost::system::system_error& e) {
        r.ec = e.code(); // cancelled before an operation could start
    }
    r.got_response = in.got_some();
    r.received = in.received;
    if (r.ec == errc::bad_response) {
        r.why = in.parser->decode_error();
    }
    if (!r.ec) {
        r.keep_alive = in.parser->keep_alive() && !in.parser->need_eof();
    }
    co_return r;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

failure connect_failure(error_code ec) {
    if (auto refused = proxy_failure(ec)) {
        return *refused;
    }
    if (ec == errc::timeout) {
        return make_failure(ec, "deadline passed while opening a connection");
    }
    if (ec == boost::system::errc::protocol_not_supported) {
        return make_failure(errc::http_error,
                            "the server did not select HTTP/2 (ALPN), and client_config::http2 "
                            "is required");
    }
    if (ec == errc::invalid_argument) {
        return make_failure(ec, "http:// is only allowed for loopback hosts, and the host name "
                                "resolves to an address that is not loopback (see "
                                "allow_insecure_http)");
    }
    return make_failure(ec);
}

failure map_transport_error(error_code ec, std::string_view why) {
    if (!why.empty()) {
        return make_failure(ec, why);
    }
    if (ec == errc::timeout) {
        return make_failure(errc::timeout, "deadline passed during the HTTP exchange");
    }
    if (ec == http::error::body_limit) {
        return make_failure(errc::bad_response, "response body larger than the limit");
    }
    if (ec == http::error::header_limit) {
        return make_failure(errc::bad_response, "response header larger than the limit");
    }
    if (ec == http::error::buffer_overflow) {
        return make_failure(errc::bad_response,
                            "response line (a chunk size or a trailer) longer than the limit");
    }
    if (ec == http::error::partial_message) {
        return make_failure(errc::bad_response, "response truncated");
    }
    if (ec == http::error::end_of_stream) {
        return make_failure(asio::error::eof, "connection closed before a response");
    }
    if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
        return make_failure(errc::bad_response, "malformed HTTP response");
    }
    return make_failure(ec);
}

} // namespace glue::detail
