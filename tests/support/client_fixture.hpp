// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTS_CLIENT_FIXTURE_HPP
#define GLUE_TESTS_CLIENT_FIXTURE_HPP

// A mock Glue server and a client pointed at it, for integration tests.

#include <glue/glue.hpp>
#include <glue/testing/mock_server.hpp>

#include <functional>
#include <optional>

#include "support/test_support.hpp"

namespace glue::test {

struct client_fixture {
    explicit client_fixture(testing::mock_server_options opts = {},
                            const std::function<void(client_config&)>& tweak = {})
        : server(std::move(opts)) {
        cfg = server.client_config();
        if (tweak) {
            tweak(cfg);
        }
        client.emplace(ioc.get_executor(), cfg);
    }

    ~client_fixture() {
        client.reset();
        ioc.restart();
        ioc.run_for(std::chrono::seconds(10)); // let aborted calls finish
    }

    template <class T>
    T run(asio::awaitable<T> aw) {
        return glue::test::run(ioc, std::move(aw));
    }

    /// The glue::error the call throws; fails the test if it succeeds.
    template <class T>
    glue::error error_of(asio::awaitable<T> aw) {
        try {
            glue::test::run(ioc, std::move(aw));
        } catch (const glue::error& e) {
            return e;
        }
        FAIL("the call succeeded, but it should have failed");
        throw; // not reached
    }

    testing::mock_server server;
    client_config cfg;
    asio::io_context ioc;
    std::optional<glue::client> client;
};

} // namespace glue::test

#endif
