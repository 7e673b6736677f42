// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The connection pool (src/transport/http_pool.hpp) driven directly, against raw_servers and mock
// servers on 127.0.0.1: who gets a connection when they are scarce, when an idle one is fit to
// use, and what a failure between taking a connection and giving it back leaves behind (suite
// "faults"); then the connection path: name lookups that hang, names that resolve to addresses
// http:// must not reach, the names a certificate must hold, and what a request leaves behind in
// memory (suite "http pool"). A lookup is substituted (transport_options::resolve), so no test
// asks a DNS server anything and no traffic goes anywhere but 127.0.0.1. The rules themselves
// are unit-tested without sockets in tests/unit/transport/test_pool_policy.cpp.

#include <glue/testing/mock_server.hpp>

#include "integration/transport/pool_fixture.hpp"
#include "protocol/form.hpp"
#include "support/raw_server.hpp"
#include "support/test_support.hpp"
#include "testing/test_pki.hpp"
#include "transport/exchange.hpp"
#include "transport/http_pool.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <new>
#include <string>

namespace {

namespace asio = boost::asio;
namespace gd = glue::detail;
namespace gt = glue::testing::detail;
using namespace std::chrono_literals;
using glue::test::raw_server;
using glue::test::seen_request;
using clock_type = std::chrono::steady_clock;

/// A lookup that doesn't answer until released (or 5 s have passed, so that a test that fails
/// still ends). Its state is shared with the lookup, which may outlive the test's objects.
class hanging_lookup {
public:
    gd::resolve_fn fn() const {
        return [s = s_](const std::string&, std::vector<asio::ip::address>&) {
            std::unique_lock lock(s->mtx);
            ++s->entered;
            s->cv.notify_all();
            s->cv.wait_for(lock, 5s, [&] { return s->released; });
            ++s->left;
            s->cv.notify_all();
            return make_error_code(asio::error::host_not_found);
        };
    }

    int entered() const {
        std::lock_guard lock(s_->mtx);
        return s_->entered;
    }

    /// Releases the lookups and waits (bounded) until they have returned.
    ~hanging_lookup() {
        std::unique_lock lock(s_->mtx);
        s_->released = true;
        s_->cv.notify_all();
        s_->cv.wait_for(lock, 6s, [&] { return s_->left == s_->entered; });
    }

private:
    struct state {
        std::mutex mtx;
        std::condition_variable cv;
        int entered = 0, left = 0;
        bool released = false;
    };
    std::shared_ptr<state> s_ = std::make_shared<state>();
};

using glue::test::answering;
using glue::test::call;
using glue::test::describe;
using glue::test::echo;
using glue::test::pool_fixture;
using glue::test::query;
using glue::test::runs_out_of_work;

} // namespace

TEST_SUITE("faults") {

    TEST_CASE("a request that needs a fresh connection is served in turn, not starved") {
        // One connection, three callers in a loop: whenever it comes back, someone waits. The
        // server drops the 4th request unanswered on the kept-alive connection, so its caller
        // needs a fresh connection, and it waits ahead of callers that would take any.
        std::atomic<bool> dropped = false;
        std::atomic<int> seen = 0;
        raw_server server([&](const seen_request& r) {
            if (++seen == 4) {
                dropped = true;
                return std::string();
            }
            return echo(r);
        });
        pool_fixture f;
        f.open_on(server, 1);
        const auto start = clock_type::now();
        int early_in_flight = 0; // calls that started before the drop, and are not over
        int running = 0;
        std::string failures; // "call: what went wrong; ..."
        clock_type::duration longest{};
        int calls = 0;
        for (int caller = 0; caller < 3; ++caller) {
            ++running;
            asio::co_spawn(
                f.ioc,
                [&, caller]() -> asio::awaitable<void> {
                    // Until every call from before the drop has ended (bounded: 8 s).
                    for (int i = 0; i < 1'000'000 && (!dropped || early_in_flight > 0) &&
                                    clock_type::now() - start < std::chrono::seconds(8);
                         ++i) {
                        const bool early = !dropped;
                        early_in_flight += early;
                        const std::string body = std::to_string(caller) + "/" + std::to_string(i);
                        const auto begun = clock_type::now();
                        auto r = co_await query(*f.pool, body, begun + std::chrono::seconds(3));
                        longest = std::max(longest, clock_type::now() - begun);
                        early_in_flight -= early;
                        ++calls;
                        if (!r) {
                            failures += body + ": " + describe(r.error()) + "; ";
                        } else if (*r != body) {
                            failures += body + ": answered with " + *r + "; ";
                        }
                    }
                    --running;
                },
                asio::detached);
        }
        glue::test::run_until(f.ioc, [&] { return running == 0; });
        CAPTURE(calls);
        CHECK(dropped);
        CHECK(failures == ""); // a starved caller fails with a timeout at its 3 s deadline
        // The dropped request went again on a new connection; the one it was on closed.
        const auto stats = f.pool->stats();
        CHECK(stats.resends == 1);
        CHECK(stats.closed(glue::close_reason::error) == 1);
        MESSAGE("the longest call took " << std::chrono::duration<double>(longest).count() << " s");
    }

    TEST_CASE("a TLS connection opened but not used yet is not stale for its session tickets") {
        // A TLS 1.3 server sends session tickets after the handshake; on a connection nobody used
        // yet they are still unread when it is leased, and they are not a sign of a closed one.
        const auto pki = glue::testing::detail::make_test_pki();
        asio::ssl::context tls(asio::ssl::context::tls_server);
        tls.use_certificate_chain(asio::buffer(pki.cert_pem));
        tls.use_private_key(asio::buffer(pki.key_pem), asio::ssl::context::pem);
        raw_server server(echo, &tls);
        pool_fixture f;
        f.open_on(server, 1, pki.ca_pem);
        // A request whose deadline has passed gives up at once; the connection opened for it
        // goes idle, unused.
        auto r = f.run_query("late", 0ms);
        CHECK(r.error().ec == glue::errc::timeout);
        glue::test::run_until(f.ioc, [&] { return server.handshakes() == 1; });
        f.ioc.restart();
        f.ioc.run_for(std::chrono::milliseconds(200)); // the tickets arrive
        r = f.run_query("next");
        if (!r) {
            FAIL("the request failed: " << describe(r.error()));
        }
        CHECK(*r == "next");
        CHECK(server.accepted() == 1);
    }

    TEST_CASE("a failure at any step between taking a connection and giving it back frees it") {
        // Boost.MySQL's fail-count style: fail the 1st step, then the 2nd, ... until the request
        // goes through. After each failure the pool's one connection slot must be usable.
        raw_server server(echo);
        pool_fixture f;
        f.open_on(server, 1);
        bool succeeded = false;
        int failed = 0;
        for (int step = 1; step <= 50 && !succeeded; ++step) {
            CAPTURE(step);
            gd::fail_transport_step_for_testing(step);
            try {
                auto r = f.run_query("armed");
                succeeded = r.has_value();
                failed += !succeeded;
            } catch (const std::bad_alloc&) {
                ++failed;
            }
            gd::fail_transport_step_for_testing(0);
            auto r = f.run_query("after");
            if (!r) {
                FAIL("the next request failed: " << describe(r.error()));
            }
            CHECK(*r == "after");
        }
        CHECK(succeeded);
        CHECK(failed >= 3); // prepare, serialize, the body: each failed once
    }

    TEST_CASE("a call cancelled as a connection or stream is handed to it fails, and gives it "
              "back") {
        // One connection (HTTP/1.1), or one stream on it (HTTP/2, the server's limit): the
        // second call waits for the first's. The first ends, handing it over; the second is
        // cancelled before it has resumed (its wake-up is queued). Asio's co_await of an awaitable
        // throws once the coroutine has been cancelled: the call must still end with its outcome
        // (operation_aborted), not an exception that leaves it without one, and what it was
        // handed must come back.
        for (const bool h2 : {false, true}) {
            CAPTURE(h2);
            glue::testing::mock_server_options mo;
            mo.tls = true;
            mo.http2 = h2;
            mo.http2_max_concurrent_streams = 1;
            glue::testing::mock_server server(mo);
            pool_fixture f;
            f.opts.ca_pem = server.ca_pem();
            f.opts.max_connections = 1;
            f.opts.connect_timeout = 5s;
            f.open("https://127.0.0.1:" + std::to_string(server.port()));
            call first, second;
            f.start(first, 5s);
            asio::cancellation_signal sig;
            std::exception_ptr thrown;
            bool ended = false;
            asio::co_spawn(f.ioc, glue::test::send(*f.pool, second, clock_type::now() + 5s),
                           asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr ep) {
                               thrown = ep;
                               ended = true;
                           }));
            f.finish(first); // stops at the handler that ended it: the hand-over is queued
            REQUIRE(first.outcome);
            REQUIRE(first.outcome->has_value());
            REQUIRE(!ended);
            sig.emit(asio::cancellation_type::terminal);
            glue::test::run_until(f.ioc, [&] { return ended; });
            CHECK(!thrown);
            REQUIRE(second.outcome);
            // Asio before Boost 1.83 does not record a cancellation that comes after the awaited
            // operation completed: there the call goes on to its answer.
            if (!second.outcome->has_value()) {
                CHECK(second.outcome->error().ec == asio::error::operation_aborted);
            }
            CHECK(f.pool->stats().leased == 0);
            // Given back fit for use: the next call goes over the same connection.
            call third;
            f.start(third, 5s);
            f.finish(third);
            REQUIRE(third.outcome);
            CHECK(third.outcome->has_value());
            CHECK(f.pool->stats().connects == 1);
            CHECK(f.pool->stats().http2 == (h2 ? 1U : 0U));
        }
    }

} // TEST_SUITE

TEST_SUITE("http pool") {

    //------------------------------------------------------------------------------
    // Name lookups

    TEST_CASE("a name lookup that hangs fails at connect_timeout and leaves no work behind") {
        hanging_lookup dns;
        pool_fixture f;
        f.opts.connect_timeout = 300ms;
        f.opts.resolve = dns.fn();
        f.open("http://localhost:9"); // never connected to: the lookup doesn't answer
        call c;
        const auto t0 = clock_type::now();
        f.start(c, 5s);
        f.finish(c, 3s);
        REQUIRE(c.outcome->has_error());
        CHECK(c.outcome->error().ec == glue::errc::timeout);
        CHECK(c.ended - t0 >= 300ms);
        CHECK(c.ended - t0 < 1s);
        CHECK(dns.entered() == 1);
        // The lookup still hangs, but nothing waits for it on the io_context.
        CHECK(runs_out_of_work(f.ioc));
    }

    TEST_CASE("the pool destroyed while a name lookup hangs: run() returns promptly") {
        hanging_lookup dns;
        pool_fixture f;
        f.opts.connect_timeout = 10s;
        f.opts.resolve = dns.fn();
        f.open("http://localhost:9");
        call c;
        f.start(c, 10s);
        glue::test::run_until(
            f.ioc, [&] { return dns.entered() == 1; }, 3s);
        REQUIRE(dns.entered() == 1);
        f.pool.reset();
        CHECK(runs_out_of_work(f.ioc)); // well before the 10 s connect_timeout
        REQUIRE(c.outcome.has_value());
        REQUIRE(c.outcome->has_error());
        CHECK(c.outcome->error().ec == asio::error::operation_aborted);
    }

    //------------------------------------------------------------------------------
    // Clear text

    TEST_CASE("http:// to a name goes only where all its addresses are loopback") {
        glue::testing::mock_server server;
        const auto url = "http://localhost:" + std::to_string(server.port());
        pool_fixture f;
        call c;
        SUBCASE("an address that is not loopback: refused before connecting") {
            // Loopback first: were the check missing, the request would go to the mock server,
            // never to 192.0.2.1 (TEST-NET-1).
            f.opts.resolve = answering({"127.0.0.1", "192.0.2.1"});
            f.call_once(url, c);
            REQUIRE(c.outcome->has_error());
            CHECK(c.outcome->error().ec == glue::errc::invalid_argument);
            CHECK(std::string_view(c.outcome->error().message).find("loopback") !=
                  std::string_view::npos);
            CHECK(c.outcome->error().unsent);
            CHECK(server.connections_accepted() == 0);
        }
        SUBCASE("loopback addresses only: connects") {
            f.opts.resolve = answering({"127.0.0.1", "::1"});
            f.call_once(url, c);
            REQUIRE(c.outcome->has_value());
            CHECK(server.connections_accepted() == 1);
        }
        SUBCASE("allow_insecure_http: not checked") {
            f.opts.resolve = answering({"127.0.0.1", "192.0.2.1"});
            f.call_once(url, c, true);
            REQUIRE(c.outcome->has_value());
            CHECK(server.connections_accepted() == 1);
        }
    }

    //------------------------------------------------------------------------------
    // Peer names

    TEST_CASE("a host name matches a certificate's DNS SANs: no partial wildcard, no CN") {
        struct row {
            std::string what;
            gt::test_pki_options pki;
            bool accepted;
        };
        for (const auto& r : {
                 row{"the name", {.hosts = {"api.glue.test"}}, true},
                 row{"a wildcard", {.hosts = {"*.glue.test"}}, true},
                 row{"a partial wildcard", {.hosts = {"a*.glue.test"}}, false},
                 row{"the CN; no DNS SAN",
                     {.hosts = {"127.0.0.1"}, .common_name = "api.glue.test"},
                     false},
             }) {
            CAPTURE(r.what);
            const auto pki = gt::make_test_pki(r.pki);
            auto ctx = glue::test::tls_server_context(pki.cert_pem, pki.key_pem);
            glue::test::raw_server server(
                [](const glue::test::seen_request&) {
                    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                },
                ctx.get());
            pool_fixture f;
            f.opts.ca_pem = pki.ca_pem;
            f.opts.resolve = answering({"127.0.0.1"});
            f.open("https://api.glue.test:" + std::to_string(server.port()));
            call c;
            f.start(c, 5s);
            f.finish(c);
            if (r.accepted) {
                REQUIRE(c.outcome->has_value());
                CHECK((**c.outcome)->status == 200);
            } else {
                REQUIRE(c.outcome->has_error());
                CHECK(c.outcome->error().ec.category() == asio::error::get_ssl_category());
                CHECK(server.requests().empty());
            }
        }
    }

    //------------------------------------------------------------------------------
    // Secrets in memory

    TEST_CASE("a request's client secret and Bearer token don't stay in the connection's buffer") {
        const std::string secret = "S3CR3T-left-in-the-request-buffer";
        const std::string bearer = "Bearer tok_S3CR3T-left-in-the-request-buffer";
        glue::testing::mock_server_options opts;
        opts.client_secret = secret;
        glue::testing::mock_server server(opts);
        pool_fixture f;
        f.open(server.url());
        auto check_buffers = [&] {
            std::size_t buffers = 0;
            auto scan = [&](std::string_view b) {
                ++buffers;
                CHECK(b.find(secret) == std::string_view::npos);
                CHECK(b.find("tok_S3CR3T") == std::string_view::npos);
            };
            f.pool->for_each_request_buffer(scan);
            CHECK(buffers == 1); // the one kept-alive connection
        };

        // A token request, the client secret in its body.
        const std::vector<gd::form_field> fields = {{"grant_type", "client_credentials"},
                                                    {"subject", "wks_32kbzWHxtQvfVEgwEdQduuxRTYG"},
                                                    {"client_id", opts.client_id},
                                                    {"client_secret", secret}};
        call token_request;
        token_request.body = gd::form_encode(fields);
        f.start(token_request, 5s);
        f.finish(token_request);
        REQUIRE(token_request.outcome->has_value());
        check_buffers();

        // A shorter request on the same connection: nothing of the first in the spare capacity;
        // and its own Bearer token gone too.
        call graphql;
        graphql.target = "/public/graphql";
        graphql.authorization = bearer;
        f.start(graphql, 5s);
        f.finish(graphql);
        REQUIRE(graphql.outcome->has_value());
        check_buffers();
    }

} // TEST_SUITE
