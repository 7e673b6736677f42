// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "protocol/status.hpp"

#include "protocol/retry_after.hpp"

namespace glue::detail {

errc status_errc(unsigned status) noexcept {
    if (status == 401) {
        return errc::unauthorized;
    }
    if (status == 403) {
        return errc::forbidden;
    }
    if (status == 429) {
        return errc::rate_limited;
    }
    if (status >= 500 && status < 600) {
        return errc::server_error;
    }
    return errc::http_error;
}

diagnostics response_diagnostics(const http_response& r) {
    diagnostics d;
    d.http_status = static_cast<int>(r.status);
    d.retry_after = parse_retry_after(r.retry_after);
    return d;
}

} // namespace glue::detail
