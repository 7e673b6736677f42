// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "support/black_hole.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace glue::test {

namespace {

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    return a;
}

} // namespace

black_hole::black_hole() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    auto a = loopback(0);
    socklen_t len = sizeof a;
    REQUIRE(listener_ >= 0);
    REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(listener_, 0) == 0);
    REQUIRE(::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port_ = ntohs(a.sin_port);
    // Connect until one doesn't complete: the queue is full, and further SYNs go unanswered.
    // That last one stays parked too, so the queue stays full.
    for (int i = 0; i < 16; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        REQUIRE(fd >= 0);
        parked_.push_back(fd);
        const auto to = loopback(port_);
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0) {
            continue;
        }
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, 200) == 0) {
            return; // unanswered
        }
    }
    FAIL("the listener's backlog never filled: connects to it still complete");
}

black_hole::~black_hole() {
    for (int fd : parked_) {
        ::close(fd);
    }
    if (listener_ >= 0) {
        ::close(listener_);
    }
}

} // namespace glue::test
