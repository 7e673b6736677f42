// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// HTTP/2 (src/transport/h2_session.hpp) through the connection pool, against Debian's nginx
// with `http2` on over TLS, started by each test on a free port of 127.0.0.1 with a throwaway
// certificate: ALPN's choice either way, many calls over one connection, a stream cancelled or
// out of time while the others go on, and the limits per stream. And against the mock server,
// which offers no "h2": HTTP/1.1, or a clear failure when HTTP/2 is required. Frame-level faults
// (GOAWAY, REFUSED_STREAM) are pinned in tests/unit/transport/test_h2_codec.cpp.

#include <glue/client.hpp>
#include <glue/testing/mock_server.hpp>

#include "integration/transport/pool_fixture.hpp"
#include "protocol/proxy.hpp"
#include "support/nginx.hpp"
#include "support/test_support.hpp"
#include "support/tinyproxy.hpp"
#include "testing/test_pki.hpp"
#include "transport/http_pool.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace gd = glue::detail;
namespace gt = glue::testing::detail;
using namespace std::chrono_literals;
using glue::test::call;
using glue::test::pool_fixture;
using clock_type = std::chrono::steady_clock;

/// nginx is in scripts/setup's packages: CI must have it; elsewhere its tests say they didn't
/// run.
bool have_nginx() {
    if (glue::test::nginx::installed()) {
        return true;
    }
    if (std::getenv("CI")) {
        FAIL("nginx is not installed (scripts/setup installs nginx-light)");
    }
    MESSAGE("nginx is not installed: skipped (scripts/setup installs nginx-light)");
    return false;
}

/// A slow answer: 1 MiB served at 64 KiB/s (16 s). A POST to a static file is refused (405),
/// and the refusal served as the file instead.
const std::string slow_location =
    "    location = /slow { limit_rate 64k; error_page 405 =200 $uri; }\n";

struct h2_fixture : pool_fixture {
    explicit h2_fixture(glue::test::nginx::options o = {}) {
        pki = gt::make_test_pki();
        o.cert_pem = pki.cert_pem;
        o.key_pem = pki.key_pem;
        o.server_lines += slow_location;
        o.files.emplace_back("slow", std::string(1 << 20, 's'));
        server.emplace(o);
        opts.ca_pem = pki.ca_pem;
        opts.connect_timeout = 5s;
    }

    void open_pool(std::size_t max_connections = 64) {
        opts.max_connections = max_connections;
        open(server->url());
    }

    /// A call to `target`, not yet started.
    static call to(std::string target, std::size_t body_limit = 1 << 20) {
        call c;
        c.target = std::move(target);
        c.content_type = "application/json";
        c.body = "{\"query\":\"{ me { id } }\"}";
        c.body_limit = body_limit;
        return c;
    }

    void start_cancellable(call& c, asio::cancellation_signal& sig,
                           std::chrono::milliseconds timeout = 20s) {
        asio::co_spawn(ioc, glue::test::send(*pool, c, clock_type::now() + timeout),
                       asio::bind_cancellation_slot(sig.slot(), glue::test::rethrow));
    }

    void run_for(std::chrono::milliseconds d) {
        ioc.restart();
        ioc.run_for(d);
    }

    /// nginx's log lines' fields: protocol, ALPN, connection number, path, status; once it has
    /// logged `n` requests (it logs a stream when it has closed it, which may be just after the
    /// client read the end of the answer).
    std::vector<std::vector<std::string>> logged(std::size_t n) const {
        glue::test::eventually([&] { return server->requests().size() >= n; }, 5s);
        std::vector<std::vector<std::string>> out;
        for (const auto& line : server->requests()) {
            std::vector<std::string> fields;
            std::string field;
            for (char ch : line + ' ') {
                if (ch == ' ') {
                    fields.push_back(field);
                    field.clear();
                } else {
                    field += ch;
                }
            }
            out.push_back(fields);
        }
        return out;
    }

    gt::test_pki pki;
    std::optional<glue::test::nginx> server;
};

bool ok(const call& c) {
    return c.outcome && *c.outcome && **c.outcome && (**c.outcome)->status == 200;
}

gd::failure failure_of(const call& c) {
    REQUIRE(c.outcome);
    REQUIRE(!*c.outcome);
    return c.outcome->error();
}

} // namespace

TEST_SUITE("http2") {
    TEST_CASE("auto: nginx selects h2 by ALPN, and the call goes over it") {
        if (!have_nginx()) {
            return;
        }
        h2_fixture f;
        f.open_pool();
        auto c = h2_fixture::to("/public/graphql");
        f.start(c, 5s);
        f.finish(c);
        REQUIRE(ok(c));
        CHECK((**c.outcome)->body == "{\"data\":{\"me\":{\"id\":\"usr_h2\"}}}");
        const auto s = f.pool->stats();
        CHECK(s.http2 == 1);
        CHECK(s.open == 1);
        CHECK(s.leased == 0);
        CHECK(s.idle == 1);
        const auto lines = f.logged(1);
        REQUIRE(lines.size() == 1);
        CHECK(lines[0][0] == "HTTP/2.0");
        CHECK(lines[0][1] == "h2");
    }

    TEST_CASE("through a proxy's CONNECT tunnel, ALPN still selects h2") {
        if (!have_nginx()) {
            return;
        }
        h2_fixture f;
        glue::test::tinyproxy::options po;
        po.connect_ports = {f.server->port()};
        glue::test::tinyproxy proxy(po);
        auto p = gd::parse_proxy_url(proxy.url());
        REQUIRE(p.has_value());
        f.opts.proxy = *p;
        f.open_pool();
        std::vector<call> calls(3, h2_fixture::to("/public/graphql"));
        for (auto& c : calls) {
            f.start(c, 5s);
        }
        glue::test::run_until(f.ioc, [&] {
            return std::all_of(calls.begin(), calls.end(),
                               [](const call& c) { return c.outcome.has_value(); });
        });
        for (const auto& c : calls) {
            CHECK(ok(c));
        }
        CHECK(f.pool->stats().http2 == 1);
        CHECK(f.pool->stats().connects == 1);
        CHECK(proxy.connects() == 1);
        for (const auto& l : f.logged(3)) {
            CHECK(l[0] == "HTTP/2.0");
            CHECK(l[1] == "h2");
        }
    }

    TEST_CASE("200 calls at once go over one connection, with one TLS handshake") {
        if (!have_nginx()) {
            return;
        }
        h2_fixture f;
        f.open_pool(64);
        std::vector<call> calls(200, h2_fixture::to("/public/graphql"));
        for (auto& c : calls) {
            f.start(c, 20s);
        }
        // Streams in flight are exchanges leased on one connection.
        std::size_t most_leased = 0;
        glue::test::run_until(
            f.ioc,
            [&] {
                most_leased = std::max(most_leased, f.pool->stats().leased);
                return std::all_of(calls.begin(), calls.end(),
                                   [](const call& c) { return c.outcome.has_value(); });
            },
            30s);
        for (const auto& c : calls) {
            CHECK(ok(c));
        }
        const auto s = f.pool->stats();
        CHECK(s.connects == 1);
        CHECK(s.tls_handshakes == 1);
        CHECK(s.http2 == 1);
        CHECK(s.leased == 0);
        CHECK(most_leased > 1);
        std::set<std::string> connections;
        const auto lines = f.logged(200);
        for (const auto& l : lines) {
            CHECK(l[0] == "HTTP/2.0");
            connections.insert(l[2]);
        }
        CHECK(lines.size() == 200);
        CHECK(connections.size() == 1);
    }

    TEST_CASE("the server's stream limit: beyond it, another connection") {
        if (!have_nginx()) {
            return;
        }
        glue::test::nginx::options o;
        o.max_streams = 4;
        h2_fixture f(o);
        f.open_pool(64);
        std::vector<call> slow(6, h2_fixture::to("/slow", 2 << 20));
        std::vector<asio::cancellation_signal> sigs(slow.size());
        for (std::size_t i = 0; i < slow.size(); ++i) {
            f.start_cancellable(slow[i], sigs[i]);
        }
        glue::test::run_until(
            f.ioc, [&] { return f.pool->stats().leased == 6; }, 10s);
        const auto s = f.pool->stats();
        CHECK(s.connects == 2); // 4 streams on the first, 2 on the second
        CHECK(s.http2 == 2);
        for (auto& sig : sigs) {
            sig.emit(asio::cancellation_type::terminal);
        }
        glue::test::run_until(f.ioc, [&] {
            return std::all_of(slow.begin(), slow.end(),
                               [](const call& c) { return c.outcome.has_value(); });
        });
    }

    TEST_CASE("calls from several threads share the streams; cancelled ones leave the rest") {
        if (!have_nginx()) {
            return;
        }
        h2_fixture f;
        f.open_pool(4);
        constexpr std::size_t n = 200;
        std::vector<call> calls(n, h2_fixture::to("/public/graphql"));
        // Every tenth is slow and cancelled; each call on a strand of its own, where its
        // cancellation is emitted.
        std::vector<asio::strand<asio::io_context::executor_type>> strands;
        std::vector<asio::cancellation_signal> sigs(n);
        std::atomic<std::size_t> ended{0};
        for (std::size_t i = 0; i < n; ++i) {
            if (i % 10 == 0) {
                calls[i] = h2_fixture::to("/slow", 2 << 20);
            }
            strands.push_back(asio::make_strand(f.ioc));
        }
        auto one = [&](std::size_t i) -> asio::awaitable<void> {
            co_await glue::test::send(*f.pool, calls[i], clock_type::now() + 20s);
            ++ended;
        };
        for (std::size_t i = 0; i < n; ++i) {
            asio::co_spawn(strands[i], one(i),
                           asio::bind_cancellation_slot(sigs[i].slot(), glue::test::rethrow));
        }
        std::vector<std::thread> threads;
        auto work = asio::make_work_guard(f.ioc);
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&] { f.ioc.run(); });
        }
        CHECK(glue::test::eventually([&] { return ended == n - n / 10; }, 20s));
        for (std::size_t i = 0; i < n; i += 10) {
            asio::post(strands[i], [&, i] { sigs[i].emit(asio::cancellation_type::terminal); });
        }
        CHECK(glue::test::eventually([&] { return ended == n; }, 20s));
        work.reset();
        f.pool->shutdown();
        for (auto& t : threads) {
            t.join();
        }
        for (std::size_t i = 0; i < n; ++i) {
            CAPTURE(i);
            if (i % 10 == 0) {
                CHECK(failure_of(calls[i]).ec == asio::error::operation_aborted);
            } else {
                CHECK(ok(calls[i]));
            }
        }
        CHECK(f.pool->stats().connects == 1);
    }

    TEST_CASE("off: no ALPN is offered, and nginx answers over HTTP/1.1") {
        if (!have_nginx()) {
            return;
        }
        h2_fixture f;
        f.opts.http2 = glue::http2_mode::off;
        f.open_pool();
        auto c = h2_fixture::to("/public/graphql");
        f.start(c, 5s);
        f.finish(c);
        REQUIRE(ok(c));
        CHECK(f.pool->stats().http2 == 0);
        const auto lines = f.logged(1);
        REQUIRE(lines.size() == 1);
        CHECK(lines[0][0] == "HTTP/1.1");
        CHECK((lines[0][1].empty() || lines[0][1] == "-")); // no protocol was negotiated
    }

    TEST_CASE("auto, with a server without HTTP/2: HTTP/1.1, as it selects") {
        if (!have_nginx()) {
            return;
        }
        glue::test::nginx::options o;
        o.http2 = false;
        h2_fixture f(o);
        f.open_pool();
        auto c = h2_fixture::to("/public/graphql");
        f.start(c, 5s);
        f.finish(c);
        REQUIRE(ok(c));
        CHECK(f.pool->stats().http2 == 0);
        const auto lines = f.logged(1);
        REQUIRE(lines.size() == 1);
        CHECK(lines[0][0] == "HTTP/1.1");
        CHECK(lines[0][1] == "http/1.1");
    }

    TEST_CASE("a cancelled call resets its stream alone: the others and the connection go on") {
        if (!have_nginx()) {
            return;
        }
        h2_fixture f;
        f.open_pool();
        auto slow = h2_fixture::to("/slow", 2 << 20);
        asio::cancellation_signal sig;
        f.start_cancellable(slow, sig);
        std::vector<call> fast(20, h2_fixture::to("/public/graphql"));
        for (auto& c : fast) {
            f.start(c, 10s);
        }
        glue::test::run_until(f.ioc, [&] {
            return std::all_of(fast.begin(), fast.end(),
                               [](const call& c) { return c.outcome.has_value(); });
        });
        CHECK(!slow.outcome);
        sig.emit(asio::cancellation_type::terminal);
        f.finish(slow);
        CHECK(failure_of(slow).ec == asio::error::operation_aborted);
        for (const auto& c : fast) {
            CHECK(ok(c));
        }
        CHECK(glue::test::runs_out_of_work(f.ioc));
        // The connection survived the reset.
        auto after = h2_fixture::to("/public/graphql");
        f.start(after, 5s);
        f.finish(after);
        CHECK(ok(after));
        const auto s = f.pool->stats();
        CHECK(s.connects == 1);
        CHECK(s.closed(glue::close_reason::cancelled) == 0);
        CHECK(s.leased == 0);
    }

    TEST_CASE("a call's deadline ends its stream alone") {
        if (!have_nginx()) {
            return;
        }
        h2_fixture f;
        f.open_pool();
        auto slow = h2_fixture::to("/slow", 2 << 20);
        auto fast = h2_fixture::to("/public/graphql");
        const auto started = clock_type::now();
        f.start(slow, 500ms);
        f.start(fast, 5s);
        f.finish(slow, 5s);
        const auto took = slow.ended - started;
        const auto fail = failure_of(slow);
        CHECK(fail.ec == glue::errc::timeout);
        CHECK(took >= 500ms);
        f.finish(fast);
        CHECK(ok(fast));
        // Nothing awaited: the connection's read ends, and the client leaves no work behind.
        CHECK(glue::test::runs_out_of_work(f.ioc));
        auto after = h2_fixture::to("/public/graphql");
        f.start(after, 5s);
        f.finish(after);
        CHECK(ok(after));
        CHECK(f.pool->stats().connects == 1);
    }

    TEST_CASE("the header and body limits hold per stream; the connection stays") {
        if (!have_nginx()) {
            return;
        }
        glue::test::nginx::options o;
        o.server_lines = "    location = /header { add_header X-Pad " + std::string(3000, 'p') +
                         "; return 200 '{}'; }\n"
                         "    location = /big { error_page 405 =200 $uri; }\n";
        o.files.emplace_back("big", std::string(100000, 'b'));
        h2_fixture f(o);
        f.opts.header_limit = 2048;
        f.open_pool();
        auto header = h2_fixture::to("/header");
        f.start(header, 5s);
        f.finish(header);
        auto fail = failure_of(header);
        CHECK(fail.ec == glue::errc::bad_response);
        CHECK(fail.message == "response header larger than the limit");

        auto big = h2_fixture::to("/big", 1000);
        f.start(big, 5s);
        f.finish(big);
        fail = failure_of(big);
        CHECK(fail.ec == glue::errc::bad_response);
        CHECK(fail.message == "response body larger than the limit");

        auto fine = h2_fixture::to("/public/graphql");
        f.start(fine, 5s);
        f.finish(fine);
        CHECK(ok(fine));
        CHECK(f.pool->stats().connects == 1);
    }

    TEST_CASE("a gzip answer is decoded per stream") {
        if (!have_nginx()) {
            return;
        }
        std::string json = "[";
        for (int i = 0; i < 2000; ++i) {
            json += "{\"id\":\"grp_" + std::to_string(i) + "\"},";
        }
        json += "{}]";
        glue::test::nginx::options o;
        o.server_lines = "    location = /zipped { gzip on; gzip_types application/json; "
                         "gzip_min_length 1; types { } default_type application/json; "
                         "error_page 405 =200 $uri; }\n";
        o.files.emplace_back("zipped", json);
        h2_fixture f(o);
        f.open_pool();
        auto c = h2_fixture::to("/zipped", 1 << 20);
        f.start(c, 5s);
        f.finish(c);
        REQUIRE(ok(c));
        CHECK((**c.outcome)->body == json);
    }

    TEST_CASE("a mutation on an idle connection goes once a PING came back") {
        if (!have_nginx()) {
            return;
        }
        h2_fixture f;
        f.open_pool();
        auto first = h2_fixture::to("/public/graphql");
        f.start(first, 5s);
        f.finish(first);
        REQUIRE(ok(first));
        // Not idempotent: sent on the idle connection only after it proved alive.
        gd::http_request req;
        req.target = "/public/graphql";
        req.content_type = "application/json";
        req.body = "{\"query\":\"mutation { x }\"}";
        req.body_limit = 1 << 20;
        req.idempotent = false;
        gd::http_response into;
        gd::send_trace trace;
        auto go = [](gd::http_request&) { return true; };
        auto r = glue::test::run(f.ioc, f.pool->send(req, into, clock_type::now() + 5s,
                                                     gd::request_priority::normal, go, &trace));
        REQUIRE(r.has_value());
        CHECK(*r);
        CHECK(into.status == 200);
        CHECK(trace.http2);
        CHECK(trace.written);
        CHECK(!trace.new_connection);
        CHECK(f.pool->stats().connects == 1);
    }
}

TEST_SUITE("http2") {
    TEST_CASE(
        "a server that offers no h2 (the mock): HTTP/1.1 in auto, a clear failure if required") {
        glue::testing::mock_server_options mo;
        mo.tls = true;
        glue::testing::mock_server server(mo);
        for (auto mode : {glue::http2_mode::automatic, glue::http2_mode::required}) {
            CAPTURE(static_cast<int>(mode));
            pool_fixture f;
            f.opts.ca_pem = server.ca_pem();
            f.opts.http2 = mode;
            f.opts.connect_timeout = 5s;
            f.open("https://127.0.0.1:" + std::to_string(server.port()));
            call c;
            c.body = "grant_type=client_credentials&client_id=glue-test-client&client_secret=x";
            f.start(c, 5s);
            f.finish(c);
            REQUIRE(c.outcome);
            if (mode == glue::http2_mode::automatic) {
                REQUIRE(c.outcome->has_value());
                CHECK(f.pool->stats().http2 == 0);
                CHECK(f.pool->stats().connects == 1);
            } else {
                REQUIRE(!c.outcome->has_value());
                const auto fail = c.outcome->error();
                CHECK(fail.ec == glue::errc::http_error);
                CHECK(std::string(fail.message).find("HTTP/2") != std::string::npos);
                CHECK(fail.unsent);
                CHECK(f.pool->stats().connects == 0);
            }
        }
    }

    TEST_CASE("required with an http:// API URL: the client refuses it before any I/O") {
        asio::io_context ioc;
        glue::client_config cfg;
        cfg.api_url = "http://127.0.0.1:1";
        cfg.client_id = "id";
        cfg.client_secret = "secret";
        cfg.http2 = glue::http2_mode::required;
        try {
            glue::client client(ioc.get_executor(), cfg);
            FAIL("the client was made");
        } catch (const glue::error& e) {
            CHECK(e.code() == glue::errc::invalid_argument);
            CHECK(std::string(e.what()).find("https://") != std::string::npos);
        }
        cfg.api_url = "https://127.0.0.1:1";
        CHECK_NOTHROW(glue::client(ioc.get_executor(), cfg));
        std::ostringstream printed;
        printed << cfg;
        CHECK(printed.str().find("http2=required") != std::string::npos);
    }
}
