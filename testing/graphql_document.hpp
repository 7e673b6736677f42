// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_INTERNAL_GRAPHQL_DOCUMENT_HPP
#define GLUE_TESTING_INTERNAL_GRAPHQL_DOCUMENT_HPP

// A parsed GraphQL document: operations, fragments, selections and input values as written.

#include "testing/graphql_error.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace glue::testing::detail::graphql {

namespace json = boost::json;

enum class value_kind { literal, variable, list, object };

// An argument or input value as written: literals are JSON already; variables are substituted
// when the operation runs.
struct input_value {
    explicit input_value(value_kind k = value_kind::literal) : kind(k) {}

    value_kind kind;
    json::value literal;            // literal
    std::string variable;           // variable: its name
    std::vector<std::string> keys;  // object: field names, parallel to items
    std::vector<input_value> items; // list elements, or object field values
};

enum class selection_kind { field, inline_fragment, fragment_spread };

struct selection {
    selection_kind kind = selection_kind::field;
    std::string alias; // field: empty without one
    // The field's name, the spread fragment's name, or the inline fragment's type condition
    // (empty without one).
    std::string name;
    input_value arguments{value_kind::object}; // field
    std::vector<selection> selections;         // field sub-selection, inline fragment
    location where;

    std::string_view response_key() const { return alias.empty() ? name : alias; }
};

struct name_ref {
    std::string name;
    location where;
};

struct definition {
    std::string name;
    location where;
    std::vector<selection> selections;
    // Recorded while parsing so that validation needs no walk of the selections.
    std::vector<name_ref> spreads;
    std::vector<name_ref> variable_uses;
};

enum class operation_kind { query, mutation, subscription };

struct variable_definition {
    std::string name;
    std::string type; // as written, e.g. "[ID!]!"
    std::optional<json::value> default_value;
    location where;
};

struct operation : definition {
    operation_kind kind = operation_kind::query;
    std::vector<variable_definition> variables;
};

struct fragment : definition {
    std::string type_condition;
};

struct document {
    std::vector<operation> operations;
    std::vector<fragment> fragments;
};

/// The value of `input` with `variables` substituted; nullopt: a variable without a value,
/// which leaves the enclosing argument or field out.
std::optional<json::value> evaluate(const input_value& input, const json::object& variables);

/// The fields of an object value (arguments are one) with `variables` substituted.
json::object evaluate_fields(const input_value& object, const json::object& variables);

} // namespace glue::testing::detail::graphql

#endif
