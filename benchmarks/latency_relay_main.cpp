// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// glue_latency_relay: a TCP relay that adds a round-trip time on loopback (latency_relay.hpp).
//
//   glue_latency_relay --to 127.0.0.1:8443 --delay-ms 10 [--listen 127.0.0.1:0]
//                      [--max-queue-bytes 16777216] [--connect-timeout-ms 10000]
//
// --delay-ms is one way, added in each direction (10: a round trip of 20 ms), fractions
// allowed. Prints the port it listens on as the first line of its output, then relays until
// SIGINT or SIGTERM, when it closes every connection and prints what it relayed as one JSON
// object on stdout.

#include "latency_relay.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>

#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

[[noreturn]] void usage(const std::string& why) {
    std::fprintf(stderr,
                 "glue_latency_relay: %s\n"
                 "usage: glue_latency_relay --to HOST:PORT --delay-ms MS [--listen HOST:PORT] "
                 "[--max-queue-bytes N] [--connect-timeout-ms MS]\n",
                 why.c_str());
    std::exit(2);
}

// "127.0.0.1:8443" or "[::1]:8443": numeric addresses only.
tcp::endpoint to_endpoint(std::string_view s, const char* name) {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos) {
        usage(std::string(name) + " takes HOST:PORT");
    }
    std::string_view host = s.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    const std::string_view port_text = s.substr(colon + 1);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    boost::system::error_code bad;
    const auto address = asio::ip::make_address(std::string(host), bad);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535 || bad) {
        usage(std::string(name) + " takes a numeric HOST:PORT");
    }
    return {address, static_cast<unsigned short>(port)};
}

// A non-negative number with optional fraction, at most `max`.
double to_number(std::string_view s, const char* name, double max) {
    double v = -1;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || !(v >= 0) || v > max) {
        char range[64];
        std::snprintf(range, sizeof range, " takes a number from 0 to %.0f", max);
        usage(name + std::string(range));
    }
    return v;
}

} // namespace

int main(int argc, char** argv) {
    glue_bench::relay_options opt;
    opt.listen = {asio::ip::make_address("127.0.0.1"), 0};
    bool have_target = false, have_delay = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (i + 1 >= argc) {
            usage("every option takes a value");
        }
        const std::string_view v = argv[++i];
        if (a == "--to") {
            opt.target = to_endpoint(v, "--to");
            have_target = true;
        } else if (a == "--listen") {
            opt.listen = to_endpoint(v, "--listen");
        } else if (a == "--delay-ms") {
            const double ms = to_number(v, "--delay-ms", 60'000);
            opt.delay = std::chrono::microseconds(static_cast<long long>(ms * 1000 + 0.5));
            have_delay = true;
        } else if (a == "--max-queue-bytes") {
            opt.max_queued_bytes =
                static_cast<std::size_t>(to_number(v, "--max-queue-bytes", 4294967296.0));
            if (opt.max_queued_bytes == 0) {
                usage("--max-queue-bytes must be positive");
            }
        } else if (a == "--connect-timeout-ms") {
            opt.connect_timeout = std::chrono::milliseconds(
                static_cast<long long>(to_number(v, "--connect-timeout-ms", 600'000)));
        } else {
            usage("unknown option " + std::string(a));
        }
    }
    if (!have_target || !have_delay) {
        usage("--to and --delay-ms are required");
    }

    asio::io_context ioc(1);
    try {
        glue_bench::latency_relay relay(ioc.get_executor(), opt);
        relay.start();
        asio::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&](boost::system::error_code ec, int) {
            if (!ec) {
                relay.stop(); // the connections' coroutines end, then run() returns
            }
        });
        std::printf("%u\n", static_cast<unsigned>(relay.port()));
        std::fflush(stdout);
        ioc.run();
        const auto c = relay.counters();
        std::printf("{\"connections\":%llu,\"failed_connects\":%llu,\"bytes_to_target\":%llu,"
                    "\"bytes_from_target\":%llu,\"peak_queued_bytes\":%zu}\n",
                    static_cast<unsigned long long>(c.connections),
                    static_cast<unsigned long long>(c.failed_connects),
                    static_cast<unsigned long long>(c.bytes_to_target),
                    static_cast<unsigned long long>(c.bytes_from_target), c.peak_queued_bytes);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "glue_latency_relay: %s\n", e.what());
        return 1;
    }
    return 0;
}
