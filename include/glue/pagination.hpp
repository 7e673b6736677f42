// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PAGINATION_HPP
#define GLUE_PAGINATION_HPP

/// \file
/// Walking a Relay cursor connection (Glue's lists: groups, threads, messages…) page by page,
/// with guards against a server that never says it's done.

#include <glue/client.hpp>
#include <glue/decode.hpp>
#include <glue/export.hpp>
#include <glue/types.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace glue {

/// Not an aggregate, for the reason graphql_request isn't (see <glue/types.hpp>): it is a
/// defaulted argument of coroutines, so `co_await glue::groups(c, ws)` builds one inside a
/// co_await expression.
struct page_options {
    page_options() {}

    /// Items per page, sent as the `first` variable.
    std::size_t page_size = 50;
    /// Fetching more pages than this fails with errc::too_many_pages.
    std::size_t max_pages = 10'000;
    /// The variables the query declares for the page size (Int) and the cursor (String).
    std::string first_variable = "first";
    /// The variable the query declares for the cursor (String).
    std::string after_variable = "after";
};

/// One page of a connection.
struct page {
    /// The page's nodes: the connection's `nodes`, or the `node` of each of its `edges`.
    boost::json::array nodes;
    bool has_next_page = false; ///< `pageInfo.hasNextPage`: another page follows
    std::string end_cursor;     ///< `pageInfo.endCursor`: the next page starts after it

    /// The nodes decoded into T (see glue::decode); a failure's json_path starts at the
    /// node's index ("/3/name").
    template <class T>
    std::vector<T> nodes_as() const {
        return glue::decode<std::vector<T>>(nodes);
    }
};

/// Walks the Relay connection at `connection_path` in the answers to `request`, forwards:
/// each request carries `first` = page_size and `after` = the previous page's endCursor (null
/// for the first), and the connection must select `pageInfo { hasNextPage endCursor }` and
/// `nodes { … }` or `edges { node { … } }`. For example, with connection_path "groups":
///
/// \code
/// glue::graphql_request req(R"(query($first: Int, $after: String) {
///     groups(first: $first, after: $after) {
///         nodes { id name } pageInfo { hasNextPage endCursor } } })");
/// glue::pager pages(client, ws, req, "groups");
/// while (auto p = co_await pages.next())
///     for (auto& group : p->nodes_as<my_group>()) …
/// \endcode
///
/// The walk stops after the page whose hasNextPage is false. It never loops: a cursor the
/// server already handed out fails with errc::repeated_cursor, and more than max_pages pages
/// with errc::too_many_pages. The client must outlive the pager.
class GLUE_DECL pager {
public:
    /// `connection_path`: the connection's place in `data`, as field names (or aliases)
    /// separated by dots, such as "groups" or "node.threads". Throws glue::error
    /// (errc::invalid_argument) for an empty or malformed path, a zero page_size or max_pages,
    /// or variable names that aren't GraphQL names.
    pager(client& c, std::string workspace_id, graphql_request request,
          std::string_view connection_path, page_options opts = {});

    /// The next page, or nullopt once the last one has been returned. Throws what
    /// client::graphql() throws; errc::bad_response when the answer has no connection at the
    /// path, or one without pageInfo, nodes or edges, or a next page without a cursor;
    /// errc::repeated_cursor; errc::too_many_pages.
    boost::asio::awaitable<std::optional<page>> next();

    /// Pages returned so far.
    std::size_t pages() const noexcept { return pages_; }

private:
    client* client_;
    std::string workspace_;
    graphql_request request_;
    std::vector<std::string> path_;
    page_options opts_;
    std::optional<std::string> cursor_; // nullopt: the first page
    std::unordered_set<std::string> seen_;
    std::size_t pages_ = 0;
    bool done_ = false;
};

/// Calls `on_node` with every node of every page, in order, as the pages arrive; returns how
/// many there were. Throws what pager::next() throws (nodes already handed over stay handled).
GLUE_DECL boost::asio::awaitable<std::size_t>
for_each_node(client& c, std::string_view workspace_id, graphql_request request,
              std::string_view connection_path,
              std::function<void(boost::json::value& node)> on_node, page_options opts = {});

} // namespace glue

#endif
