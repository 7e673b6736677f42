// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTS_UNIT_PROTOCOL_PROTOCOL_TEST_HPP
#define GLUE_TESTS_UNIT_PROTOCOL_PROTOCOL_TEST_HPP

// What the protocol layer's tests share: a response to parse, and the failure a result holds.
// A test file takes them all with `using namespace protocol_test;`.

#include <glue/error.hpp>

#include "protocol/http_message.hpp"
#include "support/outcome.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>

namespace protocol_test {

namespace gd = glue::detail;
using glue::errc;

inline gd::http_response response(unsigned status, std::string body, std::string retry_after = {}) {
    gd::http_response r;
    r.status = status;
    r.body = std::move(body);
    r.retry_after = std::move(retry_after);
    return r;
}

/// The failure a result holds; fails the test when it holds a value.
template <class T>
gd::failure failure_of(const gd::result<T>& r) {
    REQUIRE_FALSE(r.has_value());
    return r.error();
}

/// The failure's diagnostics; fails the test when there are none.
template <class T>
const glue::diagnostics& diag_of(const gd::result<T>& r) {
    const auto f = failure_of(r);
    REQUIRE(f.diag != nullptr);
    return *f.diag; // owned by `r` as well
}

template <class T>
bool fails_with(const gd::result<T>& r, glue::errc e) {
    return r.has_error() && r.error().ec == e;
}

} // namespace protocol_test

#endif
