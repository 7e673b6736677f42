// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TOOLS_GLUE_ERROR_CLASS_HPP
#define GLUE_TOOLS_GLUE_ERROR_CLASS_HPP

// Errors by class, for the programs that count them (the glue command's bulk job, the rate
// limit benchmark).

#include <glue/error.hpp>

#include <boost/asio/error.hpp>

#include <string>

namespace glue::cli {

/// A stable name for an error code: glue's errc names ("rate_limited"), else
/// "<category>:<value>".
inline std::string error_class(const error_code& ec) {
    if (ec.category() == glue_category()) {
        switch (static_cast<errc>(ec.value())) {
        case errc::invalid_argument:
            return "invalid_argument";
        case errc::oauth_error:
            return "oauth_error";
        case errc::unauthorized:
            return "unauthorized";
        case errc::forbidden:
            return "forbidden";
        case errc::rate_limited:
            return "rate_limited";
        case errc::server_error:
            return "server_error";
        case errc::http_error:
            return "http_error";
        case errc::bad_response:
            return "bad_response";
        case errc::graphql_error:
            return "graphql_error";
        case errc::timeout:
            return "timeout";
        case errc::decode_error:
            return "decode_error";
        case errc::repeated_cursor:
            return "repeated_cursor";
        case errc::too_many_pages:
            return "too_many_pages";
        case errc::bad_signature:
            return "bad_signature";
        case errc::state_mismatch:
            return "state_mismatch";
        case errc::authorization_denied:
            return "authorization_denied";
        case errc::missing_code:
            return "missing_code";
        case errc::internal_error:
            return "internal_error";
        }
    }
    if (ec == boost::asio::error::operation_aborted) {
        return "aborted";
    }
    return std::string(ec.category().name()) + ":" + std::to_string(ec.value());
}

} // namespace glue::cli

#endif
