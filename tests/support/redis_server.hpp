// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTS_REDIS_SERVER_HPP
#define GLUE_TESTS_REDIS_SERVER_HPP

// Debian's redis-server, started by a test on a free port of 127.0.0.1 and stopped by it, with
// nothing persisted; and plain blocking commands to look inside it.

#include "support/child_process.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace glue::test {

/// A reply, as the test reads it.
struct redis_value {
    int type = 0; ///< hiredis's REDIS_REPLY_*
    long long integer = 0;
    std::string str;
    std::vector<redis_value> elements;
};

class redis_server {
public:
    /// Starts it and waits until it answers; fails the test if it can't.
    redis_server();
    ~redis_server();
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;

    std::uint16_t port() const { return port_; }
    /// redis://127.0.0.1:<port>/<db>
    std::string url(unsigned db = 0) const;

    /// Kills it (SIGKILL, as a crash would): every connection drops, every key is gone.
    void kill();
    /// Starts it again on the same port.
    void restart();
    /// Stops it answering (SIGSTOP), as a Redis stuck in a long command or swapping would;
    /// resume() lets it go on.
    void pause();
    void resume();

    /// One command, on a connection of its own.
    redis_value command(const std::vector<std::string>& argv) const;

private:
    void start();

    std::uint16_t port_ = 0;
    std::unique_ptr<child_process> process_;
};

} // namespace glue::test

#endif
