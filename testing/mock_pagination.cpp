// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/mock_pagination.hpp"

#include <algorithm>
#include <cstdint>

namespace glue::testing::detail {

namespace json = boost::json;

// Cursors name an item by id, so one stays valid when the order changes (threads by last
// message); hex keeps them opaque to clients that would parse them. The empty id is the place
// before the first item: the only cursor an empty connection can repeat.
std::string encode_cursor(std::string_view id) {
    constexpr std::string_view digits = "0123456789abcdef";
    std::string out;
    for (const unsigned char c : "cursor:" + std::string(id)) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::optional<std::string> decode_cursor(std::string_view cursor) {
    const auto nibble = [](char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    if (cursor.size() % 2 != 0) {
        return std::nullopt;
    }
    std::string text;
    for (std::size_t i = 0; i < cursor.size(); i += 2) {
        const int hi = nibble(cursor[i]), lo = nibble(cursor[i + 1]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        text += static_cast<char>(hi * 16 + lo);
    }
    if (!text.starts_with("cursor:")) {
        return std::nullopt;
    }
    return text.substr(7);
}

resolved connection(const json::array& items, std::string_view type, const json::object& args,
                    const paging& rules) {
    std::string error;
    const auto count = [&](std::string_view name) -> std::optional<std::size_t> {
        const json::value* v = args.if_contains(name);
        if (!v || v->is_null() || !error.empty()) {
            return std::nullopt;
        }
        if (!v->is_int64() || v->get_int64() < 0) {
            error = "Argument \"" + std::string(name) + "\" must be a non-negative Int.";
            return std::nullopt;
        }
        const auto n = static_cast<std::uint64_t>(v->get_int64());
        if (n > rules.max_page_size) {
            error = "Argument \"" + std::string(name) + "\" is " + std::to_string(n) +
                    ", above the maximum page size of " + std::to_string(rules.max_page_size) + ".";
            return std::nullopt;
        }
        return static_cast<std::size_t>(n);
    };
    // The boundary a cursor stands for: the number of items up to and including its item.
    const auto boundary = [&](std::string_view name) -> std::optional<std::size_t> {
        const json::value* v = args.if_contains(name);
        if (!v || v->is_null() || !error.empty()) {
            return std::nullopt;
        }
        if (const auto id = v->is_string() ? decode_cursor(v->get_string()) : std::nullopt) {
            if (id->empty()) {
                return 0;
            }
            for (std::size_t i = 0; i < items.size(); ++i) {
                if (items[i].at("id").as_string() == *id) {
                    return i + 1;
                }
            }
        }
        error = "Argument \"" + std::string(name) + "\" is not a valid cursor.";
        return std::nullopt;
    };
    auto first = count("first");
    const auto last = count("last");
    const auto after = boundary("after");
    const auto before = boundary("before");
    if (!error.empty()) {
        return {nullptr, error};
    }
    const std::size_t lo = after.value_or(0);
    // `before` excludes its own item.
    const std::size_t hi =
        std::max(lo, before ? *before - std::min<std::size_t>(*before, 1) : items.size());
    if (!first && !last) {
        first = std::min<std::size_t>(50, rules.max_page_size);
    }
    std::size_t start = lo, end = hi;
    if (first) {
        end = std::min(end, start + *first);
    }
    if (last) {
        start = end - std::min(*last, end - start);
    }
    const auto cursor_of = [&](std::size_t i) {
        return encode_cursor(items[i].at("id").as_string());
    };
    json::array nodes, edges;
    for (std::size_t i = start; i < end; ++i) {
        nodes.push_back(items[i]);
        edges.push_back(json::object{{"__typename", std::string(type) + "Edge"},
                                     {"cursor", cursor_of(i)},
                                     {"node", items[i]}});
    }
    // Where the spec leaves the answer to the server ("may"), the mock tells the truth.
    const std::size_t window = hi - lo;
    json::object page{{"__typename", "PageInfo"},
                      {"hasNextPage", first ? window > *first : end < items.size()},
                      {"hasPreviousPage", last ? window > *last : start > 0},
                      {"startCursor", nullptr},
                      {"endCursor", nullptr}};
    if (end > start) {
        page["startCursor"] = cursor_of(start);
        page["endCursor"] = cursor_of(end - 1);
    }
    if (rules.repeat_cursor) {
        // Stuck: every page claims more, and points back at the first page's cursors.
        const std::size_t size = std::min(first ? *first : *last, items.size());
        page["hasNextPage"] = true;
        page["hasPreviousPage"] = true;
        page["endCursor"] = size == 0 ? encode_cursor("") : cursor_of(size - 1);
        page["startCursor"] = size == 0 ? encode_cursor("") : cursor_of(items.size() - size);
    }
    return {json::object{{"__typename", std::string(type) + "Connection"},
                         {"nodes", std::move(nodes)},
                         {"edges", std::move(edges)},
                         {"pageInfo", std::move(page)}},
            {}};
}

} // namespace glue::testing::detail
