// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Sends a GraphQL query with a W3C Trace Context `traceparent` header, so that the call can be
// followed across services: the one in TRACEPARENT (an incoming request's, say), or a new one.
// A failed call also prints the server's request id (diagnostics::request_id), which matches
// the server's logs; a successful call returns no diagnostics, so it prints the trace id only.
//
// Configured from the environment like the other examples (GLUE_WORKSPACE: the workspace id).
// The query is the first argument (default `{ me { id name } }`). Against the mock server:
//
//   glue-mock-server -- trace_propagation
//   glue-mock-server -- trace_propagation '{ nope }'     # fails: shows the request id

#include <glue/glue.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>

#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <string_view>

namespace asio = boost::asio;

bool is_lower_hex(std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// Version 00: a 16-byte trace id and an 8-byte parent id (neither all zeros), then the flags.
bool is_traceparent(std::string_view t) {
    if (t.size() != 55 || !t.starts_with("00-") || t[35] != '-' || t[52] != '-') {
        return false;
    }
    const auto trace = t.substr(3, 32), parent = t.substr(36, 16);
    return is_lower_hex(trace) && is_lower_hex(parent) && is_lower_hex(t.substr(53)) &&
           trace.find_first_not_of('0') != std::string_view::npos &&
           parent.find_first_not_of('0') != std::string_view::npos;
}

// A new trace: random ids, flags 01 (sampled).
std::string new_traceparent() {
    std::random_device rd;
    auto hex = [&](std::size_t digits) {
        std::string out;
        while (out.empty() || out.find_first_not_of('0') == std::string::npos) {
            out.clear();
            for (std::size_t i = 0; i < digits; ++i) {
                out += "0123456789abcdef"[rd() % 16];
            }
        }
        return out;
    };
    return "00-" + hex(32) + "-" + hex(16) + "-01";
}

asio::awaitable<void> run(glue::client& client, std::string workspace, std::string query,
                          std::string traceparent) {
    glue::graphql_request req(std::move(query));
    req.headers.push_back({"traceparent", traceparent});
    glue::graphql_response r = co_await client.graphql(workspace, std::move(req));
    std::cout << "trace id " << traceparent.substr(3, 32) << ": " << boost::json::serialize(r.data)
              << "\n";
}

int main(int argc, char** argv) {
    const char* ws = std::getenv("GLUE_WORKSPACE");
    const char* incoming = std::getenv("TRACEPARENT");
    const std::string traceparent =
        incoming && is_traceparent(incoming) ? std::string(incoming) : new_traceparent();
    try {
        asio::io_context ioc;
        glue::client client(ioc.get_executor(), glue::client_config::from_env());
        asio::co_spawn(ioc,
                       run(client, ws ? ws : "wks_32kbzWHxtQvfVEgwEdQduuxRTYG",
                           argc > 1 ? argv[1] : "{ me { id name } }", traceparent),
                       [](std::exception_ptr e) {
                           if (e) {
                               std::rethrow_exception(e);
                           }
                       });
        ioc.run();
        return 0;
    } catch (const glue::error& e) {
        // what() carries the request id too; here it is on a line of its own, with the trace.
        std::cerr << "trace_propagation: " << e.what() << "\n"
                  << "  trace id " << traceparent.substr(3, 32) << ", request id "
                  << (e.details()->request_id.empty() ? "(none)" : e.details()->request_id) << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "trace_propagation: " << e.what() << "\n";
        return 1;
    }
}
