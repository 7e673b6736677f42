// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// One GraphQL query in many workspaces, at most `concurrency` in flight, with a result per
// workspace: what a bulk job does with the library. Each workspace costs one token request,
// however many calls share it.
//
// Configured from the environment (GLUE_API_URL, GLUE_CLIENT_ID, GLUE_CLIENT_SECRET,
// GLUE_REDIRECT_URI, GLUE_CA_FILE); workspace ids come from the command line. Against the mock
// server:
//
//   glue-mock-server -- bulk_workspaces wks_A wks_B wks_C

#include <glue/glue.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>

#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;

struct outcome {
    std::string workspace;
    std::optional<glue::graphql_response> response; // or:
    std::optional<glue::error> failure;
};

// A worker takes the next workspace until none is left; `concurrency` workers run at once. All
// of them run on one thread here, so the shared index needs no lock.
asio::awaitable<void> worker(glue::client& client, const std::vector<std::string>& workspaces,
                             std::size_t& next, std::vector<outcome>& results) {
    while (next < workspaces.size()) {
        const std::size_t i = next++;
        results[i].workspace = workspaces[i];
        try {
            glue::graphql_request req("{ me { id name } }");
            results[i].response = co_await client.graphql(workspaces[i], req);
        } catch (const glue::error& e) {
            results[i].failure = e; // one workspace failing doesn't stop the others
        }
    }
}

int main(int argc, char** argv) {
    const std::vector<std::string> workspaces(argv + 1, argv + argc);
    if (workspaces.empty()) {
        std::cerr << "usage: bulk_workspaces WORKSPACE_ID...\n";
        return 2;
    }
    try {
        asio::io_context ioc;
        glue::client client(ioc.get_executor(), glue::client_config::from_env());
        std::vector<outcome> results(workspaces.size());
        std::size_t next = 0;
        const std::size_t concurrency = 64;
        for (std::size_t w = 0; w < concurrency && w < workspaces.size(); ++w) {
            asio::co_spawn(ioc, worker(client, workspaces, next, results), asio::detached);
        }
        ioc.run();

        int failed = 0;
        for (const auto& r : results) {
            if (r.response) {
                std::cout << r.workspace << " ok " << boost::json::serialize(r.response->data)
                          << "\n";
            } else {
                ++failed;
                std::cout << r.workspace << " failed: " << r.failure->what() << "\n";
            }
        }
        std::cout << "token requests: " << client.stats().token_requests << "\n";
        return failed == 0 ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "bulk_workspaces: " << e.what() << "\n";
        return 1;
    }
}
