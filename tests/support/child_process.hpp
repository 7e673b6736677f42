// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTS_CHILD_PROCESS_HPP
#define GLUE_TESTS_CHILD_PROCESS_HPP

// A program the test starts as a process of its own (an example, a fleet worker, redis-server),
// with its standard output read through a pipe. Killed and reaped when the object goes, so no
// test leaves a process behind.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

namespace glue::test {

/// A port of 127.0.0.1 nothing listens on now (the kernel's choice for a socket bound to port
/// 0), for a server process to listen on: it may be taken by then, so retry on a bind failure.
std::uint16_t free_loopback_port();

/// A new directory of the test's own under the system's temporary one, named `prefix` and six
/// random characters, for a server's configuration and logs. Throws std::runtime_error.
std::filesystem::path make_temp_dir(const std::string& prefix);

class child_process {
public:
    /// Starts `argv[0]` (a path) with `argv`, and the test's environment plus `env`. Throws
    /// std::runtime_error if it can't be started.
    explicit child_process(std::vector<std::string> argv,
                           const std::map<std::string, std::string>& env = {});
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    pid_t pid() const { return pid_; }

    /// The next line of standard output without its '\n', waiting at most `limit`; empty at
    /// the end of the output or the limit.
    std::string read_line(std::chrono::milliseconds limit);
    /// Everything it writes until it closes its output, at most `limit`.
    std::string read_all(std::chrono::milliseconds limit);

    /// Sends `sig`.
    void signal(int sig);
    /// Waits (at most `limit`) for it to end; its wait status, or -1 if it didn't.
    int wait(std::chrono::milliseconds limit);
    /// SIGKILL, then waits.
    void kill();
    /// SIGTERM, then SIGKILL if it has not ended within `grace`: a server gets to clean up.
    void stop(std::chrono::milliseconds grace);

private:
    bool fill(std::chrono::steady_clock::time_point until);

    pid_t pid_ = -1;
    int out_ = -1;
    std::string buffered_;
};

/// A server program a test runs on a free port of 127.0.0.1, with a directory of its own for its
/// configuration and logs (nginx, tinyproxy). Stopped (SIGTERM, then SIGKILL after 5 s) and its
/// directory removed when the object goes.
class local_server {
public:
    std::uint16_t port() const { return port_; }

protected:
    /// Makes its directory (`prefix` and six random characters, under the temporary one).
    explicit local_server(const std::string& prefix);
    ~local_server();
    local_server(const local_server&) = delete;
    local_server& operator=(const local_server&) = delete;

    /// Starts it on a free port, trying up to three (one may be taken between choosing and
    /// binding it): `configure()` writes its configuration for port() and returns its command
    /// line. Whether it accepted connections within 10 s of a start.
    bool launch(const std::function<std::vector<std::string>()>& configure);
    /// The contents of the file `name` in its directory; empty if there is none.
    std::string read(const std::string& name) const;

    const std::filesystem::path dir_;

private:
    std::uint16_t port_ = 0;
    std::unique_ptr<child_process> process_;
};

} // namespace glue::test

#endif
