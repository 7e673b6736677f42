// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
// Built against an installed glue-cpp: a token and a query against glue::testing's mock server.

#include <glue/glue.hpp>
#include <glue/testing/mock_server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>

int main() {
    glue::testing::mock_server server;
    boost::asio::io_context ioc;
    glue::client client(ioc.get_executor(), server.client_config());
    bool ok = false;
    boost::asio::co_spawn(
        ioc,
        [&]() -> boost::asio::awaitable<void> {
            auto token = co_await client.fetch_token("wks_consumer");
            auto r = co_await client.graphql("wks_consumer", {"{ me { id } }"});
            ok = r.data.at("me").at("id").as_string() == token.user_id;
        },
        [](std::exception_ptr e) {
            if (e) {
                std::rethrow_exception(e);
            }
        });
    ioc.run();
    std::cout << (ok ? "consumer: ok\n" : "consumer: unexpected answer\n");
    return ok ? 0 : 1;
}
