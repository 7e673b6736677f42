// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "protocol/graphql_document.hpp"

#include <boost/json/value.hpp>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <vector>

namespace glue::detail {

namespace json = boost::json;

namespace {

// Just enough of the GraphQL lexer (spec §2.1) to find the top-level operation definitions.
class operation_scanner {
public:
    explicit operation_scanner(std::string_view doc) noexcept : doc_(doc) {}

    struct operation {
        operation_kind kind;
        std::string_view name;
        std::size_t body = 0; ///< where its selection set opens
    };

    /// A field of an operation's top-level selection set, with the variable passed as its
    /// `input` argument (empty when there is none, or the argument is a literal).
    struct root_field {
        std::string_view name;
        std::string_view input_variable;
    };

    // Returns false for a document it can't make sense of.
    bool scan(std::vector<operation>& ops) {
        int depth = 0;
        enum { none, operation_header, fragment_header } header = none;
        while (skip_ignored()) {
            const char c = doc_[pos_];
            if (c == '"') {
                if (!skip_string()) {
                    return false;
                }
                continue;
            }
            if (is_name_start(c)) {
                const auto name = read_name();
                if (depth != 0 || header != none) {
                    if (depth == 0 && header == operation_header && ops.back().name.empty()) {
                        ops.back().name = name;
                    }
                    continue;
                }
                if (name == "query" || name == "mutation" || name == "subscription") {
                    ops.push_back({name == "query"      ? operation_kind::query
                                   : name == "mutation" ? operation_kind::mutation
                                                        : operation_kind::subscription,
                                   {}});
                    header = operation_header;
                } else if (name == "fragment") {
                    header = fragment_header;
                } else {
                    return false;
                }
                continue;
            }
            ++pos_;
            if (c == '{' || c == '(' || c == '[') {
                if (c == '{' && depth == 0) {
                    if (header == none) {
                        ops.push_back({operation_kind::query, {}}); // shorthand query
                    }
                    if (header != fragment_header) {
                        ops.back().body = pos_ - 1;
                    }
                    header = none;
                }
                ++depth;
            } else if (c == '}' || c == ')' || c == ']') {
                if (--depth < 0) {
                    return false;
                }
            } else if (c == '$' || c == '@') {
                // A variable's or directive's name must not pass for the operation's name.
                if (pos_ < doc_.size() && is_name_start(doc_[pos_])) {
                    read_name();
                }
            }
        }
        return depth == 0;
    }

    // The fields of the selection set opening at `body`, as written (aliases resolved to the
    // field's name). False when it holds anything whose effect can't be told from the text: a
    // fragment, a directive (@include/@skip may drop a field), or malformed syntax.
    bool root_fields(std::size_t body, std::vector<root_field>& out) {
        pos_ = body + 1;
        token t = next();
        for (;;) {
            if (t.is("}")) {
                return true;
            }
            if (t.kind != token::name) {
                return false;
            }
            root_field f{t.text, {}};
            t = next();
            if (t.is(":")) { // alias: the field's name follows
                t = next();
                if (t.kind != token::name) {
                    return false;
                }
                f.name = t.text;
                t = next();
            }
            if (t.is("(")) {
                if (!arguments(f)) {
                    return false;
                }
                t = next();
            }
            if (t.is("{")) {
                if (!skip_nested(1)) {
                    return false;
                }
                t = next();
            }
            out.push_back(f);
        }
    }

private:
    struct token {
        enum kind_t { end, name, punctuator, value } kind = end;
        std::string_view text;
        bool is(std::string_view p) const { return kind == punctuator && text == p; }
    };

    token next() {
        if (!skip_ignored()) {
            return {};
        }
        const auto start = pos_;
        const char c = doc_[pos_];
        if (c == '"') {
            return skip_string() ? token{token::value, doc_.substr(start, pos_ - start)} : token{};
        }
        if (is_name_start(c)) {
            return {token::name, read_name()};
        }
        if (doc_.substr(pos_).starts_with("...")) {
            pos_ += 3;
            return {token::punctuator, doc_.substr(start, 3)};
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
            while (pos_ < doc_.size() && (is_name_char(doc_[pos_]) || doc_[pos_] == '.' ||
                                          doc_[pos_] == '-' || doc_[pos_] == '+')) {
                ++pos_;
            }
            return {token::value, doc_.substr(start, pos_ - start)};
        }
        ++pos_;
        return {token::punctuator, doc_.substr(start, 1)};
    }

    // After '(': `name: value` pairs up to ')'; notes `input: $var`.
    bool arguments(root_field& f) {
        for (;;) {
            token t = next();
            if (t.is(")")) {
                return true;
            }
            if (t.kind != token::name || !next().is(":")) {
                return false;
            }
            const auto arg = t.text;
            token v = next();
            if (v.is("$")) {
                token var = next();
                if (var.kind != token::name) {
                    return false;
                }
                if (arg == "input") {
                    f.input_variable = var.text;
                }
            } else if (v.is("{") || v.is("[")) {
                if (!skip_nested(1)) {
                    return false;
                }
            } else if (v.kind != token::name && v.kind != token::value) {
                return false;
            }
        }
    }

    // Skips to the bracket closing `depth` open ones.
    bool skip_nested(int depth) {
        while (depth > 0) {
            token t = next();
            if (t.kind == token::end) {
                return false;
            }
            if (t.is("{") || t.is("[") || t.is("(")) {
                ++depth;
            } else if (t.is("}") || t.is("]") || t.is(")")) {
                --depth;
            }
        }
        return true;
    }

    static bool is_name_start(char c) {
        return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }
    static bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

    // Skips white space, commas, comments and a BOM; false at the end.
    bool skip_ignored() {
        while (pos_ < doc_.size()) {
            const char c = doc_[pos_];
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
                ++pos_;
            } else if (c == '#') {
                while (pos_ < doc_.size() && doc_[pos_] != '\n' && doc_[pos_] != '\r') {
                    ++pos_;
                }
            } else if (doc_.substr(pos_).starts_with("\xEF\xBB\xBF")) {
                pos_ += 3;
            } else {
                return true;
            }
        }
        return false;
    }

    std::string_view read_name() {
        const auto start = pos_;
        while (pos_ < doc_.size() && is_name_char(doc_[pos_])) {
            ++pos_;
        }
        return doc_.substr(start, pos_ - start);
    }

    bool skip_string() {
        if (doc_.substr(pos_).starts_with(R"(""")")) {
            const auto end = find_block_end(pos_ + 3);
            if (end == std::string_view::npos) {
                return false;
            }
            pos_ = end + 3;
            return true;
        }
        for (++pos_; pos_ < doc_.size(); ++pos_) {
            if (doc_[pos_] == '\\') {
                ++pos_;
            } else if (doc_[pos_] == '"') {
                ++pos_;
                return true;
            } else if (doc_[pos_] == '\n' || doc_[pos_] == '\r') {
                return false;
            }
        }
        return false;
    }

    std::size_t find_block_end(std::size_t from) const {
        for (auto i = from; i + 2 < doc_.size(); ++i) {
            if (doc_[i] == '\\' && doc_.substr(i + 1).starts_with(R"(""")")) {
                i += 3;
            } else if (doc_.substr(i).starts_with(R"(""")")) {
                return i;
            }
        }
        return std::string_view::npos;
    }

    std::string_view doc_;
    std::size_t pos_ = 0;
};

} // namespace

bool is_graphql_name(std::string_view s) noexcept {
    if (s.empty()) {
        return false;
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        const bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (i > 0 && c >= '0' && c <= '9');
        if (!ok) {
            return false;
        }
    }
    return true;
}

namespace {

// The operation a request runs: the one named `operation_name`, or the only one.
std::optional<operation_scanner::operation> selected_operation(std::string_view document,
                                                               std::string_view operation_name) {
    std::vector<operation_scanner::operation> ops;
    if (!operation_scanner(document).scan(ops)) {
        return std::nullopt;
    }
    if (operation_name.empty()) {
        return ops.size() == 1 ? std::optional(ops.front()) : std::nullopt;
    }
    for (const auto& op : ops) {
        if (op.name == operation_name) {
            return op;
        }
    }
    return std::nullopt;
}

bool non_empty_string(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() && !v->get_string().empty();
}

// A SendMessageInput that Glue upserts rather than duplicates: message.uniqueBy, and
// thread.threadBy when it creates a thread (no threadID).
bool is_upsert(const json::value* input) {
    const auto* in = input ? input->if_object() : nullptr;
    const auto* message = in ? in->if_contains("message") : nullptr;
    if (!message || !message->is_object() || !non_empty_string(message->get_object(), "uniqueBy")) {
        return false;
    }
    if (in->contains("threadID") && !in->at("threadID").is_null()) {
        return true;
    }
    const auto* thread = in->if_contains("thread");
    return !thread || thread->is_null() ||
           (thread->is_object() && non_empty_string(thread->get_object(), "threadBy"));
}

} // namespace

operation_kind graphql_operation_kind(std::string_view document,
                                      std::string_view operation_name) noexcept {
    try {
        if (auto op = selected_operation(document, operation_name)) {
            return op->kind;
        }
    } catch (...) { // allocation failure: say nothing rather than guess
    }
    return operation_kind::unknown;
}

bool may_send_twice(const graphql_request& req) noexcept {
    // A document that never says `mutation` or `subscription` holds only queries (keywords are
    // case-sensitive): the common case, answered without parsing the document.
    const std::string_view q = req.query;
    if (q.find("mutation") == q.npos && q.find("subscription") == q.npos) {
        return true;
    }
    try {
        auto op = selected_operation(req.query, req.operation_name);
        if (!op) {
            return false;
        }
        if (op->kind == operation_kind::query) {
            return true;
        }
        if (op->kind != operation_kind::mutation) {
            return false;
        }
        std::vector<operation_scanner::root_field> fields;
        if (!operation_scanner(req.query).root_fields(op->body, fields) || fields.empty()) {
            return false;
        }
        return std::all_of(fields.begin(), fields.end(), [&](const auto& f) {
            return f.name == "sendMessage" && !f.input_variable.empty() &&
                   is_upsert(req.variables.if_contains(f.input_variable));
        });
    } catch (...) {
        return false;
    }
}

} // namespace glue::detail
