// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "support/nginx.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <tuple>

namespace glue::test {

namespace {

// The nginx the tests start: GLUE_TEST_NGINX names another one (a script running another Debian
// release's nginx in a chroot, say: it must exec it, so that stopping it stops nginx), Debian's
// /usr/sbin/nginx by default.
std::string nginx_path() {
    const char* p = std::getenv("GLUE_TEST_NGINX");
    return p && *p ? p : "/usr/sbin/nginx";
}

// Whether HTTP/2 is switched on by the `http2` directive rather than by `listen ... http2`: from
// nginx 1.25.1, which warns that the parameter is deprecated (Debian 12 has 1.22, Debian 13
// 1.26). Known by what `nginx -v` says ("nginx version: nginx/1.26.3", on its standard error).
bool has_http2_directive(const std::string& path) {
    child_process v({"/bin/sh", "-c", "exec \"$0\" -v 2>&1", path});
    const auto out = v.read_all(std::chrono::seconds(10));
    v.wait(std::chrono::seconds(5));
    const auto at = out.find("nginx/");
    int major = 0, minor = 0, patch = 0;
    std::istringstream in(at == std::string::npos ? std::string() : out.substr(at + 6));
    char dot1 = 0, dot2 = 0;
    in >> major >> dot1 >> minor >> dot2 >> patch;
    REQUIRE_MESSAGE((in && dot1 == '.' && dot2 == '.'),
                    "no version in what `" << path << " -v` said: " << out);
    return std::tie(major, minor, patch) >= std::make_tuple(1, 25, 1);
}

} // namespace

bool nginx::installed() {
    return std::filesystem::exists(nginx_path());
}

nginx::nginx(const options& opts) : local_server("glue-nginx-") {
    REQUIRE_MESSAGE(installed(),
                    "nginx is not installed: scripts/setup installs it (Debian's nginx-light)");
    std::filesystem::create_directories(dir_ / "html");
    std::ofstream(dir_ / "cert.pem") << opts.cert_pem;
    std::ofstream(dir_ / "key.pem") << opts.key_pem;
    for (const auto& [name, contents] : opts.files) {
        std::ofstream(dir_ / "html" / name, std::ios::binary) << contents;
    }
    const auto path = nginx_path();
    http2_directive_ = has_http2_directive(path);
    REQUIRE_MESSAGE(launch([&] { return configure(path, opts); }),
                    "nginx did not start; its error log:\n"
                        << errors());
}

std::vector<std::string> nginx::configure(const std::string& path, const options& opts) const {
    const auto conf = dir_ / "nginx.conf";
    const auto d = dir_.string();
    {
        std::ofstream out(conf, std::ios::trunc);
        out << "daemon off;\nmaster_process off;\nworker_processes 1;\n"
            << "pid " << d << "/nginx.pid;\nerror_log " << d << "/error.log warn;\n"
            << "events { worker_connections 1024; }\n"
            << "http {\n"
            << "  default_type application/json;\n"
            << "  log_format proto '$server_protocol $ssl_alpn_protocol $connection $uri "
               "$status';\n"
            << "  access_log " << d << "/access.log proto;\n"
            << "  client_body_temp_path " << d << "/body;\n  proxy_temp_path " << d
            << "/proxy;\n  fastcgi_temp_path " << d << "/fastcgi;\n  uwsgi_temp_path " << d
            << "/uwsgi;\n  scgi_temp_path " << d << "/scgi;\n"
            << "  keepalive_timeout 300s;\n  keepalive_requests 100000;\n"
            << "  http2_max_concurrent_streams " << opts.max_streams << ";\n"
            << "  server {\n"
            << "    listen 127.0.0.1:" << port() << " ssl"
            << (opts.http2 && !http2_directive_ ? " http2" : "") << ";\n"
            << (opts.http2 && http2_directive_ ? "    http2 on;\n" : "") << "    ssl_certificate "
            << d << "/cert.pem;\n    ssl_certificate_key " << d << "/key.pem;\n"
            << "    root " << d << "/html;\n"
            << "    location = /oauth/token { return 200 '{\"access_token\":\"tok_h2_0123456789\","
               "\"token_type\":\"bearer\",\"expires_in\":3600}'; }\n"
            << "    location = /public/graphql { return 200 "
               "'{\"data\":{\"me\":{\"id\":\"usr_h2\"}}}'; }\n"
            << opts.server_lines << "  }\n}\n";
    }
    return {path, "-p", d + "/", "-c", conf.string(), "-e", d + "/error.log"};
}

std::string nginx::url() const {
    return "https://127.0.0.1:" + std::to_string(port());
}

std::vector<std::string> nginx::requests() const {
    std::istringstream lines(read("access.log"));
    std::vector<std::string> out;
    for (std::string line; std::getline(lines, line);) {
        out.push_back(line);
    }
    return out;
}

std::string nginx::errors() const {
    return read("error.log");
}

} // namespace glue::test
