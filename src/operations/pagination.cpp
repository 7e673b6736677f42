// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/pagination.hpp>

#include "protocol/graphql_document.hpp"
#include "support/outcome.hpp"

#include <boost/json/object.hpp>

#include <utility>

namespace glue {

namespace json = boost::json;

namespace {

[[noreturn]] void fail(errc e, std::string_view message) {
    throw detail::to_error(detail::make_failure(e, message), "pager");
}

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> out;
    for (;;) {
        const auto dot = path.find('.');
        const auto name = path.substr(0, dot);
        if (!detail::is_graphql_name(name)) {
            fail(errc::invalid_argument,
                 "the connection path must be field names separated by dots");
        }
        out.emplace_back(name);
        if (dot == std::string_view::npos) {
            return out;
        }
        path.remove_prefix(dot + 1);
    }
}

} // namespace

pager::pager(client& c, std::string workspace_id, graphql_request request,
             std::string_view connection_path, page_options opts)
    : client_(&c)
    , workspace_(std::move(workspace_id))
    , request_(std::move(request))
    , path_(split_path(connection_path))
    , opts_(std::move(opts)) {
    if (opts_.page_size == 0 || opts_.max_pages == 0) {
        fail(errc::invalid_argument, "page_size and max_pages must be at least 1");
    }
    if (!detail::is_graphql_name(opts_.first_variable) ||
        !detail::is_graphql_name(opts_.after_variable)) {
        fail(errc::invalid_argument, "the page variables must be GraphQL names");
    }
}

boost::asio::awaitable<std::optional<page>> pager::next() {
    if (done_) {
        co_return std::nullopt;
    }
    if (pages_ >= opts_.max_pages) {
        fail(errc::too_many_pages, "the connection has more pages than max_pages");
    }
    graphql_request req = request_;
    req.variables[opts_.first_variable] = opts_.page_size;
    if (cursor_) {
        req.variables[opts_.after_variable] = *cursor_;
    } else {
        req.variables[opts_.after_variable] = nullptr;
    }
    graphql_response r = co_await client_->graphql(workspace_, std::move(req));

    json::value* at = &r.data;
    for (const auto& name : path_) {
        auto* o = at->if_object();
        at = o ? o->if_contains(name) : nullptr;
        if (!at) {
            fail(errc::bad_response, "the answer has no connection at the path");
        }
    }
    auto* connection = at->if_object();
    const auto* info = connection ? connection->if_contains("pageInfo") : nullptr;
    const auto* info_obj = info ? info->if_object() : nullptr;
    const auto* has_next = info_obj ? info_obj->if_contains("hasNextPage") : nullptr;
    if (!has_next || !has_next->is_bool()) {
        fail(errc::bad_response, "the connection has no pageInfo { hasNextPage }");
    }
    page p;
    p.has_next_page = has_next->get_bool();
    if (const auto* end = info_obj->if_contains("endCursor"); end && end->is_string()) {
        p.end_cursor = end->get_string();
    }
    if (auto* nodes = connection->if_contains("nodes"); nodes && nodes->is_array()) {
        p.nodes = std::move(nodes->get_array());
    } else if (auto* edges = connection->if_contains("edges"); edges && edges->is_array()) {
        p.nodes.reserve(edges->get_array().size());
        for (auto& edge : edges->get_array()) {
            auto* e = edge.if_object();
            auto* node = e ? e->if_contains("node") : nullptr;
            if (!node) {
                fail(errc::bad_response, "a connection edge has no node");
            }
            p.nodes.push_back(std::move(*node));
        }
    } else {
        fail(errc::bad_response, "the connection has neither nodes nor edges");
    }
    ++pages_;
    if (p.has_next_page) {
        if (p.end_cursor.empty()) {
            fail(errc::bad_response, "the connection has a next page but no endCursor");
        }
        if (!seen_.insert(p.end_cursor).second) {
            fail(errc::repeated_cursor, "the server repeated a cursor: the walk would loop");
        }
        cursor_ = p.end_cursor;
    } else {
        done_ = true;
    }
    co_return p;
}

boost::asio::awaitable<std::size_t>
for_each_node(client& c, std::string_view workspace_id, graphql_request request,
              std::string_view connection_path,
              std::function<void(boost::json::value& node)> on_node, page_options opts) {
    pager pages(c, std::string(workspace_id), std::move(request), connection_path, std::move(opts));
    std::size_t n = 0;
    while (auto p = co_await pages.next()) {
        for (auto& node : p->nodes) {
            on_node(node);
            ++n;
        }
    }
    co_return n;
}

} // namespace glue
