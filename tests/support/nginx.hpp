// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTS_NGINX_HPP
#define GLUE_TESTS_NGINX_HPP

// Debian's nginx (nginx-light), a real HTTP/2 server, started by a test on a free port of
// 127.0.0.1 over TLS with a throwaway certificate and a configuration of its own (never the
// system's), and stopped by it. One process (master_process off), so it runs as the test's user
// and reads only its own directory. Its access log tells which protocol each request came over.

#include "support/child_process.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace glue::test {

class nginx : public local_server {
public:
    struct options {
        std::string cert_pem, key_pem; ///< the server's certificate and key
        bool http2 = true;             ///< `http2 on` (`listen ... ssl http2` before nginx 1.25.1)
        unsigned max_streams = 256;    ///< http2_max_concurrent_streams
        /// Lines added inside the server block (locations of the test's own).
        std::string server_lines;
        /// Files written under the document root, name and contents.
        std::vector<std::pair<std::string, std::string>> files;
    };

    /// Whether nginx is installed (scripts/setup installs nginx-light), or the one GLUE_TEST_NGINX
    /// names exists.
    static bool installed();

    /// Starts it and waits until it accepts connections; fails the test if it doesn't start.
    explicit nginx(const options& opts);
    /// https://127.0.0.1:<port>
    std::string url() const;

    /// Its access log so far: one line per request, "<protocol> <alpn or -> <connection
    /// number> <uri> <status>".
    std::vector<std::string> requests() const;
    /// Its error log so far.
    std::string errors() const;

private:
    std::vector<std::string> configure(const std::string& path, const options& opts) const;

    bool http2_directive_ = false; // nginx 1.25.1 or later: `http2 on|off`, not `listen ... http2`
};

} // namespace glue::test

#endif
