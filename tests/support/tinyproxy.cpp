// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "support/tinyproxy.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace glue::test {

namespace {

std::string tinyproxy_path() {
    for (const char* p :
         {"/usr/bin/tinyproxy", "/usr/sbin/tinyproxy", "/usr/local/bin/tinyproxy"}) {
        if (std::filesystem::exists(p)) {
            return p;
        }
    }
    FAIL("tinyproxy is not installed: scripts/setup installs it (Debian's tinyproxy)");
    return {};
}

bool accepts(std::uint16_t port) {
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

tinyproxy::tinyproxy(options opts) {
    const auto path = tinyproxy_path();
    dir_ = make_temp_dir("glue-tinyproxy-");
    for (int attempt = 0; attempt < 3 && !process_; ++attempt) {
        port_ = free_loopback_port();
        if (!start(path, opts)) {
            process_.reset();
        }
    }
    REQUIRE_MESSAGE(process_, "tinyproxy did not start; its log:\n" << log());
}

tinyproxy::~tinyproxy() {
    if (process_) {
        process_->stop(std::chrono::seconds(5));
        process_.reset();
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

bool tinyproxy::start(const std::string& path, const options& opts) {
    const auto conf = dir_ / "tinyproxy.conf";
    {
        // No User, Group or PidFile: those need root or the system's directories.
        std::ofstream out(conf, std::ios::trunc);
        out << "Port " << port_ << "\nListen 127.0.0.1\nAllow 127.0.0.1\nMaxClients 64\n"
            << "Timeout 60\nLogLevel Info\nLogFile \"" << (dir_ / "tinyproxy.log").string()
            << "\"\n";
        for (auto p : opts.connect_ports) {
            out << "ConnectPort " << p << "\n";
        }
        if (!opts.user.empty()) {
            out << "BasicAuth " << opts.user << " " << opts.password << "\n";
        }
    }
    process_ = std::make_unique<child_process>(std::vector<std::string>{path, "-d", "-c", conf});
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
        if (process_->wait(std::chrono::milliseconds(0)) != -1) {
            return false; // gone: the port was taken after all
        }
        if (accepts(port_)) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

std::string tinyproxy::url(const std::string& user, const std::string& password) const {
    const auto credentials = user.empty() ? std::string() : user + ":" + password + "@";
    return "http://" + credentials + "127.0.0.1:" + std::to_string(port_);
}

std::string tinyproxy::log() const {
    std::ifstream in(dir_ / "tinyproxy.log");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::size_t tinyproxy::requests(const std::string& method_and_target) const {
    // Each request is logged as "Request (file descriptor N): <request line>".
    std::istringstream lines(log());
    std::size_t n = 0;
    for (std::string line; std::getline(lines, line);) {
        const auto at = line.find("Request (file descriptor ");
        if (at == std::string::npos) {
            continue;
        }
        const auto colon = line.find("): ", at);
        n += colon != std::string::npos &&
             line.compare(colon + 3, method_and_target.size(), method_and_target) == 0;
    }
    return n;
}

std::size_t tinyproxy::connects() const {
    return requests("CONNECT ");
}

} // namespace glue::test
