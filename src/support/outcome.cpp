// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "support/outcome.hpp"

#include <boost/throw_exception.hpp>

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
    return error(f.ec, std::move(context), f.diag);
}

void throw_error(errc e, std::string_view message, std::string_view operation) {
    throw to_error(make_failure(e, message), operation);
}

void throw_exception_from_error(const failure& f, const boost::source_location& loc) {
    boost::throw_exception(to_error(f, "call"), loc);
}

} // namespace glue::detail
