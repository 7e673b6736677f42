// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/test_pki.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/system/error_code.hpp>

#include <doctest/doctest.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using glue::testing::detail::make_test_pki;
using glue::testing::detail::test_pki;
using glue::testing::detail::test_pki_options;

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

template <auto Free>
struct openssl_free {
    template <typename T>
    void operator()(T* p) const noexcept {
        Free(p);
    }
};

using x509_ptr = std::unique_ptr<X509, openssl_free<X509_free>>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_free<EVP_PKEY_free>>;
using store_ptr = std::unique_ptr<X509_STORE, openssl_free<X509_STORE_free>>;
using store_ctx_ptr = std::unique_ptr<X509_STORE_CTX, openssl_free<X509_STORE_CTX_free>>;
using bio_ptr = std::unique_ptr<BIO, openssl_free<BIO_free>>;

bio_ptr read_bio(std::string_view pem) {
    bio_ptr bio{BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))};
    REQUIRE(bio != nullptr);
    return bio;
}

x509_ptr parse_cert(std::string_view pem) {
    x509_ptr cert{PEM_read_bio_X509(read_bio(pem).get(), nullptr, nullptr, nullptr)};
    REQUIRE(cert != nullptr);
    return cert;
}

pkey_ptr parse_key(std::string_view pem) {
    pkey_ptr key{PEM_read_bio_PrivateKey(read_bio(pem).get(), nullptr, nullptr, nullptr)};
    REQUIRE(key != nullptr);
    return key;
}

std::string common_name(X509* cert) {
    char name[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name, sizeof name);
    return name;
}

/// Verifies `cert_pem` against `ca_pem` alone as a server certificate, at the current time;
/// `configure` adds host or IP expectations. Returns X509_V_OK or the verification error.
int verify(std::string_view ca_pem, std::string_view cert_pem,
           const std::function<void(X509_VERIFY_PARAM*)>& configure = {}) {
    const x509_ptr ca = parse_cert(ca_pem);
    const x509_ptr cert = parse_cert(cert_pem);
    const store_ptr store{X509_STORE_new()};
    REQUIRE(store != nullptr);
    REQUIRE(X509_STORE_add_cert(store.get(), ca.get()) == 1);
    const store_ctx_ptr ctx{X509_STORE_CTX_new()};
    REQUIRE(ctx != nullptr);
    REQUIRE(X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) == 1);
    X509_VERIFY_PARAM* const param = X509_STORE_CTX_get0_param(ctx.get());
    REQUIRE(X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER) == 1);
    if (configure) {
        configure(param);
    }
    const int ok = X509_verify_cert(ctx.get());
    const int error = X509_STORE_CTX_get_error(ctx.get());
    CHECK((ok == 1) == (error == X509_V_OK));
    return error;
}

auto host(const char* name) {
    return [name](X509_VERIFY_PARAM* param) {
        REQUIRE(X509_VERIFY_PARAM_set1_host(param, name, 0) == 1);
    };
}

auto ip(const char* address) {
    return [address](X509_VERIFY_PARAM* param) {
        REQUIRE(X509_VERIFY_PARAM_set1_ip_asc(param, address) == 1);
    };
}

/// Seconds from now to `time` (negative: in the past).
long seconds_from_now(const ASN1_TIME* time) {
    int days = 0;
    int seconds = 0;
    REQUIRE(ASN1_TIME_diff(&days, &seconds, nullptr, time) == 1);
    return days * 86400L + seconds;
}

constexpr long one_hour = 3600;
constexpr long one_day = 24 * one_hour;
constexpr long slack = 300; // for a slow (e.g. sanitized) run between signing and checking

struct handshake_result {
    std::optional<boost::system::error_code> server;
    std::optional<boost::system::error_code> client;
    long client_verify_result = X509_V_OK;
};

/// A TLS handshake over loopback TCP: the server presents `pki`'s certificate, the client
/// trusts only `pki`'s CA and expects `expected_host`.
handshake_result tls_handshake(const test_pki& pki, const char* expected_host) {
    asio::io_context io;

    ssl::context server_ctx{ssl::context::tls_server};
    server_ctx.use_certificate_chain(asio::buffer(pki.cert_pem));
    server_ctx.use_private_key(asio::buffer(pki.key_pem), ssl::context::pem);

    ssl::context client_ctx{ssl::context::tls_client};
    client_ctx.add_certificate_authority(asio::buffer(pki.ca_pem));
    client_ctx.set_verify_mode(ssl::verify_peer);

    tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};
    ssl::stream<tcp::socket> server{io, server_ctx};
    ssl::stream<tcp::socket> client{io, client_ctx};
    REQUIRE(SSL_set1_host(client.native_handle(), expected_host) == 1);

    handshake_result result;
    acceptor.async_accept(server.next_layer(), [&](const boost::system::error_code& ec) {
        if (ec) {
            result.server = ec;
            return;
        }
        server.async_handshake(ssl::stream_base::server,
                               [&](const boost::system::error_code& ec) { result.server = ec; });
    });
    client.next_layer().async_connect(acceptor.local_endpoint(), [&](const auto& ec) {
        if (ec) {
            result.client = ec;
            return;
        }
        client.async_handshake(ssl::stream_base::client,
                               [&](const boost::system::error_code& ec) { result.client = ec; });
    });
    io.run_for(std::chrono::seconds(10));
    result.client_verify_result = SSL_get_verify_result(client.native_handle());
    return result;
}

} // namespace

TEST_SUITE("make_test_pki") {

    TEST_CASE("the PEM texts are one CA certificate, one server certificate and a PKCS#8 key") {
        const test_pki pki = make_test_pki();
        constexpr std::string_view begin_cert = "-----BEGIN CERTIFICATE-----\n";
        CHECK(pki.ca_pem.starts_with(begin_cert));
        CHECK(pki.ca_pem.find(begin_cert, 1) == std::string::npos);
        CHECK(pki.cert_pem.starts_with(begin_cert));
        CHECK(pki.cert_pem.find(begin_cert, 1) == std::string::npos);
        CHECK(pki.key_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        CHECK(pki.key_pem.ends_with("-----END PRIVATE KEY-----\n"));
    }

    TEST_CASE("the CA is a self-signed v3 CA certificate") {
        const test_pki pki = make_test_pki();
        const x509_ptr ca = parse_cert(pki.ca_pem);
        CHECK(X509_get_version(ca.get()) == X509_VERSION_3);
        CHECK(common_name(ca.get()) == "glue-cpp test CA");
        CHECK(X509_check_issued(ca.get(), ca.get()) == X509_V_OK);
        CHECK(X509_check_ca(ca.get()) == 1);
        CHECK((X509_get_extension_flags(ca.get()) & EXFLAG_CRITICAL) == 0); // all understood
        CHECK(X509_get_key_usage(ca.get()) == (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
        CHECK(X509_get0_subject_key_id(ca.get()) != nullptr);
        CHECK(ASN1_STRING_type(X509_get0_serialNumber(ca.get())) == V_ASN1_INTEGER); // positive
        CHECK(seconds_from_now(X509_get0_notBefore(ca.get())) <= -one_hour + slack);
        CHECK(seconds_from_now(X509_get0_notAfter(ca.get())) >= 30 * one_day - slack);
    }

    TEST_CASE("the server certificate is a v3 end-entity certificate for TLS servers") {
        const test_pki pki = make_test_pki();
        const x509_ptr ca = parse_cert(pki.ca_pem);
        const x509_ptr cert = parse_cert(pki.cert_pem);
        CHECK(X509_get_version(cert.get()) == X509_VERSION_3);
        CHECK(common_name(cert.get()) == "localhost");
        CHECK(X509_check_issued(ca.get(), cert.get()) == X509_V_OK);
        CHECK(X509_check_ca(cert.get()) == 0);
        CHECK(X509_check_purpose(cert.get(), X509_PURPOSE_SSL_SERVER, 0) == 1);
        CHECK((X509_get_key_usage(cert.get()) & KU_DIGITAL_SIGNATURE) != 0);
        CHECK((X509_get_key_usage(cert.get()) & KU_KEY_CERT_SIGN) == 0);
        CHECK(X509_get_extended_key_usage(cert.get()) == XKU_SSL_SERVER);
        REQUIRE(X509_get0_authority_key_id(cert.get()) != nullptr);
        CHECK(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert.get()),
                                    X509_get0_subject_key_id(ca.get())) == 0);
        CHECK(seconds_from_now(X509_get0_notBefore(cert.get())) <= -one_hour + slack);
        CHECK(seconds_from_now(X509_get0_notAfter(cert.get())) >= 30 * one_day - slack);
    }

    TEST_CASE("the server certificate verifies against its CA") {
        const test_pki pki = make_test_pki();
        CHECK(verify(pki.ca_pem, pki.cert_pem) == X509_V_OK);
    }

    TEST_CASE("the server certificate matches the default DNS name and no other") {
        const test_pki pki = make_test_pki();
        CHECK(verify(pki.ca_pem, pki.cert_pem, host("localhost")) == X509_V_OK);
        CHECK(verify(pki.ca_pem, pki.cert_pem, host("other.example")) ==
              X509_V_ERR_HOSTNAME_MISMATCH);
    }

    TEST_CASE("the server certificate matches the default IP addresses and no other") {
        const test_pki pki = make_test_pki();
        CHECK(verify(pki.ca_pem, pki.cert_pem, ip("127.0.0.1")) == X509_V_OK);
        CHECK(verify(pki.ca_pem, pki.cert_pem, ip("::1")) == X509_V_OK);
        CHECK(verify(pki.ca_pem, pki.cert_pem, ip("127.0.0.2")) == X509_V_ERR_IP_ADDRESS_MISMATCH);
        // An IP literal is only an IP SAN, never a DNS one.
        CHECK(verify(pki.ca_pem, pki.cert_pem, host("127.0.0.1")) == X509_V_ERR_HOSTNAME_MISMATCH);
    }

    TEST_CASE("custom hosts become the SANs and the first one the CN") {
        const test_pki pki = make_test_pki({.hosts = {"api.example.test", "10.1.2.3", "fd00::7"}});
        CHECK(common_name(parse_cert(pki.cert_pem).get()) == "api.example.test");
        CHECK(verify(pki.ca_pem, pki.cert_pem, host("api.example.test")) == X509_V_OK);
        CHECK(verify(pki.ca_pem, pki.cert_pem, host("localhost")) == X509_V_ERR_HOSTNAME_MISMATCH);
        CHECK(verify(pki.ca_pem, pki.cert_pem, ip("10.1.2.3")) == X509_V_OK);
        CHECK(verify(pki.ca_pem, pki.cert_pem, ip("fd00::7")) == X509_V_OK);
        CHECK(verify(pki.ca_pem, pki.cert_pem, ip("127.0.0.1")) == X509_V_ERR_IP_ADDRESS_MISMATCH);
    }

    TEST_CASE("a CN of its own, apart from the SANs") {
        // What a client that falls back to the CN would accept: OpenSSL does, by default, when
        // the certificate has no DNS SAN (an IP SAN doesn't count).
        const test_pki pki = make_test_pki({.hosts = {"127.0.0.1"}, .common_name = "localhost"});
        CHECK(common_name(parse_cert(pki.cert_pem).get()) == "localhost");
        CHECK(verify(pki.ca_pem, pki.cert_pem, ip("127.0.0.1")) == X509_V_OK);
        CHECK(verify(pki.ca_pem, pki.cert_pem, host("localhost")) == X509_V_OK);
    }

    TEST_CASE("without hosts the certificate has a generic CN and matches no host") {
        const test_pki pki = make_test_pki({.hosts = {}});
        CHECK(common_name(parse_cert(pki.cert_pem).get()) == "glue-cpp test server");
        CHECK(verify(pki.ca_pem, pki.cert_pem) == X509_V_OK);
        CHECK(verify(pki.ca_pem, pki.cert_pem, host("localhost")) == X509_V_ERR_HOSTNAME_MISMATCH);
    }

    TEST_CASE("an unusable host is reported as an error that names the failing step") {
        // An empty name cannot be a CN (ASN.1 requires at least one character).
        CHECK_THROWS_WITH_AS(make_test_pki({.hosts = {""}}), doctest::Contains("set subject CN"),
                             std::runtime_error);
        CHECK(ERR_peek_error() == 0); // the error queue was drained into the message
    }

    TEST_CASE("an expired server certificate fails verification as expired") {
        const test_pki pki = make_test_pki({.expired = true});
        const x509_ptr cert = parse_cert(pki.cert_pem);
        CHECK(seconds_from_now(X509_get0_notBefore(cert.get())) <= -30 * one_day + slack);
        CHECK(seconds_from_now(X509_get0_notAfter(cert.get())) <= -one_day + slack);
        CHECK(verify(pki.ca_pem, pki.cert_pem, host("localhost")) == X509_V_ERR_CERT_HAS_EXPIRED);
        // Expiry is the only fault: the CA is current and, ignoring time, the chain is good.
        CHECK(seconds_from_now(X509_get0_notAfter(parse_cert(pki.ca_pem).get())) > 0);
        CHECK(verify(pki.ca_pem, pki.cert_pem, [](X509_VERIFY_PARAM* param) {
                  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_NO_CHECK_TIME);
              }) == X509_V_OK);
    }

    TEST_CASE("each call makes a new CA that does not vouch for another call's certificate") {
        const test_pki first = make_test_pki();
        const test_pki second = make_test_pki();
        CHECK(first.ca_pem != second.ca_pem);
        CHECK(first.key_pem != second.key_pem);
        CHECK(ASN1_INTEGER_cmp(X509_get0_serialNumber(parse_cert(first.ca_pem).get()),
                               X509_get0_serialNumber(parse_cert(second.ca_pem).get())) != 0);
        CHECK(verify(first.ca_pem, second.cert_pem) ==
              X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
        CHECK(verify(second.ca_pem, first.cert_pem) ==
              X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    }

    TEST_CASE("the key is the server certificate's key") {
        const test_pki first = make_test_pki();
        const test_pki second = make_test_pki();
        const pkey_ptr key = parse_key(first.key_pem);
        CHECK(EVP_PKEY_is_a(key.get(), "EC") == 1);
        CHECK(X509_check_private_key(parse_cert(first.cert_pem).get(), key.get()) == 1);
        CHECK(X509_check_private_key(parse_cert(second.cert_pem).get(), key.get()) == 0);
        CHECK(X509_check_private_key(parse_cert(first.ca_pem).get(), key.get()) == 0);
        ERR_clear_error(); // the mismatches above leave errors on this thread's queue
    }

    TEST_CASE("calls from several threads at once all succeed") {
        std::vector<test_pki> results(4);
        {
            std::vector<std::jthread> threads;
            for (auto& result : results) {
                threads.emplace_back([&result] { result = make_test_pki(); });
            }
        }
        for (const auto& pki : results) {
            CHECK(verify(pki.ca_pem, pki.cert_pem, host("localhost")) == X509_V_OK);
        }
    }

    TEST_CASE("a TLS client trusting the CA completes a handshake with a server using the cert") {
        const test_pki pki = make_test_pki();
        const handshake_result result = tls_handshake(pki, "localhost");
        REQUIRE(result.server.has_value());
        REQUIRE(result.client.has_value());
        CHECK_MESSAGE(!*result.server, result.server->message());
        CHECK_MESSAGE(!*result.client, result.client->message());
        CHECK(result.client_verify_result == X509_V_OK);
    }

    TEST_CASE("a TLS client expecting another host rejects the server") {
        const test_pki pki = make_test_pki();
        const handshake_result result = tls_handshake(pki, "other.example");
        REQUIRE(result.client.has_value());
        CHECK(*result.client);
        CHECK(result.client_verify_result == X509_V_ERR_HOSTNAME_MISMATCH);
    }

} // TEST_SUITE
