// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Proxies, against a real one: tinyproxy in front of the mock server over TLS (CONNECT, Basic
// auth, NO_PROXY, one tunnel per pooled connection), and raw servers playing proxies that
// misbehave, are down or never answer.

#include "support/black_hole.hpp"
#include "support/client_fixture.hpp"
#include "support/raw_server.hpp"
#include "support/tinyproxy.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using namespace glue::test;
using namespace std::chrono_literals;

const std::string proxy_user = "glue-proxy-user";
const std::string proxy_password = "s3cret-Proxy-pw";

glue::testing::mock_server_options over_tls() {
    glue::testing::mock_server_options o;
    o.tls = true;
    return o;
}

/// The client goes through `proxy_url` and nothing else: the machine's proxy variables (a
/// NO_PROXY listing 127.0.0.1, say) don't count.
std::function<void(glue::client_config&)> through(std::string proxy_url) {
    return [proxy_url = std::move(proxy_url)](glue::client_config& cfg) {
        cfg.proxy = proxy_url;
        cfg.proxy_from_env = false;
    };
}

/// Through a proxy listening on 127.0.0.1:`port`.
std::function<void(glue::client_config&)> through(std::uint16_t port) {
    return through("http://127.0.0.1:" + std::to_string(port));
}

/// A raw server playing a proxy that answers CONNECT with `answer`.
raw_server fake_proxy(std::string answer) {
    return raw_server([answer = std::move(answer)](const seen_request&) { return answer; });
}

std::string printed(const glue::client_config& cfg) {
    std::ostringstream s;
    s << cfg;
    return s.str();
}

/// Nothing of the proxy's credentials: neither as given nor as sent (base64).
void check_no_credentials(const std::string& text) {
    CHECK(text.find(proxy_password) == std::string::npos);
    CHECK(text.find(proxy_user) == std::string::npos);
    CHECK(text.find("Basic ") == std::string::npos);
}

} // namespace

TEST_SUITE("proxy") {

    TEST_CASE("token and GraphQL go through a CONNECT tunnel, TLS verified end to end") {
        client_fixture f(over_tls());
        tinyproxy proxy({{f.server.port()}, {}, {}});
        auto cfg = f.cfg;
        through(proxy.url())(cfg);
        f.client.emplace(f.ioc.get_executor(), cfg);
        CHECK(!cfg.ca_pem.empty()); // verification against the test CA, as in production
        CHECK(f.run(f.client->fetch_token(ws)).token_type == "Bearer");
        CHECK(f.run(f.client->graphql(ws, {"{ me { id } }"})).data.is_object());
        CHECK(proxy.connects() == 1);
        CHECK(proxy.requests("CONNECT 127.0.0.1:" + std::to_string(f.server.port()) + " ") == 1);
        CHECK(f.server.connections_accepted() == 1); // from the proxy: the client has one tunnel
        CHECK(f.server.tls_handshakes() == 1);
    }

    TEST_CASE("through the proxy, the certificate is still checked against the origin's name") {
        glue::testing::mock_server_options o = over_tls();
        o.tls_hosts = {"api.example.com"}; // not the address the client asks for
        glue::testing::mock_server server(o);
        tinyproxy proxy({{server.port()}, {}, {}});
        asio::io_context ioc;
        auto cfg = server.client_config();
        through(proxy.url())(cfg);
        glue::client c(ioc.get_executor(), cfg);
        try {
            run(ioc, c.fetch_token(ws));
            FAIL("the certificate was accepted");
        } catch (const glue::error& e) {
            CHECK(e.code().category() == asio::error::get_ssl_category());
        }
        CHECK(proxy.connects() >= 1); // the tunnel was made; TLS inside it refused the peer
        CHECK(server.requests() == 0);
    }

    TEST_CASE("a proxy that requires auth: 407 without credentials, success with them") {
        client_fixture f(over_tls());
        tinyproxy proxy({{f.server.port()}, proxy_user, proxy_password});

        auto cfg = f.cfg;
        through(proxy.url())(cfg);
        f.client.emplace(f.ioc.get_executor(), cfg);
        auto e = f.error_of(f.client->fetch_token(ws));
        CHECK(e.code() == errc::forbidden);
        CHECK(e.http_status() == 407);
        CHECK(e.details()->proxy_status == 407);
        CHECK(std::string(e.what()).find("407") != std::string::npos);
        CHECK(std::string(e.what()).find("proxy") != std::string::npos);
        CHECK(f.server.requests() == 0);

        through(proxy.url(proxy_user, "wrong-password"))(cfg);
        f.client.emplace(f.ioc.get_executor(), cfg);
        e = f.error_of(f.client->fetch_token(ws));
        CHECK(e.code() == errc::forbidden);
        // tinyproxy answers wrong credentials with a 401 rather than a 407.
        CHECK((e.details()->proxy_status == 401 || e.details()->proxy_status == 407));
        CHECK(std::string(e.what()).find("wrong-password") == std::string::npos);

        through(proxy.url(proxy_user, proxy_password))(cfg);
        f.client.emplace(f.ioc.get_executor(), cfg);
        CHECK(f.run(f.client->fetch_token(ws)).token_type == "Bearer");
        CHECK(f.run(f.client->graphql(ws, {"{ me { id } }"})).data.is_object());
        CHECK(f.server.connections_accepted() == 1);
    }

    TEST_CASE("NO_PROXY: each form bypasses the proxy, a form that doesn't match doesn't") {
        client_fixture f(over_tls());
        tinyproxy proxy({{f.server.port()}, {}, {}});
        const auto port = std::to_string(f.server.port());
        struct form {
            const char* what;
            std::string api_host; // the api_url's host
            std::string no_proxy;
            bool bypass;
        };
        const std::vector<form> forms = {
            {"exact name", "localhost", "localhost", true},
            {"leading-dot suffix", "localhost", ".localhost", true},
            {"*", "127.0.0.1", "*", true},
            {"IP literal", "127.0.0.1", "127.0.0.1", true},
            {"IPv4 CIDR", "127.0.0.1", "127.0.0.0/8", true},
            {"host:port", "127.0.0.1", "127.0.0.1:" + port, true},
            {"in a list, with spaces", "127.0.0.1", " example.com , 127.0.0.1 ", true},
            {"another port", "127.0.0.1", "127.0.0.1:1", false},
            {"another range", "127.0.0.1", "10.0.0.0/8", false},
            {"another name", "localhost", "example.com", false},
        };
        for (const auto& form : forms) {
            CAPTURE(form.what);
            const auto before = proxy.connects();
            auto cfg = f.cfg;
            through(proxy.url())(cfg);
            cfg.api_url = "https://" + form.api_host + ":" + port;
            cfg.no_proxy = form.no_proxy;
            f.client.emplace(f.ioc.get_executor(), cfg);
            CHECK(f.run(f.client->fetch_token(ws)).token_type == "Bearer");
            CHECK(proxy.connects() - before == (form.bypass ? 0u : 1u));
        }
    }

    TEST_CASE("NO_PROXY from the environment, no_proxy before NO_PROXY") {
        client_fixture f(over_tls());
        tinyproxy proxy({{f.server.port()}, {}, {}});
        scoped_env lower("no_proxy", "127.0.0.0/8");
        scoped_env upper("NO_PROXY", "example.com");
        auto cfg = f.cfg;
        cfg.proxy = proxy.url();
        cfg.proxy_from_env = true;
        f.client.emplace(f.ioc.get_executor(), cfg);
        CHECK(f.run(f.client->fetch_token(ws)).token_type == "Bearer");
        CHECK(proxy.connects() == 0);

        cfg.proxy_from_env = false; // the variables no longer count
        f.client.emplace(f.ioc.get_executor(), cfg);
        CHECK(f.run(f.client->fetch_token(ws)).token_type == "Bearer");
        CHECK(proxy.connects() == 1);
    }

    TEST_CASE("the environment's proxy is not used for a loopback api_url") {
        client_fixture f(over_tls());
        tinyproxy proxy({{f.server.port()}, {}, {}});
        scoped_env https_proxy("https_proxy", proxy.url());
        scoped_env all_proxy("ALL_PROXY", proxy.url());
        scoped_env no_proxy("no_proxy", "");
        scoped_env upper_no_proxy("NO_PROXY", "");
        auto cfg = f.cfg;
        cfg.proxy_from_env = true;
        f.client.emplace(f.ioc.get_executor(), cfg);
        CHECK(f.run(f.client->fetch_token(ws)).token_type == "Bearer");
        CHECK(proxy.connects() == 0);
    }

    TEST_CASE("an http:// api_url goes to a loopback proxy in absolute form") {
        client_fixture f;
        tinyproxy proxy({{}, proxy_user, proxy_password});
        auto cfg = f.cfg;
        through(proxy.url(proxy_user, proxy_password))(cfg);
        f.client.emplace(f.ioc.get_executor(), cfg);
        CHECK(f.run(f.client->fetch_token(ws)).token_type == "Bearer");
        CHECK(f.run(f.client->graphql(ws, {"{ me { id } }"})).data.is_object());
        const auto origin = "http://127.0.0.1:" + std::to_string(f.server.port());
        CHECK(proxy.requests("POST " + origin + "/oauth/token ") == 1);
        CHECK(proxy.requests("POST " + origin + "/public/graphql ") == 1);
        CHECK(proxy.connects() == 0);
        CHECK(f.server.requests() == 2);
    }

    TEST_CASE("one CONNECT per pooled connection") {
        client_fixture f(over_tls());
        tinyproxy proxy({{f.server.port()}, {}, {}});
        auto cfg = f.cfg;
        through(proxy.url())(cfg);
        f.client.emplace(f.ioc.get_executor(), cfg);
        for (int i = 0; i < 20; ++i) {
            CHECK(f.run(f.client->graphql(ws, {"{ me { id } }"})).data.is_object());
        }
        CHECK(proxy.connects() == 1);
        CHECK(f.server.connections_accepted() == 1);

        // Two calls at once need two connections: one more tunnel.
        f.server.set_fault(endpoint::graphql, delayed(300ms));
        int done = 0;
        for (int i = 0; i < 2; ++i) {
            asio::co_spawn(f.ioc, f.client->graphql(ws, {"{ me { id } }"}),
                           [&](std::exception_ptr e, glue::graphql_response) {
                               CHECK(!e);
                               ++done;
                           });
        }
        run_until(f.ioc, [&] { return done == 2; });
        CHECK(proxy.connects() == 2);
        CHECK(f.server.connections_accepted() == 2);
    }

    TEST_CASE("a proxy that is down: nothing listening is a typed error at once") {
        const auto port = free_loopback_port();
        client_fixture f(over_tls(), [&](glue::client_config& cfg) {
            through(port)(cfg);
            cfg.token_retry_attempts = 1;
        });
        auto e = f.error_of(f.client->fetch_token(ws));
        CHECK(e.code() == asio::error::connection_refused);
        CHECK(f.server.requests() == 0);
    }

    TEST_CASE("a black-holed proxy: errc::timeout at connect_timeout") {
        black_hole hole("127.0.0.1", 0);
        REQUIRE(hole.hangs());
        client_fixture f(over_tls(), [&](glue::client_config& cfg) {
            through(hole.endpoint().port())(cfg);
            cfg.connect_timeout = 500ms;
            cfg.token_retry_attempts = 1;
        });
        auto e = f.error_of(f.client->fetch_token(ws));
        CHECK(e.code() == errc::timeout);
        CHECK(f.server.requests() == 0);
    }

    TEST_CASE("a proxy that never answers CONNECT: errc::timeout at connect_timeout") {
        // An unfinished header: the read waits for the rest, bounded by the connect deadline.
        auto proxy = fake_proxy("HTTP/1.1 200 Connection established\r\nX-Pending: ");
        client_fixture f(over_tls(), [&](glue::client_config& cfg) {
            through(proxy.port())(cfg);
            cfg.connect_timeout = 500ms;
            cfg.token_retry_attempts = 1;
        });
        auto e = f.error_of(f.client->fetch_token(ws));
        CHECK(e.code() == errc::timeout);
        CHECK(proxy.requests_to("127.0.0.1:" + std::to_string(f.server.port())) == 1);
    }

    TEST_CASE("a proxy's 502, 503 or 504 is transient: retried, then errc::server_error") {
        for (const char* status :
             {"502 Bad Gateway", "503 Service Unavailable", "504 Gateway Timeout"}) {
            CAPTURE(status);
            auto proxy = fake_proxy(std::string("HTTP/1.1 ") + status +
                                    "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            client_fixture f(over_tls(), [&](glue::client_config& cfg) {
                through(proxy.port())(cfg);
                cfg.token_retry_attempts = 2;
                cfg.token_retry_base_delay = 1ms;
                cfg.graphql_retry_attempts = 3;
                cfg.graphql_retry_base_delay = 1ms;
            });
            auto e = f.error_of(f.client->fetch_token(ws));
            CHECK(e.code() == errc::server_error);
            CHECK(e.http_status() == std::stoi(status));
            CHECK(e.details()->proxy_status == std::stoi(status));
            CHECK(proxy.requests().size() == 2); // the token request's retry

            glue::graphql_request own_token("{ me { id } }");
            own_token.access_token = "a-token"; // no token request: straight to the proxy
            e = f.error_of(f.client->graphql(ws, own_token));
            CHECK(e.code() == errc::server_error);
            CHECK(proxy.requests().size() == 5); // and GraphQL's
        }
    }

    TEST_CASE("another refusal is errc::http_error with the proxy's status, not retried") {
        auto proxy = fake_proxy("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        client_fixture f(over_tls(), [&](glue::client_config& cfg) { through(proxy.port())(cfg); });
        auto e = f.error_of(f.client->fetch_token(ws));
        CHECK(e.code() == errc::http_error);
        CHECK(e.http_status() == 403);
        CHECK(e.details()->proxy_status == 403);
        CHECK(proxy.requests().size() == 1);
    }

    TEST_CASE("a bad answer to CONNECT is errc::bad_response, and no TLS is attempted") {
        struct bad {
            const char* what;
            std::string answer;
        };
        const std::vector<bad> answers = {
            {"a 200 with a body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"},
            {"a 200 chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
            {"bytes after the header", "HTTP/1.1 200 Connection established\r\n\r\nextra"},
            {"not HTTP", "SSH-2.0-OpenSSH_9.2\r\n\r\n"},
            {"a status out of range", "HTTP/1.1 099 Odd\r\n\r\n"},
            {"a header over the limit",
             "HTTP/1.1 200 OK\r\nX-Filler: " + std::string(4096, 'a') + "\r\n\r\n"},
        };
        for (const auto& a : answers) {
            CAPTURE(a.what);
            auto proxy = fake_proxy(a.answer);
            client_fixture f(over_tls(), [&](glue::client_config& cfg) {
                through(proxy.port())(cfg);
                cfg.max_response_header_bytes = 1024;
                cfg.token_retry_attempts = 1;
            });
            auto e = f.error_of(f.client->fetch_token(ws));
            CHECK(e.code() == errc::bad_response);
            CHECK(f.server.requests() == 0);
        }
    }

    TEST_CASE("the proxy's credentials appear in no error and no printed configuration") {
        client_fixture f(over_tls());
        tinyproxy proxy({{f.server.port()}, proxy_user, proxy_password});
        auto cfg = f.cfg;
        through(proxy.url(proxy_user, proxy_password + "-wrong"))(cfg);
        check_no_credentials(printed(cfg));
        CHECK(printed(cfg).find("127.0.0.1:" + std::to_string(proxy.port())) != std::string::npos);
        f.client.emplace(f.ioc.get_executor(), cfg);
        auto e = f.error_of(f.client->fetch_token(ws));
        CHECK(e.code() == errc::forbidden);
        check_no_credentials(e.what());
        check_no_credentials(e.code().message());

        // A proxy URL the client refuses: its message doesn't show it either.
        for (std::string bad : {"https://" + proxy_user + ":" + proxy_password + "@proxy:443",
                                "socks5://" + proxy_user + ":" + proxy_password + "@proxy",
                                "http://" + proxy_user + ":" + proxy_password + "@proxy:99999"}) {
            CAPTURE(bad);
            cfg.proxy = bad;
            check_no_credentials(printed(cfg));
            try {
                glue::client c(f.ioc.get_executor(), cfg);
                FAIL("the proxy URL was accepted");
            } catch (const glue::error& err) {
                CHECK(err.code() == errc::invalid_argument);
                check_no_credentials(err.what());
            }
        }
    }
}
