// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "support/tinyproxy.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

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

} // namespace

tinyproxy::tinyproxy(const options& opts) : local_server("glue-tinyproxy-") {
    const auto path = tinyproxy_path();
    REQUIRE_MESSAGE(launch([&] { return configure(path, opts); }),
                    "tinyproxy did not start; its log:\n"
                        << log());
}

std::vector<std::string> tinyproxy::configure(const std::string& path, const options& opts) const {
    const auto conf = dir_ / "tinyproxy.conf";
    {
        // No User, Group or PidFile: those need root or the system's directories.
        std::ofstream out(conf, std::ios::trunc);
        out << "Port " << port() << "\nListen 127.0.0.1\nAllow 127.0.0.1\nMaxClients 64\n"
            << "Timeout 60\nLogLevel Info\nLogFile \"" << (dir_ / "tinyproxy.log").string()
            << "\"\n";
        for (auto p : opts.connect_ports) {
            out << "ConnectPort " << p << "\n";
        }
        if (!opts.user.empty()) {
            out << "BasicAuth " << opts.user << " " << opts.password << "\n";
        }
    }
    return {path, "-d", "-c", conf};
}

std::string tinyproxy::url(const std::string& user, const std::string& password) const {
    const auto credentials = user.empty() ? std::string() : user + ":" + password + "@";
    return "http://" + credentials + "127.0.0.1:" + std::to_string(port());
}

std::string tinyproxy::log() const {
    return read("tinyproxy.log");
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
