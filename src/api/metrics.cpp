// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/metrics.hpp>

#include <boost/asio/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>

namespace glue {

std::string_view to_string(retry_reason r) noexcept {
    switch (r) {
    case retry_reason::throttled:
        return "throttled";
    case retry_reason::unavailable:
        return "unavailable";
    case retry_reason::server_error:
        return "server_error";
    case retry_reason::network:
        return "network";
    case retry_reason::unauthorized:
        return "unauthorized";
    }
    return "unknown";
}

std::string_view to_string(call_outcome o) noexcept {
    switch (o) {
    case call_outcome::ok:
        return "ok";
    case call_outcome::graphql_error:
        return "graphql_error";
    case call_outcome::rejected:
        return "rejected";
    case call_outcome::rate_limited:
        return "rate_limited";
    case call_outcome::server_error:
        return "server_error";
    case call_outcome::bad_response:
        return "bad_response";
    case call_outcome::timeout:
        return "timeout";
    case call_outcome::cancelled:
        return "cancelled";
    case call_outcome::network:
        return "network";
    case call_outcome::invalid_argument:
        return "invalid_argument";
    case call_outcome::other:
        return "other";
    }
    return "unknown";
}

std::string_view to_string(close_reason r) noexcept {
    switch (r) {
    case close_reason::server_close:
        return "server_close";
    case close_reason::stale:
        return "stale";
    case close_reason::error:
        return "error";
    case close_reason::cancelled:
        return "cancelled";
    case close_reason::aged:
        return "aged";
    case close_reason::shutdown:
        return "shutdown";
    }
    return "unknown";
}

call_outcome classify_outcome(error_code ec) noexcept {
    if (!ec) {
        return call_outcome::ok;
    }
    if (ec == boost::asio::error::operation_aborted) {
        return call_outcome::cancelled;
    }
    if (ec.category() != glue_category()) {
        // A socket's, the resolver's or TLS's code; out of memory is the system's too.
        return ec == boost::system::errc::not_enough_memory ? call_outcome::other
                                                            : call_outcome::network;
    }
    switch (static_cast<errc>(ec.value())) {
    case errc::graphql_error:
        return call_outcome::graphql_error;
    case errc::unauthorized:
    case errc::forbidden:
    case errc::http_error:
        return call_outcome::rejected;
    case errc::rate_limited:
        return call_outcome::rate_limited;
    case errc::server_error:
        return call_outcome::server_error;
    case errc::bad_response:
        return call_outcome::bad_response;
    case errc::timeout:
        return call_outcome::timeout;
    case errc::invalid_argument:
        return call_outcome::invalid_argument;
    default:
        return call_outcome::other;
    }
}

namespace {

// Milliseconds with two decimals, or "0ms": short enough for a log line, fine enough for loopback.
struct ms {
    std::chrono::nanoseconds d;
    friend std::ostream& operator<<(std::ostream& os, ms m) {
        if (m.d.count() <= 0) {
            return os << "0ms";
        }
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.2fms", static_cast<double>(m.d.count()) / 1e6);
        return os << buf;
    }
};

} // namespace

std::ostream& operator<<(std::ostream& os, const request_event& e) {
    os << (e.target == request_event::endpoint::graphql ? "POST /public/graphql"
                                                        : "POST /oauth/token");
    if (!e.workspace.empty()) {
        os << " ws=" << e.workspace;
    }
    if (!e.operation.empty()) {
        os << " op=" << e.operation;
    }
    os << " attempt=" << e.attempt << " status=";
    if (e.http_status != 0) {
        os << e.http_status;
    } else {
        os << (e.sent ? "none" : "unsent");
    }
    if (e.error) {
        os << " error=\"" << e.error.message() << '"';
    }
    if (e.retry) {
        os << " next=retry:" << to_string(e.reason) << ':' << ms{e.retry_delay};
    } else {
        os << " next=done";
    }
    if (e.sent) {
        os << " conn=" << (e.new_connection ? "new" : "reused") << " sent=" << e.bytes_sent
           << "B received=" << e.bytes_received << 'B';
    }
    const auto& t = e.time;
    os << " total=" << ms{t.total} << " backoff=" << ms{t.backoff} << " token=" << ms{t.token_wait}
       << " throttle=" << ms{t.throttle_wait} << " connection=" << ms{t.connection_wait};
    if (e.new_connection) {
        os << " (dns=" << ms{t.dns} << " tcp=" << ms{t.tcp};
        if (t.tunnel.count() > 0) {
            os << " tunnel=" << ms{t.tunnel};
        }
        os << " tls=" << ms{t.tls} << ')';
    }
    os << " exchange=" << ms{t.exchange};
    if (!e.request_id.empty()) {
        os << " request_id=" << e.request_id;
    }
    return os;
}

double latency_histogram::quantile(double q) const noexcept {
    if (count == 0 || !(q >= 0)) {
        return 0;
    }
    q = std::min(q, 1.0);
    // The rank of the wanted duration among count, then the bucket holding it.
    const double rank = q * static_cast<double>(count);
    double below = 0;
    for (std::size_t i = 0; i < buckets.size(); ++i) {
        const auto n = static_cast<double>(buckets[i]);
        if (n == 0 || below + n < rank) {
            below += n;
            continue;
        }
        if (i == bounds.size()) {
            return bounds.back(); // above every bound: no telling how far
        }
        // The first bucket's lower edge is taken a decade below its bound.
        const double lo = i == 0 ? bounds[0] / 10 : bounds[i - 1];
        const double hi = bounds[i];
        const double share = std::clamp((rank - below) / n, 0.0, 1.0);
        return lo * std::pow(hi / lo, share);
    }
    return bounds.back();
}

} // namespace glue
