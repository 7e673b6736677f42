// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Transport security: what the client refuses to do on the wire. TLS it can't trust or older
// than 1.2, clear-text HTTP over a network, redirects, header injection, oversized responses.
// The servers that misbehave in ways the mock server can't are raw_servers
// (support/raw_server.hpp) on 127.0.0.1, stopped by the test. Over 500 lines: one suite of many
// small cases, one per refusal.

#include "support/client_fixture.hpp"
#include "support/raw_server.hpp"
#include "testing/test_pki.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using namespace glue::test;

const std::string secret = "S3CR3T-transport-9d2f4a71";

//------------------------------------------------------------------------------
// Responses

constexpr std::string_view token_target = "/oauth/token";
constexpr std::string_view graphql_target = "/public/graphql";

std::string response(int status, std::string_view body, std::string_view extra_headers = {}) {
    return "HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n" + std::string(extra_headers) + "\r\n" +
           std::string(body);
}

/// A token response whose access_token is `token_json` (a JSON value, as written), padded to
/// `size` bytes when that is larger.
std::string token_body(std::string_view token_json = R"("tok_ok")", std::size_t size = 0) {
    const std::string head =
        R"({"access_token":)" + std::string(token_json) + R"(,"token_type":"Bearer","pad":")";
    const std::string tail = R"("})";
    const std::size_t pad = size > head.size() + tail.size() ? size - head.size() - tail.size() : 0;
    return head + std::string(pad, 'p') + tail;
}

/// A GraphQL answer, padded to `size` bytes when that is larger.
std::string graphql_body(std::size_t size = 0) {
    const std::string head = R"({"data":{"me":{"id":"usr_1"}},"extensions":{"pad":")";
    const std::string tail = R"("}})";
    const std::size_t pad = size > head.size() + tail.size() ? size - head.size() - tail.size() : 0;
    return head + std::string(pad, 'p') + tail;
}

/// Answers both endpoints as Glue would.
std::string glue_like(const seen_request& r) {
    if (r.target == token_target) {
        return response(200, token_body());
    }
    return response(200, graphql_body());
}

/// Answers like Glue except at `target`, where it writes `special`.
responder except_at(std::string_view target, std::string special) {
    return [target = std::string(target), special = std::move(special)](const seen_request& r) {
        return r.target == target ? special : glue_like(r);
    };
}

/// Answers like Glue, the GraphQL answers numbered (usr_1, usr_2, ...: which request they
/// answer), each led by `interim` (1xx responses, or anything else).
responder numbered(std::string interim) {
    auto count = std::make_shared<std::atomic<int>>(0);
    return [interim = std::move(interim), count](const seen_request& r) {
        if (r.target == token_target) {
            return interim + glue_like(r);
        }
        const std::string body =
            R"({"data":{"me":{"id":"usr_)" + std::to_string(++*count) + R"("}}})";
        return interim + response(200, body);
    };
}

//------------------------------------------------------------------------------
// Clients and calls

glue::client_config config_for(std::string_view scheme, std::uint16_t port,
                               std::string_view host = "127.0.0.1") {
    glue::client_config cfg;
    cfg.api_url = std::string(scheme) + "://" + std::string(host) + ":" + std::to_string(port);
    cfg.client_id = "glue-security-client";
    cfg.client_secret = secret;
    cfg.redirect_uri = "http://localhost:8080/oauth/callback";
    cfg.request_timeout = 5s;
    cfg.connect_timeout = 3s;
    cfg.token_retry_attempts = 1; // one request per call: counts are exact
    cfg.graphql_retry_attempts = 1;
    return cfg;
}

/// The glue::error the call throws; fails the test if it succeeds.
template <class T>
glue::error error_of(asio::io_context& ioc, asio::awaitable<T> aw) {
    try {
        glue::test::run(ioc, std::move(aw), 10s);
    } catch (const glue::error& e) {
        return e;
    }
    FAIL("the call succeeded, but it should have failed");
    throw; // not reached
}

/// The call failed in the TLS handshake: an SSL error, and no HTTP status (nothing was sent).
void check_refused_by_tls(const glue::error& e) {
    const std::string what = e.what();
    CAPTURE(what);
    CHECK(e.code().category() == asio::error::get_ssl_category());
    CHECK(e.http_status() == 0);
}

/// `{ me { id } }` against a server whose answer breaks a limit that `limit_to` sets: refused as
/// bad_response as soon as the limit is crossed, long before the call's 5 s deadline.
void check_refused_over_limit(const raw_server& server,
                              const std::function<void(glue::client_config&)>& limit_to) {
    asio::io_context ioc;
    auto cfg = config_for("http", server.port());
    limit_to(cfg);
    glue::client c(ioc.get_executor(), cfg);
    const auto start = std::chrono::steady_clock::now();
    auto e = error_of(ioc, c.graphql(ws, {"{ me { id } }"}));
    CHECK(e.code() == errc::bad_response);
    CHECK(std::chrono::steady_clock::now() - start < 2s);
}

/// The id in a `{ me { id } }` answer.
std::string me_id(asio::io_context& ioc, glue::client& c) {
    const auto r = glue::test::run(ioc, c.graphql(ws, {"{ me { id } }"}), 10s);
    return std::string(r.data.at("me").at("id").as_string());
}

std::optional<glue::error> construction_error(const glue::client_config& cfg) {
    asio::io_context ioc;
    try {
        glue::client c(ioc.get_executor(), cfg);
        CHECK(ioc.poll() == 0); // constructing starts nothing
    } catch (const glue::error& e) {
        return e;
    }
    return std::nullopt;
}

//------------------------------------------------------------------------------
// TLS servers

/// A self-signed certificate for IP 127.0.0.1 (not a CA), and its key.
std::pair<std::string, std::string> self_signed_127() {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
    REQUIRE(key);
    REQUIRE(cert);
    X509* x = cert.get();
    REQUIRE(X509_set_version(x, X509_VERSION_3) == 1);
    REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(x), 7) == 1);
    REQUIRE(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
    REQUIRE(X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600));
    REQUIRE(X509_set_pubkey(x, key.get()) == 1);
    X509_NAME* name = X509_get_subject_name(x);
    const auto* cn = reinterpret_cast<const unsigned char*>("127.0.0.1");
    REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn, -1, -1, 0) == 1);
    REQUIRE(X509_set_issuer_name(x, name) == 1);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
    for (auto [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1"},
                              std::pair{NID_basic_constraints, "critical,CA:FALSE"}}) {
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
        REQUIRE(ext);
        CHECK(X509_add_ext(x, ext, -1) == 1);
        X509_EXTENSION_free(ext);
    }
    REQUIRE(X509_sign(x, key.get(), EVP_sha256()) > 0);
    auto pem = [](auto write) {
        std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
        REQUIRE(write(bio.get()) == 1);
        char* data = nullptr;
        const long n = BIO_get_mem_data(bio.get(), &data);
        return std::string(data, static_cast<std::size_t>(n));
    };
    return {pem([&](BIO* b) { return PEM_write_bio_X509(b, x); }), pem([&](BIO* b) {
                return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr,
                                                nullptr);
            })};
}

} // namespace

TEST_SUITE("transport security") {

    //------------------------------------------------------------------------------
    // Certificate verification

    TEST_CASE("a self-signed server certificate is refused, with the system store or a CA") {
        const auto [cert_pem, key_pem] = self_signed_127();
        auto ctx = tls_server_context(cert_pem, key_pem);
        raw_server server(glue_like, ctx.get());
        asio::io_context ioc;
        const std::string other_ca = glue::testing::detail::make_test_pki().ca_pem;
        for (const std::string* ca : {&other_ca, static_cast<const std::string*>(nullptr)}) {
            CAPTURE(ca != nullptr);
            auto cfg = config_for("https", server.port());
            cfg.ca_pem = ca ? *ca : std::string(); // empty: the system trust store
            glue::client c(ioc.get_executor(), cfg);
            check_refused_by_tls(error_of(ioc, c.fetch_token(ws)));
        }
        CHECK(eventually([&] { return server.failed_handshakes() == 2; }));
        CHECK(server.requests().empty());

        // The same server, once its certificate is the one trusted: the refusals were about
        // trust, not about a server that couldn't have worked.
        auto cfg = config_for("https", server.port());
        cfg.ca_pem = cert_pem;
        glue::client trusting(ioc.get_executor(), cfg);
        CHECK(glue::test::run(ioc, trusting.fetch_token(ws), 10s).value == "tok_ok");
        CHECK(server.requests_to(token_target) == 1);
    }

    TEST_CASE("a host name is checked, not only the IP address it resolves to") {
        // The certificate is good for 127.0.0.1, where the server is, but not for "localhost",
        // the name the client asks for: test_tls.cpp's name checks connect by IP address.
        glue::testing::mock_server_options opts;
        opts.tls = true;
        opts.tls_hosts = {"other.example", "127.0.0.1", "::1"};
        client_fixture f(opts, [](glue::client_config& c) {
            c.api_url.replace(c.api_url.find("127.0.0.1"), 9, "localhost");
        });
        check_refused_by_tls(f.error_of(f.client->fetch_token(ws)));
        CHECK(f.server.requests() == 0);
    }

    TEST_CASE("SNI names the host, and is left out for an IP address") {
        const auto pki = glue::testing::detail::make_test_pki(); // localhost, 127.0.0.1, ::1
        auto ctx = tls_server_context(pki.cert_pem, pki.key_pem);
        raw_server server(glue_like, ctx.get());
        asio::io_context ioc;
        for (std::string_view host : {"localhost", "127.0.0.1"}) {
            auto cfg = config_for("https", server.port(), host);
            cfg.ca_pem = pki.ca_pem;
            glue::client c(ioc.get_executor(), cfg);
            CHECK(glue::test::run(ioc, c.fetch_token(ws), 10s).value == "tok_ok");
        }
        CHECK(server.server_names() == std::vector<std::string>{"localhost", ""});
    }

    //------------------------------------------------------------------------------
    // Protocol versions

    TEST_CASE("a server that offers only TLS 1.0 or 1.1 is refused, and sees no request") {
        const auto pki = glue::testing::detail::make_test_pki({{"127.0.0.1"}, false});
        struct version {
            int max;
            bool refused;
        };
        for (auto v : {version{TLS1_VERSION, true}, version{TLS1_1_VERSION, true},
                       version{TLS1_2_VERSION, false}}) {
            CAPTURE(v.max);
            auto ctx = tls_server_context(pki.cert_pem, pki.key_pem);
            // OpenSSL 3 allows TLS 1.0 and 1.1 only at security level 0.
            REQUIRE(SSL_CTX_set_cipher_list(ctx->native_handle(), "DEFAULT:@SECLEVEL=0") == 1);
            REQUIRE(SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_VERSION) == 1);
            REQUIRE(SSL_CTX_set_max_proto_version(ctx->native_handle(), v.max) == 1);
            raw_server server(glue_like, ctx.get());
            asio::io_context ioc;
            auto cfg = config_for("https", server.port());
            cfg.ca_pem = pki.ca_pem;
            glue::client c(ioc.get_executor(), cfg);
            if (v.refused) {
                check_refused_by_tls(error_of(ioc, c.fetch_token(ws)));
                CHECK(eventually([&] { return server.failed_handshakes() == 1; }));
                CHECK(server.handshakes() == 0);
                CHECK(server.requests().empty());
            } else {
                // The same server and certificate at TLS 1.2: fine.
                CHECK(glue::test::run(ioc, c.fetch_token(ws), 10s).value == "tok_ok");
                CHECK(server.handshakes() == 1);
            }
        }
    }

    //------------------------------------------------------------------------------
    // Clear text

    TEST_CASE("http:// to a non-loopback host is refused before any I/O unless allowed") {
        glue::client_config cfg = config_for("http", 80);
        for (std::string_view url :
             {"http://glue.example.com", "HTTP://GLUE.EXAMPLE.COM", "http://glue.example.com:80/v1",
              "http://0.0.0.0:8080", "http://localhost.glue.example.com",
              "http://[::ffff:7f00:1]"}) {
            CAPTURE(url);
            cfg.api_url = url;
            cfg.allow_insecure_http = false;
            const auto e = construction_error(cfg);
            REQUIRE(e.has_value());
            CHECK(e->code() == errc::invalid_argument);
            CHECK(std::string_view(e->what()).find("allow_insecure_http") != std::string::npos);
            // Allowed explicitly, it constructs (and connects nowhere: constructing makes no I/O).
            cfg.allow_insecure_http = true;
            CHECK_FALSE(construction_error(cfg).has_value());
        }
        cfg.allow_insecure_http = false;
        cfg.api_url = "https://glue.example.com";
        CHECK_FALSE(construction_error(cfg).has_value());
    }

    //------------------------------------------------------------------------------
    // Redirects

    TEST_CASE("a redirect from the token endpoint is not followed: the secret goes nowhere else") {
        raw_server elsewhere(glue_like); // would hand out a token, were it asked
        const std::string location =
            "Location: http://127.0.0.1:" + std::to_string(elsewhere.port()) + "/oauth/token\r\n";
        for (int status : {301, 302, 303, 307, 308}) {
            CAPTURE(status);
            raw_server server(except_at(token_target, response(status, "", location)));
            asio::io_context ioc;
            glue::client c(ioc.get_executor(), config_for("http", server.port()));
            auto e = error_of(ioc, c.fetch_token(ws));
            CHECK(e.code() == errc::http_error);
            CHECK(e.http_status() == status);
            const auto seen = server.requests();
            REQUIRE(seen.size() == 1);
            CHECK(seen[0].text.find(secret) != std::string::npos);
        }
        CHECK(elsewhere.accepted() == 0);
        CHECK(elsewhere.requests().empty());
    }

    TEST_CASE("a redirect from the GraphQL endpoint is not followed: the token goes nowhere else") {
        raw_server elsewhere(glue_like);
        const std::string location =
            "Location: http://127.0.0.1:" + std::to_string(elsewhere.port()) +
            "/public/graphql\r\n";
        for (int status : {302, 307, 308}) {
            CAPTURE(status);
            raw_server server(except_at(graphql_target, response(status, "", location)));
            asio::io_context ioc;
            glue::client c(ioc.get_executor(), config_for("http", server.port()));
            auto e = error_of(ioc, c.graphql(ws, {"{ me { id } }"}));
            CHECK(e.code() == errc::http_error);
            CHECK(e.http_status() == status);
            CHECK(server.requests_to(graphql_target) == 1);
        }
        CHECK(elsewhere.accepted() == 0);
    }

    //------------------------------------------------------------------------------
    // Header injection

    TEST_CASE("an access_token with CR LF, NUL or a space is a bad_response and never sent") {
        for (std::string_view token :
             {R"("tok\r\nX-Injected: 1")", R"("tok\nX")", R"("tok\u0000x")", R"("tok x")"}) {
            CAPTURE(token);
            raw_server server(except_at(token_target, response(200, token_body(token))));
            asio::io_context ioc;
            glue::client c(ioc.get_executor(), config_for("http", server.port()));
            auto e = error_of(ioc, c.graphql(ws, {"{ me { id } }"}));
            CHECK(e.code() == errc::bad_response);
            CHECK(server.requests_to(token_target) == 1);
            CHECK(server.requests_to(graphql_target) == 0);
        }
        // A good one is sent as the bearer token.
        raw_server server(glue_like);
        asio::io_context ioc;
        glue::client c(ioc.get_executor(), config_for("http", server.port()));
        CHECK(glue::test::run(ioc, c.graphql(ws, {"{ me { id } }"}), 10s).data.is_object());
        const auto seen = server.requests();
        REQUIRE(seen.size() == 2);
        CHECK(seen[1].text.find("Authorization: Bearer tok_ok\r\n") != std::string::npos);
    }

    TEST_CASE("CR, LF or NUL in a workspace id or a configured header value: refused, no "
              "connection made") {
        raw_server listener(glue_like); // must accept nothing until the last, valid call
        const std::string_view evil[] = {"\r", "\n", "\r\nX-Injected: 1",
                                         std::string_view("\0", 1)};
        using field = std::string glue::client_config::*;
        for (field f : {&glue::client_config::client_id, &glue::client_config::client_secret,
                        &glue::client_config::redirect_uri, &glue::client_config::user_agent}) {
            for (std::string_view bad : evil) {
                CAPTURE(bad.size());
                auto cfg = config_for("http", listener.port());
                (cfg.*f).append(bad).append("x");
                const auto e = construction_error(cfg);
                REQUIRE(e.has_value());
                CHECK(e->code() == errc::invalid_argument);
                CHECK(std::string_view(e->what()).find(secret) == std::string::npos);
            }
        }
        asio::io_context ioc;
        glue::client c(ioc.get_executor(), config_for("http", listener.port()));
        for (std::string_view bad : evil) {
            CAPTURE(bad.size());
            const std::string id = "wks_a" + std::string(bad) + "b";
            CHECK(error_of(ioc, c.fetch_token(id)).code() == errc::invalid_argument);
            CHECK(error_of(ioc, c.graphql(id, {"{ me { id } }"})).code() == errc::invalid_argument);
        }
        CHECK(listener.accepted() == 0);
        // The listener was there all along.
        CHECK(glue::test::run(ioc, c.fetch_token(ws), 10s).value == "tok_ok");
        CHECK(listener.accepted() == 1);
    }

    //------------------------------------------------------------------------------
    // Response limits

    TEST_CASE("an oversized response header is a bad_response, promptly, from either endpoint") {
        for (auto target : {token_target, graphql_target}) {
            for (std::size_t limit : {std::size_t(0), std::size_t(4096)}) { // 0: the default
                CAPTURE(target);
                CAPTURE(limit);
                const std::size_t effective = limit ? limit : 64 * 1024;
                // Header fields that go on past the limit, and a server that then says nothing.
                const std::string endless = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                            "X-Pad: " +
                                            std::string(effective + 1024, 'h') + "\r\n";
                raw_server server(except_at(target, endless));
                check_refused_over_limit(server, [&](glue::client_config& cfg) {
                    if (limit) {
                        cfg.max_response_header_bytes = limit;
                    }
                });
            }
        }
        // A header just under the configured limit is fine.
        raw_server server(
            except_at(graphql_target,
                      response(200, graphql_body(), "X-Pad: " + std::string(3500, 'h') + "\r\n")));
        asio::io_context ioc;
        auto cfg = config_for("http", server.port());
        cfg.max_response_header_bytes = 4096;
        glue::client c(ioc.get_executor(), cfg);
        CHECK(glue::test::run(ioc, c.graphql(ws, {"{ me { id } }"}), 10s).data.is_object());
    }

    TEST_CASE("a header limit beyond 4 GiB is not cut down to its low 32 bits") {
        raw_server server(glue_like);
        asio::io_context ioc;
        auto cfg = config_for("http", server.port());
        cfg.max_response_header_bytes = (std::size_t(1) << 32) + 16; // "no limit", in effect
        glue::client c(ioc.get_executor(), cfg);
        CHECK(glue::test::run(ioc, c.graphql(ws, {"{ me { id } }"}), 10s).data.is_object());
    }

    TEST_CASE("the token endpoint has its own 64 KiB body limit") {
        constexpr std::size_t limit = 64 * 1024;
        struct size_case {
            std::size_t body, graphql_limit;
            bool ok;
        };
        // The GraphQL limit neither lifts the token's (32 MiB, the default) nor lowers it.
        for (auto s : {size_case{limit, 32 << 20, true}, size_case{limit + 1, 32 << 20, false},
                       size_case{limit, 1024, true}}) {
            CAPTURE(s.body);
            CAPTURE(s.graphql_limit);
            raw_server server(
                except_at(token_target, response(200, token_body(R"("tok_ok")", s.body))));
            asio::io_context ioc;
            auto cfg = config_for("http", server.port());
            cfg.max_response_body_bytes = s.graphql_limit;
            glue::client c(ioc.get_executor(), cfg);
            if (s.ok) {
                CHECK(glue::test::run(ioc, c.fetch_token(ws), 10s).value == "tok_ok");
            } else {
                CHECK(error_of(ioc, c.fetch_token(ws)).code() == errc::bad_response);
            }
        }
    }

    TEST_CASE("an oversized body is a bad_response as soon as it shows, from either endpoint") {
        constexpr std::size_t graphql_limit = 4096;
        for (auto target : {token_target, graphql_target}) {
            const std::size_t limit = target == token_target ? 64 * 1024 : graphql_limit;
            const std::string chunk = std::string(1024, 'b');
            std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
            for (std::size_t sent = 0; sent <= limit; sent += chunk.size()) {
                chunked += "400\r\n" + chunk + "\r\n";
            }
            std::string until_close = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
            until_close += std::string(limit + 1, 'b');
            // Each sends or announces more than the limit, then holds the connection open.
            const std::string shapes[] = {
                response(200, std::string(limit + 1, 'b')),
                "HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n" + chunk,
                chunked,
                until_close,
            };
            for (const auto& shape : shapes) {
                const std::string start_of_shape = shape.substr(0, 60);
                CAPTURE(target);
                CAPTURE(start_of_shape);
                raw_server server(except_at(target, shape));
                check_refused_over_limit(server, [&](glue::client_config& cfg) {
                    cfg.max_response_body_bytes = graphql_limit;
                });
            }
        }
        // Exactly at the GraphQL limit is fine.
        raw_server server(except_at(graphql_target, response(200, graphql_body(graphql_limit))));
        asio::io_context ioc;
        auto cfg = config_for("http", server.port());
        cfg.max_response_body_bytes = graphql_limit;
        glue::client c(ioc.get_executor(), cfg);
        CHECK(glue::test::run(ioc, c.graphql(ws, {"{ me { id } }"}), 10s).data.is_object());
    }

    //------------------------------------------------------------------------------
    // Response framing

    TEST_CASE("interim 1xx responses are skipped: each call gets its own answer, on one "
              "connection") {
        const std::string early_hints =
            "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n";
        const std::string several = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n" +
                                    early_hints + early_hints;
        for (const std::string& interim : {early_hints, several}) {
            CAPTURE(interim);
            raw_server server(numbered(interim));
            asio::io_context ioc;
            glue::client c(ioc.get_executor(), config_for("http", server.port()));
            for (int i = 1; i <= 3; ++i) {
                CHECK(me_id(ioc, c) == "usr_" + std::to_string(i));
            }
            CHECK(server.accepted() == 1);
            CHECK(server.requests().size() == 4); // the token, three queries
        }
    }

    TEST_CASE("101 Switching Protocols is a bad_response, and its connection is not used again") {
        std::atomic<int> graphql_requests = 0;
        const auto plain = numbered("");
        raw_server server([&](const seen_request& r) {
            // The first query's answer: a 101, then an answer that must be nobody's.
            if (r.target == graphql_target && ++graphql_requests == 1) {
                return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                       "Upgrade: websocket\r\n\r\n" +
                       response(200, R"({"data":{"me":{"id":"usr_stale"}}})");
            }
            return plain(r);
        });
        asio::io_context ioc;
        glue::client c(ioc.get_executor(), config_for("http", server.port()));
        auto e = error_of(ioc, c.graphql(ws, {"{ me { id } }"}));
        CHECK(e.code() == errc::bad_response);
        CHECK(me_id(ioc, c) == "usr_1"); // its own answer, on a new connection
        CHECK(server.accepted() == 2);
    }

    TEST_CASE("more than 8 interim responses are a bad_response") {
        std::string many;
        for (int i = 0; i < 9; ++i) {
            many += "HTTP/1.1 102 Processing\r\n\r\n";
        }
        raw_server server(except_at(graphql_target, many + response(200, graphql_body())));
        asio::io_context ioc;
        glue::client c(ioc.get_executor(), config_for("http", server.port()));
        CHECK(error_of(ioc, c.graphql(ws, {"{ me { id } }"})).code() == errc::bad_response);
    }

    TEST_CASE("an unsolicited response on an idle connection is not the next call's answer") {
        raw_server server(numbered(""));
        // A server that times out idle connections with a 408 and closes them.
        server.set_unsolicited(
            20ms, "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        asio::io_context ioc;
        glue::client c(ioc.get_executor(), config_for("http", server.port()));
        CHECK(glue::test::run(ioc, c.fetch_token(ws), 10s).value == "tok_ok");
        // The 408 was written to the idle connection; a moment more to arrive.
        REQUIRE(eventually([&] { return server.unsolicited_sent() == 1; }));
        std::this_thread::sleep_for(100ms);
        CHECK(me_id(ioc, c) == "usr_1");
        CHECK(server.accepted() == 2);
    }

    TEST_CASE("a chunk-size line or a trailer that never ends is a bad_response, promptly") {
        // 8 MiB with no CRLF: without a bound on the read buffer, the client would hold all of
        // it and wait for the deadline.
        const std::string flood(8 << 20, 'a');
        const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (const std::string& shape :
             {head + "1;ext=" + flood, head + "1\r\nx\r\n0\r\nX-Trailer: " + flood}) {
            const std::string start_of_shape = shape.substr(0, 90);
            CAPTURE(start_of_shape);
            raw_server server(except_at(graphql_target, shape));
            check_refused_over_limit(server, [](glue::client_config&) {});
        }
    }

} // TEST_SUITE
