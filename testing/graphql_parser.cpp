// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/graphql_parser.hpp"

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace glue::testing::detail::graphql {

bool parser::skip(std::string_view punctuator) {
    if (!at(punctuator)) {
        return false;
    }
    advance();
    return true;
}

bool parser::skip_keyword(std::string_view word) {
    if (!at_keyword(word)) {
        return false;
    }
    advance();
    return true;
}

void parser::expect(std::string_view punctuator) {
    if (!skip(punctuator)) {
        fail_expected("\"" + std::string(punctuator) + "\"");
    }
}

void parser::expect_keyword(std::string_view word) {
    if (!skip_keyword(word)) {
        fail_expected("\"" + std::string(word) + "\"");
    }
}

std::string parser::expect_name() {
    if (token_.kind != token_kind::name) {
        fail_expected("Name");
    }
    std::string name(token_.text);
    advance();
    return name;
}

void parser::fail(const std::string& message) const {
    throw request_error(message, token_.where);
}

void parser::fail_expected(std::string_view what) const {
    fail("Syntax Error: Expected " + std::string(what) + ", found " + describe_token() + ".");
}

void parser::unexpected() const {
    fail("Syntax Error: Unexpected " + describe_token() + ".");
}

std::string parser::describe_token() const {
    const std::string quoted = "\"" + std::string(token_.text) + "\"";
    switch (token_.kind) {
    case token_kind::end:
        return "<EOF>";
    case token_kind::punctuator:
        return quoted;
    case token_kind::name:
        return "Name " + quoted;
    case token_kind::int_value:
        return "Int " + quoted;
    case token_kind::float_value:
        return "Float " + quoted;
    case token_kind::string_value:
        return "String";
    }
    return "token";
}

template <typename ParseItem>
void parser::parse_delimited(std::string_view open, std::string_view close, bool allow_empty,
                             ParseItem parse_item) {
    const nesting_guard guard(nesting_, max_nesting, token_.where);
    expect(open);
    if (allow_empty && skip(close)) {
        return;
    }
    do {
        parse_item();
    } while (!skip(close));
}

document parser::parse_document() {
    document doc;
    do {
        if (at("{") || at_keyword("query") || at_keyword("mutation") ||
            at_keyword("subscription")) {
            doc.operations.push_back(parse_operation());
        } else if (at_keyword("fragment")) {
            doc.fragments.push_back(parse_fragment());
        } else {
            unexpected();
        }
    } while (token_.kind != token_kind::end);
    return doc;
}

operation parser::parse_operation() {
    operation op;
    op.where = token_.where;
    if (!at("{")) {
        op.kind = token_.text == "query"      ? operation_kind::query
                  : token_.text == "mutation" ? operation_kind::mutation
                                              : operation_kind::subscription;
        advance();
        if (token_.kind == token_kind::name) {
            op.name = expect_name();
        }
        if (at("(")) {
            parse_delimited("(", ")", false,
                            [&] { op.variables.push_back(parse_variable_definition()); });
        }
        parse_directives(false);
    }
    parse_body(op);
    return op;
}

fragment parser::parse_fragment() {
    fragment f;
    f.where = token_.where;
    advance(); // "fragment"
    if (at_keyword("on")) {
        unexpected(); // "on" can't name a fragment: `...on` would read as an inline fragment
    }
    f.name = expect_name();
    expect_keyword("on");
    f.type_condition = expect_name();
    parse_directives(false);
    parse_body(f);
    return f;
}

void parser::parse_body(definition& d) {
    d.selections = parse_selection_set();
    d.spreads = std::exchange(spreads_, {});
    d.variable_uses = std::exchange(variable_uses_, {});
}

variable_definition parser::parse_variable_definition() {
    variable_definition v;
    v.where = token_.where;
    v.name = parse_variable();
    expect(":");
    v.type = parse_type();
    if (skip("=")) {
        v.default_value = evaluate(parse_value(true), {});
    }
    parse_directives(true);
    return v;
}

std::string parser::parse_variable() {
    expect("$");
    return expect_name();
}

std::string parser::parse_type() {
    std::string type;
    if (at("[")) {
        const nesting_guard guard(nesting_, max_nesting, token_.where);
        advance();
        type = "[" + parse_type() + "]";
        expect("]");
    } else {
        type = expect_name();
    }
    if (skip("!")) {
        type += '!';
    }
    return type;
}

// Directives are parsed and ignored: the mock has no use for @include, @skip or any other.
void parser::parse_directives(bool is_const) {
    while (skip("@")) {
        expect_name();
        if (at("(")) {
            parse_fields("(", ")", false, is_const);
        }
    }
}

std::vector<selection> parser::parse_selection_set() {
    std::vector<selection> set;
    parse_delimited("{", "}", false, [&] { set.push_back(parse_selection()); });
    return set;
}

selection parser::parse_selection() {
    selection s;
    s.where = token_.where;
    if (skip("...")) {
        if (token_.kind == token_kind::name && token_.text != "on") {
            s.kind = selection_kind::fragment_spread;
            s.name = expect_name();
            spreads_.push_back({s.name, s.where});
            parse_directives(false);
            return s;
        }
        s.kind = selection_kind::inline_fragment;
        if (skip_keyword("on")) {
            s.name = expect_name();
        }
        parse_directives(false);
        s.selections = parse_selection_set();
        return s;
    }
    s.name = expect_name();
    if (skip(":")) {
        s.alias = std::move(s.name);
        s.name = expect_name();
    }
    if (at("(")) {
        s.arguments = parse_fields("(", ")", false, false);
    }
    parse_directives(false);
    if (at("{")) {
        s.selections = parse_selection_set();
    }
    return s;
}

// Arguments and object values: `name: value` pairs.
input_value parser::parse_fields(std::string_view open, std::string_view close, bool allow_empty,
                                 bool is_const) {
    input_value object{value_kind::object};
    parse_delimited(open, close, allow_empty, [&] {
        object.keys.push_back(expect_name());
        expect(":");
        object.items.push_back(parse_value(is_const));
    });
    return object;
}

input_value parser::parse_value(bool is_const) {
    if (at("[")) {
        input_value list{value_kind::list};
        parse_delimited("[", "]", true, [&] { list.items.push_back(parse_value(is_const)); });
        return list;
    }
    if (at("{")) {
        return parse_fields("{", "}", true, is_const);
    }
    if (at("$") && !is_const) {
        const location where = token_.where;
        input_value variable{value_kind::variable};
        variable.variable = parse_variable();
        variable_uses_.push_back({variable.variable, where});
        return variable;
    }
    input_value literal;
    switch (token_.kind) {
    case token_kind::int_value:
    case token_kind::float_value:
        literal.literal = number_value();
        break;
    case token_kind::string_value:
        literal.literal = token_.value;
        break;
    case token_kind::name:
        if (token_.text == "true" || token_.text == "false") {
            literal.literal = token_.text == "true";
        } else if (token_.text != "null") {
            literal.literal = token_.text; // an enum value: the resolver sees its name
        }
        break;
    default:
        unexpected();
    }
    advance();
    return literal;
}

// Numbers JSON can't carry exactly (past int64, or past double) are refused rather than rounded.
json::value parser::number_value() const {
    const char* first = token_.text.data();
    const char* last = first + token_.text.size();
    if (token_.kind == token_kind::int_value) {
        std::int64_t value = 0;
        if (std::from_chars(first, last, value).ec == std::errc{}) {
            return value;
        }
    } else {
        double value = 0;
        if (std::from_chars(first, last, value).ec == std::errc{}) {
            return value;
        }
    }
    fail("Number " + std::string(token_.text) + " is out of range.");
}

} // namespace glue::testing::detail::graphql
