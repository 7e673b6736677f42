// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_FUZZ_SUPPORT_HPP
#define GLUE_FUZZ_SUPPORT_HPP

// Shared by the fuzz targets: a check that survives NDEBUG, the framing of an HTTP response in
// a fuzz input, and the oracle that a failure's what() holds only client text.

#include <glue/error.hpp>

#include "protocol/http_message.hpp"
#include "support/outcome.hpp"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

/// Aborts (a crash libFuzzer records) when `cond` is false, whatever the build type.
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed\n", __FILE__, __LINE__, #cond);     \
            std::abort();                                                                          \
        }                                                                                          \
    } while (false)

namespace glue::fuzz {

/// Takes one line (without its '\n') off the front of `in`; the rest when there is no '\n'.
inline std::string_view take_line(std::string_view& in) {
    const auto nl = in.find('\n');
    const auto line = in.substr(0, nl);
    in.remove_prefix(nl == in.npos ? in.size() : nl + 1);
    return line;
}

/// An HTTP response written as "<status>\n<Retry-After value>\n<body>". A status that is not
/// a number of at most three digits is 200, so that any input is a response.
inline detail::http_response response_from(std::string_view in) {
    detail::http_response r;
    const auto status = take_line(in);
    unsigned s = 0;
    const auto [end, ec] = std::from_chars(status.data(), status.data() + status.size(), s);
    r.status = ec == std::errc() && end == status.data() + status.size() && s < 1000 ? s : 200;
    r.retry_after = std::string(take_line(in));
    r.body = std::string(in);
    return r;
}

/// The glue::error the client throws for `f` says only what the client wrote: its context
/// ("glue::client::<operation>", the HTTP status, the library's message) and the code's own
/// text, and never anything the server sent.
inline void check_error_text(const detail::failure& f, std::string_view operation) {
    const error e = detail::to_error(f, operation);
    std::string context = "glue::" + std::string(operation);
    if (f.diag && f.diag->http_status != 0) {
        context += " (HTTP " + std::to_string(f.diag->http_status) + ")";
    }
    if (!f.message.empty()) {
        context += ": " + std::string(f.message);
    }
    // What system_error appends to a context for this code, found with a marker context.
    const std::string marked = error(f.ec, "\x01").what();
    FUZZ_CHECK(!marked.empty() && marked[0] == '\x01');
    FUZZ_CHECK(std::string_view(e.what()) == context + marked.substr(1));
    FUZZ_CHECK(e.code() == f.ec);
    FUZZ_CHECK(e.http_status() == (f.diag ? f.diag->http_status : 0));
}

} // namespace glue::fuzz

#endif
