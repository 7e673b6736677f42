// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "support/child_process.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace glue::test {

std::filesystem::path make_temp_dir(const std::string& prefix) {
    std::string dir = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
    if (::mkdtemp(dir.data()) == nullptr) {
        throw std::runtime_error("mkdtemp failed for " + dir + ": " + std::strerror(errno));
    }
    return dir;
}

std::uint16_t free_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        throw std::runtime_error("cannot find a free port");
    }
    ::close(fd);
    return ntohs(a.sin_port);
}

child_process::child_process(std::vector<std::string> argv,
                             const std::map<std::string, std::string>& env) {
    // The environment: the test's own, with `env` set over it.
    std::map<std::string, std::string> vars;
    for (char** e = environ; *e; ++e) {
        const std::string kv = *e;
        const auto eq = kv.find('=');
        vars[kv.substr(0, eq)] = eq == std::string::npos ? std::string() : kv.substr(eq + 1);
    }
    for (const auto& [k, v] : env) {
        vars[k] = v;
    }
    std::vector<std::string> envs;
    for (const auto& [k, v] : vars) {
        envs.push_back(k + "=" + v);
    }
    std::vector<char*> args, envp;
    for (auto& a : argv) {
        args.push_back(a.data());
    }
    args.push_back(nullptr);
    for (auto& e : envs) {
        envp.push_back(e.data());
    }
    envp.push_back(nullptr);

    int fds[2];
    if (::pipe(fds) != 0) {
        throw std::runtime_error("pipe failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    const int err = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    out_ = fds[0];
    if (err != 0) {
        pid_ = -1;
        throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(err));
    }
}

child_process::~child_process() {
    kill();
    if (out_ >= 0) {
        ::close(out_);
    }
}

bool child_process::fill(std::chrono::steady_clock::time_point until) {
    while (std::chrono::steady_clock::now() < until) {
        pollfd p{out_, POLLIN, 0};
        if (::poll(&p, 1, 20) > 0) {
            char buf[4096];
            const ssize_t n = ::read(out_, buf, sizeof buf);
            if (n <= 0) {
                return false; // the end of its output
            }
            buffered_.append(buf, static_cast<std::size_t>(n));
            return true;
        }
    }
    return false;
}

std::string child_process::read_line(std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
        const auto nl = buffered_.find('\n');
        if (nl != std::string::npos) {
            std::string line = buffered_.substr(0, nl);
            buffered_.erase(0, nl + 1);
            return line;
        }
        if (!fill(until)) {
            return {};
        }
    }
}

std::string child_process::read_all(std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (fill(until)) {
    }
    return std::exchange(buffered_, std::string());
}

void child_process::signal(int sig) {
    if (pid_ > 0) {
        ::kill(pid_, sig);
    }
}

int child_process::wait(std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (pid_ > 0) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return status;
        }
        if (std::chrono::steady_clock::now() >= until) {
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
}

void child_process::stop(std::chrono::milliseconds grace) {
    signal(SIGTERM);
    if (wait(grace) == -1) {
        kill();
    }
}

void child_process::kill() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
}

namespace {

bool accepts_on(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    const bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    if (fd >= 0) {
        ::close(fd);
    }
    return ok;
}

} // namespace

local_server::local_server(const std::string& prefix) : dir_(make_temp_dir(prefix)) {}

local_server::~local_server() {
    if (process_) {
        process_->stop(std::chrono::seconds(5));
        process_.reset();
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

bool local_server::launch(const std::function<std::vector<std::string>()>& configure) {
    for (int attempt = 0; attempt < 3; ++attempt) {
        port_ = free_loopback_port();
        process_ = std::make_unique<child_process>(configure());
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < until) {
            if (process_->wait(std::chrono::milliseconds(0)) != -1) {
                break; // gone: the port was taken after all, or the configuration is bad
            }
            if (accepts_on(port_)) {
                return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        process_.reset(); // stops it if it is still there
    }
    return false;
}

std::string local_server::read(const std::string& name) const {
    std::ifstream in(dir_ / name);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

} // namespace glue::test
