// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_INTERNAL_GRAPHQL_LEXER_HPP
#define GLUE_TESTING_INTERNAL_GRAPHQL_LEXER_HPP

// The tokens of a GraphQL document (spec §2.1), one at a time, with their locations; syntax
// errors throw request_error.

#include "testing/graphql_error.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace glue::testing::detail::graphql {

enum class token_kind { end, punctuator, name, int_value, float_value, string_value };

struct token {
    token_kind kind = token_kind::end;
    std::string_view text; // the source text
    std::string value;     // strings: the decoded value
    location where;
};

class lexer {
public:
    explicit lexer(std::string_view source) : source_(source) {}

    token next();

private:
    bool starts_with(std::size_t pos, std::string_view s) const {
        return pos <= source_.size() && source_.substr(pos).starts_with(s);
    }
    [[noreturn]] void fail(std::size_t pos, const std::string& message);
    [[noreturn]] void fail_expected_digit(std::size_t pos);
    location locate(std::size_t pos);
    std::size_t line_break(std::size_t pos);
    void skip_ignored();
    std::size_t read_number(std::size_t pos, token_kind& kind);
    std::size_t read_digits(std::size_t pos);
    std::size_t read_string(std::size_t pos, std::string& value);
    std::size_t read_block_string(std::size_t pos, std::string& value);
    std::size_t read_escape(std::size_t pos, std::string& value);
    std::optional<char32_t> read_hex4(std::size_t pos) const;
    std::size_t copy_source_char(std::size_t pos, std::string& value);

    std::string_view source_;
    std::size_t pos_ = 0;
    std::size_t line_ = 1;
    // Columns are counted lazily, from column_pos_ up to the position asked for; positions asked
    // for only move forward, so the counting stays linear.
    std::size_t column_ = 1;
    std::size_t column_pos_ = 0;
};

} // namespace glue::testing::detail::graphql

#endif
