// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/mock_graphql.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace glue::testing::detail {

namespace {

namespace json = boost::json;

// Bounds that keep hostile documents (this parser is fuzzed) from exhausting the stack or CPU.
constexpr int max_nesting = 64; // brackets of any kind: selection sets, lists, objects, arguments
// Execution also descends through list levels and named fragments, which the parse limit can't see.
constexpr int max_execution_depth = 2 * max_nesting;
constexpr std::size_t max_steps = 1'000'000; // selections collected plus values completed

struct location {
    std::size_t line = 1;
    std::size_t column = 1;
};

// Ends the whole request (syntax and validation errors, execution limits): unwinding is the
// simplest way out of the recursive descent.
class request_error : public std::runtime_error {
public:
    request_error(const std::string& message, std::optional<location> where)
        : std::runtime_error(message)
        , where_(where) {}

    std::optional<location> where() const { return where_; }

private:
    std::optional<location> where_;
};

// Counts one level of nesting for the duration of a scope.
class nesting_guard {
public:
    nesting_guard(int& depth, int limit, location where) : depth_(depth) {
        if (depth_ >= limit) {
            throw request_error(
                "Nesting exceeds the limit of " + std::to_string(limit) + " levels.", where);
        }
        ++depth_;
    }
    ~nesting_guard() { --depth_; }
    nesting_guard(const nesting_guard&) = delete;
    nesting_guard& operator=(const nesting_guard&) = delete;

private:
    int& depth_;
};

// ---------------------------------------------------------------------------------------------
// Characters

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_name_start(char c) {
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
bool is_name_continue(char c) {
    return is_name_start(c) || is_digit(c);
}

struct code_point {
    char32_t value = 0;
    std::size_t length = 0; // 0: not well-formed UTF-8
};

// Rejects overlong forms, surrogates and values past U+10FFFF, so that strings handed to the
// resolver and echoed in responses are always valid UTF-8.
code_point decode_utf8(std::string_view s, std::size_t pos) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[pos + i]); };
    const unsigned char lead = byte(0);
    if (lead < 0x80) {
        return {lead, 1};
    }
    // 0 for a continuation byte or a lead byte no code point uses.
    const std::size_t length = lead >= 0xF8   ? 0
                               : lead >= 0xF0 ? 4
                               : lead >= 0xE0 ? 3
                               : lead >= 0xC0 ? 2
                                              : 0;
    if (length == 0 || s.size() - pos < length) {
        return {};
    }
    char32_t value = lead & (0x7F >> length);
    for (std::size_t i = 1; i < length; ++i) {
        if ((byte(i) & 0xC0) != 0x80) {
            return {};
        }
        value = (value << 6) | (byte(i) & 0x3F);
    }
    // Below its length's minimum, a value is an overlong (non-shortest) form.
    constexpr char32_t min_value[] = {0, 0, 0x80, 0x800, 0x10000};
    if (value < min_value[length] || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
        return {};
    }
    return {value, length};
}

void append_utf8(std::string& out, char32_t c) {
    const auto put = [&](unsigned bits) { out += static_cast<char>(bits); };
    if (c < 0x80) {
        put(c);
    } else if (c < 0x800) {
        put(0xC0 | (c >> 6));
        put(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        put(0xE0 | (c >> 12));
        put(0x80 | ((c >> 6) & 0x3F));
        put(0x80 | (c & 0x3F));
    } else {
        put(0xF0 | (c >> 18));
        put(0x80 | ((c >> 12) & 0x3F));
        put(0x80 | ((c >> 6) & 0x3F));
        put(0x80 | (c & 0x3F));
    }
}

std::string hex(unsigned long value, int digits) {
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, "%0*lX", digits, value);
    return buffer;
}

// How an error message shows the character at s[pos]: never raw control bytes or broken UTF-8.
std::string describe_char(std::string_view s, std::size_t pos) {
    if (pos >= s.size()) {
        return "<EOF>";
    }
    const auto c = static_cast<unsigned char>(s[pos]);
    if (c == '"') {
        return "'\"'";
    }
    if (c >= 0x20 && c < 0x7F) {
        return "\"" + std::string(1, s[pos]) + "\"";
    }
    if (const code_point cp = decode_utf8(s, pos); cp.length != 0) {
        return "U+" + hex(cp.value, 4);
    }
    return "byte 0x" + hex(c, 2);
}

// Removes the common indentation and the leading and trailing blank lines (spec §2.9.5
// BlockStringValue). Line terminators are already normalised to '\n'.
std::string block_string_value(std::string_view raw) {
    std::vector<std::string_view> lines;
    for (std::size_t start = 0;;) {
        const std::size_t end = raw.find('\n', start);
        lines.push_back(raw.substr(start, end - start));
        if (end == std::string_view::npos) {
            break;
        }
        start = end + 1;
    }
    const auto indent_of = [](std::string_view line) {
        return std::min(line.find_first_not_of(" \t"), line.size());
    };
    std::optional<std::size_t> common;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        const std::size_t indent = indent_of(lines[i]);
        if (indent < lines[i].size() && (!common || indent < *common)) {
            common = indent;
        }
    }
    if (common) {
        for (std::size_t i = 1; i < lines.size(); ++i) {
            lines[i].remove_prefix(std::min(*common, lines[i].size()));
        }
    }
    const auto blank = [&](std::string_view line) { return indent_of(line) == line.size(); };
    auto first = lines.begin();
    auto last = lines.end();
    while (first != last && blank(*first)) {
        ++first;
    }
    while (first != last && blank(*(last - 1))) {
        --last;
    }
    std::string value;
    for (auto it = first; it != last; ++it) {
        if (it != first) {
            value += '\n';
        }
        value += *it;
    }
    return value;
}

// ---------------------------------------------------------------------------------------------
// Lexer

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

void lexer::fail(std::size_t pos, const std::string& message) {
    throw request_error("Syntax Error: " + message, locate(pos));
}

void lexer::fail_expected_digit(std::size_t pos) {
    fail(pos, "Invalid number, expected digit but got: " + describe_char(source_, pos) + ".");
}

location lexer::locate(std::size_t pos) {
    // A column is a code point: UTF-8 continuation bytes don't start one.
    for (; column_pos_ < pos; ++column_pos_) {
        if ((static_cast<unsigned char>(source_[column_pos_]) & 0xC0) != 0x80) {
            ++column_;
        }
    }
    return {line_, column_};
}

std::size_t lexer::line_break(std::size_t pos) {
    pos += starts_with(pos, "\r\n") ? 2U : 1U;
    ++line_;
    column_ = 1;
    column_pos_ = pos;
    return pos;
}

void lexer::skip_ignored() {
    constexpr std::string_view bom = "\xEF\xBB\xBF";
    while (pos_ < source_.size()) {
        const char c = source_[pos_];
        if (c == ' ' || c == '\t' || c == ',') {
            ++pos_;
        } else if (c == '\n' || c == '\r') {
            pos_ = line_break(pos_);
        } else if (c == '#') {
            pos_ = std::min(source_.find_first_of("\r\n", pos_), source_.size());
        } else if (starts_with(pos_, bom)) {
            pos_ += bom.size();
        } else {
            return;
        }
    }
}

token lexer::next() {
    skip_ignored();
    token t;
    t.where = locate(pos_);
    const std::size_t start = pos_;
    if (pos_ == source_.size()) {
        return t;
    }
    const char c = source_[pos_];
    if (std::string_view("!$&():=@[]{|}").find(c) != std::string_view::npos) {
        t.kind = token_kind::punctuator;
        ++pos_;
    } else if (starts_with(pos_, "...")) {
        t.kind = token_kind::punctuator;
        pos_ += 3;
    } else if (starts_with(pos_, "\"\"\"")) {
        t.kind = token_kind::string_value;
        pos_ = read_block_string(pos_ + 3, t.value);
    } else if (c == '"') {
        t.kind = token_kind::string_value;
        pos_ = read_string(pos_ + 1, t.value);
    } else if (c == '-' || is_digit(c)) {
        pos_ = read_number(pos_, t.kind);
    } else if (is_name_start(c)) {
        t.kind = token_kind::name;
        while (++pos_ < source_.size() && is_name_continue(source_[pos_])) {
        }
    } else {
        fail(pos_, "Unexpected character: " + describe_char(source_, pos_) + ".");
    }
    t.text = source_.substr(start, pos_ - start);
    return t;
}

std::size_t lexer::read_number(std::size_t pos, token_kind& kind) {
    kind = token_kind::int_value;
    if (source_[pos] == '-') {
        ++pos;
    }
    if (pos < source_.size() && source_[pos] == '0') {
        ++pos;
        if (pos < source_.size() && is_digit(source_[pos])) {
            fail(pos,
                 "Invalid number, unexpected digit after 0: " + describe_char(source_, pos) + ".");
        }
    } else {
        pos = read_digits(pos);
    }
    if (pos < source_.size() && source_[pos] == '.') {
        kind = token_kind::float_value;
        pos = read_digits(pos + 1);
    }
    if (pos < source_.size() && (source_[pos] == 'e' || source_[pos] == 'E')) {
        kind = token_kind::float_value;
        ++pos;
        if (pos < source_.size() && (source_[pos] == '+' || source_[pos] == '-')) {
            ++pos;
        }
        pos = read_digits(pos);
    }
    // A number must not run into a name or another dot ("12ab", "1.2.3").
    if (pos < source_.size() && (source_[pos] == '.' || is_name_start(source_[pos]))) {
        fail_expected_digit(pos);
    }
    return pos;
}

std::size_t lexer::read_digits(std::size_t pos) {
    if (pos >= source_.size() || !is_digit(source_[pos])) {
        fail_expected_digit(pos);
    }
    while (pos < source_.size() && is_digit(source_[pos])) {
        ++pos;
    }
    return pos;
}

std::size_t lexer::read_string(std::size_t pos, std::string& value) {
    for (;;) {
        if (pos >= source_.size() || source_[pos] == '\n' || source_[pos] == '\r') {
            fail(pos, "Unterminated string.");
        }
        if (source_[pos] == '"') {
            return pos + 1;
        }
        pos = source_[pos] == '\\' ? read_escape(pos, value) : copy_source_char(pos, value);
    }
}

std::size_t lexer::read_block_string(std::size_t pos, std::string& value) {
    std::string raw;
    for (;;) {
        if (pos >= source_.size()) {
            fail(pos, "Unterminated string.");
        }
        if (starts_with(pos, "\"\"\"")) {
            value = block_string_value(raw);
            return pos + 3;
        }
        if (starts_with(pos, "\\\"\"\"")) {
            raw += "\"\"\"";
            pos += 4;
        } else if (source_[pos] == '\n' || source_[pos] == '\r') {
            raw += '\n';
            pos = line_break(pos);
        } else {
            pos = copy_source_char(pos, raw);
        }
    }
}

std::size_t lexer::read_escape(std::size_t pos, std::string& value) {
    constexpr std::string_view escapes = "\"\\/bfnrt";
    constexpr std::string_view meanings = "\"\\/\b\f\n\r\t";
    const char c = pos + 1 < source_.size() ? source_[pos + 1] : '\0';
    if (const std::size_t i = escapes.find(c); i != std::string_view::npos) {
        value += meanings[i];
        return pos + 2;
    }
    if (c != 'u') {
        fail(pos, "Invalid character escape sequence: " + describe_char(source_, pos + 1) + ".");
    }
    // A UTF-16 surrogate pair spells one code point; a lone surrogate is not a character.
    const std::optional<char32_t> unit = read_hex4(pos + 2);
    if (!unit || (*unit >= 0xDC00 && *unit <= 0xDFFF)) {
        fail(pos, "Invalid Unicode escape sequence.");
    }
    if (*unit < 0xD800 || *unit > 0xDBFF) {
        append_utf8(value, *unit);
        return pos + 6;
    }
    const std::optional<char32_t> low =
        starts_with(pos + 6, "\\u") ? read_hex4(pos + 8) : std::nullopt;
    if (!low || *low < 0xDC00 || *low > 0xDFFF) {
        fail(pos, "Invalid Unicode escape sequence.");
    }
    append_utf8(value, 0x10000 + ((*unit - 0xD800) << 10) + (*low - 0xDC00));
    return pos + 12;
}

std::optional<char32_t> lexer::read_hex4(std::size_t pos) const {
    if (pos > source_.size() || source_.size() - pos < 4) {
        return std::nullopt;
    }
    unsigned value = 0;
    const char* first = source_.data() + pos;
    const auto [end, ec] = std::from_chars(first, first + 4, value, 16);
    if (ec != std::errc{} || end != first + 4) {
        return std::nullopt;
    }
    return value;
}

// Appends one source character to a string's value. Control characters other than tab, and
// malformed UTF-8, are not GraphQL source text.
std::size_t lexer::copy_source_char(std::size_t pos, std::string& value) {
    const auto c = static_cast<unsigned char>(source_[pos]);
    const std::size_t length =
        c >= 0x80 ? decode_utf8(source_, pos).length : (c >= 0x20 || c == '\t' ? 1 : 0);
    if (length == 0) {
        fail(pos, "Invalid character within String: " + describe_char(source_, pos) + ".");
    }
    value.append(source_.substr(pos, length));
    return pos + length;
}

// ---------------------------------------------------------------------------------------------
// Document

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

json::object evaluate_fields(const input_value& object, const json::object& variables);

// nullopt: a variable without a value, which leaves the enclosing argument or field out.
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

// ---------------------------------------------------------------------------------------------
// Parser

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

// ---------------------------------------------------------------------------------------------
// Validation (the part of spec §5 the mock relies on)

using fragment_map = std::unordered_map<std::string_view, const fragment*>;

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

// ---------------------------------------------------------------------------------------------
// Execution

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
                             std::string_view operation_name, const root_resolver& resolve) {
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
