// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/oauth.hpp>
#include <glue/testing/mock_server.hpp>
#include <glue/webhook.hpp>

#include "protocol/protocol.hpp"
#include "testing/graphql_executor.hpp"
#include "testing/test_pki.hpp"

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
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <ranges>
#include <set>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include <unistd.h>

namespace glue::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using detail::execute_graphql;
using detail::operation_type;
using detail::resolved;

namespace {

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

constexpr std::string_view base62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

response json_response(unsigned status, std::string body) {
    response res{static_cast<http::status>(status), 11};
    res.set(http::field::content_type, "application/json");
    res.body() = std::move(body);
    return res;
}

std::string oauth_error_body(std::string_view error, std::string_view description) {
    json::object o;
    o["error"] = error;
    o["error_description"] = description;
    return json::serialize(o);
}

// The page a browser shows when the authorize request can't be redirected anywhere safe.
response text_response(unsigned status, std::string body) {
    response res{static_cast<http::status>(status), 11};
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = std::move(body);
    return res;
}

std::string graphql_error_body(std::string_view message) {
    json::object e;
    e["message"] = message;
    json::object o;
    o["errors"] = json::array{std::move(e)};
    return json::serialize(o);
}

// How connections page: the server's limits and the repeated-cursor knob.
struct paging {
    std::size_t max_page_size = 100;
    bool repeat_cursor = false;
};

// Cursors name an item by id, so one stays valid when the order changes (threads by last
// message); hex keeps them opaque to clients that would parse them. The empty id is the place
// before the first item: the only cursor an empty connection can repeat.
std::string encode_cursor(std::string_view id) {
    constexpr std::string_view digits = "0123456789abcdef";
    std::string out;
    for (const unsigned char c : "cursor:" + std::string(id)) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::optional<std::string> decode_cursor(std::string_view cursor) {
    const auto nibble = [](char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    if (cursor.size() % 2 != 0) {
        return std::nullopt;
    }
    std::string text;
    for (std::size_t i = 0; i < cursor.size(); i += 2) {
        const int hi = nibble(cursor[i]), lo = nibble(cursor[i + 1]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        text += static_cast<char>(hi * 16 + lo);
    }
    if (!text.starts_with("cursor:")) {
        return std::nullopt;
    }
    return text.substr(7);
}

// A Relay connection over `items` (objects with an "id"), per the Cursor Connections spec's
// pagination algorithm: after/before narrow the list, then first and last cut the page.
resolved connection(const json::array& items, std::string_view type, const json::object& args,
                    const paging& rules) {
    std::string error;
    const auto count = [&](std::string_view name) -> std::optional<std::size_t> {
        const json::value* v = args.if_contains(name);
        if (!v || v->is_null() || !error.empty()) {
            return std::nullopt;
        }
        if (!v->is_int64() || v->get_int64() < 0) {
            error = "Argument \"" + std::string(name) + "\" must be a non-negative Int.";
            return std::nullopt;
        }
        const auto n = static_cast<std::uint64_t>(v->get_int64());
        if (n > rules.max_page_size) {
            error = "Argument \"" + std::string(name) + "\" is " + std::to_string(n) +
                    ", above the maximum page size of " + std::to_string(rules.max_page_size) + ".";
            return std::nullopt;
        }
        return static_cast<std::size_t>(n);
    };
    // The boundary a cursor stands for: the number of items up to and including its item.
    const auto boundary = [&](std::string_view name) -> std::optional<std::size_t> {
        const json::value* v = args.if_contains(name);
        if (!v || v->is_null() || !error.empty()) {
            return std::nullopt;
        }
        if (const auto id = v->is_string() ? decode_cursor(v->get_string()) : std::nullopt) {
            if (id->empty()) {
                return 0;
            }
            for (std::size_t i = 0; i < items.size(); ++i) {
                if (items[i].at("id").as_string() == *id) {
                    return i + 1;
                }
            }
        }
        error = "Argument \"" + std::string(name) + "\" is not a valid cursor.";
        return std::nullopt;
    };
    auto first = count("first");
    const auto last = count("last");
    const auto after = boundary("after");
    const auto before = boundary("before");
    if (!error.empty()) {
        return {nullptr, error};
    }
    const std::size_t lo = after.value_or(0);
    // `before` excludes its own item.
    const std::size_t hi =
        std::max(lo, before ? *before - std::min<std::size_t>(*before, 1) : items.size());
    if (!first && !last) {
        first = std::min<std::size_t>(50, rules.max_page_size);
    }
    std::size_t start = lo, end = hi;
    if (first) {
        end = std::min(end, start + *first);
    }
    if (last) {
        start = end - std::min(*last, end - start);
    }
    const auto cursor_of = [&](std::size_t i) {
        return encode_cursor(items[i].at("id").as_string());
    };
    json::array nodes, edges;
    for (std::size_t i = start; i < end; ++i) {
        nodes.push_back(items[i]);
        edges.push_back(json::object{{"__typename", std::string(type) + "Edge"},
                                     {"cursor", cursor_of(i)},
                                     {"node", items[i]}});
    }
    // Where the spec leaves the answer to the server ("may"), the mock tells the truth.
    const std::size_t window = hi - lo;
    json::object page{{"__typename", "PageInfo"},
                      {"hasNextPage", first ? window > *first : end < items.size()},
                      {"hasPreviousPage", last ? window > *last : start > 0},
                      {"startCursor", nullptr},
                      {"endCursor", nullptr}};
    if (end > start) {
        page["startCursor"] = cursor_of(start);
        page["endCursor"] = cursor_of(end - 1);
    }
    if (rules.repeat_cursor) {
        // Stuck: every page claims more, and points back at the first page's cursors.
        const std::size_t size = std::min(first ? *first : *last, items.size());
        page["hasNextPage"] = true;
        page["hasPreviousPage"] = true;
        page["endCursor"] = size == 0 ? encode_cursor("") : cursor_of(size - 1);
        page["startCursor"] = size == 0 ? encode_cursor("") : cursor_of(items.size() - size);
    }
    return {json::object{{"__typename", std::string(type) + "Connection"},
                         {"nodes", std::move(nodes)},
                         {"edges", std::move(edges)},
                         {"pageInfo", std::move(page)}},
            {}};
}

// An S256 code challenge (RFC 7636 §4.2): 43 base64url characters.
bool is_s256_challenge(std::string_view s) {
    return s.size() == 43 && glue::detail::is_code_verifier(s) && s.find_first_of(".~") == s.npos;
}

// Where webhooks go: tests receive them on the loopback interface, over plain HTTP.
struct webhook_target {
    tcp::endpoint endpoint;
    std::string host;   // the Host header
    std::string target; // path and query
};

std::optional<webhook_target> parse_webhook_url(const std::string& url) {
    if (url.empty()) {
        return std::nullopt;
    }
    const auto u = boost::urls::parse_uri(url); // a std::string: NUL-terminated, as 1.81 wants
    if (!u || u->scheme_id() != boost::urls::scheme::http ||
        u->host_type() != boost::urls::host_type::ipv4 || u->host_address() != "127.0.0.1" ||
        u->port_number() == 0 || u->has_userinfo() || u->has_fragment()) {
        throw std::invalid_argument("mock_server: the webhook URL must be "
                                    "http://127.0.0.1:<port>/<path>, not " +
                                    url);
    }
    webhook_target t;
    t.endpoint = {asio::ip::make_address_v4("127.0.0.1"), u->port_number()};
    t.host = "127.0.0.1:" + std::to_string(u->port_number());
    t.target = u->encoded_target();
    if (!t.target.starts_with('/')) {
        t.target.insert(0, "/");
    }
    return t;
}

// Webhook payloads mirror the GraphQL entities, without GraphQL's __typename.
json::value without_typename(json::value v) {
    if (auto* o = v.if_object()) {
        o->erase("__typename");
        for (auto& member : *o) {
            member.value() = without_typename(std::move(member.value()));
        }
    }
    return v;
}

// ISO 8601 in UTC with milliseconds, the form GraphQL APIs commonly use for DateTime.
std::string iso8601(std::chrono::system_clock::time_point t) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
    const std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char text[40];
    const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(ms.count() % 1000));
    return text;
}

} // namespace

struct mock_server::impl {
    struct issued_token {
        std::string workspace;
        std::chrono::steady_clock::time_point expires_at;
        std::uint64_t generation; // the workspace's revocation generation when issued
        std::uint64_t grant = 0;  // the authorization it comes from; 0: client credentials
    };

    // An authorization code and what GET /oauth/authorize bound it to.
    struct code_record {
        std::string client_id, redirect_uri, challenge, workspace;
        std::vector<std::string> scopes;
        std::chrono::steady_clock::time_point expires_at;
        std::uint64_t grant = 0; // non-zero once exchanged: the grant its tokens belong to
    };

    struct refresh_record {
        std::string client_id, workspace;
        std::vector<std::string> scopes;
        std::uint64_t grant;
    };

    struct message_record {
        std::string id, text, thread_id, user_id;
        std::chrono::system_clock::time_point created_at;
    };

    struct thread_record {
        std::string id, subject;
        bool chat = false; // a persistent chat (threadType chat) rather than a subject thread
        std::chrono::system_clock::time_point created_at;
        std::uint64_t last_message = 0; // the workspace's clock at its latest message
    };

    // What sendMessage changes in a workspace, and its seeded threads.
    struct workspace_state {
        std::vector<thread_record> threads;                     // in creation order
        std::unordered_map<std::string, std::size_t> thread_at; // id -> index in threads
        std::unordered_map<std::string, message_record> messages;
        std::vector<std::string> message_order; // ids, in creation order
        // Upsert keys (threadBy, uniqueBy) and recipient sets (a chat each) -> ids.
        std::unordered_map<std::string, std::string> thread_by, unique_by, chats;
        // Orders last messages: timestamps of quick successive sends can tie.
        std::uint64_t clock = 0;
    };

    struct fault_slot {
        std::optional<fault> f;
    };

    explicit impl(mock_server_options o)
        : opts(std::move(o))
        , rng(std::random_device{}())
        , hook(parse_webhook_url(opts.webhook_url)) {
        token_lifetime = opts.token_lifetime;
        installed.insert(opts.workspaces.begin(), opts.workspaces.end());
        if (opts.tls) {
            detail::test_pki_options p;
            p.hosts = opts.tls_hosts;
            p.expired = opts.tls_expired;
            pki = detail::make_test_pki(p);
            tls_ctx.emplace(ssl::context::tls_server);
            tls_ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                                 ssl::context::no_sslv3);
            tls_ctx->use_certificate_chain(asio::buffer(pki.cert_pem));
            tls_ctx->use_private_key(asio::buffer(pki.key_pem), ssl::context::pem);
        }
        ioc.emplace(static_cast<int>(std::max(1u, opts.threads)));
        tcp::acceptor acceptor(*ioc);
        const tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"), opts.port);
        acceptor.open(ep.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(ep);
        acceptor.listen();
        bound_port = acceptor.local_endpoint().port();
        asio::co_spawn(*ioc, accept_loop(std::move(acceptor)), asio::detached);
        for (unsigned i = 0; i < std::max(1u, opts.threads); ++i) {
            threads.emplace_back([this] { ioc->run(); });
        }
    }

    ~impl() { stop(); }

    void stop() {
        std::lock_guard lock(stop_mtx);
        if (!ioc) {
            return;
        }
        {
            std::lock_guard state_lock(mtx);
            stopped = true; // no delivery is posted to the io_context from now on
        }
        ioc->stop();
        for (auto& t : threads) {
            t.join();
        }
        threads.clear();
        ioc.reset(); // destroys every session and pending delivery, closing their sockets
        {
            std::lock_guard state_lock(mtx);
            pending_webhooks = 0; // dropped with the io_context
        }
        if (!ca_path.empty()) {
            std::remove(ca_path.c_str());
            ca_path.clear();
        }
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
                std::lock_guard lock(mtx);
                ++connections_accepted;
                max_concurrent = std::max(max_concurrent, ++concurrent);
            }
            auto ex = socket.get_executor();
            if (tls_ctx) {
                asio::co_spawn(ex, tls_session(std::move(socket)), asio::detached);
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
        {
            std::lock_guard lock(mtx);
            ++handshakes;
        }
        co_await session(std::move(stream));
    }

    template <class Stream>
    asio::awaitable<void> session(Stream stream) {
        beast::flat_buffer buffer;
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(16 * 1024 * 1024);
            auto& tcp_layer = beast::get_lowest_layer(stream);
            if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
                if (!co_await next_request_in_time(stream, buffer)) {
                    break;
                }
            }
            if (opts.idle_timeout.count() > 0) {
                tcp_layer.expires_after(opts.idle_timeout);
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
            // Token requests being answered right now, delays included.
            struct in_progress {
                impl* self;
                bool token;
                in_progress(impl* s, bool t) : self(s), token(t) {
                    if (token) {
                        std::lock_guard lock(self->mtx);
                        self->max_token_concurrency =
                            std::max(self->max_token_concurrency, ++self->token_concurrency);
                    }
                }
                ~in_progress() {
                    if (token) {
                        std::lock_guard lock(self->mtx);
                        --self->token_concurrency;
                    }
                }
            } counted(this, req.target() == "/oauth/token");
            auto [res, f] = handle(req);
            if (f && f->delay.count() > 0) {
                asio::steady_timer timer(co_await asio::this_coro::executor, f->delay);
                co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
            }
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
        if (opts.idle_timeout.count() <= 0 || buffer.size() != 0 || SSL_has_pending(ssl) ||
            BIO_ctrl_pending(SSL_get_rbio(ssl)) != 0) {
            co_return true;
        }
        auto& tcp_layer = beast::get_lowest_layer(stream);
        asio::steady_timer idle(co_await asio::this_coro::executor, opts.idle_timeout);
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
        case fault::kind::malformed_json: {
            const std::string body = R"({"data": {"me": {"id": "usr_1")";
            co_await send(head + "Content-Length: " + std::to_string(body.size()) +
                          "\r\nConnection: close\r\n\r\n" + body);
            break;
        }
        case fault::kind::truncated_body:
            co_await send(head + "Content-Length: 1000\r\n\r\n" + R"({"data": {"me":)");
            break;
        case fault::kind::close_after_headers:
            co_await send(head + "Content-Length: 100\r\n\r\n");
            break;
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
            for (int i = 0; i < 64; ++i) {
                block += "X-Filler-" + std::to_string(i) + ": " + std::string(984, 'f') + "\r\n";
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
        std::lock_guard lock(mtx);
        --concurrent;
    }

    //--------------------------------------------------------------------------
    // Requests

    std::pair<response, std::optional<fault>> handle(const request& req) {
        const std::string_view target = req.target();
        {
            std::lock_guard lock(mtx);
            ++requests_total;
        }
        for (auto e : {endpoint::token, endpoint::graphql}) {
            if (req.method() == http::verb::post &&
                target == (e == endpoint::token ? "/oauth/token" : "/public/graphql")) {
                auto f = take_fault(e, req);
                auto res = faulty(f, e);
                if (!res && f && f->what == fault::kind::close_without_response) {
                    // Never sent: the request must leave no trace beyond being counted.
                    res = json_response(500, {});
                }
                if (!res) {
                    res = e == endpoint::token ? handle_token(req) : handle_graphql(req);
                }
                if (e == endpoint::graphql && res->result_int() == 401) {
                    std::lock_guard lock(mtx);
                    ++unauthorized_total;
                }
                return {std::move(*res), f};
            }
        }
        if (req.method() == http::verb::get &&
            target.substr(0, target.find('?')) == "/oauth/authorize") {
            return {handle_authorize(target), std::nullopt};
        }
        return {json_response(404, graphql_error_body("not found")), std::nullopt};
    }

    // Counts and records the request, and takes the endpoint's fault if one applies.
    std::optional<fault> take_fault(endpoint e, const request& req) {
        std::lock_guard lock(mtx);
        ++(e == endpoint::token ? token_requests_total : graphql_requests_total);
        auto& last = last_requests[static_cast<int>(e)];
        last.method = req.method_string();
        last.target = req.target();
        last.headers.clear();
        for (const auto& field : req) {
            std::string name(field.name_string());
            std::transform(name.begin(), name.end(), name.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            last.headers[name] = field.value();
        }
        last.body = req.body();
        auto& slot = faults[static_cast<int>(e)];
        if (!slot || slot->times == 0) {
            return std::nullopt;
        }
        fault f = *slot;
        if (slot->times > 0) {
            --slot->times;
        }
        return f;
    }

    // The answer a status fault stands for (a normal answer otherwise).
    static std::optional<response> faulty(const std::optional<fault>& f, endpoint e) {
        if (!f || f->what != fault::kind::none || f->status == 0) {
            return std::nullopt;
        }
        std::string body = f->body;
        if (body.empty()) {
            body = e == endpoint::token ? oauth_error_body("temporarily_unavailable", "fault")
                                        : graphql_error_body("fault");
        }
        response res = json_response(static_cast<unsigned>(f->status), std::move(body));
        if (!f->retry_after.empty()) {
            res.set(http::field::retry_after, f->retry_after);
        }
        return res;
    }

    static response oauth_error(unsigned status, std::string_view error,
                                std::string_view description) {
        response res = json_response(status, oauth_error_body(error, description));
        res.set(http::field::cache_control, "no-store");
        return res;
    }

    // RFC 6749 §5.1: tokens must not be cached on the way.
    static response token_response(const json::object& body) {
        response res = json_response(200, json::serialize(body));
        res.set(http::field::cache_control, "no-store");
        res.set(http::field::pragma, "no-cache");
        return res;
    }

    using form_map = std::map<std::string, std::string>;

    response handle_token(const request& req) {
        if (req[http::field::content_type].find("application/x-www-form-urlencoded") ==
            std::string_view::npos) {
            return oauth_error(400, "invalid_request",
                               "Content-Type must be application/x-www-form-urlencoded");
        }
        auto fields = glue::detail::form_decode(req.body());
        if (!fields) {
            return oauth_error(400, "invalid_request", "malformed form body");
        }
        form_map form(fields->begin(), fields->end());
        const std::string grant_type = form["grant_type"];
        if (grant_type != "client_credentials" && grant_type != "authorization_code" &&
            grant_type != "refresh_token") {
            return oauth_error(400, "unsupported_grant_type",
                               "supported: client_credentials, authorization_code, refresh_token");
        }
        if (form["client_id"] != opts.client_id || form["client_secret"] != opts.client_secret) {
            response res = oauth_error(401, "invalid_client", "client authentication failed");
            res.set(http::field::www_authenticate, R"(Basic realm="glue")");
            return res;
        }
        if (grant_type == "authorization_code") {
            return code_grant(form);
        }
        if (grant_type == "refresh_token") {
            return refresh_grant(form);
        }
        return client_credentials_grant(form);
    }

    response client_credentials_grant(form_map& form) {
        const auto& uris = opts.redirect_uris;
        if (std::find(uris.begin(), uris.end(), form["redirect_uri"]) == uris.end()) {
            return oauth_error(400, "invalid_request", "redirect_uri is not registered");
        }
        const std::string& ws = form["subject"];
        if (ws.empty()) {
            return oauth_error(400, "invalid_request", "subject is required");
        }
        std::lock_guard lock(mtx);
        ++token_requests_by_workspace[ws];
        if (!is_installed_locked(ws)) {
            return oauth_error(400, "invalid_grant", "the app is not installed in this workspace");
        }
        return token_response(json::object{{"user_id", app_user_id(ws)},
                                           {"access_token", access_token_locked(ws, 0)},
                                           {"token_type", "Bearer"},
                                           {"expires_in", expires_in_locked()}});
    }

    // RFC 6749 §4.1.3 and RFC 7636 §4.6.
    response code_grant(form_map& form) {
        std::lock_guard lock(mtx);
        auto it = codes.find(form["code"]);
        if (it == codes.end() || it->second.client_id != form["client_id"]) {
            return oauth_error(400, "invalid_grant", "unknown authorization code");
        }
        code_record& code = it->second;
        ++token_requests_by_workspace[code.workspace];
        if (code.grant != 0) {
            // §4.1.2: a code used twice may have been stolen; what it gave is taken back.
            revoked_grants.insert(code.grant);
            return oauth_error(400, "invalid_grant", "the authorization code was already used");
        }
        if (std::chrono::steady_clock::now() >= code.expires_at) {
            return oauth_error(400, "invalid_grant", "the authorization code has expired");
        }
        if (form["redirect_uri"] != code.redirect_uri) {
            return oauth_error(400, "invalid_grant",
                               "redirect_uri differs from the authorization request's");
        }
        if (const auto verifier = form.find("code_verifier"); code.challenge.empty()) {
            if (verifier != form.end()) {
                return oauth_error(400, "invalid_grant",
                                   "code_verifier sent, but the authorization had no challenge");
            }
        } else if (verifier == form.end() || !glue::detail::is_code_verifier(verifier->second) ||
                   glue::oauth::pkce_challenge(verifier->second) != code.challenge) {
            return oauth_error(400, "invalid_grant", "code_verifier does not match the challenge");
        }
        if (!is_installed_locked(code.workspace)) {
            return oauth_error(400, "invalid_grant", "the app is not installed in this workspace");
        }
        code.grant = ++last_grant;
        return token_response(
            user_tokens_locked(code.client_id, code.workspace, code.scopes, code.grant));
    }

    // RFC 6749 §6, with rotation: each refresh token works once.
    response refresh_grant(form_map& form) {
        std::lock_guard lock(mtx);
        auto it = refresh_tokens.find(form["refresh_token"]);
        if (it == refresh_tokens.end() || it->second.client_id != form["client_id"] ||
            revoked_grants.contains(it->second.grant)) {
            return oauth_error(400, "invalid_grant", "unknown, used or revoked refresh token");
        }
        const refresh_record used = std::move(it->second);
        refresh_tokens.erase(it);
        ++token_requests_by_workspace[used.workspace];
        if (!is_installed_locked(used.workspace)) {
            return oauth_error(400, "invalid_grant", "the app is not installed in this workspace");
        }
        return token_response(
            user_tokens_locked(used.client_id, used.workspace, used.scopes, used.grant));
    }

    bool is_installed_locked(const std::string& ws) const {
        return installed.contains(ws) ||
               (opts.any_workspace && ws.starts_with("wks_") && !uninstalled.contains(ws));
    }

    // A new access token for the workspace, as valid on GraphQL as any other.
    std::string access_token_locked(const std::string& ws, std::uint64_t grant) {
        std::string token = "glue_at_" + random_id_locked(32);
        tokens[token] = {ws, std::chrono::steady_clock::now() + token_lifetime, generation[ws],
                         grant};
        return token;
    }

    json::value expires_in_locked() const {
        return raw_expires_in.is_null() ? json::value(token_lifetime.count()) : raw_expires_in;
    }

    // The answer to an authorization_code or refresh_token grant: an access token and the
    // refresh token that replaces the one used, if any.
    json::object user_tokens_locked(const std::string& client, const std::string& ws,
                                    const std::vector<std::string>& scopes, std::uint64_t grant) {
        std::string refresh = "glue_rt_" + random_id_locked(40);
        refresh_tokens[refresh] = {client, ws, scopes, grant};
        json::value scope;
        if (opts.scope_as_array) {
            scope = json::array(scopes.begin(), scopes.end());
        } else {
            std::string joined;
            for (const auto& one : scopes) {
                joined += (joined.empty() ? "" : " ") + one;
            }
            scope = std::move(joined);
        }
        return json::object{{"access_token", access_token_locked(ws, grant)},
                            {"token_type", "Bearer"},
                            {"expires_in", expires_in_locked()},
                            {"scope", std::move(scope)},
                            {"refresh_token", std::move(refresh)},
                            {"user_id", app_user_id(ws)}};
    }

    //--------------------------------------------------------------------------
    // Authorization endpoint (RFC 6749 §4.1.1, §4.1.2; RFC 7636 §4.3)

    response handle_authorize(std::string_view target) {
        const auto q = target.find('?');
        const auto fields =
            glue::detail::form_decode(q == std::string_view::npos ? "" : target.substr(q + 1));
        if (!fields) {
            return text_response(400, "Malformed authorization request.\n");
        }
        form_map params;
        bool repeated = false; // §3.1: no parameter may be sent twice
        for (const auto& [name, value] : *fields) {
            repeated |= !params.emplace(name, value).second;
        }
        // §4.1.2.1: without a trusted client and redirect_uri, nowhere is safe to redirect to.
        const std::string client = params["client_id"];
        const std::string redirect_uri = params["redirect_uri"];
        const auto& uris = opts.redirect_uris;
        if (client != opts.client_id) {
            return text_response(400, "Unknown client_id.\n");
        }
        if (std::find(uris.begin(), uris.end(), redirect_uri) == uris.end()) {
            return text_response(400, "redirect_uri is missing or not registered for this app.\n");
        }
        const auto state = params.find("state");
        const std::optional<std::string> sent_state =
            state == params.end() ? std::nullopt : std::optional(state->second);
        const auto refuse = [&](std::string_view error, std::string_view description) {
            return redirect(redirect_uri, {{"error", error}, {"error_description", description}},
                            sent_state);
        };
        if (repeated) {
            return refuse("invalid_request", "a parameter was sent more than once");
        }
        if (params["response_type"] != "code") {
            return refuse("unsupported_response_type", "response_type must be code");
        }
        if (params["scope"].empty()) {
            return refuse("invalid_scope", "scope is required");
        }
        std::vector<std::string> scopes;
        for (const auto part : std::views::split(std::string_view(params["scope"]), ',')) {
            const std::string one(part.begin(), part.end());
            if (std::ranges::find(opts.scopes, one) == opts.scopes.end()) {
                return refuse("invalid_scope", "unknown scope: \"" + one + "\"");
            }
            scopes.push_back(one);
        }
        const auto challenge = params.find("code_challenge");
        const auto method = params.find("code_challenge_method");
        if (challenge != params.end() || method != params.end()) {
            // Only S256; a missing method means plain, which hides nothing from an eavesdropper.
            if (method == params.end() || method->second != "S256") {
                return refuse("invalid_request", "code_challenge_method must be S256");
            }
            if (challenge == params.end() || !is_s256_challenge(challenge->second)) {
                return refuse("invalid_request", "code_challenge must be 43 base64url characters");
            }
        }
        if (authorize_denied) {
            return refuse("access_denied", "the user declined to install the app");
        }
        std::string code;
        {
            std::lock_guard lock(mtx);
            code = random_id_locked(43);
            codes[code] = {client,
                           redirect_uri,
                           challenge == params.end() ? std::string() : challenge->second,
                           opts.authorize_workspace,
                           std::move(scopes),
                           std::chrono::steady_clock::now() + opts.code_lifetime};
            installed.insert(opts.authorize_workspace);
            uninstalled.erase(opts.authorize_workspace);
            ++authorizations_total;
        }
        return redirect(redirect_uri, {{"code", code}}, sent_state);
    }

    // 302 to `uri` with `params` (and state, when the request had one) added to its query.
    static response
    redirect(const std::string& uri,
             std::initializer_list<std::pair<std::string_view, std::string_view>> params,
             const std::optional<std::string>& state) {
        auto parsed = boost::urls::parse_uri_reference(uri);
        if (!parsed) {
            return text_response(500, "The app's redirect_uri is not a URI.\n");
        }
        boost::urls::url location(*parsed);
        // Encoded here: Boost.URL 1.81's params().append leaves '+' as is, which the callback
        // then reads as a space.
        const auto append = [&location](std::string_view name, std::string_view value) {
            const std::string key = boost::urls::encode(name, boost::urls::unreserved_chars);
            const std::string text = boost::urls::encode(value, boost::urls::unreserved_chars);
            location.encoded_params().append({key, text});
        };
        for (const auto& [name, value] : params) {
            append(name, value);
        }
        if (state) {
            append("state", *state);
        }
        response res{http::status::found, 11};
        res.set(http::field::location, location.buffer());
        res.set(http::field::cache_control, "no-store");
        return res;
    }

    response handle_graphql(const request& req) {
        const std::string_view auth = req[http::field::authorization];
        std::optional<std::string> ws;
        if (auth.starts_with("Bearer ")) {
            std::lock_guard lock(mtx);
            auto it = tokens.find(std::string(auth.substr(7)));
            if (it != tokens.end() && std::chrono::steady_clock::now() < it->second.expires_at &&
                it->second.generation == generation[it->second.workspace] &&
                !revoked_grants.contains(it->second.grant)) {
                ws = it->second.workspace;
            }
        }
        if (!ws) {
            response res = json_response(401, graphql_error_body("invalid or expired token"));
            res.set(http::field::www_authenticate, R"(Bearer error="invalid_token")");
            return res;
        }
        json::error_code ec;
        json::value body = json::parse(req.body(), ec);
        const json::object* o = ec ? nullptr : body.if_object();
        const json::value* query = o ? o->if_contains("query") : nullptr;
        if (!query || !query->is_string()) {
            return json_response(400, graphql_error_body("the body must be a JSON object with a "
                                                         "query string"));
        }
        json::object variables;
        if (const auto* v = o->if_contains("variables"); v && v->is_object()) {
            variables = v->get_object();
        }
        std::string operation_name;
        if (const auto* n = o->if_contains("operationName"); n && n->is_string()) {
            operation_name = n->get_string();
        }
        json::object result = execute_graphql(
            query->get_string(), variables, operation_name,
            [this, &ws](operation_type type, std::string_view field, const json::object& args) {
                return resolve(*ws, type, field, args);
            });
        return json_response(200, json::serialize(result));
    }

    resolved resolve(const std::string& ws, operation_type type, std::string_view field,
                     const json::object& args) {
        if (type == operation_type::query && field == "me") {
            return {me_json(ws), {}};
        }
        if (type == operation_type::query && field == "groups") {
            json::array groups;
            for (std::size_t i = 0; i < opts.groups_per_workspace; ++i) {
                groups.push_back(group_json(ws, i));
            }
            return connection(groups, "Group", args, page_rules());
        }
        if (type == operation_type::query && field == "threads") {
            return thread_list(ws, args);
        }
        if (type == operation_type::query && field == "node") {
            const json::value* id = args.if_contains("id");
            if (!id || !id->is_string()) {
                return {nullptr, "Argument \"id\" of type \"ID!\" is required."};
            }
            return {node(ws, id->get_string()), {}};
        }
        if (type == operation_type::mutation && field == "sendMessage") {
            return send_message(ws, args);
        }
        return {nullptr, "Cannot query field \"" + std::string(field) + "\" on type \"" +
                             (type == operation_type::query ? "Query" : "Mutation") + "\"."};
    }

    paging page_rules() const { return {opts.max_page_size, repeat_cursor.load()}; }

    // threads(first, after, last, before, order: createdAt | lastMessage)
    resolved thread_list(const std::string& ws, const json::object& args) {
        bool by_last_message = false;
        if (const json::value* order = args.if_contains("order"); order && !order->is_null()) {
            const json::string* name = order->if_string();
            if (!name || (*name != "createdAt" && *name != "lastMessage")) {
                return {nullptr, "Argument \"order\" has invalid value " + json::serialize(*order) +
                                     ": expected createdAt or lastMessage."};
            }
            by_last_message = *name == "lastMessage";
        }
        json::array items;
        {
            std::lock_guard lock(mtx);
            const auto& w = workspace_locked(ws);
            std::vector<const thread_record*> order;
            for (const auto& t : w.threads) {
                order.push_back(&t);
            }
            if (by_last_message) {
                std::ranges::sort(order, std::greater{}, &thread_record::last_message);
            }
            for (const auto* t : order) {
                items.push_back(thread_json(*t));
            }
        }
        return connection(items, "Thread", args, page_rules());
    }

    // Relay's node(id:): whatever the workspace holds under that id, or null.
    json::value node(const std::string& ws, std::string_view id) {
        if (id == ws) {
            // Glue: a workspace's id is also the id of its General group.
            return json::object{{"__typename", "Group"}, {"id", ws}, {"name", "General"}};
        }
        if (id == app_user_id(ws)) {
            return me_json(ws);
        }
        if (id.starts_with("grp_")) {
            for (std::size_t i = 0; i < opts.groups_per_workspace; ++i) {
                if (stable_id("grp_", ws, i) == id) {
                    return group_json(ws, i);
                }
            }
            return nullptr;
        }
        std::lock_guard lock(mtx);
        const auto& w = workspace_locked(ws);
        if (auto it = w.thread_at.find(std::string(id)); it != w.thread_at.end()) {
            return thread_json(w.threads[it->second]);
        }
        if (auto it = w.messages.find(std::string(id)); it != w.messages.end()) {
            return message_json(ws, it->second);
        }
        return nullptr;
    }

    static json::object me_json(std::string_view ws) {
        return json::object{
            {"__typename", "User"}, {"id", app_user_id(ws)}, {"name", "Glue Test App"}};
    }

    static json::object group_json(std::string_view ws, std::size_t i) {
        return json::object{{"__typename", "Group"},
                            {"id", stable_id("grp_", ws, i)},
                            {"name", "Group " + std::to_string(i + 1)}};
    }

    static json::object thread_json(const thread_record& t) {
        return json::object{
            {"__typename", "Thread"},
            {"id", t.id},
            {"subject", t.subject},
            {"threadType", t.chat ? "chat" : "thread"},
            {"isPeristentChat", t.chat}, // sic: the spelling in Glue's documentation
            {"createdAt", iso8601(t.created_at)}};
    }

    static json::object user_json(std::string_view ws, std::string_view user) {
        if (user == app_user_id(ws)) {
            return me_json(ws);
        }
        return json::object{{"__typename", "User"}, {"id", user}, {"name", "Test Human"}};
    }

    static json::object message_json(std::string_view ws, const message_record& m) {
        return json::object{{"__typename", "Message"},
                            {"id", m.id},
                            {"text", m.text},
                            {"createdAt", iso8601(m.created_at)},
                            {"user", user_json(ws, m.user_id)}};
    }

    // The workspace's state, seeded with its threads on first use.
    workspace_state& workspace_locked(const std::string& ws) {
        auto [it, added] = spaces.try_emplace(ws);
        if (added) {
            // Seeded threads predate anything sendMessage creates, an hour apart.
            const std::chrono::system_clock::time_point epoch =
                std::chrono::sys_days{std::chrono::year{2024} / 1 / 1};
            for (std::size_t i = 0; i < opts.threads_per_workspace; ++i) {
                add_thread_locked(it->second, stable_id("thr_", ws, i),
                                  "Thread " + std::to_string(i + 1), false,
                                  epoch + std::chrono::hours(i));
            }
        }
        return it->second;
    }

    static std::size_t add_thread_locked(workspace_state& w, std::string id, std::string subject,
                                         bool chat, std::chrono::system_clock::time_point when) {
        w.thread_at[id] = w.threads.size();
        w.threads.push_back({std::move(id), std::move(subject), chat, when, ++w.clock});
        return w.threads.size() - 1;
    }

    // sendMessage(input: {threadID? thread?: {recipients subject threadBy} message: {text
    // uniqueBy attachments}}): uniqueBy and threadBy upsert, as Glue describes them; without a
    // subject (or threadBy) the message goes to the recipients' chat, one per recipient set.
    resolved send_message(const std::string& ws, const json::object& args) {
        const auto* input = args.if_contains("input");
        const json::object* in = input ? input->if_object() : nullptr;
        const json::value* message = in ? in->if_contains("message") : nullptr;
        const json::value* text =
            message && message->is_object() ? message->get_object().if_contains("text") : nullptr;
        if (!text || !text->is_string()) {
            return {nullptr, "input.message.text is required"};
        }
        auto string_at = [](const json::value* obj, std::string_view key) -> std::string {
            if (!obj || !obj->is_object()) {
                return {};
            }
            const auto* v = obj->get_object().if_contains(key);
            return v && v->is_string() ? std::string(v->get_string()) : std::string();
        };
        const json::value* thread_in = in->if_contains("thread");
        const std::string thread_id = string_at(input, "threadID");
        const auto now = std::chrono::system_clock::now();
        std::lock_guard lock(mtx);
        auto& w = workspace_locked(ws);
        std::size_t thread = 0;
        if (!thread_id.empty()) {
            thread = thread_at_locked(w, thread_id, now);
        } else {
            if (!thread_in || !thread_in->is_object()) {
                return {nullptr, "either input.threadID or input.thread is required"};
            }
            std::string subject = string_at(thread_in, "subject");
            const std::string thread_by = string_at(thread_in, "threadBy");
            const bool chat = subject.empty() && thread_by.empty();
            // The id a repeat call finds again; none: every call makes a new thread.
            std::string* key = !thread_by.empty() ? &w.thread_by[thread_by]
                               : chat             ? &w.chats[recipients_key(*thread_in)]
                                                  : nullptr;
            if (key && !key->empty()) {
                thread = w.thread_at.at(*key);
            } else {
                std::string id = "thr_" + random_id_locked(27);
                if (key) {
                    *key = id;
                }
                thread = add_thread_locked(w, std::move(id), std::move(subject), chat, now);
            }
        }
        const std::string unique_by = string_at(message, "uniqueBy");
        std::string* existing = unique_by.empty() ? nullptr : &w.unique_by[unique_by];
        const message_record* m = nullptr;
        if (existing && !existing->empty()) {
            auto& updated = w.messages.at(*existing); // an upsert updates the text
            updated.text = text->get_string();
            m = &updated;
        } else {
            m = &add_message_locked(w, thread, std::string(text->get_string()), app_user_id(ws),
                                    now);
            if (existing) {
                *existing = m->id;
            }
            ++messages_created;
            ++messages_created_by_workspace[ws];
            // Glue tells bots about their own messages too: they must skip them.
            emit_locked("message.created", ws, w.threads[thread], *m);
        }
        return {json::object{{"__typename", "SendMessagePayload"},
                             {"thread", thread_json(w.threads[thread])},
                             {"message", message_json(ws, *m)}},
                {}};
    }

    std::size_t thread_at_locked(workspace_state& w, const std::string& id,
                                 std::chrono::system_clock::time_point now) {
        auto it = w.thread_at.find(id);
        // Glue's answer to an unknown thread id is undocumented; the mock adopts the thread.
        return it != w.thread_at.end() ? it->second : add_thread_locked(w, id, "", false, now);
    }

    message_record& add_message_locked(workspace_state& w, std::size_t thread, std::string text,
                                       std::string user,
                                       std::chrono::system_clock::time_point now) {
        std::string id = "msg_" + random_id_locked(27);
        w.message_order.push_back(id);
        w.threads[thread].last_message = ++w.clock;
        return w.messages[id] =
                   message_record{id, std::move(text), w.threads[thread].id, std::move(user), now};
    }

    // What a human does in Glue's app: a message in a thread, or a new thread.
    std::string post_message(const std::string& ws, const std::string& thread_id, std::string text,
                             std::string user) {
        const auto now = std::chrono::system_clock::now();
        std::lock_guard lock(mtx);
        auto& w = workspace_locked(ws);
        const std::size_t thread = thread_at_locked(w, thread_id, now);
        const auto& m = add_message_locked(w, thread, std::move(text), std::move(user), now);
        emit_locked("message.created", ws, w.threads[thread], m);
        return m.id;
    }

    std::string create_thread(const std::string& ws, std::string subject, std::string text,
                              std::string user) {
        const auto now = std::chrono::system_clock::now();
        std::lock_guard lock(mtx);
        auto& w = workspace_locked(ws);
        const std::size_t thread =
            add_thread_locked(w, "thr_" + random_id_locked(27), std::move(subject), false, now);
        const auto& m = add_message_locked(w, thread, std::move(text), std::move(user), now);
        emit_locked("thread.created", ws, w.threads[thread], m);
        return w.threads[thread].id;
    }

    //--------------------------------------------------------------------------
    // Webhooks

    // One copy of one event, on its way.
    struct webhook_job {
        webhook_target to;
        std::string type, workspace, body;
        unsigned copy;
    };

    // Sends the event `type` about message `m` in thread `t`, if webhooks are on. The
    // deliveries run on the server's threads; the caller doesn't wait for them.
    void emit_locked(std::string_view type, const std::string& ws, const thread_record& t,
                     const message_record& m) {
        if (!hook || stopped) {
            return;
        }
        const json::object event{{"message", without_typename(message_json(ws, m))},
                                 {"thread", without_typename(thread_json(t))}};
        const std::string body =
            json::serialize(json::object{{"type", type}, {"workspaceID", ws}, {"event", event}});
        for (unsigned copy = 0; copy < webhook_copies; ++copy) {
            ++pending_webhooks;
            // Posted, not co_spawned here: co_spawn may start the coroutine on this thread
            // right away, and mtx is held.
            asio::post(*ioc, [this, job = webhook_job{*hook, std::string(type), ws, body, copy}] {
                asio::co_spawn(*ioc, deliver(job), asio::detached);
            });
        }
    }

    // Attempts, then retries after each of the configured delays until one answers 200.
    asio::awaitable<void> deliver(webhook_job job) {
        for (unsigned attempt = 1;; ++attempt) {
            const auto sent_at = std::chrono::steady_clock::now();
            const int status = co_await post_webhook(job.to, job.body);
            bool done = false;
            {
                std::lock_guard lock(mtx);
                deliveries.push_back(
                    {job.type, job.workspace, job.body, job.copy, attempt, status, sent_at});
                done = status == 200 || attempt > opts.webhook_retry_delays.size();
                if (done) {
                    --pending_webhooks;
                }
            }
            if (done) {
                co_return;
            }
            asio::steady_timer timer(co_await asio::this_coro::executor,
                                     opts.webhook_retry_delays[attempt - 1]);
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }
    }

    // One attempt: the status answered, or 0 when there was no answer in time.
    asio::awaitable<int> post_webhook(const webhook_target& to, const std::string& body) {
        beast::tcp_stream stream(co_await asio::this_coro::executor);
        stream.expires_after(opts.webhook_timeout);
        auto [cec] =
            co_await stream.async_connect(to.endpoint, asio::as_tuple(asio::use_awaitable));
        if (cec) {
            co_return 0;
        }
        request req{http::verb::post, to.target, 11};
        req.set(http::field::host, to.host);
        req.set(http::field::user_agent, "Glue-Mock-Webhooks");
        req.set(http::field::content_type, "application/json");
        req.set(glue::webhook::signature_field, glue::webhook::sign(body, opts.webhook_secret));
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

    // The recipients as a set: the same ones in any order name the same chat.
    static std::string recipients_key(const json::value& thread_in) {
        std::vector<std::string> ids;
        if (const auto* r = thread_in.get_object().if_contains("recipients"); r && r->is_array()) {
            for (const auto& id : r->get_array()) {
                if (id.is_string()) {
                    ids.emplace_back(id.get_string());
                }
            }
        }
        std::ranges::sort(ids);
        std::string key;
        for (const auto& id : ids) {
            key += id + ",";
        }
        return key;
    }

    //--------------------------------------------------------------------------
    // Ids

    std::string random_id_locked(std::size_t n) {
        std::uniform_int_distribution<std::size_t> pick(0, base62.size() - 1);
        std::string id(n, '0');
        for (char& c : id) {
            c = base62[pick(rng)];
        }
        return id;
    }

    // The same input always gives the same id: tests can predict a workspace's app user.
    static std::string stable_id(std::string_view prefix, std::string_view ws, std::size_t n) {
        std::uint64_t h = std::hash<std::string_view>{}(ws) ^ (n * 0x9e3779b97f4a7c15ULL);
        std::string id(prefix);
        for (int i = 0; i < 27; ++i) {
            id += base62[h % base62.size()];
            h = h / base62.size() + (h % 7 + 1) * 0x2545F4914F6CDD1DULL;
        }
        return id;
    }

    static std::string app_user_id(std::string_view ws) { return stable_id("usr_", ws, 0); }

    std::size_t counter(std::size_t impl::*which) const {
        std::lock_guard lock(mtx);
        return this->*which;
    }

    //--------------------------------------------------------------------------

    const mock_server_options opts;
    detail::test_pki pki;
    std::optional<ssl::context> tls_ctx;
    std::uint16_t bound_port = 0;

    mutable std::mutex mtx; // guards everything below
    std::mt19937_64 rng;
    std::chrono::seconds token_lifetime;
    json::value raw_expires_in;
    std::set<std::string> installed, uninstalled;
    std::unordered_map<std::string, issued_token> tokens;
    std::unordered_map<std::string, std::uint64_t> generation; // bumped by revoke_tokens()
    std::unordered_map<std::string, workspace_state> spaces;
    std::atomic<bool> repeat_cursor{false};
    std::optional<fault> faults[2];
    recorded_request last_requests[2];
    std::size_t token_concurrency = 0, max_token_concurrency = 0, unauthorized_total = 0;
    std::size_t requests_total = 0, token_requests_total = 0, graphql_requests_total = 0,
                connections_accepted = 0, concurrent = 0, max_concurrent = 0, handshakes = 0,
                messages_created = 0;
    std::unordered_map<std::string, std::size_t> token_requests_by_workspace;
    std::unordered_map<std::string, std::size_t> messages_created_by_workspace;
    mutable std::string ca_path;
    // OAuth: codes and refresh tokens; a grant is one code exchange and what it led to.
    std::atomic<bool> authorize_denied{false};
    std::unordered_map<std::string, code_record> codes;
    std::unordered_map<std::string, refresh_record> refresh_tokens;
    std::set<std::uint64_t> revoked_grants;
    std::uint64_t last_grant = 0;
    std::size_t authorizations_total = 0;
    // Webhooks
    std::optional<webhook_target> hook;
    unsigned webhook_copies = 1;
    bool stopped = false; // set by stop(): nothing is posted to the io_context any more
    std::vector<webhook_delivery> deliveries;
    std::size_t pending_webhooks = 0;

    // Declared last: destroyed first, so sessions never outlive the state they use.
    std::mutex stop_mtx;
    std::vector<std::thread> threads;
    std::optional<asio::io_context> ioc;
};

mock_server::mock_server(mock_server_options opts)
    : impl_(std::make_unique<impl>(std::move(opts))) {}

mock_server::~mock_server() = default;

std::string mock_server::url() const {
    return std::string(impl_->opts.tls ? "https" : "http") +
           "://127.0.0.1:" + std::to_string(impl_->bound_port);
}

std::uint16_t mock_server::port() const {
    return impl_->bound_port;
}

glue::client_config mock_server::client_config() const {
    glue::client_config cfg;
    cfg.api_url = url();
    cfg.client_id = impl_->opts.client_id;
    cfg.client_secret = impl_->opts.client_secret;
    if (!impl_->opts.redirect_uris.empty()) {
        cfg.redirect_uri = impl_->opts.redirect_uris.front();
    }
    cfg.ca_pem = impl_->pki.ca_pem;
    return cfg;
}

const std::string& mock_server::ca_pem() const {
    return impl_->pki.ca_pem;
}

std::string mock_server::ca_file() const {
    std::lock_guard lock(impl_->mtx);
    if (impl_->ca_path.empty() && !impl_->pki.ca_pem.empty()) {
        char path[] = "/tmp/glue-mock-ca-XXXXXX";
        const int fd = ::mkstemp(path);
        if (fd < 0) {
            throw std::runtime_error("mock_server: cannot create the CA file");
        }
        ::close(fd);
        std::ofstream(path) << impl_->pki.ca_pem;
        impl_->ca_path = path;
    }
    return impl_->ca_path;
}

void mock_server::stop() {
    impl_->stop();
}

void mock_server::set_fault(endpoint e, fault f) {
    std::lock_guard lock(impl_->mtx);
    impl_->faults[static_cast<int>(e)] = std::move(f);
}

void mock_server::clear_faults() {
    std::lock_guard lock(impl_->mtx);
    for (auto& f : impl_->faults) {
        f.reset();
    }
}

void mock_server::revoke_tokens(std::string_view workspace) {
    std::lock_guard lock(impl_->mtx);
    ++impl_->generation[std::string(workspace)];
}

void mock_server::set_token_lifetime(std::chrono::seconds lifetime) {
    std::lock_guard lock(impl_->mtx);
    impl_->token_lifetime = lifetime;
}

void mock_server::set_expires_in(boost::json::value raw) {
    std::lock_guard lock(impl_->mtx);
    impl_->raw_expires_in = std::move(raw);
}

void mock_server::install_workspace(std::string_view workspace) {
    std::lock_guard lock(impl_->mtx);
    impl_->installed.emplace(workspace);
    impl_->uninstalled.erase(std::string(workspace));
}

void mock_server::uninstall_workspace(std::string_view workspace) {
    std::lock_guard lock(impl_->mtx);
    impl_->installed.erase(std::string(workspace));
    impl_->uninstalled.emplace(workspace);
}

void mock_server::set_repeat_cursor(bool on) {
    impl_->repeat_cursor = on;
}

void mock_server::set_authorize_denied(bool on) {
    impl_->authorize_denied = on;
}

void mock_server::set_webhook_url(std::string url) {
    auto hook = parse_webhook_url(url);
    std::lock_guard lock(impl_->mtx);
    impl_->hook = std::move(hook);
}

void mock_server::set_webhook_copies(unsigned n) {
    std::lock_guard lock(impl_->mtx);
    impl_->webhook_copies = n;
}

std::string mock_server::app_user_id(std::string_view workspace) const {
    return impl::app_user_id(workspace);
}

std::string mock_server::post_message(std::string_view workspace, std::string_view thread_id,
                                      std::string_view text, std::string_view user_id) {
    return impl_->post_message(std::string(workspace), std::string(thread_id), std::string(text),
                               std::string(user_id));
}

std::string mock_server::create_thread(std::string_view workspace, std::string_view subject,
                                       std::string_view text, std::string_view user_id) {
    return impl_->create_thread(std::string(workspace), std::string(subject), std::string(text),
                                std::string(user_id));
}

std::vector<mock_message> mock_server::messages(std::string_view workspace) const {
    std::lock_guard lock(impl_->mtx);
    std::vector<mock_message> out;
    if (auto it = impl_->spaces.find(std::string(workspace)); it != impl_->spaces.end()) {
        for (const auto& id : it->second.message_order) {
            const auto& m = it->second.messages.at(id);
            out.push_back({m.id, m.thread_id, m.text, m.user_id});
        }
    }
    return out;
}

recorded_request mock_server::last_request(endpoint e) const {
    std::lock_guard lock(impl_->mtx);
    return impl_->last_requests[static_cast<int>(e)];
}

std::size_t mock_server::requests() const {
    return impl_->counter(&impl::requests_total);
}

std::size_t mock_server::token_requests() const {
    return impl_->counter(&impl::token_requests_total);
}

std::size_t mock_server::token_requests(std::string_view workspace) const {
    std::lock_guard lock(impl_->mtx);
    auto it = impl_->token_requests_by_workspace.find(std::string(workspace));
    return it == impl_->token_requests_by_workspace.end() ? 0 : it->second;
}

std::size_t mock_server::graphql_requests() const {
    return impl_->counter(&impl::graphql_requests_total);
}

std::size_t mock_server::connections_accepted() const {
    return impl_->counter(&impl::connections_accepted);
}

std::size_t mock_server::max_concurrent_connections() const {
    return impl_->counter(&impl::max_concurrent);
}

std::size_t mock_server::tls_handshakes() const {
    return impl_->counter(&impl::handshakes);
}

std::size_t mock_server::max_concurrent_token_requests() const {
    return impl_->counter(&impl::max_token_concurrency);
}

std::size_t mock_server::unauthorized_responses() const {
    return impl_->counter(&impl::unauthorized_total);
}

std::size_t mock_server::messages_created() const {
    return impl_->counter(&impl::messages_created);
}

std::size_t mock_server::messages_created(std::string_view workspace) const {
    std::lock_guard lock(impl_->mtx);
    auto it = impl_->messages_created_by_workspace.find(std::string(workspace));
    return it == impl_->messages_created_by_workspace.end() ? 0 : it->second;
}

std::size_t mock_server::authorizations() const {
    return impl_->counter(&impl::authorizations_total);
}

std::vector<webhook_delivery> mock_server::webhook_deliveries() const {
    std::lock_guard lock(impl_->mtx);
    return impl_->deliveries;
}

std::size_t mock_server::webhooks_pending() const {
    return impl_->counter(&impl::pending_webhooks);
}

void mock_server::reset_counters() {
    std::lock_guard lock(impl_->mtx);
    impl_->requests_total = 0;
    impl_->token_requests_total = 0;
    impl_->graphql_requests_total = 0;
    impl_->connections_accepted = 0;
    impl_->max_concurrent = impl_->concurrent;
    impl_->handshakes = 0;
    impl_->messages_created = 0;
    impl_->unauthorized_total = 0;
    impl_->authorizations_total = 0;
    impl_->max_token_concurrency = impl_->token_concurrency;
    impl_->token_requests_by_workspace.clear();
    impl_->messages_created_by_workspace.clear();
}

} // namespace glue::testing
