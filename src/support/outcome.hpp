// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_SUPPORT_OUTCOME_HPP
#define GLUE_SUPPORT_OUTCOME_HPP

// Failures travel inside the library as values (result<T>), and become a thrown glue::error only
// at the public boundary: exceptions stay off the hot paths, and the same failure object can be
// handed to every waiter of a token request.

#include <glue/error.hpp>

#include "support/clock.hpp"

#include <boost/system/result.hpp>

#include <exception>
#include <memory>
#include <string_view>

namespace glue::detail {

struct failure {
    error_code ec;
    /// Client-generated explanation (a string literal); empty: ec.message() says it all.
    std::string_view message;
    /// What the server said; null when nothing.
    std::shared_ptr<const diagnostics> diag;
    /// Transport: the request certainly never reached the server (no connection, or not one
    /// byte written), so sending it again can't do anything twice.
    bool unsent = false;
};

template <class T>
using result = boost::system::result<T, failure>;

inline failure make_failure(error_code ec, std::string_view message = {}) {
    return failure{ec, message, nullptr, false};
}

inline failure make_failure(errc e, std::string_view message = {}) {
    return make_failure(make_error_code(e), message);
}

inline failure make_failure(error_code ec, std::string_view message, diagnostics diag) {
    return failure{ec, message, std::make_shared<const diagnostics>(std::move(diag)), false};
}

/// A call that could go only at `until`, later than it may wait (a pause, its turn under a rate
/// limit): `e`, with diagnostics::retry_after the whole seconds from `now` to `until`, rounded up
/// and at most a year, as a Retry-After is kept.
failure make_wait_failure(errc e, steady_time now, steady_time until, std::string_view message);

/// The failure an exception stands for, so that no exit path of an operation is skipped by one:
/// a system_error keeps its code, bad_alloc is ENOMEM, anything else errc::internal_error.
failure failure_from(std::exception_ptr ep) noexcept;

/// The glue::error for `f`; `operation` names the public call after "glue::" ("client::graphql",
/// "webhook::parse"), which starts what().
error to_error(const failure& f, std::string_view operation);

/// Sets what glue::error keeps apart from its public constructor.
struct error_access {
    static void set_reason(error& e, std::string_view reason) { e.reason_ = reason; }
};

/// Throws the glue::error for `e` with `message`, from public call `operation` (as to_error).
[[noreturn]] void throw_error(errc e, std::string_view message, std::string_view operation);

/// Lets result<T>::value() throw glue::error.
[[noreturn]] void throw_exception_from_error(const failure& f, const boost::source_location&);

} // namespace glue::detail

#endif
