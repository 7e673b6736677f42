// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "support/outcome.hpp"

#include "support/saturating.hpp"

#include <boost/throw_exception.hpp>

#include <algorithm>
#include <chrono>
#include <new>
#include <string>

namespace glue::detail {

failure failure_from(std::exception_ptr ep) noexcept {
    try {
        std::rethrow_exception(ep);
    } catch (const boost::system::system_error& e) {
        return make_failure(e.code());
    } catch (const std::bad_alloc&) {
        return make_failure(make_error_code(boost::system::errc::not_enough_memory));
    } catch (...) {
        return make_failure(errc::internal_error);
    }
}

error to_error(const failure& f, std::string_view operation) {
    // Only client-generated text goes into what(): server text may echo input.
    std::string context = "glue::";
    context.append(operation);
    if (f.diag && f.diag->http_status != 0) {
        context += " (HTTP " + std::to_string(f.diag->http_status) + ")";
    }
    if (!f.message.empty()) {
        context += ": ";
        context.append(f.message);
    }
    // The one piece of server text allowed in: checked to be plain visible ASCII (protocol's
    // request_id_of), so that a log line can be matched with the server's.
    if (f.diag && !f.diag->request_id.empty()) {
        context += " [request id: " + f.diag->request_id + "]";
    }
    error e(f.ec, std::move(context), f.diag);
    error_access::set_reason(e, f.message);
    return e;
}

failure make_wait_failure(errc e, steady_time now, steady_time until, std::string_view message) {
    constexpr std::chrono::seconds most{365LL * 24 * 3600};
    diagnostics d;
    d.retry_after = until > now
                        ? std::min(std::chrono::ceil<std::chrono::seconds>(
                                       saturating_cast<std::chrono::nanoseconds>(until - now)),
                                   most)
                        : std::chrono::seconds(0);
    return make_failure(make_error_code(e), message, std::move(d));
}

void throw_error(errc e, std::string_view message, std::string_view operation) {
    throw to_error(make_failure(e, message), operation);
}

void throw_exception_from_error(const failure& f, const boost::source_location& loc) {
    boost::throw_exception(to_error(f, "call"), loc);
}

} // namespace glue::detail
