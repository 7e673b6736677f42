// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTS_CLIENT_FIXTURE_HPP
#define GLUE_TESTS_CLIENT_FIXTURE_HPP

// A mock Glue server and a client pointed at it, for integration tests.

#include <glue/glue.hpp>
#include <glue/testing/mock_server.hpp>

#include "support/test_support.hpp"

#include <functional>
#include <optional>

namespace glue::test {

// What every integration test file uses: `using namespace glue::test;` brings all of it.
using glue::errc;
using testing::endpoint;
using testing::fault;

/// A workspace id of the real form: wks_ and 27 base62 characters.
inline constexpr std::string_view ws = "wks_32kbzWHxtQvfVEgwEdQduuxRTYG";

/// A fault that answers late (`times` requests; -1: until cleared).
inline fault delayed(std::chrono::milliseconds delay, int times = -1) {
    fault f;
    f.delay = delay;
    f.times = times;
    return f;
}

/// A fault that answers with `status`.
inline fault answering(int status, std::string retry_after = {}, std::string body = {},
                       int times = -1) {
    fault f;
    f.status = status;
    f.retry_after = std::move(retry_after);
    f.body = std::move(body);
    f.times = times;
    return f;
}

/// A fault that breaks the response in the way `kind` says.
inline fault misbehaving(fault::kind kind, int times = -1) {
    fault f;
    f.what = kind;
    f.times = times;
    return f;
}

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
