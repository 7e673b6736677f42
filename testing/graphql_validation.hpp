// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_INTERNAL_GRAPHQL_VALIDATION_HPP
#define GLUE_TESTING_INTERNAL_GRAPHQL_VALIDATION_HPP

// The part of GraphQL validation (spec §5) and variable coercion (§6.1.2) the mock relies on.
// Failures throw request_error.

#include "testing/graphql_document.hpp"

#include <boost/json/object.hpp>

#include <string_view>
#include <unordered_map>

namespace glue::testing::detail::graphql {

using fragment_map = std::unordered_map<std::string_view, const fragment*>;

/// The operation `name` picks (empty: the only one); subscriptions are refused.
const operation& select_operation(const document& doc, std::string_view name);

/// The document's fragments by name; a name defined twice is refused.
fragment_map index_fragments(const document& doc);

/// Every spread names a fragment and every variable is declared.
void check_references(const operation& op, const fragment_map& fragments);

/// The operation's variable values: the provided ones, then defaults; a missing or null
/// non-null variable is refused.
json::object coerce_variables(const operation& op, const json::object& provided);

} // namespace glue::testing::detail::graphql

#endif
