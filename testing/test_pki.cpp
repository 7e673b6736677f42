// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/test_pki.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace glue::testing::detail {

namespace {

constexpr long one_hour = 60L * 60;
constexpr long one_day = 24 * one_hour;

template <auto Free>
struct openssl_free {
    template <typename T>
    void operator()(T* p) const noexcept {
        Free(p);
    }
};

template <typename T, auto Free>
using openssl_ptr = std::unique_ptr<T, openssl_free<Free>>;

using pkey_ptr = openssl_ptr<EVP_PKEY, EVP_PKEY_free>;
using x509_ptr = openssl_ptr<X509, X509_free>;
using extension_ptr = openssl_ptr<X509_EXTENSION, X509_EXTENSION_free>;
using bignum_ptr = openssl_ptr<BIGNUM, BN_free>;
using bio_ptr = openssl_ptr<BIO, BIO_free>;
using general_names_ptr = openssl_ptr<GENERAL_NAMES, GENERAL_NAMES_free>;
using general_name_ptr = openssl_ptr<GENERAL_NAME, GENERAL_NAME_free>;
using octet_string_ptr = openssl_ptr<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>;
using ia5_string_ptr = openssl_ptr<ASN1_IA5STRING, ASN1_IA5STRING_free>;

/// Throws with `step` and everything on this thread's OpenSSL error queue (which it empties, so
/// a later failure does not report stale errors).
[[noreturn]] void fail(std::string_view step) {
    std::string message = "make_test_pki: ";
    message += step;
    message += " failed";
    const char* separator = ": ";
    while (const unsigned long code = ERR_get_error()) {
        char text[256];
        ERR_error_string_n(code, text, sizeof text);
        message += std::exchange(separator, "; ");
        message += text;
    }
    throw std::runtime_error(message);
}

/// OpenSSL reports success as 1 (or a positive size) and failure as 0 or less.
void check(int result, std::string_view step) {
    if (result <= 0) {
        fail(step);
    }
}

template <typename T>
T* check(T* result, std::string_view step) {
    if (result == nullptr) {
        fail(step);
    }
    return result;
}

pkey_ptr make_key() {
    return pkey_ptr{check(EVP_EC_gen("P-256"), "generate P-256 key")};
}

/// Seconds relative to now.
struct validity {
    long not_before;
    long not_after;
};

/// An extension written in OpenSSL's configuration syntax, e.g. "critical,CA:TRUE".
struct extension_spec {
    int nid;
    const char* value;
};

struct certificate_spec {
    std::string_view common_name;
    EVP_PKEY* subject_key;
    X509* issuer; // nullptr: self-signed
    EVP_PKEY* issuer_key;
    validity valid;
    std::initializer_list<extension_spec> extensions;
    GENERAL_NAMES* alt_names; // nullptr or empty: no subjectAltName
};

/// A random positive serial of 127 bits: unpredictable, so certificates from different calls
/// never share issuer and serial, and short enough to stay within RFC 5280's 20 octets.
void set_random_serial(X509* cert) {
    const bignum_ptr serial{check(BN_new(), "allocate serial")};
    check(BN_rand(serial.get(), 127, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY), "generate serial");
    check(BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert)), "set serial");
}

x509_ptr make_certificate(const certificate_spec& spec) {
    x509_ptr cert{check(X509_new(), "allocate certificate")};
    X509* const issuer = spec.issuer != nullptr ? spec.issuer : cert.get();

    check(X509_set_version(cert.get(), X509_VERSION_3), "set version");
    set_random_serial(cert.get());
    check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.valid.not_before), "set notBefore");
    check(X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.valid.not_after), "set notAfter");
    const auto* cn = reinterpret_cast<const unsigned char*>(spec.common_name.data());
    check(X509_NAME_add_entry_by_NID(X509_get_subject_name(cert.get()), NID_commonName,
                                     MBSTRING_UTF8, cn, static_cast<int>(spec.common_name.size()),
                                     -1, 0),
          "set subject CN");
    check(X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)), "set issuer name");
    // Before the extensions: subjectKeyIdentifier is a hash of this key.
    check(X509_set_pubkey(cert.get(), spec.subject_key), "set public key");

    X509V3_CTX ctx{};
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert.get(), nullptr, nullptr, 0);
    for (const auto& [nid, value] : spec.extensions) {
        const extension_ptr ext{X509V3_EXT_conf_nid(nullptr, &ctx, nid, value)};
        if (ext == nullptr) {
            fail(std::string("make extension ") + OBJ_nid2sn(nid));
        }
        check(X509_add_ext(cert.get(), ext.get(), -1), "add extension");
    }
    if (spec.alt_names != nullptr && sk_GENERAL_NAME_num(spec.alt_names) > 0) {
        check(X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, spec.alt_names, 0,
                                X509V3_ADD_DEFAULT),
              "add subjectAltName");
    }

    check(X509_sign(cert.get(), spec.issuer_key, EVP_sha256()), "sign certificate");
    return cert;
}

/// IP literals become IP SANs, as clients match an IP host only against those; the rest DNS.
general_names_ptr make_alt_names(const std::vector<std::string>& hosts) {
    general_names_ptr names{check(GENERAL_NAMES_new(), "allocate subjectAltName")};
    for (const auto& host : hosts) {
        general_name_ptr name{check(GENERAL_NAME_new(), "allocate subjectAltName entry")};
        // Not being an IP literal is an answer, not an error: keep it off the error queue.
        ERR_set_mark();
        octet_string_ptr ip{a2i_IPADDRESS(host.c_str())};
        ERR_pop_to_mark();
        if (ip != nullptr) {
            GENERAL_NAME_set0_value(name.get(), GEN_IPADD, ip.release());
        } else {
            ia5_string_ptr dns{check(ASN1_IA5STRING_new(), "allocate DNS name")};
            check(ASN1_STRING_set(dns.get(), host.data(), static_cast<int>(host.size())),
                  "set DNS name");
            GENERAL_NAME_set0_value(name.get(), GEN_DNS, dns.release());
        }
        check(sk_GENERAL_NAME_push(names.get(), name.get()), "add subjectAltName entry");
        name.release(); // now owned by `names`
    }
    return names;
}

template <typename Write>
std::string to_pem(Write write, std::string_view step) {
    const bio_ptr bio{check(BIO_new(BIO_s_mem()), "allocate BIO")};
    check(write(bio.get()), step);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return {data, static_cast<std::size_t>(size)};
}

std::string cert_to_pem(X509* cert) {
    return to_pem([cert](BIO* bio) { return PEM_write_bio_X509(bio, cert); },
                  "write certificate PEM");
}

} // namespace

test_pki make_test_pki(const test_pki_options& opts) {
    constexpr std::string_view ca_name = "glue-cpp test CA";
    constexpr std::string_view default_server_name = "glue-cpp test server";

    const pkey_ptr ca_key = make_key();
    const x509_ptr ca = make_certificate({
        .common_name = ca_name,
        .subject_key = ca_key.get(),
        .issuer = nullptr,
        .issuer_key = ca_key.get(),
        .valid = {-one_hour, 30 * one_day},
        .extensions = {{NID_basic_constraints, "critical,CA:TRUE"},
                       {NID_key_usage, "critical,keyCertSign,cRLSign"},
                       {NID_subject_key_identifier, "hash"}},
        .alt_names = nullptr,
    });

    // A CN is limited to 64 characters; clients match the SAN anyway, so a longer (valid) DNS
    // name only falls back to the generic CN.
    const bool host_fits_cn = !opts.hosts.empty() && opts.hosts.front().size() <= ub_common_name;
    const pkey_ptr key = make_key();
    const general_names_ptr alt_names = make_alt_names(opts.hosts);
    const x509_ptr cert = make_certificate({
        .common_name = !opts.common_name.empty() ? std::string_view{opts.common_name}
                       : host_fits_cn            ? std::string_view{opts.hosts.front()}
                                                 : default_server_name,
        .subject_key = key.get(),
        .issuer = ca.get(),
        .issuer_key = ca_key.get(),
        .valid =
            opts.expired ? validity{-30 * one_day, -one_day} : validity{-one_hour, 30 * one_day},
        // No keyEncipherment: an EC key cannot encrypt (RFC 5480 §3).
        .extensions = {{NID_basic_constraints, "CA:FALSE"},
                       {NID_key_usage, "critical,digitalSignature"},
                       {NID_ext_key_usage, "serverAuth"},
                       {NID_subject_key_identifier, "hash"},
                       {NID_authority_key_identifier, "keyid:always"}},
        .alt_names = alt_names.get(),
    });

    return {
        .ca_pem = cert_to_pem(ca.get()),
        .cert_pem = cert_to_pem(cert.get()),
        .key_pem = to_pem(
            [&key](BIO* bio) {
                return PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr,
                                                nullptr);
            },
            "write private key PEM"),
    };
}

} // namespace glue::testing::detail
