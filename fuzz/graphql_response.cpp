// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The GraphQL endpoint's response (parse_graphql_response), the Retry-After header it reads,
// and the glue::error the client makes of a failure: any status, Retry-After and body.
// Input: "<status>\n<Retry-After>\n<body>".

#include "protocol/graphql_response.hpp"

#include "fuzz_support.hpp"
#include "protocol/retry_after.hpp"

#include <boost/json/value.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gd = glue::detail;
using namespace std::chrono_literals;

namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Retry-After: delta-seconds are read exactly (capped at a year); anything else is an HTTP-date
// or nothing (-1); never a negative delay but -1, never more than a year.
void check_retry_after(std::string_view value) {
    const auto s = gd::parse_retry_after(value);
    FUZZ_CHECK(s == -1s || (s >= 0s && s <= gd::max_retry_after));
    auto v = value;
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
        v.remove_prefix(1);
    }
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
        v.remove_suffix(1);
    }
    if (v.empty()) {
        FUZZ_CHECK(s == -1s);
    }
    // delta-seconds is 1*DIGIT: a negative number is no delay, however long it is.
    if (v.size() > 1 && v.front() == '-' && std::all_of(v.begin() + 1, v.end(), is_digit)) {
        FUZZ_CHECK(s == -1s);
    }
    if (!v.empty() && std::all_of(v.begin(), v.end(), is_digit)) {
        // The value, or the cap when it is larger (compared without overflowing).
        const auto digits = v.substr(std::min(v.find_first_not_of('0'), v.size()));
        const auto cap = std::to_string(gd::max_retry_after.count());
        const bool capped =
            digits.size() > cap.size() || (digits.size() == cap.size() && digits > cap);
        FUZZ_CHECK(capped ? s == gd::max_retry_after
                          : s.count() == std::stoll("0" + std::string(digits)));
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    auto response = glue::fuzz::response_from(in);
    check_retry_after(response.retry_after);
    const auto status = response.status;
    const bool success = status >= 200 && status < 300;
    auto r = gd::parse_graphql_response(std::move(response));

    if (r.has_value()) {
        FUZZ_CHECK(success); // a complete answer comes only with a 2xx
        return 0;
    }
    const auto& f = r.error();
    FUZZ_CHECK(f.ec.category() == glue::glue_category());
    FUZZ_CHECK(f.diag != nullptr);
    FUZZ_CHECK(f.diag->http_status == static_cast<int>(status));
    const auto ra = f.diag->retry_after;
    FUZZ_CHECK(ra == -1s || (ra >= 0s && ra <= gd::max_retry_after));
    const bool has_errors = !f.diag->graphql_errors.empty();
    if (f.ec == glue::errc::graphql_error) {
        FUZZ_CHECK(has_errors); // the errors it is about are there to read
        FUZZ_CHECK(success || (status >= 400 && status < 500));
    }
    if (!has_errors) {
        FUZZ_CHECK(f.diag->partial_data.is_null());
    }
    if (success) {
        FUZZ_CHECK(f.ec == glue::errc::graphql_error || f.ec == glue::errc::bad_response);
    } else {
        FUZZ_CHECK(f.ec != glue::errc::bad_response); // the status says more
        if (status == 401) {
            FUZZ_CHECK(f.ec == glue::errc::unauthorized);
        } else if (status == 429) {
            FUZZ_CHECK(f.ec == glue::errc::rate_limited);
        } else if (status >= 500 && status < 600) {
            FUZZ_CHECK(f.ec == glue::errc::server_error);
        }
    }
    glue::fuzz::check_error_text(f, "client::graphql");
    return 0;
}
