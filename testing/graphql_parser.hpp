// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_INTERNAL_GRAPHQL_PARSER_HPP
#define GLUE_TESTING_INTERNAL_GRAPHQL_PARSER_HPP

// A recursive-descent parser for executable GraphQL documents (spec §2): operations, fragments,
// variables, arguments, directives (parsed and ignored). Errors throw request_error.

#include "testing/graphql_document.hpp"
#include "testing/graphql_lexer.hpp"

#include <boost/json/value.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace glue::testing::detail::graphql {

class parser {
public:
    explicit parser(std::string_view source) : lexer_(source) { advance(); }

    document parse_document();

private:
    operation parse_operation();
    fragment parse_fragment();
    void parse_body(definition& d);
    variable_definition parse_variable_definition();
    std::string parse_variable();
    std::string parse_type();
    void parse_directives(bool is_const);
    std::vector<selection> parse_selection_set();
    selection parse_selection();
    input_value parse_value(bool is_const);
    input_value parse_fields(std::string_view open, std::string_view close, bool allow_empty,
                             bool is_const);
    json::value number_value() const;

    template <typename ParseItem>
    void parse_delimited(std::string_view open, std::string_view close, bool allow_empty,
                         ParseItem parse_item);

    void advance() { token_ = lexer_.next(); }
    bool at(std::string_view punctuator) const {
        return token_.kind == token_kind::punctuator && token_.text == punctuator;
    }
    bool at_keyword(std::string_view word) const {
        return token_.kind == token_kind::name && token_.text == word;
    }
    bool skip(std::string_view punctuator);
    bool skip_keyword(std::string_view word);
    void expect(std::string_view punctuator);
    void expect_keyword(std::string_view word);
    std::string expect_name();
    [[noreturn]] void fail(const std::string& message) const;
    [[noreturn]] void fail_expected(std::string_view what) const;
    [[noreturn]] void unexpected() const;
    std::string describe_token() const;

    lexer lexer_;
    token token_;
    int nesting_ = 0;
    std::vector<name_ref> spreads_;       // of the definition being parsed
    std::vector<name_ref> variable_uses_; // likewise
};

} // namespace glue::testing::detail::graphql

#endif
