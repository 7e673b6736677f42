// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// glue_latency_relay still does its job: bytes go through unchanged both ways on many
// connections at once, FINs and resets reach the other side, a round trip costs at least twice
// the one-way delay, and a lane that can't drain stops reading. Only lower bounds on time: the
// relay's speed is measured in benchmarks/, never here.

#include "latency_relay.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// A hang guard, not a speed limit: a relay that loses a FIN would otherwise block forever.
constexpr auto hang_guard = std::chrono::seconds(60);

tcp::endpoint loopback(unsigned short port) {
    return {asio::ip::make_address("127.0.0.1"), port};
}

std::string pattern(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (char& c : s) {
        c = static_cast<char>(rng());
    }
    return s;
}

std::string flipped(std::string s) {
    for (char& c : s) {
        c = static_cast<char>(c ^ 0x5a);
    }
    return s;
}

asio::awaitable<std::string> read_to_eof(tcp::socket& s) {
    std::string out;
    std::vector<char> buf(64 * 1024);
    for (;;) {
        auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), use_tuple);
        out.append(buf.data(), n);
        if (ec == asio::error::eof) {
            co_return out;
        }
        if (ec) {
            throw boost::system::system_error(ec, "read");
        }
    }
}

asio::awaitable<void> write_all(tcp::socket& s, const std::string& data) {
    auto [ec, n] = co_await asio::async_write(s, asio::buffer(data), use_tuple);
    if (ec) {
        throw boost::system::system_error(ec, "write");
    }
}

// Coroutines of one test: counts those that ended, keeps the first failure, and runs `last`
// when all have ended.
struct tally {
    int expected = 0, ended = 0;
    std::string first_error;
    std::function<void()> last;

    auto handler() {
        return [this](std::exception_ptr e) {
            if (e && first_error.empty()) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& x) {
                    first_error = x.what();
                }
            }
            if (++ended == expected && last) {
                last();
            }
        };
    }
};

// Reads what the client sends up to its FIN, then answers it flipped and closes.
asio::awaitable<void> flip_once(tcp::socket s) {
    const std::string got = co_await read_to_eof(s);
    co_await write_all(s, flipped(got));
    s.shutdown(tcp::socket::shutdown_send);
}

asio::awaitable<void> flip_server(tcp::acceptor& acceptor) {
    for (;;) {
        auto [ec, s] = co_await acceptor.async_accept(use_tuple);
        if (ec) {
            co_return;
        }
        asio::co_spawn(acceptor.get_executor(), flip_once(std::move(s)), asio::detached);
    }
}

asio::awaitable<void> flip_client(unsigned short port, unsigned seed, std::size_t size) {
    tcp::socket s(co_await asio::this_coro::executor);
    co_await s.async_connect(loopback(port), asio::use_awaitable);
    const std::string sent = pattern(size, seed);
    co_await write_all(s, sent);
    s.shutdown(tcp::socket::shutdown_send); // the server answers only after this FIN
    const std::string got = co_await read_to_eof(s);
    if (got != flipped(sent)) {
        throw std::runtime_error("connection " + std::to_string(seed) + ": " +
                                 std::to_string(got.size()) + " bytes back of " +
                                 std::to_string(sent.size()) + ", or not the bytes sent");
    }
}

asio::awaitable<void> echo_once(tcp::socket s) {
    std::vector<char> buf(4096);
    for (;;) {
        auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), use_tuple);
        if (ec) {
            co_return;
        }
        co_await asio::async_write(s, asio::buffer(buf.data(), n), asio::use_awaitable);
    }
}

asio::awaitable<void> echo_server(tcp::acceptor& acceptor) {
    for (;;) {
        auto [ec, s] = co_await acceptor.async_accept(use_tuple);
        if (ec) {
            co_return;
        }
        asio::co_spawn(acceptor.get_executor(), echo_once(std::move(s)), asio::detached);
    }
}

glue_bench::relay_options relay_to(const tcp::acceptor& server, milliseconds delay) {
    glue_bench::relay_options opt;
    opt.listen = loopback(0);
    opt.target = server.local_endpoint();
    opt.delay = delay;
    return opt;
}

} // namespace

TEST_SUITE("latency relay") {

    TEST_CASE("bytes go through unchanged both ways, 32 connections at once, FINs included") {
        asio::io_context ioc(1);
        tcp::acceptor server(ioc, loopback(0));
        auto opt = relay_to(server, milliseconds(2));
        opt.max_queued_bytes = 64 * 1024; // small, so that backpressure comes into play
        glue_bench::latency_relay relay(ioc.get_executor(), opt);
        relay.start();
        asio::co_spawn(ioc, flip_server(server), asio::detached);

        constexpr std::size_t connections = 32, size = 256 * 1024;
        tally t;
        t.expected = static_cast<int>(connections);
        t.last = [&] {
            relay.stop();
            server.close();
        };
        for (unsigned i = 1; i <= connections; ++i) {
            asio::co_spawn(ioc, flip_client(relay.port(), i, size), t.handler());
        }
        ioc.run_for(hang_guard);

        CHECK(t.first_error == "");
        REQUIRE(t.ended == t.expected);
        const auto c = relay.counters();
        CHECK(c.connections == connections);
        CHECK(c.failed_connects == 0);
        CHECK(c.bytes_to_target == connections * size);
        CHECK(c.bytes_from_target == connections * size);
    }

    TEST_CASE("a round trip through the relay takes at least twice the one-way delay") {
        asio::io_context ioc(1);
        tcp::acceptor server(ioc, loopback(0));
        const milliseconds delay(25);
        glue_bench::latency_relay relay(ioc.get_executor(), relay_to(server, delay));
        relay.start();
        asio::co_spawn(ioc, echo_server(server), asio::detached);

        std::vector<std::chrono::steady_clock::duration> round_trips;
        tally t;
        t.expected = 1;
        t.last = [&] {
            relay.stop();
            server.close();
        };
        auto client = [&]() -> asio::awaitable<void> {
            tcp::socket s(co_await asio::this_coro::executor);
            co_await s.async_connect(loopback(relay.port()), asio::use_awaitable);
            char byte = 'x';
            for (int i = 0; i < 5; ++i) {
                const auto start = std::chrono::steady_clock::now();
                co_await asio::async_write(s, asio::buffer(&byte, 1), asio::use_awaitable);
                co_await asio::async_read(s, asio::buffer(&byte, 1), asio::use_awaitable);
                round_trips.push_back(std::chrono::steady_clock::now() - start);
            }
        };
        asio::co_spawn(ioc, client(), t.handler());
        ioc.run_for(hang_guard);

        CHECK(t.first_error == "");
        REQUIRE(round_trips.size() == 5);
        for (const auto rt : round_trips) {
            CHECK(rt >= 2 * delay);
        }
    }

    TEST_CASE("a lane that can't drain stops reading: at most its bound is queued") {
        asio::io_context ioc(1);
        tcp::acceptor server(ioc, loopback(0));
        auto opt = relay_to(server, milliseconds(0));
        opt.max_queued_bytes = 256 * 1024;
        glue_bench::latency_relay relay(ioc.get_executor(), opt);
        relay.start();

        // 32 MiB at a server that reads nothing for half a second: far more than the sockets'
        // buffers hold, so without backpressure the relay would queue megabytes.
        const std::string sent = pattern(32 * 1024 * 1024, 7);
        std::string received;
        tally t;
        t.expected = 2;
        t.last = [&] { relay.stop(); };
        auto slow_server = [&]() -> asio::awaitable<void> {
            tcp::socket s = co_await server.async_accept(asio::use_awaitable);
            asio::steady_timer pause(s.get_executor(), milliseconds(500));
            co_await pause.async_wait(asio::use_awaitable);
            received = co_await read_to_eof(s);
        };
        auto client = [&]() -> asio::awaitable<void> {
            tcp::socket s(co_await asio::this_coro::executor);
            co_await s.async_connect(loopback(relay.port()), asio::use_awaitable);
            co_await write_all(s, sent);
            s.shutdown(tcp::socket::shutdown_send);
            co_await read_to_eof(s); // the server closes without a word
        };
        asio::co_spawn(ioc, slow_server(), t.handler());
        asio::co_spawn(ioc, client(), t.handler());
        ioc.run_for(hang_guard);

        CHECK(t.first_error == "");
        REQUIRE(t.ended == 2);
        CHECK(received.size() == sent.size());
        CHECK((received == sent)); // not decomposed: doctest would print 32 MiB
        // The bound, plus the one read that may land when the lane is just short of it.
        CHECK(relay.counters().peak_queued_bytes <= opt.max_queued_bytes + 64 * 1024);
    }

    TEST_CASE("a reset on one side resets the other") {
        asio::io_context ioc(1);
        tcp::acceptor server(ioc, loopback(0));
        glue_bench::latency_relay relay(ioc.get_executor(), relay_to(server, milliseconds(5)));
        relay.start();

        boost::system::error_code client_saw;
        tally t;
        t.expected = 2;
        t.last = [&] { relay.stop(); };
        auto resetting_server = [&]() -> asio::awaitable<void> {
            tcp::socket s = co_await server.async_accept(asio::use_awaitable);
            s.set_option(asio::socket_base::linger(true, 0));
            s.close(); // RST
        };
        auto client = [&]() -> asio::awaitable<void> {
            tcp::socket s(co_await asio::this_coro::executor);
            co_await s.async_connect(loopback(relay.port()), asio::use_awaitable);
            char byte = 0;
            auto [ec, n] = co_await s.async_read_some(asio::buffer(&byte, 1), use_tuple);
            client_saw = ec;
        };
        asio::co_spawn(ioc, resetting_server(), t.handler());
        asio::co_spawn(ioc, client(), t.handler());
        ioc.run_for(hang_guard);

        CHECK(t.first_error == "");
        REQUIRE(t.ended == 2);
        CHECK(client_saw == asio::error::connection_reset);
    }

} // TEST_SUITE
