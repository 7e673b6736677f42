// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// TLS: the peer's certificate and name are checked, with the system trust store or a given CA.

#include "support/client_fixture.hpp"

#include <boost/asio/ssl/error.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace {

namespace asio = boost::asio;
using namespace glue::test;

glue::testing::mock_server_options
tls(std::vector<std::string> hosts = {"localhost", "127.0.0.1", "::1"}, bool expired = false) {
    glue::testing::mock_server_options o;
    o.tls = true;
    o.tls_hosts = std::move(hosts);
    o.tls_expired = expired;
    return o;
}

/// A TLS verification failure: an SSL-category error, and nothing sent.
void check_refused(client_fixture& f) {
    auto e = f.error_of(f.client->fetch_token(ws));
    CHECK(e.code().category() == asio::error::get_ssl_category());
    CHECK(e.http_status() == 0);
    CHECK(f.server.requests() == 0);
}

} // namespace

TEST_SUITE("tls") {

    TEST_CASE("a server whose certificate chains to the configured CA works") {
        client_fixture f(tls());
        CHECK(f.cfg.api_url.starts_with("https://127.0.0.1:"));
        CHECK(f.run(f.client->fetch_token(ws)).token_type == "Bearer");
        CHECK(f.run(f.client->graphql(ws, {"{ me { id } }"})).data.is_object());
        CHECK(f.server.tls_handshakes() == f.server.connections_accepted());
        CHECK(f.server.connections_accepted() == 1); // one handshake, kept alive for both requests
    }

    TEST_CASE("the CA can come from a file") {
        glue::testing::mock_server server(tls());
        asio::io_context ioc;
        auto cfg = server.client_config();
        cfg.ca_pem.clear();
        cfg.ca_file = server.ca_file();
        glue::client c(ioc.get_executor(), cfg);
        CHECK(glue::test::run(ioc, c.fetch_token(ws)).token_type == "Bearer");
    }

    TEST_CASE("configured CAs replace the system trust store rather than add to it") {
        glue::testing::mock_server server(tls());
        glue::testing::mock_server other(tls()); // a CA of its own
        // The system store made to hold the server's CA: OpenSSL reads SSL_CERT_FILE for it.
        scoped_env system_store("SSL_CERT_FILE", server.ca_file());
        asio::io_context ioc;
        auto cfg = server.client_config();
        auto fetch = [&] {
            glue::client c(ioc.get_executor(), cfg);
            return glue::test::run(ioc, c.fetch_token(ws));
        };
        auto refused_by_tls = [&] {
            try {
                fetch();
            } catch (const glue::error& e) {
                return e.code().category() == asio::error::get_ssl_category() &&
                       server.requests() == 0;
            }
            return false;
        };
        SUBCASE("neither: the system store, which trusts the server") {
            cfg.ca_pem.clear();
            CHECK(fetch().token_type == "Bearer");
        }
        SUBCASE("ca_pem: only that CA") {
            cfg.ca_pem = other.ca_pem();
            CHECK(refused_by_tls());
        }
        SUBCASE("ca_file: only that file's CAs") {
            cfg.ca_pem.clear();
            cfg.ca_file = other.ca_file();
            CHECK(refused_by_tls());
        }
    }

    TEST_CASE("a host name is checked against the certificate's DNS names") {
        client_fixture f(tls({"localhost"}), [](glue::client_config& c) {
            c.api_url.replace(c.api_url.find("127.0.0.1"), 9, "localhost");
        });
        CHECK(f.run(f.client->fetch_token(ws)).token_type == "Bearer");
    }

    TEST_CASE("an untrusted certificate is refused") {
        // No CA configured: the system trust store, which has never heard of the test CA.
        client_fixture f(tls(), [](glue::client_config& c) { c.ca_pem.clear(); });
        check_refused(f);
    }

    TEST_CASE("a certificate for another host is refused") {
        client_fixture f(tls({"other.example"}));
        check_refused(f);
    }

    TEST_CASE("a certificate for another IP address is refused") {
        client_fixture f(tls({"127.0.0.2", "localhost"}));
        check_refused(f);
    }

    TEST_CASE("an expired certificate is refused") {
        client_fixture f(tls({"127.0.0.1"}, true));
        check_refused(f);
    }

} // TEST_SUITE
