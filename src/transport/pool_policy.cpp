// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.

#include "transport/pool_policy.hpp"

#include "support/saturating.hpp"

namespace glue::detail {

idle_check check_idle(std::size_t buffered) noexcept {
    return buffered != 0 ? idle_check::stale : idle_check::peek;
}

idle_check after_peek(peek_result peek, bool tls) noexcept {
    switch (peek) {
    case peek_result::nothing:
        return idle_check::fit;
    case peek_result::bytes:
        return tls ? idle_check::read_tls_records : idle_check::stale;
    case peek_result::eof:
    case peek_result::error:
        break;
    }
    return idle_check::stale;
}

idle_check after_tls_records(bool only_housekeeping) noexcept {
    return only_housekeeping ? idle_check::fit : idle_check::stale;
}

bool idle_too_long(const connection_ageing& a, steady_time since, steady_time now) noexcept {
    return a.idle_timeout > std::chrono::nanoseconds::zero() &&
           now > saturating_add(since, a.idle_timeout);
}

bool too_old(const connection_ageing& a, steady_time opened, steady_time now) noexcept {
    return a.max_lifetime > std::chrono::nanoseconds::zero() &&
           now > saturating_add(opened, a.max_lifetime);
}

after_failure after_failed_exchange(const failed_exchange& x) noexcept {
    if (x.aborted) {
        return after_failure::aborted;
    }
    if (x.refused && x.kind != lease_kind::fresh && !x.deadline_passed) {
        return after_failure::retry_fresh; // not processed: a mutation may go again too
    }
    if (x.reused && x.kind != lease_kind::fresh && !x.response_bytes &&
        (x.idempotent || x.nothing_written) && !x.deadline_passed) {
        return after_failure::retry_fresh;
    }
    return x.deadline_passed ? after_failure::timeout : after_failure::fail;
}

} // namespace glue::detail
