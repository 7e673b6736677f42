// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTS_BLACK_HOLE_HPP
#define GLUE_TESTS_BLACK_HOLE_HPP

// An address that never answers a connect, on loopback: a listener whose accept queue is full.
// Linux drops the SYNs a full accept queue can't take (no RST), so a connect to it hangs as one
// to a black-holed route does, and no packet leaves the host. Linux routes all of 127.0.0.0/8
// to lo, so 127.0.0.2 needs no setup.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace glue::test {

namespace asio = boost::asio;

class black_hole {
public:
    /// Listens on `address`:`port` (0: any free port) with a backlog of 0 and fills its accept
    /// queue with connections it never accepts. Throws boost::system::system_error if the
    /// address can't be bound.
    black_hole(const std::string& address, std::uint16_t port);
    black_hole(const black_hole&) = delete;
    black_hole& operator=(const black_hole&) = delete;

    asio::ip::tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }

    /// Whether a connect to it was seen to hang (no answer within 100 ms) once the queue was
    /// full: a test that relies on the black hole requires this, so it can't pass vacuously.
    bool hangs() const { return hangs_; }

    /// Accepts the parked connections: the next SYN a client sends again gets an answer.
    void open_up();

private:
    asio::io_context ioc_; // runs only inside the constructor
    asio::ip::tcp::acceptor acceptor_;
    std::vector<asio::ip::tcp::socket> parked_; // connected, not accepted until open_up()
    std::vector<asio::ip::tcp::socket> accepted_;
    bool hangs_ = false;
};

/// Whether `address` can be bound on this host (::1 needs IPv6 on lo).
bool can_bind(const std::string& address);

} // namespace glue::test

#endif
