// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Walks every group of a workspace page by page with glue::pager, decoding each page's nodes
// into a plain struct; then the same with the typed helper glue::groups().
//
// Configured from the environment like the other examples (GLUE_WORKSPACE: the workspace id).
//
//   glue-mock-server -- pagination

#include <glue/glue.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/describe/class.hpp>

#include <cstdlib>
#include <iostream>

namespace asio = boost::asio;

struct group_row {
    std::string id;
    std::string name;
};
BOOST_DESCRIBE_STRUCT(group_row, (), (id, name))

asio::awaitable<void> run(glue::client& client, std::string workspace) {
    // The query declares $first and $after; the pager sets them page by page.
    glue::graphql_request req(R"(query Groups($first: Int, $after: String) {
        groups(first: $first, after: $after) {
            nodes { id name }
            pageInfo { hasNextPage endCursor }
        }
    })");
    glue::page_options opts;
    opts.page_size = 2;
    glue::pager pages(client, workspace, req, "groups", opts);
    while (auto page = co_await pages.next()) {
        std::cout << "page " << pages.pages() << ":\n";
        for (const auto& g : page->nodes_as<group_row>()) {
            std::cout << "  " << g.id << "  " << g.name << "\n";
        }
    }

    auto all = co_await glue::groups(client, workspace);
    std::cout << all.size() << " groups in all\n";
}

int main() {
    const char* ws = std::getenv("GLUE_WORKSPACE");
    try {
        asio::io_context ioc;
        glue::client client(ioc.get_executor(), glue::client_config::from_env());
        asio::co_spawn(ioc, run(client, ws ? ws : "wks_32kbzWHxtQvfVEgwEdQduuxRTYG"),
                       [](std::exception_ptr e) {
                           if (e) {
                               std::rethrow_exception(e);
                           }
                       });
        ioc.run();
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "pagination: " << e.what() << "\n";
        return 1;
    }
}
