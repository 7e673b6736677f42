// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The connection pool's lease rules (src/transport/pool_policy.hpp), driven without sockets or
// timers: connections are numbers, waiters plain list nodes that give up by unlinking
// themselves, as the pool's do.

#include "transport/pool_policy.hpp"

#include <boost/intrusive/list_hook.hpp>

#include <doctest/doctest.h>

#include <vector>

namespace {

namespace gd = glue::detail;
using gd::lease_kind;
using gd::line_up_outcome;
using gd::placement_outcome;
using gd::request_priority;
using gd::take_outcome;

struct test_waiter
    : boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
    explicit test_waiter(bool f = false) : fresh(f) {}
    bool fresh;
    /// What the pool's waiter does when its deadline passes or it is cancelled.
    void give_up() { unlink(); }
};

using policy = gd::pool_policy<test_waiter, int>;

constexpr auto normal = request_priority::normal;
constexpr auto high = request_priority::high;

/// A pool of `max` whose connections 1..n were opened with nobody left to take them: idle,
/// n the most recently used.
void fill_idle(policy& p, int n) {
    std::vector<test_waiter> gone(static_cast<std::size_t>(n));
    for (auto& w : gone) {
        REQUIRE(p.line_up(w, normal).connects == 1);
    }
    for (auto& w : gone) {
        w.give_up();
    }
    for (int c = 1; c <= n; ++c) {
        REQUIRE(p.opened(c, true).what == placement_outcome::idle);
    }
    REQUIRE(p.idle().size() == static_cast<std::size_t>(n));
}

/// A connection leased from `p`, which has one idle.
int lease_one(policy& p) {
    auto t = p.take_idle(lease_kind::pooled);
    REQUIRE(t.what == take_outcome::taken);
    return t.conn;
}

TEST_SUITE("pool policy") {

    //------------------------------------------------------------------------------
    // When to open a connection

    TEST_CASE("a waiter gets a connection opened for it while below max_connections") {
        policy p(2);
        CHECK(p.take_idle(lease_kind::pooled).what == take_outcome::none);
        test_waiter a, b, c;
        auto r = p.line_up(a, normal);
        CHECK(r.what == line_up_outcome::waiting);
        CHECK_FALSE(r.close.has_value());
        CHECK(r.connects == 1);
        CHECK(p.line_up(b, normal).connects == 1);
        CHECK(p.line_up(c, high).connects == 0); // at the limit: c waits for one to come back
        CHECK(p.open() == 2);
        CHECK(p.connecting() == 2);
        CHECK(p.waiting() == 3);
    }

    TEST_CASE("no connection is opened for a waiter one being opened already serves") {
        policy p(4);
        test_waiter a, b;
        CHECK(p.line_up(a, normal).connects == 1);
        a.give_up();
        // The connection opened for a is still coming: it will serve b.
        CHECK(p.line_up(b, normal).connects == 0);
        CHECK(p.open() == 1);
        auto placed = p.opened(1, true);
        CHECK(placed.what == placement_outcome::hand_over);
        CHECK(placed.waiter == &b);
        CHECK(p.connecting() == 0);
    }

    TEST_CASE("a waiter does not open a connection while an idle one can be taken") {
        policy p(4);
        fill_idle(p, 1);
        test_waiter w;
        auto r = p.line_up(w, normal);
        CHECK(r.what == line_up_outcome::take_idle);
        CHECK_FALSE(w.is_linked());
        CHECK(r.connects == 0);
        CHECK(lease_one(p) == 1);
    }

    TEST_CASE("a closed connection frees a slot for a waiter") {
        policy p(1);
        fill_idle(p, 1);
        const int c = lease_one(p);
        test_waiter w;
        CHECK(p.line_up(w, normal).connects == 0);
        auto placed = p.give_back(c, false); // unfit
        CHECK(placed.what == placement_outcome::close);
        CHECK(placed.conn == c);
        CHECK(placed.waiter == nullptr);
        CHECK(placed.connects == 1);
        CHECK(p.open() == 1);
        CHECK(p.connecting() == 1);
        CHECK(w.is_linked()); // still waiting, now for the new connection
    }

    TEST_CASE("with nobody waiting, a closed connection opens none") {
        policy p(2);
        fill_idle(p, 1);
        auto placed = p.give_back(lease_one(p), false);
        CHECK(placed.what == placement_outcome::close);
        CHECK(placed.connects == 0);
        CHECK(p.open() == 0);
    }

    //------------------------------------------------------------------------------
    // Who gets a connection

    TEST_CASE("high priority before normal, first come first served within a priority") {
        policy p(1);
        test_waiter n1, n2, h1, h2;
        CHECK(p.line_up(n1, normal).connects == 1);
        p.line_up(n2, normal);
        p.line_up(h1, high);
        p.line_up(h2, high);
        std::vector<test_waiter*> served;
        auto placed = p.opened(1, true);
        for (int i = 0; i < 4; ++i) {
            REQUIRE(placed.what == placement_outcome::hand_over);
            CHECK(placed.conn == 1);
            CHECK_FALSE(placed.waiter->is_linked());
            served.push_back(placed.waiter);
            placed = p.give_back(placed.conn, true);
        }
        CHECK(served == std::vector<test_waiter*>{&h1, &h2, &n1, &n2});
        CHECK(placed.what == placement_outcome::idle); // nobody left
        CHECK(p.idle() == std::vector<int>{1});
    }

    TEST_CASE("a waiter whose deadline passed or who was cancelled is skipped") {
        policy p(1);
        test_waiter a, b, c;
        p.line_up(a, high);
        p.line_up(b, normal);
        p.line_up(c, normal);
        a.give_up(); // its deadline passed
        b.give_up(); // cancelled
        auto placed = p.opened(1, true);
        REQUIRE(placed.what == placement_outcome::hand_over);
        CHECK(placed.waiter == &c);
        CHECK(p.waiting() == 0);
    }

    TEST_CASE("a waiter destroyed in line is skipped") {
        policy p(1);
        test_waiter b;
        {
            test_waiter a;
            p.line_up(a, normal);
            p.line_up(b, normal);
        }
        auto placed = p.opened(1, true);
        REQUIRE(placed.what == placement_outcome::hand_over);
        CHECK(placed.waiter == &b);
    }

    TEST_CASE("a connection opened with nobody waiting goes idle") {
        policy p(1);
        test_waiter w;
        p.line_up(w, normal);
        w.give_up();
        auto placed = p.opened(7, true);
        CHECK(placed.what == placement_outcome::idle);
        CHECK(placed.connects == 0);
        CHECK(p.idle() == std::vector<int>{7});
        CHECK(p.open() == 1);
        CHECK(p.connecting() == 0);
    }

    TEST_CASE("a fit connection given back goes to the first in line, else idle") {
        policy p(2);
        fill_idle(p, 2);
        const int c = lease_one(p);
        auto placed = p.give_back(c, true);
        CHECK(placed.what == placement_outcome::idle);
        CHECK(p.idle() == std::vector<int>{1, 2});

        const int d = lease_one(p);
        const int e = lease_one(p);
        CHECK(p.take_idle(lease_kind::pooled).what == take_outcome::none);
        test_waiter w;
        CHECK(p.line_up(w, normal).connects == 0);
        placed = p.give_back(e, true);
        CHECK(placed.what == placement_outcome::hand_over);
        CHECK(placed.waiter == &w);
        CHECK(placed.conn == e);
        CHECK(p.give_back(d, true).what == placement_outcome::idle);
    }

    TEST_CASE("a failed connect fails the first in line, and opens no connection for it") {
        policy p(1);
        test_waiter a, b;
        CHECK(p.line_up(a, high).connects == 1);
        p.line_up(b, normal);
        auto placed = p.opened(1, false);
        CHECK(placed.what == placement_outcome::close);
        CHECK(placed.conn == 1);
        CHECK(placed.waiter == &a);
        CHECK_FALSE(a.is_linked());
        CHECK(placed.connects == 1); // for b only
        CHECK(b.is_linked());
        CHECK(p.open() == 1);
        CHECK(p.connecting() == 1);

        placed = p.opened(2, false);
        CHECK(placed.waiter == &b);
        CHECK(placed.connects == 0);
        CHECK(p.open() == 0);
    }

    TEST_CASE("a failed connect with nobody waiting fails nobody") {
        policy p(1);
        test_waiter w;
        p.line_up(w, normal);
        w.give_up();
        auto placed = p.opened(1, false);
        CHECK(placed.what == placement_outcome::close);
        CHECK(placed.waiter == nullptr);
        CHECK(placed.connects == 0);
        CHECK(p.open() == 0);
    }

    //------------------------------------------------------------------------------
    // Fresh connections (the second try after a stale one)

    TEST_CASE("take_idle: the most recently used idle connection; a fresh lease takes none") {
        policy p(3);
        fill_idle(p, 3);
        CHECK(p.take_idle(lease_kind::fresh).what == take_outcome::none);
        CHECK(lease_one(p) == 3);
        CHECK(p.give_back(3, true).what == placement_outcome::idle);
        CHECK(lease_one(p) == 3);
        CHECK(lease_one(p) == 2);
        CHECK(lease_one(p) == 1);
        CHECK(p.take_idle(lease_kind::pooled).what == take_outcome::none);
        CHECK(p.open() == 3); // leased connections stay open
    }

    TEST_CASE("a fresh waiter below the limit opens a connection and leaves the idle ones") {
        policy p(3);
        fill_idle(p, 2);
        test_waiter f(true);
        auto r = p.line_up(f, normal);
        CHECK(r.what == line_up_outcome::waiting);
        CHECK_FALSE(r.close.has_value());
        CHECK(r.connects == 1);
        CHECK(p.idle() == std::vector<int>{1, 2});
        CHECK(p.open() == 3);
    }

    TEST_CASE("a fresh waiter at the limit closes the oldest idle connection") {
        policy p(2);
        fill_idle(p, 2);
        test_waiter f(true);
        auto r = p.line_up(f, high);
        CHECK(r.what == line_up_outcome::waiting);
        REQUIRE(r.close.has_value());
        CHECK(*r.close == 1);
        CHECK(r.connects == 1);
        CHECK(p.idle() == std::vector<int>{2});
        CHECK(p.open() == 2);
        auto placed = p.opened(3, true);
        CHECK(placed.what == placement_outcome::hand_over);
        CHECK(placed.waiter == &f);
    }

    TEST_CASE("a fresh waiter at the limit with nothing idle waits for a slot") {
        policy p(1);
        fill_idle(p, 1);
        const int c = lease_one(p);
        test_waiter f(true), behind;
        auto r = p.line_up(f, normal);
        CHECK_FALSE(r.close.has_value());
        CHECK(r.connects == 0);
        p.line_up(behind, normal);
        // A fit connection comes back: f is first and needs a fresh one, so it is closed to make
        // room, rather than given to the waiter behind f.
        auto placed = p.give_back(c, true);
        CHECK(placed.what == placement_outcome::close);
        CHECK(placed.conn == c);
        CHECK(placed.waiter == nullptr);
        CHECK(placed.connects == 1);
        CHECK(f.is_linked());
        CHECK(behind.is_linked());
        placed = p.opened(2, true);
        CHECK(placed.what == placement_outcome::hand_over);
        CHECK(placed.waiter == &f);
    }

    TEST_CASE("a fresh waiter behind another is not a reason to close a fit connection") {
        policy p(1);
        fill_idle(p, 1);
        const int c = lease_one(p);
        test_waiter first, f(true);
        p.line_up(first, normal);
        p.line_up(f, normal);
        auto placed = p.give_back(c, true);
        CHECK(placed.what == placement_outcome::hand_over);
        CHECK(placed.waiter == &first);
    }

    //------------------------------------------------------------------------------
    // Shutdown

    TEST_CASE("shutdown fails the waiters in order, closes the idle connections, opens none") {
        policy p(5);
        fill_idle(p, 2);
        const int leased = lease_one(p); // 2; 1 stays idle
        // Fresh waiters: in line beside an idle connection, each with one being opened for it.
        test_waiter n1(true), n2(true), h(true);
        CHECK(p.line_up(n1, normal).connects == 1);
        CHECK(p.line_up(n2, normal).connects == 1);
        CHECK(p.line_up(h, high).connects == 1);
        CHECK(p.open() == 5);
        CHECK(p.connecting() == 3);

        CHECK(p.stop());
        CHECK_FALSE(p.stop()); // idempotent
        CHECK(p.stopped());
        std::vector<test_waiter*> failed;
        while (auto* w = p.next_to_fail()) {
            CHECK_FALSE(w->is_linked());
            failed.push_back(w);
        }
        CHECK(failed == std::vector<test_waiter*>{&h, &n1, &n2});
        CHECK(p.close_idle() == std::vector<int>{1});
        CHECK(p.idle().empty());
        CHECK(p.open() == 4); // the leased one and the three being opened

        // Whatever comes back now is closed, and nothing is opened.
        auto placed = p.give_back(leased, true);
        CHECK(placed.what == placement_outcome::close);
        CHECK(placed.conn == leased);
        CHECK(placed.connects == 0);
        for (int c : {3, 4}) {
            placed = p.opened(c, true);
            CHECK(placed.what == placement_outcome::close);
            CHECK(placed.waiter == nullptr);
            CHECK(placed.connects == 0);
        }
        placed = p.opened(5, false);
        CHECK(placed.what == placement_outcome::close);
        CHECK(placed.waiter == nullptr);
        CHECK(p.open() == 0);
        CHECK(p.connecting() == 0);
    }

    TEST_CASE("after shutdown nothing is taken and nobody gets in line") {
        policy p(2);
        fill_idle(p, 1);
        p.stop();
        CHECK(p.take_idle(lease_kind::pooled).what == take_outcome::stopped);
        CHECK(p.take_idle(lease_kind::fresh).what == take_outcome::stopped);
        test_waiter w, f(true);
        CHECK(p.line_up(w, normal).what == line_up_outcome::stopped);
        CHECK(p.line_up(f, high).what == line_up_outcome::stopped);
        CHECK_FALSE(w.is_linked());
        CHECK_FALSE(f.is_linked());
        CHECK(p.next_to_fail() == nullptr);
    }

    //------------------------------------------------------------------------------
    // Staleness of an idle connection

    TEST_CASE("an idle connection with bytes read ahead is stale without a peek") {
        CHECK(gd::check_idle(0) == gd::idle_check::peek);
        CHECK(gd::check_idle(1) == gd::idle_check::stale);
        CHECK(gd::check_idle(4096) == gd::idle_check::stale);
    }

    TEST_CASE("the peek: nothing to read is fit; EOF or an error is stale; bytes are unless TLS "
              "records without data") {
        using gd::idle_check;
        using gd::peek_result;
        for (bool tls : {false, true}) {
            CAPTURE(tls);
            CHECK(gd::after_peek(peek_result::nothing, tls) == idle_check::fit);
            CHECK(gd::after_peek(peek_result::eof, tls) == idle_check::stale);
            CHECK(gd::after_peek(peek_result::error, tls) == idle_check::stale);
        }
        CHECK(gd::after_peek(peek_result::bytes, false) == idle_check::stale);
        CHECK(gd::after_peek(peek_result::bytes, true) == idle_check::read_tls_records);
        CHECK(gd::after_tls_records(true) == idle_check::fit);
        CHECK(gd::after_tls_records(false) == idle_check::stale);
    }

    //------------------------------------------------------------------------------
    // A failed exchange

    TEST_CASE("a failed exchange is tried again on a fresh connection only when nothing of the "
              "answer came on a reused one") {
        // Every combination of what is known.
        for (int bits = 0; bits < (1 << 7); ++bits) {
            gd::failed_exchange x;
            x.aborted = bits & 1;
            x.reused = bits & 2;
            x.kind = bits & 4 ? lease_kind::fresh : lease_kind::pooled;
            x.response_bytes = bits & 8;
            x.idempotent = bits & 16;
            x.nothing_written = bits & 32;
            x.deadline_passed = bits & 64;
            CAPTURE(bits);
            const auto what = gd::after_failed_exchange(x);
            if (x.aborted) {
                CHECK(what == gd::after_failure::aborted);
                continue;
            }
            const bool may_repeat = x.idempotent || x.nothing_written;
            const bool retry = x.reused && x.kind == lease_kind::pooled && !x.response_bytes &&
                               may_repeat && !x.deadline_passed;
            if (retry) {
                CHECK(what == gd::after_failure::retry_fresh);
            } else if (x.deadline_passed) {
                CHECK(what == gd::after_failure::timeout);
            } else {
                CHECK(what == gd::after_failure::fail);
            }
        }
    }

} // TEST_SUITE

} // namespace
