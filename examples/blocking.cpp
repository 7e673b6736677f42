// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// glue::blocking_client from plain threads, no coroutines: one thread per workspace named on
// the command line (GLUE_WORKSPACE, or a test one, when none is), each fetching the workspace's
// token and running `{ me { id name } }` with a 10 s deadline.
//
// Configured from the environment: GLUE_API_URL, GLUE_CLIENT_ID, GLUE_CLIENT_SECRET,
// GLUE_REDIRECT_URI, GLUE_CA_FILE. Against the mock server:
//
//   glue-mock-server -- blocking wks_A wks_B wks_C

#include <glue/blocking_client.hpp>

#include <boost/json/serialize.hpp>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
    std::vector<std::string> workspaces(argv + 1, argv + argc);
    if (workspaces.empty()) {
        const char* ws = std::getenv("GLUE_WORKSPACE");
        workspaces.emplace_back(ws ? ws : "wks_32kbzWHxtQvfVEgwEdQduuxRTYG");
    }
    try {
        // Its own io_context on a background thread; the destructor stops and joins it.
        glue::blocking_client client(glue::client_config::from_env());
        std::mutex out; // the threads take turns printing
        int failed = 0;
        std::vector<std::thread> threads;
        for (const auto& ws : workspaces) {
            threads.emplace_back([&, ws] {
                try {
                    using namespace std::chrono_literals;
                    glue::access_token token = client.fetch_token(ws, 10s);
                    glue::graphql_response r = client.graphql(ws, {"{ me { id name } }"}, 10s);
                    const std::lock_guard lock(out);
                    std::cout << ws << ": token " << token << ", " << boost::json::serialize(r.data)
                              << "\n"; // the token's value is redacted
                } catch (const glue::error& e) {
                    // what() never holds a secret or server text; the diagnostics say more.
                    const std::lock_guard lock(out);
                    std::cerr << "blocking: " << ws << ": " << e.what() << "\n";
                    for (const auto& g : e.graphql_errors()) {
                        std::cerr << "  graphql error: " << g.message << "\n";
                    }
                    ++failed;
                }
            });
        }
        for (auto& t : threads) {
            t.join();
        }
        return failed == 0 ? 0 : 1;
    } catch (const std::exception& e) { // a configuration the client refuses, say
        std::cerr << "blocking: " << e.what() << "\n";
        return 1;
    }
}
