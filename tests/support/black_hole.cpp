// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "support/black_hole.hpp"

#include <chrono>
#include <optional>

namespace glue::test {

namespace {

using tcp = asio::ip::tcp;

tcp::acceptor listen_with_no_backlog(asio::io_context& ioc, const tcp::endpoint& at) {
    tcp::acceptor a(ioc, at.protocol());
    a.bind(at);
    a.listen(0); // the accept queue then holds one connection (Linux: backlog + 1)
    return a;
}

} // namespace

black_hole::black_hole(const std::string& address, std::uint16_t port)
    : acceptor_(listen_with_no_backlog(ioc_, {asio::ip::make_address(address), port})) {
    // Connect until a connect goes unanswered for 100 ms; the ones that completed stay parked
    // in the queue, so it stays full for the black hole's life.
    const auto at = acceptor_.local_endpoint();
    parked_.reserve(8);
    for (int i = 0; i < 8 && !hangs_; ++i) {
        auto& s = parked_.emplace_back(ioc_);
        std::optional<boost::system::error_code> result;
        s.async_connect(at, [&](boost::system::error_code ec) { result = ec; });
        ioc_.restart();
        ioc_.run_for(std::chrono::milliseconds(100));
        if (!result) {
            hangs_ = true;
            s.close(); // the pending connect ends with operation_aborted
            ioc_.restart();
            ioc_.run();
            parked_.pop_back();
        }
    }
}

void black_hole::open_up() {
    acceptor_.non_blocking(true);
    for (;;) {
        tcp::socket s(ioc_);
        boost::system::error_code ec;
        acceptor_.accept(s, ec);
        if (ec) {
            return; // would_block: the queue is empty
        }
        accepted_.push_back(std::move(s));
    }
}

bool can_bind(const std::string& address) {
    asio::io_context ioc;
    tcp::acceptor a(ioc);
    const tcp::endpoint at(asio::ip::make_address(address), 0);
    boost::system::error_code ec;
    a.open(at.protocol(), ec);
    if (!ec) {
        a.bind(at, ec);
    }
    return !ec;
}

} // namespace glue::test
