// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_INTERNAL_TEST_PKI_HPP
#define GLUE_TESTING_INTERNAL_TEST_PKI_HPP

// Certificates made at run time for the mock server's TLS, so no key is ever checked in and
// every test can ask for the certificate it needs (wrong host, expired, ...).

#include <string>
#include <vector>

namespace glue::testing::detail {

struct test_pki_options {
    /// Subject alternative names of the server certificate: DNS names, or IPv4/IPv6 literals
    /// (which become IP SANs).
    std::vector<std::string> hosts = {"localhost", "127.0.0.1", "::1"};
    /// Make the server certificate's validity end in the past.
    bool expired = false;
    /// The server certificate's subject CN; empty: the first host, if it fits in a CN.
    std::string common_name{};
};

/// A fresh CA and a server certificate signed by it (PEM).
struct test_pki {
    std::string ca_pem;   ///< the CA certificate: what a client trusts
    std::string cert_pem; ///< the server certificate
    std::string key_pem;  ///< the server certificate's private key (PKCS#8 PEM)
};

/// Throws std::runtime_error if OpenSSL fails.
test_pki make_test_pki(const test_pki_options& opts = {});

} // namespace glue::testing::detail

#endif
