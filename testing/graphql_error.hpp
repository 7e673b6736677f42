// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_INTERNAL_GRAPHQL_ERROR_HPP
#define GLUE_TESTING_INTERNAL_GRAPHQL_ERROR_HPP

// What the mock's GraphQL lexer, parser, validation and executor share: source locations, the
// error that ends a request, and the bounds on nesting and work.

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>

namespace glue::testing::detail::graphql {

// Bounds that keep hostile documents from exhausting the stack or CPU: a mock server on a port
// may be sent anything.
constexpr int max_nesting = 64; // brackets of any kind: selection sets, lists, objects, arguments
// Execution also descends through list levels and named fragments, which the parse limit can't see.
constexpr int max_execution_depth = 2 * max_nesting;
constexpr std::size_t max_steps = 1'000'000; // selections collected plus values completed

struct location {
    std::size_t line = 1;
    std::size_t column = 1;
};

// Ends the whole request (syntax and validation errors, execution limits): unwinding is the
// simplest way out of the recursive descent.
class request_error : public std::runtime_error {
public:
    request_error(const std::string& message, std::optional<location> where)
        : std::runtime_error(message)
        , where_(where) {}

    std::optional<location> where() const { return where_; }

private:
    std::optional<location> where_;
};

// Counts one level of nesting for the duration of a scope.
class nesting_guard {
public:
    nesting_guard(int& depth, int limit, location where) : depth_(depth) {
        if (depth_ >= limit) {
            throw request_error(
                "Nesting exceeds the limit of " + std::to_string(limit) + " levels.", where);
        }
        ++depth_;
    }
    ~nesting_guard() { --depth_; }
    nesting_guard(const nesting_guard&) = delete;
    nesting_guard& operator=(const nesting_guard&) = delete;

private:
    int& depth_;
};

} // namespace glue::testing::detail::graphql

#endif
