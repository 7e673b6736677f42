// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The program the consumer projects in tests/consumers/ build, each its own way: run under
// glue-mock-server (which sets the GLUE_* variables), it makes a client from the environment,
// fetches a token and sends one query. With --without-shared-cache, against a build without the
// shared cache, it first checks that the client refuses shared_cache_url.

#include <glue/client.hpp>
#include <glue/config.hpp>
#include <glue/error.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <iostream>
#include <string>
#include <string_view>

namespace asio = boost::asio;

namespace {

bool refuses_shared_cache(asio::io_context& ioc, glue::client_config cfg) {
    cfg.shared_cache_url = "redis://127.0.0.1:1/0";
    cfg.shared_cache_key = std::string(64, 'a');
    try {
        glue::client c(ioc.get_executor(), std::move(cfg));
    } catch (const glue::error& e) {
        return e.code() == glue::errc::invalid_argument &&
               std::string_view(e.what()).find("built without the shared cache") !=
                   std::string_view::npos;
    }
    return false;
}

asio::awaitable<bool> one_call(glue::client& client) {
    const glue::access_token token = co_await client.fetch_token("wks_consumer");
    const glue::graphql_response r = co_await client.graphql("wks_consumer", {"{ me { id } }"});
    co_return r.data.at("me").at("id").as_string() == token.user_id;
}

} // namespace

int main(int argc, char** argv) {
    try {
        asio::io_context ioc;
        const auto cfg = glue::client_config::from_env();
        if (argc > 1 && std::string_view(argv[1]) == "--without-shared-cache" &&
            !refuses_shared_cache(ioc, cfg)) {
            std::cerr << "consumer: a client with a shared cache was not refused as expected\n";
            return 1;
        }
        glue::client client(ioc.get_executor(), cfg);
        bool ok = false;
        asio::co_spawn(ioc, one_call(client), [&](std::exception_ptr e, bool same_user) {
            if (e) {
                std::rethrow_exception(e);
            }
            ok = same_user;
        });
        ioc.run();
        std::cout << (ok ? "consumer: ok\n" : "consumer: unexpected answer\n");
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "consumer: " << e.what() << "\n";
        return 1;
    }
}
