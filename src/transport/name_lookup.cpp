// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.

#include "transport/name_lookup.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>

#include <exception>
#include <system_error>
#include <thread>

namespace glue::detail {

namespace asio = boost::asio;

namespace {

error_code system_resolve(const std::string& host, std::vector<asio::ip::address>& addresses) {
    asio::io_context local; // synchronous resolve() runs on the calling thread
    error_code ec;
    const auto results = asio::ip::tcp::resolver(local).resolve(host, "", ec);
    for (const auto& r : results) {
        addresses.push_back(r.endpoint().address());
    }
    return ec;
}

} // namespace

void name_lookup::launch(const std::shared_ptr<name_lookup>& l, const resolve_fn& resolve,
                         const std::string& host) {
    try {
        std::thread([l, resolve = resolve ? resolve : resolve_fn(system_resolve), host] {
            std::vector<asio::ip::address> found;
            error_code ec;
            try {
                ec = resolve(host, found);
            } catch (const std::exception&) {
                ec = make_error_code(boost::system::errc::not_enough_memory);
            }
            l->finish(ec, std::move(found));
        }).detach();
    } catch (const std::system_error& e) {
        l->finish(e.code(), {});
    }
}

bool name_lookup::finished() {
    std::lock_guard lock(mtx);
    return done;
}

asio::awaitable<error_code> name_lookup::wait(std::vector<asio::ip::address>& out) {
    // Unlinked under the mutex whichever way this frame ends, even destroyed unresumed.
    lookup_waiter w(co_await asio::this_coro::executor, mtx);
    bool wait_for_it = false;
    {
        std::lock_guard lock(mtx);
        if (!done) {
            waiting.push_back(w);
            wait_for_it = true;
        }
    }
    if (wait_for_it) {
        if (auto ec = co_await w.wait(mtx, steady_time::max())) {
            co_return ec;
        }
    }
    std::lock_guard lock(mtx);
    out = addresses;
    co_return failed;
}

void name_lookup::finish(error_code ec, std::vector<asio::ip::address> found) {
    std::lock_guard lock(mtx);
    done = true;
    failed = ec;
    addresses = std::move(found);
    while (!waiting.empty()) {
        waiting.front().wake();
    }
}

asio::awaitable<error_code> host_lookups::resolve(std::vector<asio::ip::address>& addresses) {
    std::shared_ptr<name_lookup> l;
    bool launch = false;
    {
        std::lock_guard lock(mtx_);
        if (!latest_ || latest_->finished()) {
            latest_ = std::make_shared<name_lookup>();
            launch = true;
        }
        l = latest_;
    }
    if (launch) {
        name_lookup::launch(l, resolve_, host_); // a new thread: not under the lock
    }
    co_return co_await l->wait(addresses);
}

} // namespace glue::detail
