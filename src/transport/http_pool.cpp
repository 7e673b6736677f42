// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The pool: its state under one mutex, the lease rules of pool_policy.hpp carried out, the
// deadline of every exchange in progress, and send(). Over 500 lines because it is one class
// under one mutex: split over files, the lock's invariants could no longer be read in one place.
// Beast's HTTP code is in exchange.cpp, the TLS and socket code in connection.cpp.

#include "transport/http_pool.hpp"

#include <glue/version.hpp>

#include "protocol/ascii.hpp"
#include "support/saturating.hpp"
#include "support/strand_task.hpp"
#include "support/waiter.hpp"
#include "transport/connection.hpp"
#include "transport/exchange.hpp"
#include "transport/h2_session.hpp"
#include "transport/name_lookup.hpp"
#include "transport/pool_policy.hpp"
#include "transport/proxy_tunnel.hpp"

#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/intrusive/list.hpp>
#include <boost/system/errc.hpp>

#include <openssl/crypto.h>

#include <algorithm>
#include <exception>
#include <mutex>
#include <new>
#include <vector>

namespace glue::detail {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

using connection_ptr = std::shared_ptr<connection>;

namespace {

// Whether the calling coroutine has been cancelled. Once it has, Asio's co_await of an awaitable
// throws operation_aborted (this_coro::throw_if_cancelled, on by default); send() checks where a
// cancellation can land while a step's completion is on its way, so that it ends the call as its
// failure rather than as an exception out of the next step.
bool pool_call_cancelled(const asio::cancellation_state& s) noexcept {
    return s.cancelled() != asio::cancellation_type::none;
}

} // namespace

struct http_pool::state : std::enable_shared_from_this<http_pool::state> {
    using timer = asio::steady_timer;

    struct pool_waiter : waiter<timer> {
        pool_waiter(const asio::any_io_executor& ex, std::mutex& owner, steady_time d, bool f)
            : waiter(ex, owner)
            , deadline(d)
            , fresh(f) {}
        steady_time deadline; ///< of the exchange the connection is for
        bool fresh;           ///< only a newly opened connection will do
        connection_ptr conn;
        std::optional<failure> fail;
    };

    using policy = pool_policy<pool_waiter, connection_ptr>;

    state(asio::any_io_executor e, origin o, transport_options opt)
        : ex(std::move(e))
        , org(std::move(o))
        , opts(std::move(opt))
        , lookups(opts.resolve, opts.proxy ? opts.proxy->host : org.host)
        , deadline_timer(ex)
        , leases(opts.max_connections,
                 {saturating_cast<std::chrono::nanoseconds>(opts.connection_idle_timeout),
                  saturating_cast<std::chrono::nanoseconds>(opts.connection_max_lifetime)},
                 offers_h2()) {
        if (opts.user_agent.empty()) {
            opts.user_agent = "glue-cpp/" GLUE_VERSION_STRING;
        }
        if (opts.proxy) {
            // Through a proxy: https:// in a CONNECT tunnel opened with each connection; http://
            // in absolute form, every request carrying the proxy's credentials.
            tunnel.authorization = proxy_authorization(*opts.proxy);
            tunnel.user_agent = opts.user_agent;
            tunnel.header_limit = opts.header_limit;
            if (!org.tls) {
                target_prefix = "http://" + org.host_header;
            }
        }
        // The block in one allocation: the proxy's credentials and the configuration's own
        // headers (checked, lines already) may be secrets, and a reallocation would leave a copy
        // of them in freed memory. 160 bytes hold the fixed names and separators.
        fixed_headers.reserve(160 + org.host_header.size() + opts.user_agent.size() +
                              tunnel.authorization.size() + opts.default_headers.size());
        fixed_headers.append("Host: ")
            .append(org.host_header)
            .append("\r\nUser-Agent: ")
            .append(opts.user_agent)
            .append("\r\nAccept: application/json\r\n");
        if (opts.accept_compressed) {
            fixed_headers += "Accept-Encoding: gzip, deflate\r\n"; // decoded in exchange.cpp
        }
        if (opts.proxy && !org.tls && !tunnel.authorization.empty()) {
            fixed_headers.append("Proxy-Authorization: ")
                .append(tunnel.authorization)
                .append("\r\n");
        }
        fixed_headers += opts.default_headers;
        if (offers_h2()) {
            make_h2_fields();
        }
        OPENSSL_cleanse(opts.default_headers.data(), opts.default_headers.size());
        opts.default_headers.clear();
        if (org.tls) {
            tls_ctx = make_tls_context(opts);
        }
    }

    ~state() {
        OPENSSL_cleanse(fixed_headers.data(), fixed_headers.size());
        OPENSSL_cleanse(tunnel.authorization.data(), tunnel.authorization.size());
    }

    bool offers_h2() const { return org.tls && opts.http2 != http2_mode::off; }

    // The fields of fixed_headers as HTTP/2 sends them (lower case). The vector is sized first,
    // so no value (a default header may be a secret) is moved, leaving a copy behind.
    void make_h2_fields() {
        h2_fields.authority = org.host_header;
        std::size_t lines = 0;
        for_each_header_line(opts.default_headers,
                             [&](std::string_view, std::string_view) { ++lines; });
        h2_fields.fields.reserve(3 + lines);
        auto add = [&](std::string_view name, std::string_view value, bool sensitive) {
            auto& f = h2_fields.fields.emplace_back();
            f.name.resize(name.size());
            std::transform(name.begin(), name.end(), f.name.begin(), ascii_lower);
            f.value.assign(value);
            f.sensitive = sensitive;
        };
        add("user-agent", opts.user_agent, false);
        add("accept", "application/json", false);
        if (opts.accept_compressed) {
            add("accept-encoding", "gzip, deflate", false); // decoded in h2_codec.cpp
        }
        for_each_header_line(
            opts.default_headers,
            [&](std::string_view name, std::string_view value) { add(name, value, true); });
    }

    //--------------------------------------------------------------------------
    // Acquiring and releasing connections

    /// The fast path, no coroutine: a live idle connection leased for `deadline`. Empty when
    /// there is none to take (or `fresh` asks for a new one).
    std::optional<result<connection_ptr>> try_acquire(steady_time deadline, lease_kind kind) {
        for (;;) {
            connection_ptr c;
            const auto now = ageing_now();
            {
                std::lock_guard lock(mtx);
                auto taken = leases.take_idle(kind, now);
                for (const auto& expired : taken.expired) {
                    close_locked(expired, close_reason::aged);
                }
                start_connects_locked(taken.connects);
                if (taken.what == take_outcome::stopped) {
                    return make_failure(asio::error::operation_aborted);
                }
                if (taken.what == take_outcome::none) {
                    return std::nullopt;
                }
                c = std::move(taken.conn);
                if (!c->h2) {
                    lease_locked(*c, deadline);
                }
            }
            // An HTTP/2 connection is read by its session only, which finds a dead one itself.
            if (c->h2 || !c->stale()) {
                return c;
            }
            release(std::move(c), close_reason::stale);
        }
    }

    /// The slow path: waits in line for a connection to come back or to be opened.
    /// A connection handed over by release() was just in use, so it needs no check.
    asio::awaitable<result<connection_ptr>> acquire(steady_time deadline, request_priority prio,
                                                    lease_kind kind) {
        for (;;) {
            if (auto r = try_acquire(deadline, kind)) {
                co_return std::move(*r);
            }
            pool_waiter w(co_await asio::this_coro::executor, mtx, deadline,
                          kind == lease_kind::fresh);
            {
                std::lock_guard lock(mtx);
                auto in_line = leases.line_up(w, prio);
                if (in_line.what == line_up_outcome::stopped) {
                    co_return make_failure(asio::error::operation_aborted);
                }
                if (in_line.what == line_up_outcome::take_idle) {
                    continue; // one came back meanwhile
                }
                if (in_line.close) {
                    close_locked(*in_line.close, close_reason::stale); // room for a fresh one
                }
                start_connects_locked(in_line.connects);
            }
            auto ec = co_await w.wait(mtx, deadline);
            if (ec) {
                co_return make_failure(ec, ec == errc::timeout
                                               ? "deadline passed while waiting for a connection"
                                               : std::string_view{});
            }
            if (w.conn) {
                if (pool_call_cancelled(co_await asio::this_coro::cancellation_state)) {
                    // Cancelled as its wake-up was on its way: what it was handed goes back
                    // unused.
                    if (w.conn->h2) {
                        stream_done(w.conn);
                    } else {
                        release(std::move(w.conn), std::nullopt);
                    }
                    co_return make_failure(asio::error::operation_aborted);
                }
                co_return std::move(w.conn);
            }
            co_return *w.fail;
        }
    }

    /// Gives the connection back: to the first waiter, to the idle list, or closed. `why`:
    /// none when it is fit for reuse, else why it must close.
    void release(connection_ptr c, std::optional<close_reason> why) {
        const auto now = ageing_now();
        std::lock_guard lock(mtx);
        unlease_locked(*c);
        const auto opened = c->opened_at;
        auto p = leases.give_back(std::move(c), !why, opened, now);
        // Why it closes, when it does; closed though fit: too old, or the first in line needs a
        // fresh one (after a stale one).
        auto reason = close_reason::error;
        if (p.what == placement_outcome::close) {
            reason = leases.stopped()                        ? close_reason::shutdown
                     : why                                   ? *why
                     : too_old(leases.ageing(), opened, now) ? close_reason::aged
                                                             : close_reason::stale;
        }
        place_locked(std::move(p), {}, reason);
    }

    /// HTTP/2: a stream of `c` is back.
    void stream_done(const connection_ptr& c) {
        const auto now = ageing_now();
        std::lock_guard lock(mtx);
        auto p = leases.stream_done(c, now);
        place_locked(std::move(p), {}, leases.stopped() ? close_reason::shutdown : c->drain_reason);
    }

    /// HTTP/2: the server changed how many streams `c` may carry.
    void h2_limit(const connection_ptr& c, std::size_t limit) {
        std::lock_guard lock(mtx);
        h2_server_limit = limit;
        place_locked(leases.set_limit(c, limit));
    }

    /// HTTP/2: `c` takes no new stream (GOAWAY, or it failed).
    void h2_drain(const connection_ptr& c, bool goaway) {
        std::lock_guard lock(mtx);
        if (c->drain_reason == close_reason::aged) {
            c->drain_reason = goaway ? close_reason::server_close : close_reason::error;
        }
        place_locked(leases.drain(c), {},
                     leases.stopped() ? close_reason::shutdown : c->drain_reason);
    }

    /// The time connections age by (transport_options::now).
    steady_time ageing_now() const {
        return opts.now ? opts.now() : std::chrono::steady_clock::now();
    }

    /// Carries out where pool_policy put a connection. `why`: a failed connect's reason, for
    /// the waiter told of it; `reason`: why an open connection closes.
    void place_locked(policy::placement p, error_code why = {},
                      close_reason reason = close_reason::error) {
        for (const auto& expired : p.expired) {
            close_locked(expired, close_reason::aged);
        }
        for (auto* w : p.streams) { // HTTP/2: a stream each on p.conn
            w->conn = p.conn;
            w->wake();
        }
        switch (p.what) {
        case placement_outcome::idle:
            break;
        case placement_outcome::hand_over:
            lease_locked(*p.conn, p.waiter->deadline);
            p.waiter->conn = std::move(p.conn);
            p.waiter->wake();
            break;
        case placement_outcome::close:
            if (p.waiter) {
                p.waiter->fail = connect_failure(why);
                p.waiter->wake();
            }
            close_locked(p.conn, reason);
            break;
        }
        start_connects_locked(p.connects);
    }

    /// A leased connection, given back unfit for reuse if an exception leaves it held.
    class lease {
    public:
        lease(state& st, connection_ptr c) : st_(st), c_(std::move(c)) {}
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;
        ~lease() {
            if (c_) {
                st_.release(std::move(c_), close_reason::error);
            }
        }

        connection* operator->() const { return c_.get(); }
        connection& operator*() const { return *c_; }

        void release(std::optional<close_reason> why) { st_.release(std::move(c_), why); }

    private:
        state& st_;
        connection_ptr c_;
    };

    /// An HTTP/2 stream taken on a connection, given back however the exchange ends.
    class stream_lease {
    public:
        stream_lease(state& st, connection_ptr c) : st_(st), c_(std::move(c)) {}
        ~stream_lease() { release(); }
        stream_lease(const stream_lease&) = delete;
        stream_lease& operator=(const stream_lease&) = delete;

        void release() {
            if (c_) {
                st_.stream_done(std::exchange(c_, nullptr));
            }
        }

    private:
        state& st_;
        connection_ptr c_;
    };

    //--------------------------------------------------------------------------
    // Exchange deadlines: one timer for the whole pool, armed for the earliest deadline of the
    // leased connections. Leasing a connection only records its deadline (later than the armed
    // one, nearly always), so a request arms and cancels no timer of its own. With nothing
    // leased the timer is cancelled: an idle client keeps no work on the io_context.

    static constexpr steady_time not_leased{};
    static constexpr steady_time aborted = steady_time::max();

    void lease_locked(connection& c, steady_time deadline) {
        c.exchange_deadline = deadline;
        ++leased;
        if (deadline < armed_until) {
            arm_locked(deadline);
        }
    }

    void unlease_locked(connection& c) {
        if (c.exchange_deadline == not_leased) {
            return;
        }
        c.exchange_deadline = not_leased;
        if (--leased == 0 && armed_until != aborted) {
            armed_until = aborted;
            deadline_timer.cancel();
        }
    }

    void arm_locked(steady_time at) {
        armed_until = at;
        deadline_timer.expires_at(at);
        deadline_timer.async_wait([weak = weak_from_this()](error_code ec) {
            if (auto self = weak.lock(); self && !ec) {
                self->deadline_reached();
            }
        });
    }

    // Aborts the exchanges whose deadline has passed (their I/O fails at once; the caller sees
    // the time and reports a timeout) and re-arms for the next one.
    void deadline_reached() {
        std::lock_guard lock(mtx);
        const auto now = std::chrono::steady_clock::now();
        auto next = aborted;
        for (auto& c : all) {
            if (c.exchange_deadline == not_leased || c.exchange_deadline == aborted) {
                continue;
            }
            if (c.exchange_deadline <= now) {
                c.exchange_deadline = aborted;
                c.abort();
            } else {
                next = std::min(next, c.exchange_deadline);
            }
        }
        armed_until = aborted;
        if (next != aborted && !leases.stopped()) {
            arm_locked(next);
        }
    }

    //--------------------------------------------------------------------------
    // Opening and closing connections

    // The socket is closed by the connection's destructor, once the last reference goes. A
    // connection that never opened is not counted: connect_failures has it.
    void close_locked(const connection_ptr& c, close_reason why) {
        if (c->is_linked() && !c->connect_task && c->opened_ok) {
            ++counts.closes[static_cast<std::size_t>(why)];
        }
        c->unlink();
        if (c->h2) {
            // Its session may be reading (a stream reset and not yet acknowledged): it stops.
            c->h2->stop(c);
            c->abort();
        }
    }

    // Opens the connections pool_policy counted, each as a task of its own with its deadline.
    void start_connects_locked(std::size_t n) {
        for (; n != 0; --n) {
            auto c = std::make_shared<connection>(ex, tls_ctx.get(), buffer_limit);
            all.push_back(*c);
            const auto deadline =
                saturating_add(std::chrono::steady_clock::now(), opts.connect_timeout);
            auto self = shared_from_this();
            c->connect_task = strand_task<timer>::spawn<error_code>(
                ex, deadline, [self, c] { return self->establish(*c); },
                [self, c, deadline](std::exception_ptr ep, error_code ec) {
                    if (ep) {
                        ec = asio::error::operation_aborted;
                    }
                    if (ec == asio::error::operation_aborted &&
                        std::chrono::steady_clock::now() >= deadline) {
                        ec = make_error_code(errc::timeout);
                    }
                    self->connected(c, ec);
                },
                [] {});
        }
    }

    void connected(const connection_ptr& c, error_code ec) {
        const auto now = ageing_now();
        std::lock_guard lock(mtx);
        c->connect_task.reset();
        c->opened_at = now;
        c->opened_ok = !ec;
        if (ec) {
            ++counts.connect_failures;
        } else {
            ++counts.connects;
            counts.tls_handshakes += tls_ctx ? 1 : 0;
        }
        if (!ec && c->h2) {
            std::weak_ptr<state> weak = weak_from_this();
            std::weak_ptr<connection> conn = c;
            h2_session::events e;
            e.limit = [weak, conn](std::size_t n) {
                auto self = weak.lock();
                auto c = conn.lock();
                if (self && c) {
                    self->h2_limit(c, n);
                }
            };
            e.drain = [weak, conn](bool goaway) {
                auto self = weak.lock();
                auto c = conn.lock();
                if (self && c) {
                    self->h2_drain(c, goaway);
                }
            };
            c->h2->set_events(std::move(e));
            h2_server_limit = c->h2->max_concurrent_streams();
            place_locked(leases.opened_multiplexed(c, h2_server_limit, now), ec,
                         close_reason::shutdown);
            return;
        }
        place_locked(leases.opened(c, !ec, now), ec, close_reason::shutdown);
    }

    // On the connect task's strand; its deadline cancels it (terminal), which ends whichever
    // step is running.
    // With a proxy, the connection goes to the proxy's host instead of the origin's. The proxy
    // is chosen once per client, and a client has one pool per origin, so pooled connections
    // are keyed by (proxy, origin): each carries the proxy it was opened through for its life.
    asio::awaitable<error_code> establish(connection& c) {
        const auto& proxy = opts.proxy;
        const std::string& host = proxy ? proxy->host : org.host;
        const std::uint16_t port = proxy ? proxy->port : org.port;
        std::vector<tcp::endpoint> endpoints;
        if (proxy ? proxy->host_is_ip : org.host_is_ip) {
            endpoints.emplace_back(asio::ip::make_address(host), port);
        } else {
            std::vector<asio::ip::address> addresses;
            const auto asked = std::chrono::steady_clock::now();
            auto ec = co_await lookups.resolve(addresses);
            c.times.dns = saturating_sub(std::chrono::steady_clock::now(), asked);
            if (ec) {
                co_return ec;
            }
            if ((proxy ? proxy->loopback_addresses_only : org.loopback_addresses_only) &&
                !std::all_of(addresses.begin(), addresses.end(),
                             [](const asio::ip::address& a) { return a.is_loopback(); })) {
                co_return make_error_code(errc::invalid_argument); // see connect_failure()
            }
            for (const auto& a : addresses) {
                endpoints.emplace_back(a, port);
            }
        }
        auto ec = co_await c.open(endpoints, org, proxy && org.tls ? &tunnel : nullptr);
        if (ec || !offers_h2()) {
            co_return ec;
        }
        if (!c.negotiated_h2()) {
            // See connect_failure(): a server without HTTP/2 when it is required.
            co_return opts.http2 == http2_mode::required
                ? boost::system::errc::make_error_code(boost::system::errc::protocol_not_supported)
                : error_code{};
        }
        // The server's stream limit, when a connection to it learnt it: this one is used at
        // once, without waiting a round trip for its SETTINGS.
        auto limits = h2_limits;
        {
            std::lock_guard lock(mtx);
            limits.assumed_streams = h2_server_limit;
        }
        try {
            c.h2 =
                std::make_unique<h2_session>(c, limits, capture, h2_fields, opts.connect_timeout);
        } catch (const std::bad_alloc&) {
            co_return boost::system::errc::make_error_code(boost::system::errc::not_enough_memory);
        }
        co_return co_await c.h2->start();
    }

    //--------------------------------------------------------------------------
    // Shutdown

    void shutdown() {
        std::vector<connection_ptr> closing;
        std::vector<std::shared_ptr<strand_task<timer>>> tasks;
        {
            std::lock_guard lock(mtx);
            if (!leases.stop()) {
                return;
            }
            armed_until = aborted;
            deadline_timer.cancel();
            while (auto* w = leases.next_to_fail()) {
                w->fail = make_failure(asio::error::operation_aborted);
                w->wake();
            }
            closing = leases.close_idle();
            for (auto& c : closing) {
                close_locked(c, close_reason::shutdown);
            }
            for (auto& c : all) {
                if (c.connect_task) {
                    tasks.push_back(c.connect_task);
                } else {
                    // In use by a caller, maybe on another thread: its I/O fails promptly.
                    // The socket can't be closed meanwhile: that needs this mutex first.
                    c.abort();
                    if (c.h2) {
                        c.h2->stop(c.shared_from_this()); // its streams fail
                    }
                }
            }
        }
        for (auto& t : tasks) {
            t->stop();
        }
    }

    /// What is known of a failed exchange whichever protocol carried it, at `now`; the caller
    /// adds what its protocol tells (reused, response bytes, written, refused).
    failed_exchange failed_facts(error_code ec, const http_request& req, steady_time deadline,
                                 lease_kind kind, steady_time now) {
        failed_exchange facts;
        facts.kind = kind;
        facts.idempotent = req.idempotent;
        facts.aborted = ec == asio::error::operation_aborted || is_stopped();
        facts.deadline_passed = now >= deadline;
        return facts;
    }

    /// After a failed exchange, over either protocol: the failure to report, or none when the
    /// request goes again on a fresh connection (`kind` says so, and the resend is counted).
    std::optional<failure> after_failed(const failed_exchange& facts, error_code ec,
                                        std::string_view why, lease_kind& kind) {
        switch (after_failed_exchange(facts)) {
        case after_failure::aborted:
            return make_failure(asio::error::operation_aborted);
        case after_failure::retry_fresh:
            kind = lease_kind::fresh;
            {
                std::lock_guard lock(mtx);
                ++counts.resends;
            }
            return std::nullopt;
        case after_failure::timeout:
            // The deadline ended it (the pool's timer, or the stream's wait): what the I/O said
            // then is no reason of its own.
            ec = make_error_code(errc::timeout);
            why = {};
            break;
        case after_failure::fail:
            break;
        }
        failure f = map_transport_error(ec, why);
        f.unsent = facts.nothing_written;
        return f;
    }

    bool is_stopped() {
        std::lock_guard lock(mtx);
        return leases.stopped();
    }

    pool_stats stats() {
        std::lock_guard lock(mtx);
        pool_stats s = counts;
        s.connecting = leases.connecting();
        s.open = leases.open() - s.connecting;
        s.idle = leases.idle_count();
        s.leased = leased + leases.streams_in_use();
        s.http2 = leases.multiplexed();
        s.waiting = leases.waiting();
        return s;
    }

    const asio::any_io_executor ex;
    const origin org;
    transport_options opts;
    // A connection's read buffer holds a header, or a line of a chunked body (chunk size and
    // extensions, or a trailer, which Beast 1.81 reads without a limit), with a little room.
    const std::size_t buffer_limit = std::min(opts.header_limit, std::size_t(-1) - 4096) + 4096;
    const header_capture capture{opts.capture_headers}; // the response fields kept
    h2_fixed_fields h2_fields; // HTTP/2: fixed_headers' fields (offers_h2() only)
    const h2_codec::limits h2_limits{opts.header_limit, opts.max_response_body};
    std::string fixed_headers; // Host, User-Agent, Accept: the same on every request
    std::string target_prefix; // before each target: "http://host" through a proxy
    tunnel_request tunnel;     // a proxy's CONNECT, for https:// through it
    std::unique_ptr<ssl::context> tls_ctx;
    host_lookups lookups;

    std::mutex mtx;
    boost::intrusive::list<connection, boost::intrusive::constant_time_size<false>> all;
    std::size_t leased = 0; // handed to a caller for an exchange
    pool_stats counts;      // its counters; the gauges are read from `leases` by stats()
    timer deadline_timer;
    steady_time armed_until = aborted; // the deadline timer's expiry; aborted: not armed
    /// HTTP/2: the server's stream limit as its last SETTINGS said, on any connection (0: none
    /// yet); a new connection assumes it until its own SETTINGS come.
    std::size_t h2_server_limit = 0;
    policy leases; // idle connections, waiters, counts
};

//------------------------------------------------------------------------------

http_pool::http_pool(asio::any_io_executor ex, origin org, transport_options opts)
    : st_(std::make_shared<state>(std::move(ex), std::move(org), std::move(opts))) {}

http_pool::~http_pool() {
    shutdown();
}

void http_pool::shutdown() {
    st_->shutdown();
}

const origin& http_pool::target() const noexcept {
    return st_->org;
}

pool_stats http_pool::stats() const {
    return st_->stats();
}

void http_pool::for_each_request_buffer(function_ref<void(std::string_view)> f) const {
    std::lock_guard lock(st_->mtx);
    for (const auto& c : st_->leases.idle()) {
        f(std::string_view(c->out.data(), c->out.capacity()));
    }
}

// GCC 12 pairs the inlined aligned_alloc inside Asio's frame allocator with the frame's
// operator delete and warns; that delete does release the block through Asio's matching
// aligned_delete.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
asio::awaitable<result<bool>> http_pool::send(http_request& req, http_response& into,
                                              steady_time deadline, request_priority prio,
                                              prepare_fn prepare, send_trace* trace) {
    auto st = st_;
    auto kind = lease_kind::pooled;
    send_trace local; // when the caller wants none: the same steps, never read
    send_trace& t = trace ? *trace : local;
    // Read only when the request waits for a connection or goes again: a connection taken
    // from the idle list at once counts as no wait.
    std::optional<steady_time> asked;
    for (;;) {
        if (pool_call_cancelled(co_await asio::this_coro::cancellation_state)) {
            co_return make_failure(asio::error::operation_aborted); // before a retry
        }
        auto leased = st->try_acquire(deadline, kind);
        if (!leased) {
            asked = asked.value_or(std::chrono::steady_clock::now());
            auto waited = co_await st->acquire(deadline, prio, kind);
            leased.emplace(std::move(waited));
        }
        const auto in_hand = std::chrono::steady_clock::now();
        t.connection_wait = asked ? saturating_sub(in_hand, *asked) : std::chrono::nanoseconds(0);
        if (!*leased) {
            failure f = leased->error();
            f.unsent = true; // no connection: nothing was written
            co_return f;
        }
        if ((**leased)->h2) {
            const connection_ptr c = std::move(**leased);
            state::stream_lease stream(*st, c); // whatever throws gives the stream back
            fallible_step();                    // as prepare() may fail
            if (!prepare(req)) {
                co_return false;
            }
            t.http2 = true;
            t.new_connection = !c->h2_used.exchange(true);
            t.connect = t.new_connection ? c->times : connect_times{};
            auto x = co_await c->h2->exchange(c, req, into, deadline, !req.idempotent);
            t.ended_at = std::chrono::steady_clock::now();
            t.exchange = saturating_sub(t.ended_at, in_hand);
            t.bytes_sent = x.sent;
            t.bytes_received = x.received;
            t.written = x.written && !x.refused;
            stream.release();
            if (!x.ec) {
                co_return true;
            }
            auto facts = st->failed_facts(x.ec, req, deadline, kind, t.ended_at);
            facts.reused = !t.new_connection;
            facts.response_bytes = x.got_response;
            facts.nothing_written = !t.written;
            facts.refused = x.refused;
            if (auto f = st->after_failed(facts, x.ec, x.why, kind)) {
                co_return std::move(*f);
            }
            asked = asked.value_or(in_hand); // the failed try counts as waiting for a connection
            continue;
        }
        // From here to its release, whatever throws gives the connection back.
        state::lease c(*st, std::move(**leased));
        fallible_step(); // as prepare() may fail
        if (!prepare(req)) {
            c.release(std::nullopt);
            co_return false;
        }
        serialize_request(c->out, st->fixed_headers, req, st->target_prefix);
        // A connection whose exchange failed is closed: one not yet reused has carried none.
        t.new_connection = !c->reused;
        t.connect = t.new_connection ? c->times : connect_times{};
        t.http2 = false;
        auto x = co_await exchange(*c, st->opts.header_limit, req.body_limit, st->capture, into);
        t.ended_at = std::chrono::steady_clock::now();
        t.exchange = saturating_sub(t.ended_at, in_hand);
        t.bytes_sent = x.written == std::size_t(-1) ? c->out.size() : x.written;
        t.bytes_received = x.received;
        t.written = t.bytes_sent != 0;
        c->wipe_request();
        if (!x.ec && into.status / 100 == 1) {
            // A 101, or interim responses without end: no answer, and no telling where the
            // connection's next response would start.
            c.release(close_reason::error);
            co_return make_failure(errc::bad_response,
                                   into.status == 101
                                       ? "101 Switching Protocols, but no upgrade was asked for"
                                       : "too many interim (1xx) responses");
        }
        if (!x.ec) {
            c->reused = true;
            // Reused only when the response's end is certain and nothing follows it.
            c.release(!x.keep_alive           ? std::optional(close_reason::server_close)
                      : c->buffer.size() != 0 ? std::optional(close_reason::error)
                                              : std::nullopt);
            co_return true;
        }
        auto facts = st->failed_facts(x.ec, req, deadline, kind, std::chrono::steady_clock::now());
        facts.reused = c->reused;
        facts.response_bytes = x.got_response || c->buffer.size() != 0;
        facts.nothing_written = x.written == 0;
        c.release(facts.aborted || facts.deadline_passed ? close_reason::cancelled
                                                         : close_reason::error);
        if (auto f = st->after_failed(facts, x.ec, x.why, kind)) {
            co_return std::move(*f);
        }
        asked = asked.value_or(in_hand); // the failed try counts as waiting for a connection
        continue;
    }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

} // namespace glue::detail
