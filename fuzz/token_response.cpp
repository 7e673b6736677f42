// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The token endpoint's response (parse_token_response), the failure classes it leads to, the
// glue::error the client makes of a failure, and the cached token made of a grant: any status,
// Retry-After and body. Input: "<status>\n<Retry-After>\n<body>".

#include "protocol/token_response.hpp"

#include "cache/cached_token.hpp"
#include "cache/failure_class.hpp"
#include "fuzz_support.hpp"
#include "protocol/retry_after.hpp"
#include "protocol/token_grant.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace gd = glue::detail;
using namespace std::chrono_literals;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto response = glue::fuzz::response_from(in);
    // Far from the clock's epoch both ways, as a real steady_clock reading can be.
    const gd::steady_time sent_at = gd::steady_time{} + 3650 * 24h;
    const auto r = gd::parse_token_response(response, 300s, sent_at);

    if (r.has_value()) {
        FUZZ_CHECK(response.status >= 200 && response.status < 300);
        const auto& g = *r;
        FUZZ_CHECK(!g.value.empty());
        for (char c : g.value) { // it goes into an Authorization header
            FUZZ_CHECK(c > 0x20 && c < 0x7f);
        }
        FUZZ_CHECK(g.lifetime >= 1s && g.lifetime <= gd::max_token_lifetime);
        FUZZ_CHECK(g.sent_at == sent_at);
        // The cache's lifetime arithmetic must not overflow for any lifetime or jitter.
        const double jitter = static_cast<double>(size % 100) / 100.0;
        const auto t = gd::make_cached_token(g, 15min, jitter);
        FUZZ_CHECK(t->token.expires_at > sent_at);
        FUZZ_CHECK(t->refresh_from <= t->usable_until);
        FUZZ_CHECK(t->usable_until < t->token.expires_at);
        FUZZ_CHECK(t->authorization == "Bearer " + t->token.value);
        return 0;
    }

    const auto& f = r.error();
    FUZZ_CHECK(f.ec.category() == glue::glue_category());
    FUZZ_CHECK(f.diag != nullptr); // every failure here comes from a response
    FUZZ_CHECK(f.diag->http_status == static_cast<int>(response.status));
    const auto ra = f.diag->retry_after;
    FUZZ_CHECK(ra == -1s || (ra >= 0s && ra <= gd::max_retry_after));
    if (response.status >= 200 && response.status < 300) {
        FUZZ_CHECK(f.ec == glue::errc::bad_response);
    } else {
        FUZZ_CHECK(f.ec != glue::errc::bad_response);
        FUZZ_CHECK(f.ec != glue::errc::unauthorized); // a refused client is an oauth_error
    }
    if (f.ec == glue::errc::oauth_error) {
        FUZZ_CHECK(response.status >= 400 && response.status < 500 && response.status != 429);
    }
    const auto c = gd::classify(f);
    FUZZ_CHECK(c != gd::failure_class::aborted);
    if (c == gd::failure_class::client_rejected) {
        FUZZ_CHECK(f.diag->oauth_error == "invalid_client" ||
                   f.diag->oauth_error == "unauthorized_client");
    }
    glue::fuzz::check_error_text(f, "client::fetch_token");
    return 0;
}
