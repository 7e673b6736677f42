// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTS_TINYPROXY_HPP
#define GLUE_TESTS_TINYPROXY_HPP

// Debian's tinyproxy, a real HTTP proxy, started by a test on a free port of 127.0.0.1 with a
// configuration of its own (never the system's tinyproxy), and stopped by it; its log tells
// which requests it was sent.

#include "support/child_process.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace glue::test {

class tinyproxy : public local_server {
public:
    struct options {
        std::vector<std::uint16_t> connect_ports; ///< the ports CONNECT may reach
        std::string user, password;               ///< both set: Basic auth required
    };

    /// Starts it and waits until it accepts connections; fails the test if tinyproxy is not
    /// installed (scripts/setup installs it) or doesn't start.
    explicit tinyproxy(const options& opts);
    /// http://127.0.0.1:<port>, or http://user:password@127.0.0.1:<port> with them.
    std::string url(const std::string& user = {}, const std::string& password = {}) const;

    /// Its log so far.
    std::string log() const;
    /// The CONNECT requests it has logged.
    std::size_t connects() const;
    /// The requests it has logged whose line starts with `method_and_target`.
    std::size_t requests(const std::string& method_and_target) const;

private:
    std::vector<std::string> configure(const std::string& path, const options& opts) const;
};

} // namespace glue::test

#endif
