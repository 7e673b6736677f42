// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Connections that age out (transport_options::connection_idle_timeout and
// connection_max_lifetime), through the pool against a raw_server on 127.0.0.1. The pool ages
// connections by a manual clock (transport_options::now), so minutes pass without sleeping; the
// server counts the TCP connections it accepts. The rules themselves are unit-tested in
// tests/unit/transport/test_pool_policy.cpp.

#include "integration/transport/pool_fixture.hpp"
#include "support/raw_server.hpp"
#include "support/test_support.hpp"

#include <doctest/doctest.h>

#include <string>

namespace {

using namespace std::chrono_literals;
using glue::test::describe;
using glue::test::echo;
using glue::test::manual_clock;
using glue::test::pool_fixture;
using glue::test::raw_server;
using glue::test::seen_request;

/// A pool on `server` that ages its connections by the manual clock.
void open_aged(pool_fixture& f, const raw_server& server, std::chrono::milliseconds idle_timeout,
               std::chrono::milliseconds max_lifetime) {
    f.opts.connection_idle_timeout = idle_timeout;
    f.opts.connection_max_lifetime = max_lifetime;
    f.opts.now = [] { return manual_clock::now(); };
    f.open_on(server, 4);
}

/// Sends `body` and checks that the answer is its own.
void query_ok(pool_fixture& f, const std::string& body) {
    auto r = f.run_query(body);
    if (!r) {
        FAIL("the call failed: " << describe(r.error()));
    }
    CHECK(*r == body);
}

std::size_t idle_connections(pool_fixture& f) {
    std::size_t n = 0;
    f.pool->for_each_request_buffer([&](std::string_view) { ++n; });
    return n;
}

} // namespace

TEST_SUITE("pool ageing") {

    TEST_CASE("a connection idle past connection_idle_timeout is closed, not reused") {
        raw_server server(echo);
        pool_fixture f;
        open_aged(f, server, 60s, 0ms);
        query_ok(f, "first");
        CHECK(server.accepted() == 1);
        manual_clock::advance(60s); // idle exactly the timeout: still reused
        query_ok(f, "at the limit");
        CHECK(server.accepted() == 1);
        manual_clock::advance(61s);
        query_ok(f, "past it");
        CHECK(server.accepted() == 2);   // a new TCP connection
        CHECK(idle_connections(f) == 1); // the old one closed, not kept
        const auto stats = f.pool->stats();
        CHECK(stats.closed(glue::close_reason::aged) == 1);
        CHECK(stats.connects == 2);
        CHECK(stats.open == 1);
        CHECK(stats.idle == 1);
        // No timer was armed for the ageing: an idle pool leaves no work behind.
        CHECK(glue::test::runs_out_of_work(f.ioc));
    }

    TEST_CASE("under steady load, a connection past connection_max_lifetime is retired after its "
              "exchange") {
        // Each exchange takes 30 s by the manual clock: the connection is never idle, and the
        // exchange that ends past its 10 minutes is the last on it.
        raw_server server([](const seen_request& r) {
            manual_clock::advance(30s);
            return echo(r);
        });
        pool_fixture f;
        open_aged(f, server, 60s, 10min);
        for (int i = 0; i <= 20; ++i) {
            query_ok(f, "request " + std::to_string(i)); // the 21st ends at 10:30
            CHECK(server.accepted() == 1);
        }
        CHECK(idle_connections(f) == 0); // retired when given back, answered in full
        CHECK(f.pool->stats().closed(glue::close_reason::aged) == 1);
        CHECK(f.pool->stats().closed(glue::close_reason::server_close) == 0);
        query_ok(f, "on a new connection");
        CHECK(server.accepted() == 2);
        CHECK(idle_connections(f) == 1);
    }

    TEST_CASE("zero limits: a connection is reused however long it was idle or open") {
        raw_server server(echo);
        pool_fixture f;
        open_aged(f, server, 0ms, 0ms);
        query_ok(f, "first");
        manual_clock::advance(1000h);
        query_ok(f, "much later");
        CHECK(server.accepted() == 1);
    }

} // TEST_SUITE
