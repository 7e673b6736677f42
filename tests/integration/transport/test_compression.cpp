// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Compressed answers end to end: the pool against raw servers that send gzip and deflate bodies
// (whole, chunked, cut short, zip bombs, codings never asked for), then glue::client against the
// mock server with its `compress` option. The decoder's own cases are unit-tested without
// sockets in tests/unit/protocol/test_content_coding.cpp.

#include <glue/glue.hpp>
#include <glue/testing/mock_server.hpp>

#include "protocol/content_coding.hpp"
#include "protocol/origin.hpp"
#include "support/client_fixture.hpp"
#include "support/raw_server.hpp"
#include "support/test_support.hpp"
#include "support/zlib_codec.hpp"
#include "testing/mock_compression.hpp"
#include "transport/http_pool.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <doctest/doctest.h>

#include <optional>
#include <sstream>
#include <string>

#include <zlib.h>

namespace {

namespace asio = boost::asio;
namespace gd = glue::detail;
namespace gt = glue::testing::detail;
using namespace std::chrono_literals;
using glue::test::raw_server;
using glue::test::seen_request;

// A JSON answer large enough to compress well.
std::string large_json(std::size_t groups) {
    std::string s = R"({"data":{"groups":[)";
    for (std::size_t i = 0; i < groups; ++i) {
        s += (i ? "," : "") + std::string(R"({"id":"grp_)") + std::to_string(i) +
             R"(","name":"Group )" + std::to_string(i) + R"("})";
    }
    return s + "]}}";
}

// `data` in the zlib format (RFC 1950), or raw deflate (RFC 1951) when `raw`.
std::string deflate(std::string_view data, bool raw) {
    return glue::test::zlib_compress(data, raw ? glue::test::raw_format : glue::test::zlib_format);
}

std::string answer(std::string_view coding, std::string_view body) {
    std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n";
    if (!coding.empty()) {
        head += "Content-Encoding: " + std::string(coding) + "\r\n";
    }
    return head + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

// The same body in chunks of at most `piece` bytes.
std::string chunked_answer(std::string_view coding, std::string_view body, std::size_t piece) {
    std::string out = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: " +
                      std::string(coding) + "\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (std::size_t at = 0; at < body.size(); at += piece) {
        const auto part = body.substr(at, piece);
        char size[20];
        std::snprintf(size, sizeof size, "%zx\r\n", part.size());
        out += size + std::string(part) + "\r\n";
    }
    return out + "0\r\n\r\n";
}

struct coding_pool {
    explicit coding_pool(glue::test::responder respond, bool accept_compressed = true)
        : server(std::move(respond)) {
        gd::transport_options opts;
        opts.connect_timeout = 2s;
        opts.accept_compressed = accept_compressed;
        auto o = gd::parse_origin("http://127.0.0.1:" + std::to_string(server.port()), false);
        REQUIRE(o.has_value());
        pool.emplace(ioc.get_executor(), std::move(*o), opts);
    }

    /// One POST with a response body limit of `limit`: the body, or the failure.
    gd::result<std::string> post(std::size_t limit = 1 << 20) {
        return glue::test::run(ioc, send(limit));
    }

    asio::awaitable<gd::result<std::string>> send(std::size_t limit) {
        gd::http_request req;
        req.target = "/public/graphql";
        req.content_type = "application/json";
        req.body = "{}";
        req.body_limit = limit;
        auto go = [](gd::http_request&) { return true; };
        gd::http_response into;
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        auto r = co_await pool->send(req, into, deadline, gd::request_priority::normal, go);
        if (!r) {
            co_return r.error();
        }
        co_return std::move(into.body);
    }

    raw_server server;
    asio::io_context ioc;
    std::optional<gd::http_pool> pool;
};

void check_bad_response(const gd::result<std::string>& r, std::string_view message) {
    REQUIRE(!r.has_value());
    CHECK(r.error().ec == glue::errc::bad_response);
    CHECK(r.error().message == message);
}

} // namespace

TEST_SUITE("compression") {

    TEST_CASE("client_config prints accept_compressed_responses, on by default") {
        glue::client_config cfg;
        CHECK(cfg.accept_compressed_responses);
        for (bool on : {true, false}) {
            cfg.accept_compressed_responses = on;
            std::ostringstream os;
            os << cfg;
            CHECK(os.str().find(on ? "accept_compressed_responses=true"
                                   : "accept_compressed_responses=false") != std::string::npos);
        }
    }

    TEST_CASE("Accept-Encoding: gzip, deflate is sent, and not when turned off") {
        for (bool on : {true, false}) {
            coding_pool f([](const seen_request&) { return answer("", "{}"); }, on);
            REQUIRE(f.post().has_value());
            const auto seen = f.server.requests();
            REQUIRE(seen.size() == 1);
            CHECK(seen[0].headers.contains("accept-encoding") == on);
            if (on) {
                CHECK(seen[0].headers.at("accept-encoding") == "gzip, deflate");
            }
        }
    }

    TEST_CASE("gzip and deflate answers, whole and chunked, decode on a reused connection") {
        const auto body = large_json(300);
        const std::vector<std::string> answers = {
            answer("gzip", gt::gzip(body)),
            answer("x-gzip", gt::gzip(body)),
            answer("deflate", deflate(body, false)),
            answer("deflate", deflate(body, true)),
            chunked_answer("gzip", gt::gzip(body), 1),
            chunked_answer("deflate", deflate(body, false), 1000),
            answer("identity", body),
            answer("", body),
        };
        std::size_t next = 0;
        coding_pool f([&](const seen_request&) { return answers[next++ % answers.size()]; });
        for (std::size_t i = 0; i < answers.size(); ++i) {
            CAPTURE(i);
            auto r = f.post();
            REQUIRE(r.has_value());
            CHECK(*r == body);
        }
        CHECK(f.server.accepted() == 1); // each answer's end was certain: the connection lived on
    }

    TEST_CASE("an answer compressed though not asked for is still decoded") {
        const auto body = large_json(100);
        coding_pool f([&](const seen_request&) { return answer("gzip", gt::gzip(body)); }, false);
        auto r = f.post();
        REQUIRE(r.has_value());
        CHECK(*r == body);
    }

    TEST_CASE("a zip bomb is bad_response, and its connection is dropped") {
        const std::string zeros(10 * 1024 * 1024, '\0');
        const auto bomb = gt::gzip(zeros);
        REQUIRE(bomb.size() < 64 * 1024); // well within the limit as received
        bool first = true;
        coding_pool f([&](const seen_request&) {
            const bool was_first = first;
            first = false;
            return was_first ? answer("gzip", bomb) : answer("", "{}");
        });
        check_bad_response(f.post(1 << 20), "decoded response body larger than the limit");
        // The next call goes over a new connection.
        auto r = f.post();
        REQUIRE(r.has_value());
        CHECK(*r == "{}");
        CHECK(f.server.accepted() == 2);
    }

    TEST_CASE("a compressed body over the limit as received fails as an uncompressed one does") {
        const auto body = large_json(2000);
        const auto gz = gt::gzip(body);
        coding_pool f([&](const seen_request&) { return answer("gzip", gz); });
        auto r = f.post(gz.size() - 1);
        REQUIRE(!r.has_value());
        CHECK(r.error().ec == glue::errc::bad_response);
        CHECK(r.error().message == "response body larger than the limit");
        // Within the limit as received, over it as decoded.
        check_bad_response(f.post(body.size() - 1), "decoded response body larger than the limit");
        auto fits = f.post(body.size());
        REQUIRE(fits.has_value());
        CHECK(*fits == body);
    }

    TEST_CASE("a coding never asked for, or several, is bad_response") {
        for (std::string_view coding : {"br", "zstd", "compress", "gzip, gzip"}) {
            CAPTURE(coding);
            coding_pool f([&](const seen_request&) { return answer(coding, "\x1b\x02\x00xyz"); });
            check_bad_response(f.post(), coding == "gzip, gzip"
                                             ? "response body in several content codings"
                                             : "response body in a content coding the client "
                                               "did not ask for (it decodes gzip and deflate)");
        }
    }

    TEST_CASE("a body with nothing to decode: empty, or a 204, in any coding") {
        for (std::string_view coding : {"gzip", "br"}) {
            CAPTURE(coding);
            bool first = true;
            coding_pool f([&](const seen_request&) {
                const bool was_first = first;
                first = false;
                return was_first
                           ? answer(coding, "")
                           : "HTTP/1.1 204 No Content\r\nContent-Encoding: " + std::string(coding) +
                                 "\r\n\r\n";
            });
            for (int i = 0; i < 2; ++i) {
                auto r = f.post();
                REQUIRE(r.has_value());
                CHECK(r->empty());
            }
            CHECK(f.server.accepted() == 1);
        }
    }

    TEST_CASE("corrupt, truncated and trailing gzip bodies are bad_response") {
        const auto body = large_json(200);
        const auto gz = gt::gzip(body);
        auto bad_crc = gz;
        bad_crc[gz.size() - 6] = static_cast<char>(bad_crc[gz.size() - 6] ^ 0x10);
        struct bad {
            std::string text;
            std::string_view message;
        };
        const bad cases[] = {
            {answer("gzip", body), "compressed response body is corrupt"},
            {answer("gzip", bad_crc),
             "compressed response body fails its check value (CRC or length)"},
            {answer("gzip", gz.substr(0, gz.size() - 1)), "compressed response body truncated"},
            {answer("gzip", gz + "garbage"), "data after the end of the compressed response body"},
            {chunked_answer("gzip", gz.substr(0, gz.size() / 2), 100),
             "compressed response body truncated"},
        };
        for (const auto& c : cases) {
            CAPTURE(c.message);
            coding_pool f([&](const seen_request&) { return c.text; });
            check_bad_response(f.post(), c.message);
        }
    }

    TEST_CASE("glue::client: a gzipped GraphQL answer decodes to the same value as a plain one") {
        glue::testing::mock_server_options opts;
        opts.compress = true;
        opts.groups_per_workspace = 200;
        opts.max_page_size = 200;
        const glue::graphql_request groups(
            "{ groups(first: 200) { edges { cursor node { id name } } "
            "pageInfo { hasNextPage endCursor } } }");
        glue::test::client_fixture on(opts);
        glue::test::client_fixture off(
            opts, [](glue::client_config& c) { c.accept_compressed_responses = false; });
        const auto compressed = on.run(on.client->graphql(glue::test::ws, groups));
        const auto plain = off.run(off.client->graphql(glue::test::ws, groups));
        CHECK(compressed.data == plain.data);
        CHECK(compressed.data.at("groups").at("edges").as_array().size() == 200);
        CHECK(on.server.last_request(glue::testing::endpoint::graphql)
                  .headers.at("accept-encoding") == "gzip, deflate");
        CHECK(!off.server.last_request(glue::testing::endpoint::graphql)
                   .headers.contains("accept-encoding"));

        // The mock did compress it: the same request sent by hand, asking for gzip.
        const auto token = on.run(on.client->fetch_token(glue::test::ws));
        const auto raw = glue::test::raw_request(
            on.server.port(), boost::beast::http::verb::post, "/public/graphql",
            R"({"query":"{ groups(first: 200) { edges { cursor node { id name } } pageInfo { hasNextPage endCursor } } }"})",
            {{"Authorization", "Bearer " + token.value},
             {"Content-Type", "application/json"},
             {"Accept-Encoding", "gzip"}});
        CHECK(raw.status == 200);
        CHECK(raw.header("content-encoding") == "gzip");
        CHECK(raw.body.size() < boost::json::serialize(plain.data).size() / 2);
        gd::content_decoder d(gd::content_coding::gzip, 1 << 20);
        std::string decoded;
        REQUIRE(d.feed(raw.body, decoded).has_value());
        REQUIRE(d.finish().has_value());
        CHECK(boost::json::parse(decoded).at("data") == plain.data);
    }

    TEST_CASE("glue::client: a gzipped answer in chunks decodes as a whole one does") {
        glue::testing::mock_server_options opts;
        opts.compress = true;
        opts.groups_per_workspace = 50;
        glue::test::client_fixture f(opts);
        f.server.set_fault(glue::testing::endpoint::graphql,
                           glue::test::misbehaving(glue::testing::fault::kind::chunked, 1));
        const glue::graphql_request groups("{ groups(first: 50) { nodes { id name } } }");
        const auto chunked = f.run(f.client->graphql(glue::test::ws, groups));
        const auto whole = f.run(f.client->graphql(glue::test::ws, groups));
        CHECK(chunked.data == whole.data);
        CHECK(chunked.data.at("groups").at("nodes").as_array().size() == 50);
    }
}
