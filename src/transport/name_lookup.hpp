// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TRANSPORT_NAME_LOOKUP_HPP
#define GLUE_TRANSPORT_NAME_LOOKUP_HPP

// Name lookups that can be abandoned.
//
// Asio's resolver runs getaddrinfo on a private thread and can't abandon it: a lookup that
// hangs (a DNS server that doesn't answer: resolv.conf's timeout times its attempts, per server)
// outlives connect_timeout, and its pending operation keeps io_context::run() from returning
// even after the client is gone. Here a lookup runs on a detached thread of its own that touches
// nothing but the lookup's shared state: those waiting for it give up at their deadline or when
// cancelled, and an abandoned thread may finish after the client and the io_context are gone.
// A pool has one lookup under way at a time, shared by the connections being opened, so a DNS
// server that hangs costs one thread per pool. c-ares could cancel its queries, but it reads the
// resolver configuration its own way (no nsswitch: /etc/hosts order, mDNS, systemd-resolved),
// so names would resolve differently than for every other program on the host.

#include "support/waiter.hpp"
#include "transport/http_pool.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace glue::detail {

/// One lookup, on a thread of its own, and the coroutines waiting for its answer.
class name_lookup {
public:
    /// Runs `resolve(host)` (empty: the system's resolver) on a thread of its own.
    static void launch(const std::shared_ptr<name_lookup>& l, const resolve_fn& resolve,
                       const std::string& host);

    bool finished();

    /// The addresses, once the lookup has finished; fails at cancellation (the connect task's
    /// deadline) without waiting for it.
    boost::asio::awaitable<error_code> wait(std::vector<boost::asio::ip::address>& out);

private:
    using lookup_waiter = waiter<boost::asio::steady_timer>;

    void finish(error_code ec, std::vector<boost::asio::ip::address> found);

    std::mutex mtx;
    bool done = false;
    error_code failed; // why there are no addresses
    std::vector<boost::asio::ip::address> addresses;
    waiter_list<lookup_waiter> waiting;
};

/// The lookups of one host: the one under way is joined, else a new one starts.
class host_lookups {
public:
    host_lookups(resolve_fn resolve, std::string host)
        : resolve_(std::move(resolve))
        , host_(std::move(host)) {}

    boost::asio::awaitable<error_code> resolve(std::vector<boost::asio::ip::address>& addresses);

private:
    const resolve_fn resolve_;
    const std::string host_;
    // Not the pool's mutex: a connect task may start running while the pool holds it.
    std::mutex mtx_;
    std::shared_ptr<name_lookup> latest_;
};

} // namespace glue::detail

#endif
