// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/graphql_validation.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace glue::testing::detail::graphql {

const operation& select_operation(const document& doc, std::string_view name) {
    const operation* op = nullptr;
    if (!name.empty()) {
        const auto it = std::ranges::find(doc.operations, name, &operation::name);
        if (it == doc.operations.end()) {
            throw request_error("Unknown operation named \"" + std::string(name) + "\".",
                                std::nullopt);
        }
        op = &*it;
    } else if (doc.operations.size() == 1) {
        op = &doc.operations.front();
    } else if (doc.operations.empty()) {
        throw request_error("Must provide an operation.", std::nullopt);
    } else {
        throw request_error("Must provide operation name if query contains multiple operations.",
                            std::nullopt);
    }
    if (op->kind == operation_kind::subscription) {
        throw request_error("subscriptions are not supported", op->where);
    }
    return *op;
}

fragment_map index_fragments(const document& doc) {
    fragment_map fragments;
    for (const fragment& f : doc.fragments) {
        if (!fragments.emplace(f.name, &f).second) {
            throw request_error("There can be only one fragment named \"" + f.name + "\".",
                                f.where);
        }
    }
    return fragments;
}

// Every spread names a fragment and every variable is declared, in the operation and in the
// fragments it reaches (each visited once, without recursion).
void check_references(const operation& op, const fragment_map& fragments) {
    std::unordered_set<std::string_view> declared;
    for (const variable_definition& v : op.variables) {
        declared.insert(v.name);
    }
    std::unordered_set<const fragment*> reached;
    std::vector<const definition*> pending{&op};
    while (!pending.empty()) {
        const definition* d = pending.back();
        pending.pop_back();
        for (const name_ref& use : d->variable_uses) {
            if (!declared.contains(use.name)) {
                throw request_error(
                    "Variable \"$" + use.name + "\" is not defined" +
                        (op.name.empty() ? "" : " by operation \"" + op.name + "\"") + ".",
                    use.where);
            }
        }
        for (const name_ref& spread : d->spreads) {
            const auto it = fragments.find(spread.name);
            if (it == fragments.end()) {
                throw request_error("Unknown fragment \"" + spread.name + "\".", spread.where);
            }
            if (reached.insert(it->second).second) {
                pending.push_back(it->second);
            }
        }
    }
}

// Spec §6.1.2 CoerceVariableValues, without type checks: values pass through as given.
json::object coerce_variables(const operation& op, const json::object& provided) {
    json::object values;
    for (const variable_definition& v : op.variables) {
        const bool non_null = v.type.ends_with('!');
        if (const json::value* value = provided.if_contains(v.name)) {
            if (value->is_null() && non_null) {
                throw request_error("Variable \"$" + v.name + "\" of non-null type \"" + v.type +
                                        "\" must not be null.",
                                    v.where);
            }
            values[v.name] = *value;
        } else if (v.default_value) {
            values[v.name] = *v.default_value;
        } else if (non_null) {
            throw request_error("Variable \"$" + v.name + "\" of required type \"" + v.type +
                                    "\" was not provided.",
                                v.where);
        }
    }
    return values;
}

} // namespace glue::testing::detail::graphql
