// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/graphql_executor.hpp"

#include "testing/graphql_document.hpp"
#include "testing/graphql_error.hpp"
#include "testing/graphql_parser.hpp"
#include "testing/graphql_validation.hpp"

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace glue::testing::detail {

namespace {

namespace json = boost::json;
using namespace graphql;

json::object make_error(std::string_view message, std::optional<location> where,
                        const json::array* path) {
    json::object error;
    error["message"] = message;
    if (where) {
        json::object point;
        point["line"] = static_cast<std::int64_t>(where->line);
        point["column"] = static_cast<std::int64_t>(where->column);
        json::array locations;
        locations.emplace_back(std::move(point));
        error["locations"] = std::move(locations);
    }
    if (path) {
        error["path"] = *path;
    }
    return error;
}

std::optional<std::string_view> type_name_of(const json::object& object) {
    const json::value* name = object.if_contains("__typename");
    if (name && name->is_string()) {
        return std::string_view(name->get_string());
    }
    return std::nullopt;
}

// The type an error message names: without a __typename the mock can only say "Object".
std::string type_label(const json::object& object) {
    return std::string(type_name_of(object).value_or("Object"));
}

std::string scalar_type_label(const json::value& value) {
    switch (value.kind()) {
    case json::kind::string:
        return "String";
    case json::kind::bool_:
        return "Boolean";
    case json::kind::double_:
        return "Float";
    default:
        return "Int";
    }
}

class executor {
public:
    executor(const operation& op, const fragment_map& fragments, json::object variables,
             const root_resolver& resolve)
        : op_(op)
        , fragments_(fragments)
        , variables_(std::move(variables))
        , resolve_(resolve) {}

    json::object run();
    json::array take_errors() { return std::move(errors_); }

private:
    // The fields sharing one response key, merged as spec §6.3.2 CollectFields does.
    struct field_group {
        std::string_view key;
        std::vector<const selection*> fields;
    };

    struct collected_fields {
        std::vector<field_group> groups; // in selection order
        std::unordered_map<std::string_view, std::size_t> group_of;
        std::unordered_set<std::string_view> visited_fragments;

        void add(const selection& field) {
            const auto [it, added] = group_of.try_emplace(field.response_key(), groups.size());
            if (added) {
                groups.push_back({field.response_key(), {}});
            }
            groups[it->second].fields.push_back(&field);
        }
    };

    std::string_view root_type() const {
        return op_.kind == operation_kind::mutation ? "Mutation" : "Query";
    }
    void collect(const std::vector<selection>& set, std::optional<std::string_view> type_name,
                 collected_fields& out);
    template <typename ValueOf>
    json::object execute_fields(const collected_fields& fields, ValueOf value_of);
    json::value resolve_root_field(const field_group& group);
    json::value complete(const json::value& value, const field_group& group);
    json::value complete_object(const json::object& object, const field_group& group);
    json::value field_error(const std::string& message, const field_group& group);
    void spend(location where);

    const operation& op_;
    const fragment_map& fragments_;
    json::object variables_;
    const root_resolver& resolve_;
    json::array errors_;
    json::array path_; // response path of the value being completed
    int depth_ = 0;
    std::size_t steps_left_ = max_steps;
};

json::object executor::run() {
    collected_fields fields;
    collect(op_.selections, root_type(), fields);
    return execute_fields(fields,
                          [&](const field_group& group) { return resolve_root_field(group); });
}

void executor::collect(const std::vector<selection>& set, std::optional<std::string_view> type_name,
                       collected_fields& out) {
    const auto descend_if_applies = [&](std::string_view type_condition,
                                        const std::vector<selection>& body, location where) {
        if (type_condition.empty() || type_condition == type_name) {
            const nesting_guard guard(depth_, max_execution_depth, where);
            collect(body, type_name, out);
        }
    };
    for (const selection& s : set) {
        spend(s.where);
        switch (s.kind) {
        case selection_kind::field:
            out.add(s);
            break;
        case selection_kind::inline_fragment:
            descend_if_applies(s.name, s.selections, s.where);
            break;
        case selection_kind::fragment_spread:
            // A fragment spreads once per object, which also stops `fragment F { ...F }`.
            if (out.visited_fragments.insert(s.name).second) {
                const fragment& f = *fragments_.at(s.name); // checked by check_references
                descend_if_applies(f.type_condition, f.selections, s.where);
            }
            break;
        }
    }
}

template <typename ValueOf>
json::object executor::execute_fields(const collected_fields& fields, ValueOf value_of) {
    json::object result;
    result.reserve(fields.groups.size());
    for (const field_group& group : fields.groups) {
        path_.emplace_back(group.key);
        json::value value = value_of(group);
        result[group.key] = std::move(value);
        path_.pop_back();
    }
    return result;
}

json::value executor::resolve_root_field(const field_group& group) {
    const selection& field = *group.fields.front();
    if (field.name == "__typename") {
        return complete(json::string(root_type()), group);
    }
    const operation_type type =
        op_.kind == operation_kind::mutation ? operation_type::mutation : operation_type::query;
    resolved result;
    try {
        result = resolve_(type, field.name, evaluate_fields(field.arguments, variables_));
    } catch (const std::exception& e) {
        // A throwing resolver fails its field, not the whole response.
        result.error = std::string("Resolver failed: ") + e.what();
    }
    if (!result.error.empty()) {
        return field_error(result.error, group);
    }
    return complete(result.value, group);
}

json::value executor::complete(const json::value& value, const field_group& group) {
    const selection& field = *group.fields.front();
    const nesting_guard guard(depth_, max_execution_depth, field.where);
    spend(field.where);
    const bool has_subselection = std::ranges::any_of(
        group.fields, [](const selection* f) { return !f->selections.empty(); });
    switch (value.kind()) {
    case json::kind::null:
        return nullptr;
    case json::kind::array: {
        const json::array& items = value.get_array();
        json::array result;
        result.reserve(items.size());
        for (std::size_t i = 0; i < items.size(); ++i) {
            path_.emplace_back(static_cast<std::int64_t>(i));
            result.push_back(complete(items[i], group));
            path_.pop_back();
        }
        return result;
    }
    case json::kind::object:
        if (has_subselection) {
            return complete_object(value.get_object(), group);
        }
        return field_error("Field \"" + field.name + "\" of type \"" +
                               type_label(value.get_object()) +
                               "\" must have a selection of subfields.",
                           group);
    default:
        if (!has_subselection) {
            return value;
        }
        return field_error("Field \"" + field.name + "\" must not have a selection since type \"" +
                               scalar_type_label(value) + "\" has no subfields.",
                           group);
    }
}

json::value executor::complete_object(const json::object& object, const field_group& group) {
    collected_fields fields;
    for (const selection* field : group.fields) {
        collect(field->selections, type_name_of(object), fields);
    }
    return execute_fields(fields, [&](const field_group& sub) -> json::value {
        const selection& field = *sub.fields.front();
        if (const json::value* member = object.if_contains(field.name)) {
            return complete(*member, sub);
        }
        return field_error("Cannot query field \"" + field.name + "\" on type \"" +
                               type_label(object) + "\".",
                           sub);
    });
}

// Records an error at the current path; the field's value becomes null (every field is nullable
// here: the mock has no schema to say otherwise).
json::value executor::field_error(const std::string& message, const field_group& group) {
    errors_.push_back(make_error(message, group.fields.front()->where, &path_));
    return nullptr;
}

void executor::spend(location where) {
    if (steps_left_ == 0) {
        throw request_error("The operation is too expensive for the mock server (more than " +
                                std::to_string(max_steps) + " steps).",
                            where);
    }
    --steps_left_;
}

json::object make_response(json::array errors, std::optional<json::value> data) {
    json::object response;
    if (!errors.empty()) {
        response["errors"] = std::move(errors); // first, as spec §7.1 recommends
    }
    if (data) {
        response["data"] = std::move(*data);
    }
    return response;
}

} // namespace

json::object execute_graphql(std::string_view query, const json::object& variables,
                             std::string_view operation_name, const root_resolver& resolve,
                             std::optional<executed_operation>* ran) {
    // An error before execution starts leaves "data" out; one that ends execution makes it null
    // (spec §7.1.2).
    bool started = false;
    const auto fail = [&](std::string_view message, std::optional<location> where) {
        json::array errors;
        errors.emplace_back(make_error(message, where, nullptr));
        return make_response(std::move(errors),
                             started ? std::optional<json::value>(nullptr) : std::nullopt);
    };
    try {
        const document doc = parser(query).parse_document();
        const operation& op = select_operation(doc, operation_name);
        const fragment_map fragments = index_fragments(doc);
        check_references(op, fragments);
        json::object values = coerce_variables(op, variables);
        started = true;
        if (ran) {
            *ran = executed_operation{op.kind == operation_kind::mutation ? operation_type::mutation
                                                                          : operation_type::query,
                                      op.name};
        }
        executor exec(op, fragments, std::move(values), resolve);
        json::object data = exec.run();
        return make_response(exec.take_errors(), std::move(data));
    } catch (const request_error& e) {
        return fail(e.what(), e.where());
    } catch (const std::exception& e) {
        return fail(std::string("Internal error: ") + e.what(), std::nullopt);
    } catch (...) {
        return fail("Internal error.", std::nullopt);
    }
}

} // namespace glue::testing::detail
