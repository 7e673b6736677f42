// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Fetches a workspace's access token and runs `{ me { id name } }` with it.
//
// Configured from the environment: GLUE_API_URL, GLUE_CLIENT_ID, GLUE_CLIENT_SECRET,
// GLUE_REDIRECT_URI, GLUE_CA_FILE, and GLUE_WORKSPACE (the workspace id; a test one by default).
// Against the mock server:
//
//   glue-mock-server -- graphql_query

#include <glue/glue.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>

#include <cstdlib>
#include <iostream>

namespace asio = boost::asio;

asio::awaitable<void> run(glue::client& client, std::string workspace) {
    glue::access_token token = co_await client.fetch_token(workspace);
    std::cout << "token for " << workspace << ": " << token << "\n"; // the value is redacted

    glue::graphql_response r = co_await client.graphql(workspace, {"{ me { id name } }"});
    std::cout << boost::json::serialize(r.data) << "\n";
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
    } catch (const glue::error& e) {
        // what() never holds a secret or server text; the diagnostics say more.
        std::cerr << "graphql_query: " << e.what() << "\n";
        if (!e.oauth_error().empty()) {
            std::cerr << "  oauth error: " << e.oauth_error() << "\n";
        }
        for (const auto& g : e.graphql_errors()) {
            std::cerr << "  graphql error: " << g.message << "\n";
        }
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "graphql_query: " << e.what() << "\n";
        return 1;
    }
}
