// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTS_BLACK_HOLE_HPP
#define GLUE_TESTS_BLACK_HOLE_HPP

// A TCP port on 127.0.0.1 that never completes a connect: a listener with an accept backlog of
// 0 that never accepts, with connections parked on it until the kernel drops further SYNs
// unanswered, as a black-holed route does, without sending anything off the machine.

#include <cstdint>
#include <vector>

namespace glue::test {

class black_hole {
public:
    /// Fails the test if the backlog can't be filled.
    black_hole();
    ~black_hole();
    black_hole(const black_hole&) = delete;
    black_hole& operator=(const black_hole&) = delete;

    std::uint16_t port() const { return port_; }

private:
    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::vector<int> parked_;
};

} // namespace glue::test

#endif
