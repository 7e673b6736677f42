// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "support/redis_server.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace glue::test {

namespace {

std::string redis_server_path() {
    for (const char* p : {"/usr/bin/redis-server", "/usr/local/bin/redis-server"}) {
        if (std::filesystem::exists(p)) {
            return p;
        }
    }
    FAIL("redis-server is not installed: scripts/setup installs it (Debian's redis-server)");
    return {};
}

redis_value value_of(const redisReply& r) {
    redis_value v;
    v.type = r.type;
    v.integer = r.integer;
    if (r.str) {
        v.str.assign(r.str, r.len);
    }
    for (std::size_t i = 0; i < r.elements; ++i) {
        v.elements.push_back(value_of(*r.element[i]));
    }
    return v;
}

} // namespace

redis_server::redis_server() {
    for (int attempt = 0; attempt < 3 && !process_; ++attempt) {
        port_ = free_loopback_port();
        start();
    }
    REQUIRE_MESSAGE(process_, "redis-server did not start");
}

redis_server::~redis_server() {
    kill();
}

std::string redis_server::url(unsigned db) const {
    return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
}

void redis_server::start() {
    process_ = std::make_unique<child_process>(std::vector<std::string>{
        redis_server_path(), "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--dir", std::filesystem::temp_directory_path().string(), "--logfile",
        "/dev/null", "--daemonize", "no"});
    // Ready when it answers PING; gone if it exited (the port was taken after all).
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
        if (process_->wait(std::chrono::milliseconds(0)) != -1) {
            process_.reset();
            return;
        }
        timeval tv{0, 200'000};
        redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
        const bool up = c && !c->err && [&] {
            auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
            const bool pong = r && r->type == REDIS_REPLY_STATUS;
            freeReplyObject(r);
            return pong;
        }();
        redisFree(c);
        if (up) {
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    process_.reset();
}

void redis_server::kill() {
    if (process_) {
        process_->kill();
        process_.reset();
    }
}

void redis_server::restart() {
    kill();
    start();
    REQUIRE_MESSAGE(process_, "redis-server did not start again on port " << port_);
}

void redis_server::pause() {
    process_->signal(SIGSTOP);
}

void redis_server::resume() {
    process_->signal(SIGCONT);
}

redis_value redis_server::command(const std::vector<std::string>& argv) const {
    timeval tv{5, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
    REQUIRE_MESSAGE((c && !c->err), "cannot connect to redis-server");
    std::vector<const char*> args;
    std::vector<std::size_t> lens;
    for (const auto& a : argv) {
        args.push_back(a.data());
        lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(args.size()), args.data(), lens.data()));
    redisFree(c);
    REQUIRE_MESSAGE(r, "no reply from redis-server");
    redis_value v = value_of(*r);
    freeReplyObject(r);
    return v;
}

} // namespace glue::test
