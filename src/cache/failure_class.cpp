// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "cache/failure_class.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace glue::detail {

failure_class classify(const failure& f) noexcept {
    if (f.ec == boost::asio::error::operation_aborted) {
        return failure_class::aborted;
    }
    const diagnostics none;
    const diagnostics& d = f.diag ? *f.diag : none;
    if (f.ec == errc::oauth_error) {
        return d.oauth_error == "invalid_client" || d.oauth_error == "unauthorized_client"
                   ? failure_class::client_rejected
                   : failure_class::permanent;
    }
    if (f.ec == errc::rate_limited) {
        return failure_class::rate_limited;
    }
    if (f.ec == errc::server_error && d.http_status == 503 && d.retry_after.count() >= 0) {
        return failure_class::overloaded;
    }
    if (f.ec == errc::http_error || f.ec == errc::forbidden || f.ec == errc::unauthorized) {
        return failure_class::permanent;
    }
    // A certificate the client refuses won't be accepted a second later.
    if (f.ec.category() == boost::asio::error::get_ssl_category() &&
        ERR_GET_REASON(static_cast<unsigned long>(f.ec.value())) ==
            SSL_R_CERTIFICATE_VERIFY_FAILED) {
        return failure_class::permanent;
    }
    return failure_class::transient;
}

} // namespace glue::detail
