// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TOOLS_GLUE_ERROR_TEXT_HPP
#define GLUE_TOOLS_GLUE_ERROR_TEXT_HPP

// A failed call as the glue command says it: one line that says what failed, against which
// host, and what to do. The code's category and value and the source location are for -v.

#include <glue/error.hpp>

#include <chrono>
#include <string>

namespace glue::cli {

/// What the line needs to know besides the error.
struct error_context {
    std::string host;      ///< the API's host[:port], as GLUE_API_URL names it
    std::string proxy;     ///< the proxy's host[:port] when one was set (--proxy, GLUE_PROXY)
    std::string workspace; ///< the workspace called
    std::chrono::seconds timeout{30}; ///< the call's deadline (--timeout)
    bool ca_file = false;             ///< --ca-file or GLUE_CA_FILE was given
    std::string paginate;             ///< query --paginate's path; empty: none
};

/// The line for `e`, starting "glue: ", without a newline. Server text in it (GraphQL error
/// messages) has its control characters blanked, so it stays one line; an OAuth
/// error_description is left out (it may echo the request, client secret included).
std::string error_line(const glue::error& e, const error_context& ctx);

/// The line -v adds: what() and the code's category, value and source location.
std::string error_detail(const glue::error& e);

/// The host[:port] of `url` as written in it (http:// assumed when it has no scheme), without
/// any user or password.
std::string authority_of(const std::string& url);

} // namespace glue::cli

#endif
