// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_INTERNAL_MOCK_PAGINATION_HPP
#define GLUE_TESTING_INTERNAL_MOCK_PAGINATION_HPP

// Relay connections (the GraphQL Cursor Connections spec) over the mock's lists, and their
// cursors.

#include "testing/graphql_executor.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace glue::testing::detail {

// How connections page: the server's limits and the repeated-cursor knob.
struct paging {
    std::size_t max_page_size = 100;
    bool repeat_cursor = false;
};

/// The cursor of the item with this id ("": the place before the first item).
std::string encode_cursor(std::string_view id);
/// The id a cursor names; nullopt for anything encode_cursor doesn't make.
std::optional<std::string> decode_cursor(std::string_view cursor);

/// A connection of `type` over `items` (objects with an "id"), per the spec's pagination
/// algorithm: after/before narrow the list, then first and last cut the page.
resolved connection(const boost::json::array& items, std::string_view type,
                    const boost::json::object& args, const paging& rules);

} // namespace glue::testing::detail

#endif
