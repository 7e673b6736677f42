// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROTOCOL_GRAPHQL_DOCUMENT_HPP
#define GLUE_PROTOCOL_GRAPHQL_DOCUMENT_HPP

// What a GraphQL document asks for, read from its text without a full parser: which kind of
// operation it runs, and whether sending it twice is harmless.

#include <glue/types.hpp>

#include <string_view>

namespace glue::detail {

/// A GraphQL Name (spec §2.1.9): [_A-Za-z][_0-9A-Za-z]*.
bool is_graphql_name(std::string_view s) noexcept;

enum class operation_kind { query, mutation, subscription, unknown };

/// The kind of operation a request will run: the one named `operation_name`, or the only
/// one in the document. `unknown` when that can't be told (no such name, several operations).
operation_kind graphql_operation_kind(std::string_view document,
                                      std::string_view operation_name) noexcept;

/// Whether sending the request twice can't do twice what it does: a query, or a mutation
/// whose every top-level field is a Glue `sendMessage(input: $var)` upsert (message.uniqueBy,
/// and thread.threadBy when it creates a thread). The input must come as a variable, as Glue
/// asks; a literal input, a fragment or a directive at the top level counts as unsafe.
/// The caller's graphql_request::idempotent is not considered here.
bool may_send_twice(const graphql_request& req) noexcept;

} // namespace glue::detail

#endif
