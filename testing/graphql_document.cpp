// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/graphql_document.hpp"

#include <boost/json/array.hpp>

#include <cstddef>
#include <optional>
#include <utility>

namespace glue::testing::detail::graphql {

std::optional<json::value> evaluate(const input_value& input, const json::object& variables) {
    switch (input.kind) {
    case value_kind::literal:
        return input.literal;
    case value_kind::variable:
        if (const json::value* value = variables.if_contains(input.variable)) {
            return *value;
        }
        return std::nullopt;
    case value_kind::list: {
        json::array list;
        list.reserve(input.items.size());
        for (const input_value& item : input.items) {
            list.push_back(evaluate(item, variables).value_or(nullptr)); // a list keeps its length
        }
        return list;
    }
    case value_kind::object:
        return evaluate_fields(input, variables);
    }
    return std::nullopt;
}

json::object evaluate_fields(const input_value& object, const json::object& variables) {
    json::object result;
    for (std::size_t i = 0; i < object.items.size(); ++i) {
        if (std::optional<json::value> value = evaluate(object.items[i], variables)) {
            result[object.keys[i]] = std::move(*value);
        }
    }
    return result;
}

} // namespace glue::testing::detail::graphql
