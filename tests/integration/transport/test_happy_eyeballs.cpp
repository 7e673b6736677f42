// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Connecting to a host with several addresses (RFC 8305, Happy Eyeballs), through the pool: a
// lookup is substituted (transport_options::resolve) that answers loopback addresses only, one
// of them a black hole (support/black_hole.hpp: a connect to it hangs, as to a broken route),
// another a live server; several 127.0.0.x and ::1 on one port stand for a host's addresses.
// The order of the addresses and the schedule of the attempts are unit-tested in
// tests/unit/transport/test_connect_schedule.cpp.

#include "integration/transport/pool_fixture.hpp"
#include "support/black_hole.hpp"
#include "support/raw_server.hpp"
#include "support/test_support.hpp"
#include "transport/happy_eyeballs.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/strand.hpp>

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace gd = glue::detail;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using glue::test::answering;
using glue::test::black_hole;
using glue::test::describe;
using glue::test::echo;
using glue::test::pool_fixture;
using glue::test::raw_server;

std::string localhost_url(std::uint16_t port) {
    return "http://localhost:" + std::to_string(port);
}

/// connect_first() on a strand of its own io_context, as the pool's connect task runs it.
struct race_fixture {
    /// Starts connecting `out` to `endpoints`; `attempt_delay` between attempts.
    void start(std::vector<tcp::endpoint> endpoints, std::chrono::nanoseconds attempt_delay) {
        to = std::move(endpoints);
        asio::co_spawn(
            asio::make_strand(ioc),
            [this, attempt_delay]() -> asio::awaitable<void> {
                result = co_await gd::connect_first(to, out, attempt_delay);
            },
            asio::bind_cancellation_slot(stop.slot(), [this](std::exception_ptr e) {
                if (e) {
                    result = asio::error::operation_aborted; // cancelled before it began
                }
            }));
    }

    void finish() {
        glue::test::run_until(
            ioc, [&] { return result.has_value(); }, 10s);
    }

    asio::io_context ioc;
    tcp::socket out{ioc};
    std::vector<tcp::endpoint> to;
    asio::cancellation_signal stop;
    std::optional<glue::error_code> result;
};

tcp::endpoint at(const std::string& address, std::uint16_t port) {
    return {asio::ip::make_address(address), port};
}

} // namespace

TEST_SUITE("happy eyeballs") {

    TEST_CASE("a black-holed first address: the next is tried meanwhile, and connects") {
        // Today's routers drop packets to a broken route rather than refuse them: a client that
        // waits for the first address to fail spends its whole connect_timeout on it.
        raw_server live(echo);
        black_hole hole("127.0.0.2", live.port());
        REQUIRE(hole.hangs());
        pool_fixture f;
        f.opts.connect_timeout = 10s;
        f.opts.resolve = answering({"127.0.0.2", "127.0.0.1"});
        f.open(localhost_url(live.port()));
        // Well within connect_timeout: waiting out the black hole would end in a timeout.
        auto r = f.run_query("through the second address", 3s);
        if (!r) {
            FAIL("the call failed: " << describe(r.error()));
        }
        CHECK(*r == "through the second address");
        CHECK(live.accepted() == 1);
    }

    TEST_CASE("IPv6 is tried first; a black-holed ::1 falls back to IPv4") {
        if (!glue::test::can_bind("::1")) {
            MESSAGE("skipped: ::1 can't be bound on this host (no IPv6 on lo)");
            return;
        }
        raw_server live(echo);
        black_hole hole("::1", live.port());
        REQUIRE(hole.hangs());
        pool_fixture f;
        f.opts.connect_timeout = 10s;
        f.opts.resolve = answering({"127.0.0.1", "::1"}); // IPv4 first, as a resolver may say
        f.open(localhost_url(live.port()));
        auto r = f.run_query("over IPv4", 3s);
        if (!r) {
            FAIL("the call failed: " << describe(r.error()));
        }
        CHECK(*r == "over IPv4");
        CHECK(live.accepted() == 1);
    }

    TEST_CASE("IPv6 is tried first; a live ::1 is the only address connected to") {
        if (!glue::test::can_bind("::1")) {
            MESSAGE("skipped: ::1 can't be bound on this host (no IPv6 on lo)");
            return;
        }
        raw_server live(echo, nullptr, "::1", 0);
        raw_server decoy(echo, nullptr, "127.0.0.2", live.port()); // counts any connect to it
        pool_fixture f;
        f.opts.connect_timeout = 10s;
        f.opts.resolve = answering({"127.0.0.2", "::1"});
        f.open(localhost_url(live.port()));
        auto r = f.run_query("over IPv6", 3s);
        if (!r) {
            FAIL("the call failed: " << describe(r.error()));
        }
        CHECK(*r == "over IPv6");
        CHECK(live.accepted() == 1);
        CHECK(decoy.accepted() == 0);
    }

    TEST_CASE("a first address that connects at once: no other attempt is started") {
        raw_server live(echo);
        raw_server decoy(echo, nullptr, "127.0.0.2", live.port()); // counts any connect to it
        pool_fixture f;
        f.opts.resolve = answering({"127.0.0.1", "127.0.0.2"});
        f.open(localhost_url(live.port()));
        auto r = f.run_query("first", 3s);
        REQUIRE(r.has_value());
        // Past the 250 ms after which the second attempt would have started, had the first not
        // connected yet.
        f.ioc.restart();
        f.ioc.run_for(400ms);
        CHECK(live.accepted() == 1);
        CHECK(decoy.accepted() == 0);
    }

    TEST_CASE("every address refused: the error comes at once, not at connect_timeout") {
        raw_server elsewhere(echo); // a port nothing listens on at 127.0.0.3 and 127.0.0.4
        pool_fixture f;
        f.opts.connect_timeout = 10s;
        f.opts.resolve = answering({"127.0.0.3", "127.0.0.4"});
        f.open(localhost_url(elsewhere.port()));
        auto r = f.run_query("refused", 3s); // at the deadline it would be a timeout
        REQUIRE(r.has_error());
        CHECK(r.error().ec == asio::error::connection_refused);
        CHECK(elsewhere.accepted() == 0);
    }

    TEST_CASE("every address black-holed: a timeout at connect_timeout, and no attempt left") {
        raw_server elsewhere(echo);
        black_hole hole2("127.0.0.2", elsewhere.port());
        black_hole hole3("127.0.0.3", elsewhere.port());
        REQUIRE(hole2.hangs());
        REQUIRE(hole3.hangs());
        pool_fixture f;
        f.opts.connect_timeout = 600ms; // both attempts started by then
        f.opts.resolve = answering({"127.0.0.2", "127.0.0.3"});
        f.open(localhost_url(elsewhere.port()));
        auto r = f.run_query("lost", 3s);
        REQUIRE(r.has_error());
        CHECK(r.error().ec == glue::errc::timeout);
        // A connect still pending (the kernel retries a SYN for minutes) would keep run() going.
        CHECK(glue::test::runs_out_of_work(f.ioc));
    }

    TEST_CASE("the pool destroyed while attempts race: run() returns promptly") {
        raw_server elsewhere(echo);
        black_hole hole2("127.0.0.2", elsewhere.port());
        black_hole hole3("127.0.0.3", elsewhere.port());
        REQUIRE(hole2.hangs());
        REQUIRE(hole3.hangs());
        pool_fixture f;
        f.opts.connect_timeout = 10s;
        f.opts.resolve = answering({"127.0.0.2", "127.0.0.3"});
        f.open(localhost_url(elsewhere.port()));
        glue::test::call c;
        f.start(c, 10s);
        f.ioc.run_for(400ms); // both attempts under way
        REQUIRE_FALSE(c.outcome.has_value());
        f.pool.reset();
        CHECK(glue::test::runs_out_of_work(f.ioc)); // well before connect_timeout
        REQUIRE(c.outcome.has_value());
        REQUIRE(c.outcome->has_error());
        CHECK(c.outcome->error().ec == asio::error::operation_aborted);
    }

    //------------------------------------------------------------------------------
    // The race itself (connect_first), on bare listeners

    TEST_CASE("a failed attempt starts the next one at once, not after the delay") {
        race_fixture f;
        tcp::acceptor live(f.ioc, at("127.0.0.1", 0)); // the kernel connects; nobody accepts
        const auto port = live.local_endpoint().port();
        f.start({at("127.0.0.3", port), at("127.0.0.1", port)}, 1h); // 127.0.0.3 refuses
        f.finish();
        REQUIRE(!*f.result);
        CHECK(f.out.remote_endpoint() == live.local_endpoint());
    }

    TEST_CASE("an attempt still racing when the next one started can win") {
        black_hole slow("127.0.0.2", 0);
        black_hole other("127.0.0.3", slow.endpoint().port());
        REQUIRE(slow.hangs());
        REQUIRE(other.hangs());
        race_fixture f;
        f.start({slow.endpoint(), other.endpoint()}, gd::connection_attempt_delay);
        f.ioc.run_for(400ms); // both attempts under way
        REQUIRE_FALSE(f.result.has_value());
        // The first one's SYN, sent again (after 1 s), now gets an answer.
        slow.open_up();
        f.finish();
        REQUIRE(!*f.result);
        CHECK(f.out.remote_endpoint() == slow.endpoint());
    }

    TEST_CASE("every attempt refused: the first error, without waiting for the delay") {
        race_fixture f;
        tcp::acceptor elsewhere(f.ioc, at("127.0.0.1", 0)); // nothing on 127.0.0.3 and .4
        const auto port = elsewhere.local_endpoint().port();
        f.start({at("127.0.0.3", port), at("127.0.0.4", port)}, 1h);
        f.finish();
        CHECK(*f.result == asio::error::connection_refused);
        CHECK_FALSE(f.out.is_open());
    }

    TEST_CASE("no address: host_not_found") {
        race_fixture f;
        f.start({}, gd::connection_attempt_delay);
        f.finish();
        CHECK(*f.result == asio::error::host_not_found);
    }

    TEST_CASE("terminal cancellation ends every attempt at once") {
        black_hole hole2("127.0.0.2", 0);
        black_hole hole3("127.0.0.3", hole2.endpoint().port());
        REQUIRE(hole2.hangs());
        REQUIRE(hole3.hangs());
        race_fixture f;
        f.start({hole2.endpoint(), hole3.endpoint()}, gd::connection_attempt_delay);
        f.ioc.run_for(400ms); // both attempts under way
        REQUIRE_FALSE(f.result.has_value());
        f.stop.emit(asio::cancellation_type::terminal);
        f.finish();
        CHECK(*f.result == asio::error::operation_aborted);
        CHECK_FALSE(f.out.is_open());
        // A connect left pending would keep run() going for minutes (the kernel's SYN retries).
        CHECK(glue::test::runs_out_of_work(f.ioc));
    }

} // TEST_SUITE
