// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "support/raw_http.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace glue::test {

raw_response raw_request(std::uint16_t port, boost::beast::http::verb method, std::string target,
                         std::string body, std::vector<std::pair<std::string, std::string>> headers,
                         std::chrono::milliseconds limit) {
    namespace http = boost::beast::http;
    using tcp = boost::asio::ip::tcp;
    boost::asio::io_context ioc;
    boost::beast::tcp_stream stream(ioc);
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
    for (auto& [name, value] : headers) {
        req.set(name, value);
    }
    req.body() = std::move(body);
    req.prepare_payload();
    http::response<http::string_body> res;
    boost::beast::flat_buffer buffer;
    raw_response out;
    stream.expires_after(limit);
    stream.async_connect(
        tcp::endpoint(boost::asio::ip::make_address_v4("127.0.0.1"), port),
        [&](boost::beast::error_code ec) {
            if (ec) {
                return;
            }
            http::async_write(stream, req, [&](boost::beast::error_code ec, std::size_t) {
                if (ec) {
                    return;
                }
                http::async_read(stream, buffer, res,
                                 [&](boost::beast::error_code ec, std::size_t) {
                                     if (!ec) {
                                         out.status = res.result_int();
                                     }
                                 });
            });
        });
    ioc.run();
    if (out.status != 0) {
        out.headers = header_map_of(res);
        out.body = std::move(res.body());
    }
    return out;
}

} // namespace glue::test
