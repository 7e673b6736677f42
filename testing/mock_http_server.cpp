// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/mock_http_server.hpp"

#include <glue/webhook.hpp>

#include "testing/mock_answer.hpp"
#include "testing/mock_http2.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

namespace glue::testing::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

// The endpoints take and give plain messages (mock_state.hpp), so that Beast stays in this file.
http_request to_plain(request& req) {
    http_request out{
        std::string(req.method_string()), std::string(req.target()), {}, std::move(req.body())};
    for (const auto& field : req) {
        out.fields.emplace_back(field.name_string(), field.value());
    }
    return out;
}

response to_beast(http_response&& plain) {
    response res{static_cast<http::status>(plain.status), 11};
    for (const auto& [name, value] : plain.fields) {
        res.set(name, value);
    }
    res.body() = std::move(plain.body);
    return res;
}

} // namespace

struct http_server::impl {
    explicit impl(mock_state& s) : state(s) {
        if (state.opts.tls) {
            tls_ctx.emplace(ssl::context::tls_server);
            tls_ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                                 ssl::context::no_sslv3);
            tls_ctx->use_certificate_chain(asio::buffer(state.pki.cert_pem));
            tls_ctx->use_private_key(asio::buffer(state.pki.key_pem), ssl::context::pem);
            SSL_CTX_set_alpn_select_cb(tls_ctx->native_handle(), &select_protocol, this);
        }
        const unsigned n = std::max(1u, state.opts.threads);
        ioc.emplace(static_cast<int>(n));
        tcp::acceptor acceptor(*ioc);
        const tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"), state.opts.port);
        acceptor.open(ep.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(ep);
        acceptor.listen();
        bound_port = acceptor.local_endpoint().port();
        {
            std::lock_guard lock(state.mtx);
            state.start_delivery = [this](webhook_job job) {
                // Posted, not co_spawned here: co_spawn may start the coroutine on this thread
                // right away, and the state's mutex is held.
                asio::post(*ioc, [this, job = std::move(job)] {
                    asio::co_spawn(*ioc, deliver(job), asio::detached);
                });
            };
        }
        asio::co_spawn(*ioc, accept_loop(std::move(acceptor)), asio::detached);
        for (unsigned i = 0; i < n; ++i) {
            threads.emplace_back([this] { ioc->run(); });
        }
    }

    bool stop() {
        std::lock_guard lock(stop_mtx);
        if (!ioc) {
            return false;
        }
        {
            std::lock_guard state_lock(state.mtx);
            state.stopped = true; // no delivery is posted to the io_context from now on
        }
        ioc->stop();
        for (auto& t : threads) {
            t.join();
        }
        threads.clear();
        ioc.reset(); // destroys every session and pending delivery, closing their sockets
        {
            std::lock_guard state_lock(state.mtx);
            state.pending_webhooks = 0; // dropped with the io_context
        }
        return true;
    }

    //--------------------------------------------------------------------------
    // Connections

    asio::awaitable<void> accept_loop(tcp::acceptor acceptor) {
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec) {
                if (ec == asio::error::operation_aborted) {
                    co_return;
                }
                continue;
            }
            {
                std::lock_guard lock(state.mtx);
                ++state.connections_accepted;
                state.max_concurrent = std::max(state.max_concurrent, ++state.concurrent);
            }
            // A strand: an HTTP/2 connection runs several coroutines (reading, writing, one per
            // stream being answered) that share its nghttp2 session.
            auto ex = asio::make_strand(socket.get_executor());
            if (tls_ctx) {
                asio::co_spawn(ex, tls_session(std::move(socket)), asio::detached);
            } else if (state.opts.http2_prior_knowledge) {
                asio::co_spawn(ex, http2_session(beast::tcp_stream(std::move(socket))),
                               asio::detached);
            } else {
                asio::co_spawn(ex, session(beast::tcp_stream(std::move(socket))), asio::detached);
            }
        }
    }

    asio::awaitable<void> tls_session(tcp::socket socket) {
        ssl::stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls_ctx);
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
        auto [ec] = co_await stream.async_handshake(ssl::stream_base::server,
                                                    asio::as_tuple(asio::use_awaitable));
        if (ec) {
            closed();
            co_return;
        }
        const unsigned char* protocol = nullptr;
        unsigned int length = 0;
        SSL_get0_alpn_selected(stream.native_handle(), &protocol, &length);
        const bool h2 = std::string_view(reinterpret_cast<const char*>(protocol), length) == "h2";
        {
            std::lock_guard lock(state.mtx);
            ++state.handshakes;
            ++(h2 ? state.h2.tls_handshakes_h2 : state.h2.tls_handshakes_http1);
        }
        if (h2) {
            co_await http2_session(std::move(stream));
        } else {
            co_await session(std::move(stream));
        }
    }

    template <class Stream>
    asio::awaitable<void> http2_session(Stream stream) {
        co_await serve_http2(state, std::move(stream));
        closed();
    }

    // ALPN (RFC 7301), the server's choice: "h2" when HTTP/2 is on and the client offers it,
    // else "http/1.1" when offered; a client offering neither goes on without ALPN (and gets
    // HTTP/1.1), as common servers do. `self` is the impl.
    static int select_protocol(SSL*, const unsigned char** out, unsigned char* outlen,
                               const unsigned char* in, unsigned int inlen, void* self) {
        const bool http2 = static_cast<const impl*>(self)->state.opts.http2;
        std::optional<std::string_view> chosen;
        for (unsigned int at = 0; at < inlen;) {
            const unsigned int n = in[at];
            if (n == 0 || at + 1 + n > inlen) {
                break; // a malformed list: take nothing more from it
            }
            const std::string_view name(reinterpret_cast<const char*>(in + at + 1), n);
            if (name == "h2" && http2) {
                chosen = name;
                break;
            }
            if (name == "http/1.1") {
                chosen = name;
            }
            at += 1 + n;
        }
        if (!chosen) {
            return SSL_TLSEXT_ERR_NOACK;
        }
        *out = reinterpret_cast<const unsigned char*>(chosen->data());
        *outlen = static_cast<unsigned char>(chosen->size());
        return SSL_TLSEXT_ERR_OK;
    }

    template <class Stream>
    asio::awaitable<void> session(Stream stream) {
        beast::flat_buffer buffer;
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(max_request_body);
            parser.header_limit(max_request_header);
            auto& tcp_layer = beast::get_lowest_layer(stream);
            if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
                if (!co_await next_request_in_time(stream, buffer)) {
                    break;
                }
            }
            if (state.opts.idle_timeout.count() > 0) {
                tcp_layer.expires_after(state.opts.idle_timeout);
            } else {
                tcp_layer.expires_never();
            }
            auto [ec, n] = co_await http::async_read(stream, buffer, parser,
                                                     asio::as_tuple(asio::use_awaitable));
            if (ec) {
                break;
            }
            tcp_layer.expires_after(std::chrono::seconds(30));
            request req = parser.release();
            http_request plain = to_plain(req);
            prepared_answer answered = co_await answer(state, std::move(plain));
            const std::optional<fault> f = std::move(answered.f);
            response res = to_beast(std::move(answered.res));
            if (f && f->what != fault::kind::none) {
                if (co_await misbehave(stream, *f, res, req.keep_alive())) {
                    continue; // a well-formed answer after all: the connection lives on
                }
                break;
            }
            res.keep_alive(req.keep_alive());
            res.prepare_payload();
            auto [wec, wn] =
                co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
            if (wec || !res.keep_alive()) {
                break;
            }
        }
        error_code ignored;
        beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
        closed();
    }

    // Waits up to idle_timeout for the next request on a TLS connection. One that sat idle is
    // closed as TLS servers close it: close_notify, then FIN (without waiting for the client's
    // close_notify). False: closed.
    template <class Stream>
    asio::awaitable<bool> next_request_in_time(Stream& stream, const beast::flat_buffer& buffer) {
        using namespace asio::experimental::awaitable_operators;
        // The request may have come with the handshake or the previous one, already read from
        // the socket into OpenSSL's buffers.
        SSL* ssl = stream.native_handle();
        if (state.opts.idle_timeout.count() <= 0 || buffer.size() != 0 || SSL_has_pending(ssl) ||
            BIO_ctrl_pending(SSL_get_rbio(ssl)) != 0) {
            co_return true;
        }
        auto& tcp_layer = beast::get_lowest_layer(stream);
        asio::steady_timer idle(co_await asio::this_coro::executor, state.opts.idle_timeout);
        auto first = co_await (tcp_layer.socket().async_wait(tcp::socket::wait_read,
                                                             asio::as_tuple(asio::use_awaitable)) ||
                               idle.async_wait(asio::as_tuple(asio::use_awaitable)));
        if (first.index() == 0) {
            co_return true; // the request's first bytes, or an error its read will see
        }
        SSL_set_shutdown(ssl, SSL_RECEIVED_SHUTDOWN);
        tcp_layer.expires_after(std::chrono::seconds(1));
        co_await stream.async_shutdown(asio::as_tuple(asio::use_awaitable));
        co_return false;
    }

    // The status line and fields of `res`, without the blank line that ends the header.
    static std::string head_of(const response& res) {
        std::string head = "HTTP/1.1 " + std::to_string(res.result_int()) + " " +
                           std::string(res.reason()) + "\r\n";
        for (const auto& field : res) {
            head.append(field.name_string()).append(": ").append(field.value()).append("\r\n");
        }
        return head;
    }

    // Answers as `f` says instead of with `res`, the normal answer. True when the answer was
    // complete and well-formed and the connection may carry the next request.
    template <class Stream>
    asio::awaitable<bool> misbehave(Stream& stream, const fault& f, const response& res,
                                    bool keep_alive) {
        auto send = [&stream](std::string data) -> asio::awaitable<error_code> {
            auto [ec, n] = co_await asio::async_write(stream, asio::buffer(data),
                                                      asio::as_tuple(asio::use_awaitable));
            co_return ec;
        };
        auto pause = [](std::chrono::milliseconds d) -> asio::awaitable<void> {
            asio::steady_timer timer(co_await asio::this_coro::executor, d);
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        };
        auto& socket = beast::get_lowest_layer(stream).socket();
        error_code ignored;
        const std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n";
        switch (f.what) {
        case fault::kind::malformed_json:
            co_await send(head + "Content-Length: " + std::to_string(malformed_json_body.size()) +
                          "\r\nConnection: close\r\n\r\n" + std::string(malformed_json_body));
            break;
        case fault::kind::truncated_body:
            co_await send(head + "Content-Length: " + std::to_string(truncated_body_length) +
                          "\r\n\r\n" + std::string(truncated_body_part));
            break;
        case fault::kind::close_after_headers:
            co_await send(head + "Content-Length: " + std::to_string(close_after_headers_length) +
                          "\r\n\r\n");
            break;
        case fault::kind::stall_after_headers: {
            if (co_await send(head_of(res) + "Content-Length: " +
                              std::to_string(res.body().size()) + "\r\n\r\n")) {
                break;
            }
            // Nothing more: read (and drop) until the client closes, or the session's 30 s pass.
            std::array<char, 1024> sink;
            for (;;) {
                auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink),
                                                               asio::as_tuple(asio::use_awaitable));
                if (ec) {
                    break;
                }
            }
            break;
        }
        case fault::kind::oversized_body: {
            if (co_await send(head + "Content-Length: " + std::to_string(f.oversized_bytes) +
                              "\r\n\r\n")) {
                break;
            }
            const std::string chunk(64 * 1024, ' ');
            for (std::size_t sent = 0; sent < f.oversized_bytes; sent += chunk.size()) {
                if (co_await send(chunk)) {
                    break; // the client stopped reading, as it should
                }
            }
            break;
        }
        case fault::kind::oversized_headers: {
            if (co_await send(head_of(res))) {
                break;
            }
            // Filler fields of 1,000 bytes each, 64 fields to a write.
            std::string block;
            for (std::size_t i = 0; i < 64; ++i) {
                const auto [name, value] = filler_field(i);
                block += name + ": " + value + "\r\n";
            }
            bool failed = false;
            for (std::size_t sent = 0; sent < f.oversized_bytes && !failed; sent += block.size()) {
                failed = static_cast<bool>(co_await send(block)); // the client gave up
            }
            if (!failed) { // then the normal answer's body
                co_await send("Content-Length: " + std::to_string(res.body().size()) +
                              "\r\nConnection: close\r\n\r\n" + res.body());
            }
            break;
        }
        case fault::kind::reset_mid_body: {
            const std::string& body = res.body();
            const std::string part = body.substr(0, body.size() / 2);
            if (co_await send(head_of(res) + "Content-Length: " + std::to_string(body.size()) +
                              "\r\n\r\n" + part)) {
                break;
            }
            co_await pause(f.write_interval); // so the client has read what came
            // An abortive close: the peer gets a RST, not a FIN.
            socket.set_option(tcp::socket::linger(true, 0), ignored);
            socket.close(ignored);
            break;
        }
        case fault::kind::chunked: {
            socket.set_option(tcp::no_delay(true), ignored); // each write its own segment
            if (co_await send(head_of(res) + "Transfer-Encoding: chunked\r\n" +
                              (keep_alive ? "" : "Connection: close\r\n") + "\r\n")) {
                co_return false;
            }
            // Three chunks (the first with an extension), each size line, first half and
            // second half written apart; then the last chunk in two writes.
            const std::string& body = res.body();
            const std::size_t piece = std::max<std::size_t>(1, (body.size() + 2) / 3);
            for (std::size_t at = 0; at < body.size(); at += piece) {
                const std::string data = body.substr(at, piece);
                char size[20];
                std::snprintf(size, sizeof size, "%zx", data.size());
                const std::string line = std::string(size) + (at == 0 ? ";glue=mock" : "") + "\r\n";
                const std::array<std::string, 3> parts = {line, data.substr(0, data.size() / 2),
                                                          data.substr(data.size() / 2) + "\r\n"};
                for (const auto& part : parts) {
                    co_await pause(f.write_interval);
                    if (co_await send(part)) {
                        co_return false;
                    }
                }
            }
            co_await pause(f.write_interval);
            if (co_await send("0\r\n")) {
                co_return false;
            }
            co_await pause(f.write_interval);
            co_return !co_await send("\r\n") && keep_alive;
        }
        case fault::kind::slow_body: {
            const std::string& body = res.body();
            if (co_await send(head_of(res) + "Content-Length: " + std::to_string(body.size()) +
                              "\r\nConnection: close\r\n\r\n")) {
                break;
            }
            socket.set_option(tcp::no_delay(true), ignored);
            for (char c : body) {
                co_await pause(f.write_interval);
                if (co_await send(std::string(1, c))) {
                    break; // the client gave up
                }
            }
            break;
        }
        case fault::kind::close_without_response:
        case fault::kind::close_after_processing:
        case fault::kind::none:
            break;
        }
        co_return false;
    }

    void closed() {
        std::lock_guard lock(state.mtx);
        --state.concurrent;
    }

    //--------------------------------------------------------------------------
    // Webhooks

    // Attempts, then retries after each of the configured delays until one answers 200.
    asio::awaitable<void> deliver(webhook_job job) {
        for (unsigned attempt = 1;; ++attempt) {
            const auto sent_at = std::chrono::steady_clock::now();
            const int status = co_await post_webhook(job.to, job.body);
            bool done = false;
            {
                std::lock_guard lock(state.mtx);
                state.deliveries.push_back(
                    {job.type, job.workspace, job.body, job.copy, attempt, status, sent_at});
                done = status == 200 || attempt > state.opts.webhook_retry_delays.size();
                if (done) {
                    --state.pending_webhooks;
                }
            }
            if (done) {
                co_return;
            }
            asio::steady_timer timer(co_await asio::this_coro::executor,
                                     state.opts.webhook_retry_delays[attempt - 1]);
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }
    }

    // One attempt: the status answered, or 0 when there was no answer in time.
    asio::awaitable<int> post_webhook(const webhook_target& to, const std::string& body) {
        beast::tcp_stream stream(co_await asio::this_coro::executor);
        stream.expires_after(state.opts.webhook_timeout);
        auto [cec] = co_await stream.async_connect(
            tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), to.port),
            asio::as_tuple(asio::use_awaitable));
        if (cec) {
            co_return 0;
        }
        request req{http::verb::post, to.target, 11};
        req.set(http::field::host, to.host);
        req.set(http::field::user_agent, "Glue-Mock-Webhooks");
        req.set(http::field::content_type, "application/json");
        req.set(glue::webhook::signature_field,
                glue::webhook::sign(body, state.opts.webhook_secret));
        req.keep_alive(false);
        req.body() = body;
        req.prepare_payload();
        auto [wec, wn] =
            co_await http::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
        if (wec) {
            co_return 0;
        }
        beast::flat_buffer buffer;
        response res;
        auto [rec, rn] =
            co_await http::async_read(stream, buffer, res, asio::as_tuple(asio::use_awaitable));
        if (rec) {
            co_return 0;
        }
        error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        co_return res.result_int();
    }
    //--------------------------------------------------------------------------

    mock_state& state;
    std::optional<ssl::context> tls_ctx;
    std::uint16_t bound_port = 0;

    // Declared last: destroyed first, so sessions never outlive what they use.
    std::mutex stop_mtx;
    std::vector<std::thread> threads;
    std::optional<asio::io_context> ioc;
};

http_server::http_server(mock_state& state) : impl_(std::make_unique<impl>(state)) {}

http_server::~http_server() {
    impl_->stop();
}

std::uint16_t http_server::port() const {
    return impl_->bound_port;
}

bool http_server::stop() {
    return impl_->stop();
}

} // namespace glue::testing::detail
