// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_INTERNAL_GRAPHQL_EXECUTOR_HPP
#define GLUE_TESTING_INTERNAL_GRAPHQL_EXECUTOR_HPP

// A small GraphQL executor for the mock server: enough of the language for the operations Glue
// documents (queries and mutations, arguments, variables, aliases, inline fragments, __typename),
// not a full engine. Root fields are resolved by the caller into complete JSON objects; the
// executor then keeps only what the selection set asks for.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace glue::testing::detail {

enum class operation_type { query, mutation };

/// What a root resolver returns: a value, or an error message for the `errors` array.
struct resolved {
    boost::json::value value;
    std::string error; // non-empty: the field failed with this message
};

/// Resolves one root field (`me`, `groups`, `sendMessage`, …) with its arguments (variables
/// already substituted) into a complete JSON value: objects carry every field they have,
/// including "__typename"; connections carry nodes, edges and pageInfo.
using root_resolver = std::function<resolved(operation_type, std::string_view field,
                                             const boost::json::object& args)>;

/// The operation that execute_graphql ran.
struct executed_operation {
    operation_type type = operation_type::query;
    std::string name; // empty for an anonymous operation
};

/// Executes `query` and returns the GraphQL response object: {"data": …} and/or
/// {"errors": [{message, locations?, path?}]}, per the GraphQL spec §7.1. When execution starts
/// (the document parsed and validated, the variables coerced), `ran` (if given) says which
/// operation it is.
boost::json::object execute_graphql(std::string_view query, const boost::json::object& variables,
                                    std::string_view operation_name, const root_resolver& resolve,
                                    std::optional<executed_operation>* ran = nullptr);

} // namespace glue::testing::detail

#endif
