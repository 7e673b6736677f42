// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// What the cache makes of a failed token request.

#include <glue/error.hpp>

#include "cache/failure_class.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <chrono>
#include <string>
#include <utility>

namespace {

namespace gd = glue::detail;
using namespace std::chrono_literals;
using glue::errc;

TEST_SUITE("token cache") {
    TEST_CASE("token request failures are classified") {
        using gd::failure_class;
        auto with = [](errc e, int status, std::string oauth = {},
                       std::chrono::seconds retry_after = std::chrono::seconds(-1)) {
            glue::diagnostics d;
            d.http_status = status;
            d.oauth_error = std::move(oauth);
            d.retry_after = retry_after;
            return gd::make_failure(make_error_code(e), "", std::move(d));
        };
        CHECK(gd::classify(gd::make_failure(boost::asio::error::operation_aborted)) ==
              failure_class::aborted);
        CHECK(gd::classify(gd::make_failure(boost::asio::error::connection_refused)) ==
              failure_class::transient);
        CHECK(gd::classify(gd::make_failure(errc::timeout)) == failure_class::transient);
        CHECK(gd::classify(gd::make_failure(errc::bad_response)) == failure_class::transient);
        CHECK(gd::classify(with(errc::server_error, 500)) == failure_class::transient);
        CHECK(gd::classify(with(errc::server_error, 503)) == failure_class::transient);
        CHECK(gd::classify(with(errc::server_error, 503, "", 5s)) == failure_class::overloaded);
        CHECK(gd::classify(with(errc::server_error, 502, "", 5s)) == failure_class::transient);
        CHECK(gd::classify(with(errc::rate_limited, 429)) == failure_class::rate_limited);
        CHECK(gd::classify(with(errc::oauth_error, 400, "invalid_grant")) ==
              failure_class::permanent);
        CHECK(gd::classify(with(errc::oauth_error, 400, "invalid_request")) ==
              failure_class::permanent);
        CHECK(gd::classify(with(errc::oauth_error, 401, "invalid_client")) ==
              failure_class::client_rejected);
        CHECK(gd::classify(with(errc::oauth_error, 400, "unauthorized_client")) ==
              failure_class::client_rejected);
        CHECK(gd::classify(with(errc::http_error, 404)) == failure_class::permanent);
        CHECK(gd::classify(with(errc::http_error, 302)) == failure_class::permanent);
        const glue::error_code refused_certificate(
            static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_CERTIFICATE_VERIFY_FAILED)),
            boost::asio::error::get_ssl_category());
        CHECK(gd::classify(gd::make_failure(refused_certificate)) == failure_class::permanent);
        CHECK(gd::classify(gd::make_failure(boost::asio::ssl::error::stream_truncated)) ==
              failure_class::transient);
    }
}

} // namespace
