// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/graphql_lexer.hpp"

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace glue::testing::detail::graphql {

namespace {

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

} // namespace

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

} // namespace glue::testing::detail::graphql
