// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The connection pool's lease rules (src/transport/pool_policy.hpp), driven without sockets or
// timers: connections are numbers, waiters plain list nodes that give up by unlinking
// themselves, as the pool's do, and times passed in. Longer than most files: every rule of the
// one unit, case by case.

#include "transport/pool_policy.hpp"

#include <boost/intrusive/list_hook.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <vector>

namespace {

namespace gd = glue::detail;
using namespace std::chrono_literals;
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

// An arbitrary time, far from the clock's ends; the cases about ageing count from it.
const gd::steady_time t0 = gd::steady_time() + 1000h;

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
        REQUIRE(p.opened(c, true, t0).what == placement_outcome::idle);
    }
    REQUIRE(p.idle().size() == static_cast<std::size_t>(n));
}

/// A connection leased from `p`, which has one idle.
int lease_one(policy& p) {
    auto t = p.take_idle(lease_kind::pooled, t0);
    REQUIRE(t.what == take_outcome::taken);
    return t.conn;
}

TEST_SUITE("pool policy") {

    //------------------------------------------------------------------------------
    // When to open a connection

    TEST_CASE("a waiter gets a connection opened for it while below max_connections") {
        policy p(2);
        CHECK(p.take_idle(lease_kind::pooled, t0).what == take_outcome::none);
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
        auto placed = p.opened(1, true, t0);
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
        auto placed = p.give_back(c, false, t0, t0); // unfit
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
        auto placed = p.give_back(lease_one(p), false, t0, t0);
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
        auto placed = p.opened(1, true, t0);
        for (int i = 0; i < 4; ++i) {
            REQUIRE(placed.what == placement_outcome::hand_over);
            CHECK(placed.conn == 1);
            CHECK_FALSE(placed.waiter->is_linked());
            served.push_back(placed.waiter);
            placed = p.give_back(placed.conn, true, t0, t0);
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
        auto placed = p.opened(1, true, t0);
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
        auto placed = p.opened(1, true, t0);
        REQUIRE(placed.what == placement_outcome::hand_over);
        CHECK(placed.waiter == &b);
    }

    TEST_CASE("a connection opened with nobody waiting goes idle") {
        policy p(1);
        test_waiter w;
        p.line_up(w, normal);
        w.give_up();
        auto placed = p.opened(7, true, t0);
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
        auto placed = p.give_back(c, true, t0, t0);
        CHECK(placed.what == placement_outcome::idle);
        CHECK(p.idle() == std::vector<int>{1, 2});

        const int d = lease_one(p);
        const int e = lease_one(p);
        CHECK(p.take_idle(lease_kind::pooled, t0).what == take_outcome::none);
        test_waiter w;
        CHECK(p.line_up(w, normal).connects == 0);
        placed = p.give_back(e, true, t0, t0);
        CHECK(placed.what == placement_outcome::hand_over);
        CHECK(placed.waiter == &w);
        CHECK(placed.conn == e);
        CHECK(p.give_back(d, true, t0, t0).what == placement_outcome::idle);
    }

    TEST_CASE("a failed connect fails the first in line, and opens no connection for it") {
        policy p(1);
        test_waiter a, b;
        CHECK(p.line_up(a, high).connects == 1);
        p.line_up(b, normal);
        auto placed = p.opened(1, false, t0);
        CHECK(placed.what == placement_outcome::close);
        CHECK(placed.conn == 1);
        CHECK(placed.waiter == &a);
        CHECK_FALSE(a.is_linked());
        CHECK(placed.connects == 1); // for b only
        CHECK(b.is_linked());
        CHECK(p.open() == 1);
        CHECK(p.connecting() == 1);

        placed = p.opened(2, false, t0);
        CHECK(placed.waiter == &b);
        CHECK(placed.connects == 0);
        CHECK(p.open() == 0);
    }

    TEST_CASE("a failed connect with nobody waiting fails nobody") {
        policy p(1);
        test_waiter w;
        p.line_up(w, normal);
        w.give_up();
        auto placed = p.opened(1, false, t0);
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
        CHECK(p.take_idle(lease_kind::fresh, t0).what == take_outcome::none);
        CHECK(lease_one(p) == 3);
        CHECK(p.give_back(3, true, t0, t0).what == placement_outcome::idle);
        CHECK(lease_one(p) == 3);
        CHECK(lease_one(p) == 2);
        CHECK(lease_one(p) == 1);
        CHECK(p.take_idle(lease_kind::pooled, t0).what == take_outcome::none);
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
        auto placed = p.opened(3, true, t0);
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
        auto placed = p.give_back(c, true, t0, t0);
        CHECK(placed.what == placement_outcome::close);
        CHECK(placed.conn == c);
        CHECK(placed.waiter == nullptr);
        CHECK(placed.connects == 1);
        CHECK(f.is_linked());
        CHECK(behind.is_linked());
        placed = p.opened(2, true, t0);
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
        auto placed = p.give_back(c, true, t0, t0);
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
        auto placed = p.give_back(leased, true, t0, t0);
        CHECK(placed.what == placement_outcome::close);
        CHECK(placed.conn == leased);
        CHECK(placed.connects == 0);
        for (int c : {3, 4}) {
            placed = p.opened(c, true, t0);
            CHECK(placed.what == placement_outcome::close);
            CHECK(placed.waiter == nullptr);
            CHECK(placed.connects == 0);
        }
        placed = p.opened(5, false, t0);
        CHECK(placed.what == placement_outcome::close);
        CHECK(placed.waiter == nullptr);
        CHECK(p.open() == 0);
        CHECK(p.connecting() == 0);
    }

    TEST_CASE("after shutdown nothing is taken and nobody gets in line") {
        policy p(2);
        fill_idle(p, 1);
        p.stop();
        CHECK(p.take_idle(lease_kind::pooled, t0).what == take_outcome::stopped);
        CHECK(p.take_idle(lease_kind::fresh, t0).what == take_outcome::stopped);
        test_waiter w, f(true);
        CHECK(p.line_up(w, normal).what == line_up_outcome::stopped);
        CHECK(p.line_up(f, high).what == line_up_outcome::stopped);
        CHECK_FALSE(w.is_linked());
        CHECK_FALSE(f.is_linked());
        CHECK(p.next_to_fail() == nullptr);
    }

    //------------------------------------------------------------------------------
    // Ageing

    TEST_CASE("idle_too_long and too_old: strictly past the limit; zero is no limit") {
        const gd::connection_ageing a{60s, 600s};
        CHECK_FALSE(gd::idle_too_long(a, t0, t0));
        CHECK_FALSE(gd::idle_too_long(a, t0, t0 + 60s));
        CHECK(gd::idle_too_long(a, t0, t0 + 60s + 1ns));
        CHECK_FALSE(gd::too_old(a, t0, t0 + 600s));
        CHECK(gd::too_old(a, t0, t0 + 600s + 1ns));
        // A time before `since` (another thread read the clock first) is not past it.
        CHECK_FALSE(gd::idle_too_long(a, t0, t0 - 1h));
        const gd::connection_ageing none{0s, 0s};
        CHECK_FALSE(gd::idle_too_long(none, t0, t0 + 100000h));
        CHECK_FALSE(gd::too_old(none, t0, t0 + 100000h));
        // Limits too large to add saturate: never past them, no overflow.
        const gd::connection_ageing huge{std::chrono::nanoseconds::max(),
                                         std::chrono::nanoseconds::max()};
        CHECK_FALSE(gd::idle_too_long(huge, t0, gd::steady_time::max()));
        CHECK_FALSE(gd::too_old(huge, t0, gd::steady_time::max()));
    }

    TEST_CASE("zero limits: an idle connection is taken however old") {
        policy p(1, {0s, 0s});
        fill_idle(p, 1);
        auto t = p.take_idle(lease_kind::pooled, t0 + 100000h);
        CHECK(t.what == take_outcome::taken);
        CHECK(t.expired.empty());
        CHECK(p.give_back(t.conn, true, t0, t0 + 100000h).what == placement_outcome::idle);
    }

    TEST_CASE("take_idle closes those idle past the idle timeout, at the limit still fit") {
        policy p(3, {60s, 0s});
        fill_idle(p, 3); // 1, 2, 3 idle since t0
        SUBCASE("at the limit") {
            auto t = p.take_idle(lease_kind::pooled, t0 + 60s);
            CHECK(t.what == take_outcome::taken);
            CHECK(t.conn == 3);
            CHECK(t.expired.empty());
            CHECK(p.open() == 3);
        }
        SUBCASE("past it: all of them, and none is taken") {
            auto t = p.take_idle(lease_kind::pooled, t0 + 61s);
            CHECK(t.what == take_outcome::none);
            CHECK(t.expired == std::vector<int>{1, 2, 3});
            CHECK(t.connects == 0);
            CHECK(p.idle().empty());
            CHECK(p.open() == 0);
        }
        SUBCASE("a fresh lease takes none, but the sweep closes them") {
            auto t = p.take_idle(lease_kind::fresh, t0 + 61s);
            CHECK(t.what == take_outcome::none);
            CHECK(t.expired == std::vector<int>{1, 2, 3});
            CHECK(p.open() == 0);
        }
    }

    TEST_CASE("the sweep closes the least recently used ones that are past the idle timeout") {
        policy p(3, {60s, 0s});
        fill_idle(p, 3);
        const int c3 = lease_one(p), c2 = lease_one(p);
        // Idle since: 1 at t0, 2 at t0 + 30 s, 3 at t0 + 50 s.
        CHECK(p.give_back(c2, true, t0, t0 + 30s).what == placement_outcome::idle);
        CHECK(p.give_back(c3, true, t0, t0 + 50s).what == placement_outcome::idle);
        CHECK(p.idle() == std::vector<int>{1, 2, 3});
        auto t = p.take_idle(lease_kind::pooled, t0 + 85s);
        CHECK(t.expired == std::vector<int>{1}); // 2 has been idle 55 s
        CHECK(t.what == take_outcome::taken);
        CHECK(t.conn == 3);
        CHECK(p.idle() == std::vector<int>{2});
        CHECK(p.open() == 2);
    }

    TEST_CASE("give_back sweeps too: an idle one past the idle timeout closes") {
        policy p(2, {60s, 0s});
        fill_idle(p, 2);
        const int c2 = lease_one(p); // 1 stays idle since t0
        auto placed = p.give_back(c2, true, t0, t0 + 61s);
        CHECK(placed.what == placement_outcome::idle);
        CHECK(placed.expired == std::vector<int>{1});
        CHECK(p.idle() == std::vector<int>{2});
        CHECK(p.open() == 1);
    }

    TEST_CASE("take_idle skips one past its lifetime and takes the next most recently used") {
        policy p(3, {0s, 600s});
        fill_idle(p, 2);
        const int c2 = lease_one(p), c1 = lease_one(p);
        // Given back in steady use: 2 (opened at t0 + 300 s) then 1 (opened at t0).
        CHECK(p.give_back(c2, true, t0 + 300s, t0 + 590s).what == placement_outcome::idle);
        CHECK(p.give_back(c1, true, t0, t0 + 595s).what == placement_outcome::idle);
        CHECK(p.idle() == std::vector<int>{2, 1});
        SUBCASE("at its lifetime: taken") {
            auto t = p.take_idle(lease_kind::pooled, t0 + 600s);
            CHECK(t.conn == 1);
            CHECK(t.expired.empty());
        }
        SUBCASE("past it: closed, and the next taken") {
            auto t = p.take_idle(lease_kind::pooled, t0 + 601s);
            CHECK(t.what == take_outcome::taken);
            CHECK(t.conn == 2);
            CHECK(t.expired == std::vector<int>{1});
            CHECK(p.open() == 1); // 2, leased
        }
        SUBCASE("the sweep takes those past their lifetime at the least recently used end only") {
            // 1 is at the other end: it waits until it is taken, or idle long enough to be swept.
            auto t = p.take_idle(lease_kind::fresh, t0 + 601s);
            CHECK(t.what == take_outcome::none);
            CHECK(t.expired.empty());
            t = p.take_idle(lease_kind::fresh, t0 + 901s); // now 2 is too old as well
            CHECK(t.expired == std::vector<int>{2, 1});
            CHECK(p.open() == 0);
        }
    }

    TEST_CASE("a connection given back past its lifetime is retired, not kept") {
        policy p(1, {60s, 600s});
        fill_idle(p, 1);
        const int c = lease_one(p);
        SUBCASE("at its lifetime: kept") {
            CHECK(p.give_back(c, true, t0, t0 + 600s).what == placement_outcome::idle);
        }
        SUBCASE("past it, nobody waiting: closed") {
            auto placed = p.give_back(c, true, t0, t0 + 601s);
            CHECK(placed.what == placement_outcome::close);
            CHECK(placed.conn == c);
            CHECK(placed.connects == 0);
            CHECK(p.open() == 0);
        }
        SUBCASE("past it, with a waiter: closed, and a new one opened for the waiter") {
            test_waiter w;
            CHECK(p.line_up(w, normal).connects == 0); // at the limit
            auto placed = p.give_back(c, true, t0, t0 + 601s);
            CHECK(placed.what == placement_outcome::close);
            CHECK(placed.waiter == nullptr);
            CHECK(placed.connects == 1);
            CHECK(w.is_linked()); // waiting for the new one
            CHECK(p.open() == 1);
        }
    }

    TEST_CASE("an opened connection is idle since it was opened") {
        policy p(1, {60s, 600s});
        test_waiter gone;
        CHECK(p.line_up(gone, normal).connects == 1);
        gone.give_up();
        CHECK(p.opened(1, true, t0 + 10s).what == placement_outcome::idle);
        SUBCASE("60 s later: taken") {
            CHECK(p.take_idle(lease_kind::pooled, t0 + 70s).conn == 1);
        }
        SUBCASE("61 s later: closed") {
            auto t = p.take_idle(lease_kind::pooled, t0 + 71s);
            CHECK(t.what == take_outcome::none);
            CHECK(t.expired == std::vector<int>{1});
        }
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
        for (int bits = 0; bits < (1 << 8); ++bits) {
            gd::failed_exchange x;
            x.aborted = bits & 1;
            x.reused = bits & 2;
            x.kind = bits & 4 ? lease_kind::fresh : lease_kind::pooled;
            x.response_bytes = bits & 8;
            x.idempotent = bits & 16;
            x.nothing_written = bits & 32;
            x.deadline_passed = bits & 64;
            x.refused = bits & 128;
            CAPTURE(bits);
            const auto what = gd::after_failed_exchange(x);
            if (x.aborted) {
                CHECK(what == gd::after_failure::aborted);
                continue;
            }
            const bool may_repeat = x.idempotent || x.nothing_written;
            // A refused HTTP/2 stream was not processed: it goes again, a mutation too, if it
            // was not on a fresh connection already.
            const bool retry = x.kind == lease_kind::pooled && !x.deadline_passed &&
                               (x.refused || (x.reused && !x.response_bytes && may_repeat));
            if (retry) {
                CHECK(what == gd::after_failure::retry_fresh);
            } else if (x.deadline_passed) {
                CHECK(what == gd::after_failure::timeout);
            } else {
                CHECK(what == gd::after_failure::fail);
            }
        }
    }

    //------------------------------------------------------------------------------
    // Multiplexed connections (HTTP/2)

    TEST_CASE("HTTP/2 offered: one connection is opened until the first says what it carries") {
        policy p(8, {}, true);
        std::vector<test_waiter> ws(5);
        std::size_t connects = 0;
        for (auto& w : ws) {
            connects += p.line_up(w, normal).connects;
        }
        CHECK(connects == 1);
        SUBCASE("it speaks HTTP/1.1: one connection per waiter from then on") {
            auto placed = p.opened(1, true, t0);
            CHECK(placed.what == placement_outcome::hand_over);
            CHECK(placed.waiter == &ws[0]);
            CHECK(placed.connects == 4);
        }
        SUBCASE("it speaks HTTP/2 with room for all: they all get a stream on it") {
            auto placed = p.opened_multiplexed(1, 100, t0);
            CHECK(placed.conn == 1);
            CHECK(placed.streams.size() == 5);
            CHECK(placed.connects == 0);
            CHECK(p.streams_in_use() == 5);
            CHECK(p.multiplexed() == 1);
            CHECK(p.open() == 1);
            CHECK(p.idle_count() == 0);
        }
        SUBCASE("it speaks HTTP/2 with room for 2: two more connections for the other 3") {
            auto placed = p.opened_multiplexed(1, 2, t0);
            CHECK(placed.streams.size() == 2);
            CHECK(placed.connects == 2);
            CHECK(p.opened_multiplexed(2, 2, t0).streams.size() == 2);
            CHECK(p.opened_multiplexed(3, 2, t0).streams.size() == 1);
            CHECK(p.open() == 3);
        }
    }

    TEST_CASE("HTTP/2: streams are taken on the connection with room, and come back") {
        policy p(2, {60s, 600s}, true);
        test_waiter w;
        REQUIRE(p.line_up(w, normal).connects == 1);
        REQUIRE(p.opened_multiplexed(1, 2, t0).streams.size() == 1);
        auto t = p.take_idle(lease_kind::pooled, t0);
        CHECK(t.what == take_outcome::taken);
        CHECK(t.conn == 1);
        // Full: a waiter waits, and no connection opens while the first is expected to carry 2.
        CHECK(p.take_idle(lease_kind::pooled, t0).what == take_outcome::none);
        test_waiter waiting;
        auto in_line = p.line_up(waiting, normal);
        CHECK(in_line.what == line_up_outcome::waiting);
        CHECK(in_line.connects == 1); // the only waiter: one more connection, at most max
        test_waiter third;
        CHECK(p.line_up(third, normal).connects == 0);
        // A stream back goes to the first in line.
        auto back = p.stream_done(1, t0 + 1s);
        REQUIRE(back.streams.size() == 1);
        CHECK(back.streams[0] == &waiting);
        CHECK(back.conn == 1);
        CHECK(p.streams_in_use() == 2);
        third.give_up();
    }

    TEST_CASE("HTTP/2: a connection drained by GOAWAY takes no stream and closes when empty") {
        policy p(4, {}, true);
        test_waiter w1, w2;
        p.line_up(w1, normal);
        p.line_up(w2, normal);
        REQUIRE(p.opened_multiplexed(1, 10, t0).streams.size() == 2);
        CHECK(p.drain(1).what == placement_outcome::idle); // two streams still to finish
        CHECK(p.take_idle(lease_kind::pooled, t0).what == take_outcome::none);
        CHECK(p.stream_done(1, t0).what == placement_outcome::idle);
        auto last = p.stream_done(1, t0);
        CHECK(last.what == placement_outcome::close);
        CHECK(last.conn == 1);
        CHECK(p.open() == 0);
        CHECK(p.multiplexed() == 0);
        // A stream of a connection closed already changes nothing.
        CHECK(p.stream_done(1, t0).what == placement_outcome::idle);
    }

    TEST_CASE("HTTP/2: an idle connection ages like any other") {
        policy p(4, {60s, 600s}, true);
        test_waiter w;
        p.line_up(w, normal);
        REQUIRE(p.opened_multiplexed(1, 10, t0).streams.size() == 1);
        CHECK(p.stream_done(1, t0).what == placement_outcome::idle);
        CHECK(p.idle_count() == 1);
        auto t = p.take_idle(lease_kind::pooled, t0 + 61s);
        CHECK(t.what == take_outcome::none);
        CHECK(t.expired == std::vector<int>{1});
        CHECK(p.open() == 0);
    }

    TEST_CASE("HTTP/2: the server's limit going up hands streams to the waiters") {
        policy p(1, {}, true);
        std::vector<test_waiter> ws(3);
        for (auto& w : ws) {
            p.line_up(w, normal);
        }
        REQUIRE(p.opened_multiplexed(1, 1, t0).streams.size() == 1);
        auto more = p.set_limit(1, 3);
        CHECK(more.streams.size() == 2);
        CHECK(p.streams_in_use() == 3);
    }

    TEST_CASE("HTTP/2: shutting down closes the idle ones and drains those in use") {
        policy p(4, {}, true);
        test_waiter w1, w2;
        p.line_up(w1, normal);
        REQUIRE(p.opened_multiplexed(1, 1, t0).streams.size() == 1);
        p.line_up(w2, normal);
        REQUIRE(p.opened_multiplexed(2, 1, t0).streams.size() == 1);
        CHECK(p.stream_done(2, t0).what == placement_outcome::idle);
        REQUIRE(p.stop());
        CHECK(p.close_idle() == std::vector<int>{2});
        CHECK(p.stream_done(1, t0).what == placement_outcome::close);
        CHECK(p.open() == 0);
    }

} // TEST_SUITE

} // namespace
