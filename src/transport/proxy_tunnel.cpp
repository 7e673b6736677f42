// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "transport/proxy_tunnel.hpp"

#include "protocol/proxy.hpp"
#include "transport/connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include <algorithm>
#include <limits>
#include <tuple>

namespace glue::detail {

namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

// A proxy's answer other than a tunnel: its status (100 to 599) or what was wrong with it.
enum bad_answer : int { malformed = 1, too_large = 2, bytes_after_header = 3 };

class proxy_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "glue.proxy"; }
    std::string message(int v) const override {
        switch (v) {
        case malformed:
            return "malformed answer to CONNECT";
        case too_large:
            return "answer to CONNECT larger than the header limit";
        case bytes_after_header:
            return "answer to CONNECT followed by a body or bytes";
        default:
            return "the proxy answered CONNECT with status " + std::to_string(v);
        }
    }
};

const proxy_category_impl proxy_category_instance;

error_code proxy_error(int v) {
    return {v, proxy_category_instance};
}

} // namespace

asio::awaitable<error_code> open_tunnel(connection& c, const origin& org, const tunnel_request& t) {
    auto& s = c.socket();
    const auto target = authority_form(org.host, org.port);
    c.out.clear();
    c.out.append("CONNECT ").append(target).append(" HTTP/1.1\r\nHost: ").append(target);
    c.out.append("\r\nUser-Agent: ").append(t.user_agent).append("\r\n");
    if (!t.authorization.empty()) {
        c.out.append("Proxy-Authorization: ").append(t.authorization).append("\r\n");
    }
    c.out.append("\r\n");
    auto [ec, n] =
        co_await asio::async_write(s, asio::buffer(c.out), asio::as_tuple(asio::use_awaitable));
    c.wipe_request(); // it may carry the proxy's password
    if (ec) {
        co_return ec;
    }
    http::response_parser<http::empty_body> answer;
    // Beast takes a 32-bit limit: a larger one saturates rather than wraps around.
    answer.header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(t.header_limit, std::numeric_limits<std::uint32_t>::max())));
    std::tie(ec, n) =
        co_await http::async_read_header(s, c.buffer, answer, asio::as_tuple(asio::use_awaitable));
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
        co_return proxy_error(too_large);
    }
    if (ec == http::error::end_of_stream) {
        co_return error_code(asio::error::eof); // closed before answering: as a refused connection
    }
    if (ec && ec.category() == http::make_error_code(http::error::bad_version).category()) {
        co_return proxy_error(malformed);
    }
    if (ec) {
        co_return ec;
    }
    const int status = answer.get().result_int();
    if (status < 100 || status > 599) {
        co_return proxy_error(malformed);
    }
    if (status / 100 != 2) {
        co_return proxy_error(status);
    }
    // RFC 9110 §9.3.6: a 2xx has no content; the tunnel starts right after the header.
    const auto length = answer.content_length();
    if (answer.chunked() || (length && *length != 0) || c.buffer.size() != 0) {
        co_return proxy_error(bytes_after_header);
    }
    co_return error_code{};
}

std::optional<failure> proxy_failure(error_code ec) {
    if (ec.category() != proxy_category_instance) {
        return std::nullopt;
    }
    switch (ec.value()) {
    case malformed:
        return make_failure(errc::bad_response, "the proxy's answer to CONNECT is malformed");
    case too_large:
        return make_failure(errc::bad_response,
                            "the proxy's answer to CONNECT is larger than the header limit");
    case bytes_after_header:
        return make_failure(errc::bad_response,
                            "the proxy's answer to CONNECT has a body or bytes after it");
    default:
        break;
    }
    diagnostics d;
    d.http_status = ec.value();
    d.proxy_status = ec.value();
    // A 401 to CONNECT can only be the proxy's own: the origin was never reached (tinyproxy
    // answers wrong credentials with one).
    if (ec.value() == 407 || ec.value() == 401) {
        return make_failure(errc::forbidden,
                            "the proxy refused the tunnel: 407 Proxy Authentication Required "
                            "or 401 (proxy credentials missing or wrong)",
                            std::move(d));
    }
    if (ec.value() == 502 || ec.value() == 503 || ec.value() == 504) {
        return make_failure(errc::server_error,
                            "the proxy could not reach the server (502, 503 or 504 to CONNECT)",
                            std::move(d));
    }
    return make_failure(errc::http_error, "the proxy refused the tunnel (CONNECT)", std::move(d));
}

} // namespace glue::detail
