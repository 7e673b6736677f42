// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The HTTP transport. This is the one translation unit that instantiates Beast and Asio's SSL
// stream, so the rest of the library compiles without them.

#include "transport/http_pool.hpp"

#include <glue/version.hpp>

#include "support/saturating.hpp"
#include "support/strand_task.hpp"
#include "support/waiter.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/intrusive/list.hpp>

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <limits>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>
#include <vector>

#include <sys/socket.h>

namespace glue::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

//------------------------------------------------------------------------------
// Connections and the pool

namespace {

std::atomic<int> steps_until_failure{0}; // fail_transport_step_for_testing()

// A step of send() that may run out of memory; the test hook makes it.
void fallible_step() {
    if (steps_until_failure.load(std::memory_order_relaxed) > 0 &&
        steps_until_failure.fetch_sub(1, std::memory_order_relaxed) == 1) {
        throw std::bad_alloc();
    }
}

using unlink_hook =
    boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

// One keep-alive connection. Only the holder of its lease performs I/O on it; the pool may
// abort it from any thread (shutdown(2), not close: the descriptor stays valid, so that is safe
// alongside the holder's I/O and makes it fail at once).
struct connection : unlink_hook {
    connection(const asio::any_io_executor& ex, ssl::context* tls_ctx, std::size_t buffer_limit)
        : buffer(buffer_limit) {
        if (tls_ctx) {
            tls.emplace(ex, *tls_ctx);
        } else {
            plain.emplace(ex);
        }
    }

    tcp::socket& socket() { return tls ? tls->next_layer() : *plain; }

    template <class F>
    decltype(auto) with_stream(F&& f) {
        return tls ? f(*tls) : f(*plain);
    }

    /// Makes pending and later I/O on the socket fail (pool mutex held).
    void abort() { ::shutdown(socket().native_handle(), SHUT_RDWR); }

    /// After each exchange: every request carries the client secret or a Bearer token, so its
    /// bytes are overwritten before the buffer is reused (a shorter request would leave them in
    /// the spare capacity) or freed.
    void wipe_request() {
        OPENSSL_cleanse(out.data(), out.size());
        if (out.capacity() > 64 * 1024) {
            std::string().swap(out); // don't keep a large body's buffer for every connection
        }
    }

    ~connection() { OPENSSL_cleanse(out.data(), out.size()); } // an exchange cut short

    std::optional<tcp::socket> plain;
    std::optional<ssl::stream<tcp::socket>> tls;
    beast::flat_buffer buffer; // response bytes read ahead of the parser (bounded)
    std::string out;           // the request being written, reused for the next one
    bool reused = false;       // has carried a complete exchange before
    // Guarded by the pool's mutex:
    std::shared_ptr<strand_task<asio::steady_timer>> connect_task; // set while opening
    steady_time exchange_deadline{}; // while leased: when the exchange must be over
};

using connection_ptr = std::shared_ptr<connection>;

/// Which connection a request may go out on.
enum class lease_kind {
    /// An idle one that shows no sign of having been closed (peeked first).
    pooled,
    /// Only a newly opened one: the second try after a stale connection.
    fresh,
};

/// On TLS, what arrives on an idle connection may be records that carry no data: the session
/// tickets a TLS 1.3 server sends after the handshake (unread until the first response, so a
/// connection opened but not used yet has them), or a close_notify. Lets OpenSSL process them
/// without blocking: harmless if it then waits for more; data, EOF or an error is not.
bool only_tls_housekeeping(ssl::stream<tcp::socket>& s) {
    error_code ec;
    s.next_layer().non_blocking(true, ec);
    if (ec) {
        return false;
    }
    char byte;
    s.read_some(asio::buffer(&byte, 1), ec);
    error_code ignored;
    s.next_layer().non_blocking(false, ignored);
    return ec == asio::error::would_block;
}

/// A keep-alive connection that sat idle may have been closed by the server, or carry bytes
/// nobody asked for: a 408 sent before closing, a TLS close_notify before the FIN. Whatever they
/// are, the next response could not be told from them. Peek without blocking: EOF, an error or
/// anything to read (but TLS records without data) means stale.
bool is_stale(connection& c) {
    if (c.buffer.size() != 0) {
        return true;
    }
    char byte;
    const auto n = ::recv(c.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0) {
        return errno != EAGAIN && errno != EWOULDBLOCK;
    }
    return n == 0 || !c.tls || !only_tls_housekeeping(*c.tls);
}

//------------------------------------------------------------------------------
// Name lookups
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

error_code system_resolve(const std::string& host, std::vector<asio::ip::address>& addresses) {
    asio::io_context local; // synchronous resolve() runs on the calling thread
    error_code ec;
    const auto results = tcp::resolver(local).resolve(host, "", ec);
    for (const auto& r : results) {
        addresses.push_back(r.endpoint().address());
    }
    return ec;
}

struct name_lookup {
    using lookup_waiter = waiter<asio::steady_timer>;

    /// Runs `resolve(host)` on a thread of its own.
    static void launch(const std::shared_ptr<name_lookup>& l, const resolve_fn& resolve,
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

    bool finished() {
        std::lock_guard lock(mtx);
        return done;
    }

    /// The addresses, once the lookup has finished; fails at cancellation (the connect task's
    /// deadline) without waiting for it.
    asio::awaitable<error_code> wait(std::vector<asio::ip::address>& out) {
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

private:
    void finish(error_code ec, std::vector<asio::ip::address> found) {
        std::lock_guard lock(mtx);
        done = true;
        failed = ec;
        addresses = std::move(found);
        while (!waiting.empty()) {
            waiting.front().wake();
        }
    }

    std::mutex mtx;
    bool done = false;
    error_code failed; // why there are no addresses
    std::vector<asio::ip::address> addresses;
    waiter_list<lookup_waiter> waiting;
};

// Parses a response straight into an http_response: no field container, the one header the
// client reads kept, the body appended as it arrives (chunked or not).
class response_parser final : public http::basic_parser<false> {
public:
    explicit response_parser(http_response& r) : r_(r) {}

private:
    void on_request_impl(http::verb, beast::string_view, beast::string_view, int,
                         error_code& ec) override {
        ec = http::error::bad_version; // never called for a response parser
    }
    void on_response_impl(int code, beast::string_view, int, error_code&) override {
        r_.status = static_cast<unsigned>(code);
    }
    void on_field_impl(http::field f, beast::string_view, beast::string_view value,
                       error_code&) override {
        // Retry-After is the one header the client reads; the first of repeated ones counts.
        if (f == http::field::retry_after && r_.retry_after.empty()) {
            r_.retry_after.assign(value.data(), value.size());
        }
    }
    void on_header_impl(error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
        if (length) {
            // Within body_limit by now, but a server's word is no reason to take a large limit
            // up front: beyond 64 KiB the body grows as it arrives.
            r_.body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(*length, 64 * 1024)));
        }
    }
    std::size_t on_body_impl(beast::string_view part, error_code& ec) override {
        return append(part, ec);
    }
    void on_chunk_header_impl(std::uint64_t, beast::string_view, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view part,
                                   error_code& ec) override {
        return append(part, ec);
    }
    void on_finish_impl(error_code&) override {}

    // Out of memory fails the read, rather than throwing through Asio's completion handlers.
    std::size_t append(beast::string_view part, error_code& ec) {
        try {
            fallible_step();
            r_.body.append(part.data(), part.size());
        } catch (const std::bad_alloc&) {
            ec = std::make_error_code(std::errc::not_enough_memory);
            return 0;
        }
        return part.size();
    }

    http_response& r_;
};

// The request in one contiguous buffer, so it leaves in one write (one TLS record when small).
// `fixed` holds the headers every request of the pool carries, each ending in CRLF. Header
// values were checked for control characters before they got here.
void serialize_request(std::string& out, std::string_view fixed, const http_request& req) {
    fallible_step();
    char length[24];
    const auto n = std::to_chars(length, length + sizeof length, req.body.size()).ptr - length;
    out.clear();
    out.reserve(req.target.size() + fixed.size() + req.content_type.size() +
                req.authorization.size() + req.body.size() + 96);
    out.append("POST ").append(req.target).append(" HTTP/1.1\r\n").append(fixed);
    out.append("Content-Type: ").append(req.content_type).append("\r\n");
    if (!req.authorization.empty()) {
        out.append("Authorization: ").append(req.authorization).append("\r\n");
    }
    out.append("Content-Length: ").append(length, static_cast<std::size_t>(n));
    out.append("\r\n\r\n").append(req.body);
}

/// The response being read. An interim (1xx) response is a message of its own, so each message
/// gets a new parser, with the same limits.
struct response_reader {
    /// Interim responses skipped before the answer at most: a server may not hold the exchange
    /// with an endless stream of them.
    static constexpr unsigned max_interim = 8;

    response_reader(std::size_t header_limit, std::uint64_t body_limit)
        // Beast takes a 32-bit limit: a larger one saturates rather than wraps around.
        : header_limit_(static_cast<std::uint32_t>(
              std::min<std::size_t>(header_limit, std::numeric_limits<std::uint32_t>::max())))
        , body_limit_(body_limit) {
        next();
    }
    response_reader(const response_reader&) = delete;
    response_reader& operator=(const response_reader&) = delete;

    /// After an interim response: ready for the next message. False: too many of them.
    bool skip_interim() {
        if (++interim == max_interim) {
            return false;
        }
        next();
        return true;
    }

    /// Whether the response so far is an interim one that may be skipped; a 101 is not (the
    /// client asked for no upgrade: the connection would no longer speak HTTP).
    bool at_interim() const { return response.status / 100 == 1 && response.status != 101; }

    /// Whether any byte of a response came.
    bool got_some() const { return interim != 0 || parser->got_some(); }

    http_response response;
    std::optional<response_parser> parser;
    unsigned interim = 0; // skipped so far

private:
    void next() {
        response = http_response();
        parser.emplace(response);
        parser->header_limit(header_limit_);
        parser->body_limit(body_limit_);
    }

    std::uint32_t header_limit_;
    std::uint64_t body_limit_;
};

// One request and its response on a leased connection: write, then read until the response
// is complete, skipping interim responses. A composed operation rather than a coroutine, so an
// exchange costs one (recycled) allocation instead of a coroutine frame per step. The stream is
// chosen at each step; the connection keeps its TLS or plain stream for its whole life.
struct exchange_op {
    enum class step { start, written, read };
    connection& c;
    response_reader& in;
    step at = step::start;

    template <class Self>
    void operator()(Self& self, error_code ec = {}, std::size_t n = 0) {
        switch (at) {
        case step::start:
            at = step::written;
            c.with_stream(
                [&](auto& s) { asio::async_write(s, asio::buffer(c.out), std::move(self)); });
            return;
        case step::written:
            if (ec) {
                self.complete(ec, n); // n: how much of the request left
                return;
            }
            at = step::read;
            read(self);
            return;
        case step::read:
            if (!ec && in.at_interim() && in.skip_interim()) {
                read(self);
                return;
            }
            self.complete(ec, std::size_t(-1)); // the request left whole
            return;
        }
    }

    template <class Self>
    void read(Self& self) {
        c.with_stream([&](auto& s) { http::async_read(s, c.buffer, *in.parser, std::move(self)); });
    }
};

/// Completes with (error, bytes of the request written when the write failed, else -1).
template <class Token>
auto async_exchange(connection& c, response_reader& in, Token&& token) {
    return asio::async_compose<Token, void(error_code, std::size_t)>(exchange_op{c, in}, token,
                                                                     c.socket());
}

failure connect_failure(error_code ec) {
    if (ec == errc::timeout) {
        return make_failure(ec, "deadline passed while opening a connection");
    }
    if (ec == errc::invalid_argument) {
        return make_failure(ec, "http:// is only allowed for loopback hosts, and the host name "
                                "resolves to an address that is not loopback (see "
                                "allow_insecure_http)");
    }
    return make_failure(ec);
}

failure map_transport_error(error_code ec) {
    if (ec == errc::timeout) {
        return make_failure(errc::timeout, "deadline passed during the HTTP exchange");
    }
    if (ec == http::error::body_limit) {
        return make_failure(errc::bad_response, "response body larger than the limit");
    }
    if (ec == http::error::header_limit) {
        return make_failure(errc::bad_response, "response header larger than the limit");
    }
    if (ec == http::error::buffer_overflow) {
        return make_failure(errc::bad_response,
                            "response line (a chunk size or a trailer) longer than the limit");
    }
    if (ec == http::error::partial_message) {
        return make_failure(errc::bad_response, "response truncated");
    }
    if (ec == http::error::end_of_stream) {
        return make_failure(asio::error::eof, "connection closed before a response");
    }
    if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
        return make_failure(errc::bad_response, "malformed HTTP response");
    }
    return make_failure(ec);
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

    state(asio::any_io_executor e, origin o, transport_options opt)
        : ex(std::move(e))
        , org(std::move(o))
        , opts(std::move(opt))
        , port_string(std::to_string(org.port))
        , deadline_timer(ex) {
        if (opts.user_agent.empty()) {
            opts.user_agent = "glue-cpp/" GLUE_VERSION_STRING;
        }
        fixed_headers = "Host: " + org.host_header + "\r\nUser-Agent: " + opts.user_agent +
                        "\r\nAccept: application/json\r\n";
        if (org.tls) {
            tls_ctx = make_tls_context();
        }
    }

    std::unique_ptr<ssl::context> make_tls_context() const {
        auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
        SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
        ctx->set_verify_mode(ssl::verify_peer);
        error_code ec;
        if (opts.ca_file.empty() && opts.ca_pem.empty()) {
            ctx->set_default_verify_paths(ec);
        }
        if (!ec && !opts.ca_file.empty()) {
            ctx->load_verify_file(opts.ca_file, ec);
        }
        if (!ec && !opts.ca_pem.empty()) {
            ctx->add_certificate_authority(asio::buffer(opts.ca_pem), ec);
        }
        if (ec) {
            throw to_error(make_failure(errc::invalid_argument,
                                        "the trusted CA certificates could not be loaded"),
                           "client");
        }
        return ctx;
    }

    //--------------------------------------------------------------------------
    // Acquiring and releasing connections

    /// The fast path, no coroutine: a live idle connection leased for `deadline`. Empty when
    /// there is none to take (or `fresh` asks for a new one).
    std::optional<result<connection_ptr>> try_acquire(steady_time deadline, lease_kind kind) {
        std::unique_lock lock(mtx);
        for (;;) {
            if (stopped) {
                return make_failure(asio::error::operation_aborted);
            }
            if (kind == lease_kind::fresh || idle.empty()) {
                return std::nullopt;
            }
            connection_ptr c = std::move(idle.back());
            idle.pop_back();
            lease_locked(*c, deadline);
            lock.unlock();
            if (!is_stale(*c)) {
                return c;
            }
            release(std::move(c), false);
            lock.lock();
        }
    }

    /// The slow path: waits in line for a connection to come back or to be opened.
    /// A connection handed over by release() was just in use, so it needs no check.
    asio::awaitable<result<connection_ptr>> acquire(steady_time deadline, request_priority prio,
                                                    lease_kind kind) {
        const bool fresh = kind == lease_kind::fresh;
        for (;;) {
            if (auto r = try_acquire(deadline, kind)) {
                co_return std::move(*r);
            }
            pool_waiter w(co_await asio::this_coro::executor, mtx, deadline, fresh);
            {
                std::lock_guard lock(mtx);
                if (stopped) {
                    co_return make_failure(asio::error::operation_aborted);
                }
                if (!fresh && !idle.empty()) {
                    continue; // one came back meanwhile
                }
                if (fresh && !idle.empty() && open >= opts.max_connections) {
                    // Make room for the fresh connection by closing the oldest idle one.
                    retire_locked(std::move(idle.front()));
                    idle.erase(idle.begin());
                }
                waiting[prio == request_priority::high ? 0 : 1].push_back(w);
                start_connects_locked();
            }
            auto ec = co_await w.wait(mtx, deadline);
            if (ec) {
                co_return make_failure(ec, ec == errc::timeout
                                               ? "deadline passed while waiting for a connection"
                                               : std::string_view{});
            }
            if (w.conn) {
                co_return std::move(w.conn);
            }
            co_return *w.fail;
        }
    }

    /// Gives the connection back: to the first waiter, to the idle list, or closed.
    void release(connection_ptr c, bool reuse) {
        std::lock_guard lock(mtx);
        unlease_locked(*c);
        if (reuse && !stopped) {
            auto* w = front_waiter_locked();
            if (!w) {
                idle.push_back(std::move(c));
                return;
            }
            if (!w->fresh) {
                hand_over_locked(*w, std::move(c));
                return;
            }
            // The first in line needs a fresh connection: close this one to make room for it,
            // rather than serve those behind it first (it might wait until its deadline).
        }
        retire_locked(std::move(c));
    }

    /// A leased connection, given back unfit for reuse if an exception leaves it held.
    class lease {
    public:
        lease(state& st, connection_ptr c) : st_(st), c_(std::move(c)) {}
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;
        ~lease() {
            if (c_) {
                st_.release(std::move(c_), false);
            }
        }

        connection* operator->() const { return c_.get(); }
        connection& operator*() const { return *c_; }

        void release(bool reuse) { st_.release(std::move(c_), reuse); }

    private:
        state& st_;
        connection_ptr c_;
    };

    void hand_over_locked(pool_waiter& w, connection_ptr c) {
        lease_locked(*c, w.deadline);
        w.conn = std::move(c);
        w.wake();
    }

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
        if (next != aborted && !stopped) {
            arm_locked(next);
        }
    }

    // The socket is closed by the connection's destructor, once the last reference goes.
    void retire_locked(connection_ptr c) {
        c->unlink();
        --open;
        start_connects_locked();
    }

    pool_waiter* front_waiter_locked() {
        for (auto& list : waiting) {
            if (!list.empty()) {
                return &list.front();
            }
        }
        return nullptr;
    }

    // Opens connections while waiters outnumber the connections being opened for them.
    void start_connects_locked() {
        while (!stopped && open < opts.max_connections && waiters_beyond_locked(connecting)) {
            ++open;
            ++connecting;
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

    bool waiters_beyond_locked(std::size_t n) const {
        std::size_t count = 0;
        for (auto& list : waiting) {
            for (auto it = list.begin(); it != list.end(); ++it) {
                if (++count > n) {
                    return true;
                }
            }
        }
        return false;
    }

    void connected(const connection_ptr& c, error_code ec) {
        std::lock_guard lock(mtx);
        --connecting;
        c->connect_task.reset();
        if (stopped) {
            retire_locked(c);
            return;
        }
        auto* w = front_waiter_locked();
        if (ec) {
            // Whoever is first in line learns why: a refused connection fails fast. Woken
            // before the slot is freed, so no connection is opened for it again.
            if (w) {
                w->fail = connect_failure(ec);
                w->wake();
            }
            retire_locked(c);
            return;
        }
        if (w) {
            hand_over_locked(*w, c);
        } else {
            idle.push_back(c);
        }
    }

    //--------------------------------------------------------------------------
    // Opening a connection (on the connect task's strand)

    // The connect task's deadline cancels it (terminal), which ends whichever step is running.
    asio::awaitable<error_code> establish(connection& c) {
        auto& socket = c.socket();
        std::vector<tcp::endpoint> endpoints;
        if (org.host_is_ip) {
            endpoints.emplace_back(asio::ip::make_address(org.host), org.port);
        } else {
            std::vector<asio::ip::address> addresses;
            if (auto ec = co_await resolve(addresses)) {
                co_return ec;
            }
            if (org.loopback_addresses_only &&
                !std::all_of(addresses.begin(), addresses.end(),
                             [](const asio::ip::address& a) { return a.is_loopback(); })) {
                co_return make_error_code(errc::invalid_argument); // see connect_failure()
            }
            for (const auto& a : addresses) {
                endpoints.emplace_back(a, org.port);
            }
        }
        // One endpoint at a time: Beast 1.81's range connect takes no modern tokens.
        error_code ec = asio::error::host_not_found;
        for (const auto& ep : endpoints) {
            std::tie(ec) = co_await socket.async_connect(ep, asio::as_tuple(asio::use_awaitable));
            if (!ec || ec == asio::error::operation_aborted) {
                break;
            }
            socket.close(); // try the next address on a new socket
        }
        if (ec) {
            co_return ec;
        }
        socket.set_option(tcp::no_delay(true), ec);
        if (c.tls) {
            if (auto e = prepare_tls(*c.tls)) {
                co_return e;
            }
            std::tie(ec) = co_await c.tls->async_handshake(ssl::stream_base::client,
                                                           asio::as_tuple(asio::use_awaitable));
        }
        co_return ec;
    }

    // Joins the lookup under way, or starts one.
    asio::awaitable<error_code> resolve(std::vector<asio::ip::address>& addresses) {
        std::shared_ptr<name_lookup> l;
        bool launch = false;
        {
            std::lock_guard lock(lookup_mtx);
            if (!lookup || lookup->finished()) {
                lookup = std::make_shared<name_lookup>();
                launch = true;
            }
            l = lookup;
        }
        if (launch) {
            name_lookup::launch(l, opts.resolve, org.host); // a new thread: not under the lock
        }
        co_return co_await l->wait(addresses);
    }

    // SNI (names only: RFC 6066 forbids IP literals) and the peer check that OpenSSL performs
    // during the handshake: host name against DNS SANs, or IP address against IP SANs.
    error_code prepare_tls(ssl::stream<tcp::socket>& s) const {
        SSL* handle = s.native_handle();
        int ok = 0;
        if (org.host_is_ip) {
            ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(handle), org.host.c_str());
        } else {
            // A name matches the DNS SANs only: no partial wildcard ("a*.example.com"), and never
            // the subject CN, not even in a certificate without SANs (RFC 6125 deprecated that
            // fallback and RFC 9525 removed it; public CAs have put every name in the SANs
            // since 2012). OpenSSL's default falls back to the CN when no DNS SAN is present.
            X509_VERIFY_PARAM_set_hostflags(SSL_get0_param(handle),
                                            X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
                                                X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
            ok = SSL_set_tlsext_host_name(handle, org.host.c_str()) &&
                 SSL_set1_host(handle, org.host.c_str());
        }
        if (!ok) {
            return error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category());
        }
        return {};
    }

    //--------------------------------------------------------------------------
    // One request and its response (on the caller's coroutine)

    //--------------------------------------------------------------------------
    // Shutdown

    void shutdown() {
        std::vector<connection_ptr> closing;
        std::vector<std::shared_ptr<strand_task<timer>>> tasks;
        {
            std::lock_guard lock(mtx);
            if (stopped) {
                return;
            }
            stopped = true;
            armed_until = aborted;
            deadline_timer.cancel();
            for (auto& list : waiting) {
                while (!list.empty()) {
                    auto& w = list.front();
                    w.fail = make_failure(asio::error::operation_aborted);
                    w.wake();
                }
            }
            for (auto& c : idle) {
                c->unlink();
                --open;
            }
            closing = std::move(idle);
            for (auto& c : all) {
                if (c.connect_task) {
                    tasks.push_back(c.connect_task);
                } else {
                    // In use by a caller, maybe on another thread: its I/O fails promptly.
                    // The socket can't be closed meanwhile: that needs this mutex first.
                    c.abort();
                }
            }
        }
        for (auto& t : tasks) {
            t->stop();
        }
    }

    bool is_stopped() {
        std::lock_guard lock(mtx);
        return stopped;
    }

    const asio::any_io_executor ex;
    const origin org;
    transport_options opts;
    const std::string port_string;
    // A connection's read buffer holds a header, or a line of a chunked body (chunk size and
    // extensions, or a trailer, which Beast 1.81 reads without a limit), with a little room.
    const std::size_t buffer_limit = std::min(opts.header_limit, std::size_t(-1) - 4096) + 4096;
    std::string fixed_headers; // Host, User-Agent, Accept: the same on every request
    std::unique_ptr<ssl::context> tls_ctx;
    // Not under mtx: a connect task may start running inside start_connects_locked().
    std::mutex lookup_mtx;
    std::shared_ptr<name_lookup> lookup; // the latest one

    std::mutex mtx;
    std::vector<connection_ptr> idle; // back: most recently used
    boost::intrusive::list<connection, boost::intrusive::constant_time_size<false>> all;
    std::size_t open = 0;       // idle, in use, or being opened
    std::size_t connecting = 0; // being opened
    std::size_t leased = 0;     // handed to a caller for an exchange
    timer deadline_timer;
    steady_time armed_until = aborted;   // the deadline timer's expiry; aborted: not armed
    waiter_list<pool_waiter> waiting[2]; // [0]: high priority, served first; [1]: normal
    bool stopped = false;
};

//------------------------------------------------------------------------------

void fail_transport_step_for_testing(int n) noexcept {
    steps_until_failure.store(n, std::memory_order_relaxed);
}

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

void http_pool::for_each_request_buffer(function_ref<void(std::string_view)> f) const {
    std::lock_guard lock(st_->mtx);
    for (const auto& c : st_->idle) {
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
asio::awaitable<result<std::optional<http_response>>> http_pool::send(http_request& req,
                                                                      steady_time deadline,
                                                                      request_priority prio,
                                                                      prepare_fn prepare) {
    auto st = st_;
    auto kind = lease_kind::pooled;
    for (;;) {
        auto leased = st->try_acquire(deadline, kind);
        if (!leased) {
            auto waited = co_await st->acquire(deadline, prio, kind);
            leased.emplace(std::move(waited));
        }
        if (!*leased) {
            failure f = leased->error();
            f.unsent = true; // no connection: nothing was written
            co_return f;
        }
        // From here to its release, whatever throws gives the connection back.
        state::lease c(*st, std::move(**leased));
        fallible_step(); // as prepare() may fail
        if (!prepare(req)) {
            c.release(true);
            co_return std::nullopt;
        }
        serialize_request(c->out, st->fixed_headers, req);
        response_reader in(st->opts.header_limit, req.body_limit);
        error_code ec;
        std::size_t written = 0;
        try {
            std::tie(ec, written) = co_await async_exchange(*c, in, asio::as_tuple(asio::deferred));
        } catch (const boost::system::system_error& e) {
            ec = e.code(); // cancelled before an operation could start
        }
        c->wipe_request();
        if (!ec && in.response.status / 100 == 1) {
            // A 101, or interim responses without end: no answer, and no telling where the
            // connection's next response would start.
            c.release(false);
            co_return make_failure(errc::bad_response,
                                   in.response.status == 101
                                       ? "101 Switching Protocols, but no upgrade was asked for"
                                       : "too many interim (1xx) responses");
        }
        if (!ec) {
            c->reused = true;
            // Reused only when the response's end is certain and nothing follows it.
            const bool keep_alive =
                in.parser->keep_alive() && !in.parser->need_eof() && c->buffer.size() == 0;
            c.release(keep_alive);
            co_return std::optional<http_response>(std::move(in.response));
        }
        const bool was_reused = c->reused;
        const bool got_response_bytes = in.got_some() || c->buffer.size() != 0;
        c.release(false);
        if (ec == asio::error::operation_aborted || st->is_stopped()) {
            co_return make_failure(asio::error::operation_aborted);
        }
        const bool nothing_written = written == 0;
        // A kept-alive connection the server closed just as we reused it (after the peek):
        // nothing of the response came back, so send it again, once, on a fresh connection.
        if (was_reused && kind != lease_kind::fresh && !got_response_bytes &&
            (req.idempotent || nothing_written) && std::chrono::steady_clock::now() < deadline) {
            kind = lease_kind::fresh;
            continue;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            ec = make_error_code(errc::timeout); // the pool's deadline timer aborted it
        }
        failure f = map_transport_error(ec);
        f.unsent = nothing_written;
        co_return f;
    }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

} // namespace glue::detail
