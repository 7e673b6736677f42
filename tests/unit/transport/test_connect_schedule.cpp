// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Happy Eyeballs without sockets or timers (src/transport/connect_schedule.hpp): the order of a
// host's addresses, checked against every list of up to six drawn from four addresses, and the
// schedule of a race, driven by hand with times passed in.

#include "transport/connect_schedule.hpp"

#include <boost/asio/error.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace {

namespace gd = glue::detail;
using tcp = boost::asio::ip::tcp;
using namespace std::chrono_literals;
using state = gd::connect_race::state;

tcp::endpoint ep(const std::string& address, unsigned short port = 443) {
    return {boost::asio::ip::make_address(address), port};
}

std::vector<tcp::endpoint> eps(const std::vector<std::string>& addresses) {
    std::vector<tcp::endpoint> out;
    for (const auto& a : addresses) {
        out.push_back(ep(a));
    }
    return out;
}

// An arbitrary start, far from the clock's ends.
const gd::steady_time race_t0 = gd::steady_time() + 1000h;

/// Every attempt of `r` due at `now`, in order.
std::vector<std::size_t> start_all_due(gd::connect_race& r, gd::steady_time now) {
    std::vector<std::size_t> started;
    while (auto i = r.start_due(now)) {
        started.push_back(*i);
    }
    return started;
}

using attempts = std::vector<std::size_t>;

} // namespace

TEST_SUITE("connect schedule") {

    //------------------------------------------------------------------------------
    // The order of the addresses

    TEST_CASE("connect_order: families alternate, IPv6 first, each in the resolver's order") {
        CHECK(gd::connect_order({}).empty());
        CHECK(gd::connect_order(eps({"127.0.0.1"})) == eps({"127.0.0.1"}));
        CHECK(gd::connect_order(eps({"::1"})) == eps({"::1"}));
        CHECK(gd::connect_order(eps({"127.0.0.1", "127.0.0.2"})) ==
              eps({"127.0.0.1", "127.0.0.2"}));
        CHECK(gd::connect_order(eps({"127.0.0.1", "::1"})) == eps({"::1", "127.0.0.1"}));
        CHECK(gd::connect_order(eps({"127.0.0.1", "127.0.0.2", "::1", "::2"})) ==
              eps({"::1", "127.0.0.1", "::2", "127.0.0.2"}));
        // One family runs out: the rest of the other follows.
        CHECK(gd::connect_order(eps({"::1", "127.0.0.1", "127.0.0.2", "127.0.0.3"})) ==
              eps({"::1", "127.0.0.1", "127.0.0.2", "127.0.0.3"}));
        CHECK(gd::connect_order(eps({"::3", "::2", "127.0.0.1", "::1"})) ==
              eps({"::3", "127.0.0.1", "::2", "::1"}));
        // An IPv4-mapped IPv6 address is an IPv6 one: it goes over an IPv6 socket.
        CHECK(gd::connect_order(eps({"127.0.0.1", "::ffff:127.0.0.1"})) ==
              eps({"::ffff:127.0.0.1", "127.0.0.1"}));
    }

    TEST_CASE("connect_order: duplicates dropped, the first of each kept in its place") {
        CHECK(gd::connect_order(eps({"127.0.0.1", "127.0.0.1"})) == eps({"127.0.0.1"}));
        CHECK(gd::connect_order(eps({"::1", "127.0.0.1", "::1", "127.0.0.2", "127.0.0.1"})) ==
              eps({"::1", "127.0.0.1", "127.0.0.2"}));
        // The same address on another port is another endpoint.
        CHECK(gd::connect_order({ep("127.0.0.1", 1), ep("127.0.0.1", 2)}) ==
              std::vector<tcp::endpoint>{ep("127.0.0.1", 1), ep("127.0.0.1", 2)});
    }

    TEST_CASE("connect_order: every list of up to 6 from 2 IPv4 and 2 IPv6 addresses") {
        const auto pool = eps({"127.0.0.1", "127.0.0.2", "::1", "::2"});
        std::size_t lists = 0;
        std::vector<tcp::endpoint> in;
        // Each element of the resolver's answer is any of the four: 4^0 + ... + 4^6 lists.
        std::function<void()> each = [&] {
            ++lists;
            const auto out = gd::connect_order(in);
            CAPTURE(in.size());
            // Distinct, and each input address exactly once.
            for (const auto& e : pool) {
                const auto n = std::count(out.begin(), out.end(), e);
                CHECK(n == (std::find(in.begin(), in.end(), e) != in.end() ? 1 : 0));
            }
            CHECK(out.size() == static_cast<std::size_t>(std::count_if(
                                    pool.begin(), pool.end(), [&](const tcp::endpoint& e) {
                                        return std::find(in.begin(), in.end(), e) != in.end();
                                    })));
            // Within a family, the order of first appearance.
            for (bool v6 : {false, true}) {
                std::vector<tcp::endpoint> firsts, kept;
                for (const auto& e : in) {
                    if (e.address().is_v6() == v6 &&
                        std::find(firsts.begin(), firsts.end(), e) == firsts.end()) {
                        firsts.push_back(e);
                    }
                }
                for (const auto& e : out) {
                    if (e.address().is_v6() == v6) {
                        kept.push_back(e);
                    }
                }
                CHECK(kept == firsts);
            }
            // IPv6 first, then alternating while both families last.
            std::size_t v6 = 0, v4 = 0;
            for (const auto& e : out) {
                (e.address().is_v6() ? v6 : v4) += 1;
            }
            for (std::size_t i = 0; i < out.size(); ++i) {
                if (i < 2 * std::min(v6, v4)) {
                    CHECK(out[i].address().is_v6() == (i % 2 == 0));
                } else {
                    CHECK(out[i].address().is_v6() == (v6 > v4));
                }
            }
            if (in.size() < 6) {
                for (const auto& e : pool) {
                    in.push_back(e);
                    each();
                    in.pop_back();
                }
            }
        };
        each();
        CHECK(lists == 1 + 4 + 16 + 64 + 256 + 1024 + 4096);
    }

    //------------------------------------------------------------------------------
    // When attempts start

    TEST_CASE("the first attempt at once, each next one a delay after the last one started") {
        gd::connect_race r(3, 250ms);
        CHECK(r.outcome() == state::racing);
        CHECK(r.next_due() == gd::steady_time::min()); // due whatever the time
        CHECK(start_all_due(r, race_t0) == attempts{0});
        CHECK(r.next_due() == race_t0 + 250ms);
        CHECK(start_all_due(r, race_t0 + 249ms).empty());
        CHECK(start_all_due(r, race_t0 + 250ms) == attempts{1});
        CHECK(r.next_due() == race_t0 + 500ms);
        // Late (the waiter woke late): one attempt, and the next a full delay after it.
        CHECK(start_all_due(r, race_t0 + 900ms) == attempts{2});
        CHECK(r.started() == 3);
        CHECK(r.next_due() == gd::steady_time::max()); // none left
        CHECK(start_all_due(r, race_t0 + 10h).empty());
        CHECK(r.outcome() == state::racing); // the started ones still race
    }

    TEST_CASE("a failure makes the next attempt due at once") {
        gd::connect_race r(4, 250ms);
        CHECK(start_all_due(r, race_t0) == attempts{0});
        r.failed(boost::asio::error::connection_refused);
        CHECK(r.next_due() == gd::steady_time::min());
        CHECK(start_all_due(r, race_t0 + 1ms) == attempts{1});
        CHECK(r.next_due() == race_t0 + 251ms); // a full delay after that start
        // A failure of an earlier attempt, while a later one races, also starts the next.
        CHECK(start_all_due(r, race_t0 + 251ms) == attempts{2});
        r.failed(boost::asio::error::network_unreachable);
        CHECK(start_all_due(r, race_t0 + 300ms) == attempts{3});
        CHECK(r.outcome() == state::racing);
    }

    TEST_CASE("failures with none left to start change nothing but the count") {
        gd::connect_race r(2, 250ms);
        CHECK(start_all_due(r, race_t0) == attempts{0});
        CHECK(start_all_due(r, race_t0 + 250ms) == attempts{1});
        r.failed(boost::asio::error::timed_out);
        CHECK(r.next_due() == gd::steady_time::max());
        CHECK(r.outcome() == state::racing);
    }

    TEST_CASE("a delay too large to add saturates: no later attempt, no overflow") {
        gd::connect_race r(2, std::chrono::nanoseconds::max());
        CHECK(start_all_due(r, race_t0) == attempts{0});
        CHECK(r.next_due() == gd::steady_time::max());
        CHECK(start_all_due(r, race_t0 + 100000h).empty());
        r.failed(boost::asio::error::connection_refused); // but a failure still starts it
        CHECK(start_all_due(r, race_t0 + 1ms) == attempts{1});
    }

    TEST_CASE("a zero delay starts every attempt at once") {
        gd::connect_race r(3, 0ms);
        CHECK(start_all_due(r, race_t0) == attempts{0, 1, 2});
    }

    //------------------------------------------------------------------------------
    // How a race ends

    TEST_CASE("the first attempt to connect wins, whichever was started first") {
        gd::connect_race r(3, 250ms);
        start_all_due(r, race_t0);
        start_all_due(r, race_t0 + 250ms);
        r.connected(1);
        CHECK(r.outcome() == state::won);
        CHECK(r.winner() == 1);
        CHECK(r.next_due() == gd::steady_time::max());
        CHECK(start_all_due(r, race_t0 + 1h).empty()); // attempt 2 never starts
        // What the others do afterwards changes nothing.
        r.connected(0);
        r.failed(boost::asio::error::operation_aborted);
        CHECK(r.outcome() == state::won);
        CHECK(r.winner() == 1);
        CHECK(!r.error());
    }

    TEST_CASE("a race is lost when every attempt failed; its error is the first failure") {
        gd::connect_race r(3, 250ms);
        start_all_due(r, race_t0);
        r.failed(boost::asio::error::network_unreachable);
        start_all_due(r, race_t0);
        r.failed(boost::asio::error::connection_refused);
        CHECK(r.outcome() == state::racing);
        CHECK(start_all_due(r, race_t0) == attempts{2});
        r.failed(boost::asio::error::connection_refused);
        CHECK(r.outcome() == state::lost);
        CHECK(r.error() == boost::asio::error::network_unreachable);
        CHECK(r.next_due() == gd::steady_time::max());
        r.connected(2); // too late: ignored
        CHECK(r.outcome() == state::lost);
    }

    TEST_CASE("a single address: one attempt, lost when it fails") {
        gd::connect_race r(1, 250ms);
        CHECK(start_all_due(r, race_t0) == attempts{0});
        CHECK(r.next_due() == gd::steady_time::max());
        r.failed(boost::asio::error::connection_refused);
        CHECK(r.outcome() == state::lost);
        CHECK(r.error() == boost::asio::error::connection_refused);
    }

    TEST_CASE("no address: lost from the start with host_not_found") {
        gd::connect_race r(0, 250ms);
        CHECK(r.outcome() == state::lost);
        CHECK(r.error() == boost::asio::error::host_not_found);
        CHECK(start_all_due(r, race_t0).empty());
        CHECK(r.next_due() == gd::steady_time::max());
    }

} // TEST_SUITE
