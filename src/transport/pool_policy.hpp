// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TRANSPORT_POOL_POLICY_HPP
#define GLUE_TRANSPORT_POOL_POLICY_HPP

// The connection pool's lease rules without I/O, timers or clocks: who gets a connection that
// comes back or was just opened, when to open one, when an idle one is unfit or too old, what a
// shutdown takes down, and when a failed exchange is tried again. The pool (http_pool.cpp) consults
// them under its mutex and carries out what they return: waking waiters, opening and closing
// connections (docs/design.md, "Transport").

#include "support/clock.hpp"
#include "transport/http_pool.hpp"

#include <boost/intrusive/list.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <iterator>
#include <optional>
#include <utility>
#include <vector>

namespace glue::detail {

/// Which connection a request may go out on.
enum class lease_kind {
    /// An idle one that shows no sign of having been closed (checked first), or any new one.
    pooled,
    /// Only a newly opened one: the second try after a stale connection.
    fresh,
};

//------------------------------------------------------------------------------
// Staleness of an idle connection
//
// A keep-alive connection that sat idle may have been closed by the server, or carry bytes
// nobody asked for: a 408 sent before closing, a TLS close_notify before the FIN. Whatever they
// are, the next response could not be told from them. The check looks once at the connection,
// then peeks at its socket without blocking, then (TLS only) lets OpenSSL read what came.

/// The next look at an idle connection, or the verdict.
enum class idle_check {
    peek,             ///< peek at the socket without blocking; then after_peek()
    read_tls_records, ///< let TLS process what came without blocking; then after_tls_records()
    fit,
    stale,
};

/// What a non-blocking peek at a socket found.
enum class peek_result {
    nothing, ///< it would block: nothing to read, the connection open
    eof,
    error,
    bytes,
};

/// First look: response bytes read ahead of any request make it stale at once.
idle_check check_idle(std::size_t buffered) noexcept;

/// After the peek. On TLS, what arrives on an idle connection may be records that carry no data:
/// the session tickets a TLS 1.3 server sends after the handshake (unread until the first
/// response, so a connection opened but not used yet has them), or a close_notify.
idle_check after_peek(peek_result peek, bool tls) noexcept;

/// After TLS processed what came: only records without data (it then waits for more) is fit;
/// data, EOF or an error is not.
idle_check after_tls_records(bool only_housekeeping) noexcept;

//------------------------------------------------------------------------------
// Ageing
//
// Connections age without a timer of their own (an idle client leaves no work on the
// io_context): their times are looked at when connections are taken and given back.

/// How long a connection may be used (zero: no limit).
struct connection_ageing {
    /// Idle longer than this since it was last given back (or opened): closed, not reused.
    std::chrono::nanoseconds idle_timeout{0};
    /// Opened longer ago than this: retired after its exchange, never leased again.
    std::chrono::nanoseconds max_lifetime{0};
};

/// Whether a connection idle since `since` has been idle too long at `now`.
bool idle_too_long(const connection_ageing& a, steady_time since, steady_time now) noexcept;

/// Whether a connection opened at `opened` is too old at `now`.
bool too_old(const connection_ageing& a, steady_time opened, steady_time now) noexcept;

//------------------------------------------------------------------------------
// A failed exchange

/// What is known when an exchange failed.
struct failed_exchange {
    bool aborted = false; ///< cancelled, or the pool was shut down
    bool reused = false;  ///< the connection had carried a complete exchange before
    lease_kind kind = lease_kind::pooled;
    bool response_bytes = false; ///< any byte of a response came
    bool idempotent = false;     ///< the request may be sent again (http_request::idempotent)
    bool nothing_written = false;
    bool deadline_passed = false;
    /// HTTP/2: the server certainly never processed it (REFUSED_STREAM, past a GOAWAY's last
    /// stream id, or the connection went away before its stream opened).
    bool refused = false;
};

enum class after_failure {
    aborted,     ///< report operation_aborted
    retry_fresh, ///< send it again, once, on a fresh connection
    timeout,     ///< the pool's deadline timer aborted it: report a timeout
    fail,        ///< report the transport's error
};

/// A kept-alive connection the server closed just as it was reused (after the peek): nothing of
/// the response came back, so the request goes again, once, on a fresh connection, if it may be
/// sent twice or none of it left, and there is time. A request an HTTP/2 server refused goes
/// again the same way, a mutation too: it was not processed.
after_failure after_failed_exchange(const failed_exchange& x) noexcept;

//------------------------------------------------------------------------------
// Leases

/// Taking an idle connection without waiting in line.
enum class take_outcome {
    stopped, ///< the pool is shut down
    none,    ///< wait in line (no idle connection fit by age, or a fresh one is needed)
    taken,   ///< the most recently used idle connection; its staleness is still to be checked
};

/// Getting in line for a connection.
enum class line_up_outcome {
    stopped,   ///< the pool is shut down
    take_idle, ///< one came back since take_idle() said none: take it instead
    waiting,   ///< in line
};

/// Where a connection goes that was given back or has just been opened.
enum class placement_outcome {
    idle,      ///< kept for the next request (pool_policy holds it)
    hand_over, ///< to a waiter, now out of line
    close,
};

/// The pool's bookkeeping: its connections counted (open: idle, leased or being opened;
/// connecting: being opened), the idle ones (most recently used last) with their times, and the
/// waiters in line, high priority before normal, first come first served within a priority.
/// Every call is made under the pool's mutex and returns what the pool must do.
///
/// Ageing (connection_ageing): taking an idle connection skips those past either limit, and
/// taking or giving one back sweeps the least recently used end of the idle list; those are
/// returned as `expired`, to close. A connection given back past its lifetime is closed rather
/// than kept. Times are passed in: `now` is the pool's clock.
///
/// `Waiter` derives from an auto-unlink intrusive list hook (as support/waiter.hpp's does) and
/// has `bool fresh`: only a newly opened connection will do. A waiter that gives up (its deadline
/// passed, or it was cancelled) unlinks itself under the pool's mutex: it is out of line, so
/// nothing is handed to it and no connection is opened for it. Every waiter this class hands
/// something to is unlinked here, before the connections to open are counted. `Conn` is a
/// handle to a connection (a shared_ptr in the pool, a number in the tests).
template <class Waiter, class Conn>
class pool_policy {
public:
    /// `may_multiplex`: connections may turn out to carry several exchanges at once (HTTP/2
    /// offered by ALPN); until one has opened and said, only one is opened at a time.
    explicit pool_policy(std::size_t max_connections, connection_ageing ageing = {},
                         bool may_multiplex = false) noexcept
        : max_(max_connections)
        , ageing_(ageing)
        , expected_(may_multiplex ? 0 : 1) {}

    struct take_result {
        take_outcome what;
        Conn conn{};                 ///< taken
        std::vector<Conn> expired{}; ///< idle ones past their idle timeout or lifetime: close
        std::size_t connects = 0;    ///< connections to start opening (counted already)
    };

    take_result take_idle(lease_kind kind, steady_time now) {
        if (stopped_) {
            return {take_outcome::stopped};
        }
        take_result r{take_outcome::none};
        sweep(now, r.expired);
        if (kind == lease_kind::pooled) {
            if (auto* m = with_room(now)) {
                ++m->in_use;
                r.what = take_outcome::taken;
                r.conn = m->conn;
                r.connects = start_connects();
                return r;
            }
        }
        while (kind == lease_kind::pooled && !idle_.empty()) {
            idle_conn e = std::move(idle_.back());
            idle_.pop_back();
            if (!too_old(ageing_, e.opened, now)) {
                r.what = take_outcome::taken;
                r.conn = std::move(e.conn);
                break;
            }
            --open_;
            r.expired.push_back(std::move(e.conn));
        }
        r.connects = start_connects();
        return r;
    }

    struct line_up_result {
        line_up_outcome what;
        /// To close now: the oldest idle connection, making room for a fresh one at the limit.
        std::optional<Conn> close{};
        std::size_t connects = 0; ///< connections to start opening (counted already)
    };

    line_up_result line_up(Waiter& w, request_priority prio) {
        if (stopped_) {
            return {line_up_outcome::stopped};
        }
        if (!w.fresh && (!idle_.empty() || has_room())) {
            return {line_up_outcome::take_idle};
        }
        line_up_result r{line_up_outcome::waiting};
        if (w.fresh && !idle_.empty() && open_ >= max_) {
            r.close = std::move(idle_.front().conn);
            idle_.erase(idle_.begin());
            --open_;
        }
        waiting_[prio == request_priority::high ? 0 : 1].push_back(w);
        r.connects = start_connects();
        return r;
    }

    struct placement {
        placement_outcome what;
        Conn conn{}; ///< hand_over, close
        /// hand_over: who gets the connection. close after a failed connect: who learns why,
        /// out of line now (null: nobody waits).
        Waiter* waiter = nullptr;
        std::size_t connects = 0;    ///< connections to start opening (counted already)
        std::vector<Conn> expired{}; ///< idle ones past their idle timeout or lifetime: close
        /// Multiplexed: the waiters given a stream on `conn`, out of line now.
        std::vector<Waiter*> streams{};
    };

    /// A leased connection, opened at `opened`, given back at `now`, fit for another request or
    /// not (`reuse`). Past its lifetime it is retired: closed, as an unfit one.
    placement give_back(Conn c, bool reuse, steady_time opened, steady_time now) {
        std::vector<Conn> expired;
        sweep(now, expired);
        auto p =
            place_given_back(std::move(c), reuse && !too_old(ageing_, opened, now), opened, now);
        p.expired = std::move(expired);
        p.connects += start_connects(); // for the slots the sweep freed
        return p;
    }

    /// A connection being opened at `now` is open (`ok`) or failed. A failure goes to whoever
    /// is first in line: a refused connection fails fast. It is out of line before the slot is
    /// freed, so no connection is opened for it again.
    placement opened(Conn c, bool ok, steady_time now) {
        --connecting_;
        if (stopped_) {
            return close(std::move(c));
        }
        Waiter* w = front();
        if (w) {
            w->unlink();
        }
        if (!ok) {
            auto p = close(std::move(c));
            p.waiter = w;
            return p;
        }
        expected_ = 1; // one exchange per connection: those waiting beyond it get their own
        placement p{placement_outcome::idle};
        if (w) {
            p = {placement_outcome::hand_over, std::move(c), w};
        } else {
            idle_.push_back({std::move(c), now, now});
        }
        p.connects = start_connects();
        return p;
    }

    //--------------------------------------------------------------------------
    // Multiplexed connections (HTTP/2): each carries up to `limit` exchanges at once (the
    // server's SETTINGS_MAX_CONCURRENT_STREAMS), one stream each. A stream is taken like a
    // connection (take_idle, line_up, a hand-over) and given back with stream_done(). One
    // draining (GOAWAY, or failed) takes no new stream and closes when its last one is back.

    /// A connection being opened at `now` is open and multiplexes, `limit` streams at once: the
    /// first `limit` waiters in line get a stream on it (placement::streams).
    placement opened_multiplexed(Conn c, std::size_t limit, steady_time now) {
        --connecting_;
        if (stopped_) {
            return close(std::move(c));
        }
        limit = std::max<std::size_t>(limit, 1);
        expected_ = limit;
        mux_.push_back({c, 0, limit, false, now, now});
        placement p{placement_outcome::idle, std::move(c)};
        hand_streams(mux_.back(), p.streams, true);
        p.connects = start_connects();
        return p;
    }

    /// A stream of `c` is back at `now`. Streams it can carry go to waiters; one draining, past
    /// its lifetime or in a stopped pool closes once it carries none.
    placement stream_done(const Conn& c, steady_time now) {
        placement p{placement_outcome::idle};
        auto it = find_mux(c);
        if (it == mux_.end()) {
            return p;
        }
        --it->in_use;
        if (it->in_use == 0) {
            it->since = now;
        }
        if (stopped_ || it->draining || too_old(ageing_, it->opened, now)) {
            it->draining = true;
            return close_drained(it);
        }
        sweep(now, p.expired);
        it = find_mux(c); // the sweep may have moved it
        if (it != mux_.end()) {
            p.conn = it->conn;
            hand_streams(*it, p.streams, false);
        }
        p.connects = start_connects();
        return p;
    }

    /// The server changed how many streams `c` may carry at once.
    placement set_limit(const Conn& c, std::size_t limit) {
        placement p{placement_outcome::idle};
        auto it = find_mux(c);
        if (it == mux_.end() || it->draining) {
            return p;
        }
        it->limit = std::max<std::size_t>(limit, 1);
        expected_ = it->limit;
        p.conn = it->conn;
        hand_streams(*it, p.streams, false);
        p.connects = start_connects();
        return p;
    }

    /// `c` takes no new stream (GOAWAY, or the connection failed); closed now if it carries
    /// none, else when its last stream is back.
    placement drain(const Conn& c) {
        auto it = find_mux(c);
        if (it == mux_.end()) {
            return {placement_outcome::idle};
        }
        it->draining = true;
        if (it->in_use == 0) {
            return close_drained(it);
        }
        placement p{placement_outcome::idle};
        p.connects = start_connects(); // its waiters need another connection
        return p;
    }

    /// Streams carried now, over every multiplexed connection.
    std::size_t streams_in_use() const noexcept {
        std::size_t n = 0;
        for (const auto& m : mux_) {
            n += m.in_use;
        }
        return n;
    }

    /// Multiplexed connections open.
    std::size_t multiplexed() const noexcept { return mux_.size(); }

    /// Shuts the pool; false if it was already. Then every waiter from next_to_fail() fails and
    /// the idle connections from close_idle() close; those leased or being opened are aborted
    /// and come back (give_back, opened) to be closed.
    bool stop() noexcept {
        if (stopped_) {
            return false;
        }
        stopped_ = true;
        return true;
    }

    /// The first in line, taken out of it; null when nobody waits.
    Waiter* next_to_fail() {
        Waiter* w = front();
        if (w) {
            w->unlink();
        }
        return w;
    }

    std::vector<Conn> close_idle() {
        open_ -= idle_.size();
        std::vector<Conn> closing;
        for (auto& e : idle_) {
            closing.push_back(std::move(e.conn));
        }
        idle_.clear();
        for (auto it = mux_.begin(); it != mux_.end();) {
            it->draining = true;
            if (it->in_use == 0) {
                --open_;
                closing.push_back(std::move(it->conn));
                it = mux_.erase(it);
            } else {
                ++it;
            }
        }
        return closing;
    }

    bool stopped() const noexcept { return stopped_; }
    const connection_ageing& ageing() const noexcept { return ageing_; }
    std::size_t open() const noexcept { return open_; }
    /// Connections carrying nothing: idle ones, and multiplexed ones without a stream.
    std::size_t idle_count() const noexcept {
        return idle_.size() +
               static_cast<std::size_t>(std::count_if(
                   mux_.begin(), mux_.end(), [](const mux_conn& m) { return m.in_use == 0; }));
    }
    std::size_t connecting() const noexcept { return connecting_; }

    /// The idle connections, least recently used first (a copy).
    std::vector<Conn> idle() const {
        std::vector<Conn> conns;
        for (const auto& e : idle_) {
            conns.push_back(e.conn);
        }
        return conns;
    }

    /// Waiters in line.
    std::size_t waiting() const noexcept {
        return static_cast<std::size_t>(std::distance(waiting_[0].begin(), waiting_[0].end()) +
                                        std::distance(waiting_[1].begin(), waiting_[1].end()));
    }

private:
    using line = boost::intrusive::list<Waiter, boost::intrusive::constant_time_size<false>>;

    struct idle_conn {
        Conn conn;
        steady_time opened;
        steady_time since; ///< idle since
    };

    struct mux_conn {
        Conn conn;
        std::size_t in_use; ///< streams
        std::size_t limit;  ///< streams at once
        bool draining;
        steady_time opened;
        steady_time since; ///< carrying no stream since
    };

    typename std::vector<mux_conn>::iterator find_mux(const Conn& c) {
        return std::find_if(mux_.begin(), mux_.end(),
                            [&](const mux_conn& m) { return m.conn == c; });
    }

    // The first (oldest) multiplexed connection that takes a stream now: streams gather on as
    // few connections as they fit in. One past its lifetime is drained instead.
    mux_conn* with_room(steady_time now) {
        for (auto& m : mux_) {
            if (!m.draining && too_old(ageing_, m.opened, now)) {
                m.draining = true; // closed by sweep() or stream_done() once it carries none
            }
            if (!m.draining && m.in_use < m.limit) {
                return &m;
            }
        }
        return nullptr;
    }

    bool has_room() const noexcept {
        return std::any_of(mux_.begin(), mux_.end(),
                           [](const mux_conn& m) { return !m.draining && m.in_use < m.limit; });
    }

    // Gives `m`'s free streams to the waiters in line, first come first served. A waiter for a
    // fresh connection takes one only on a connection just opened (`fresh`).
    void hand_streams(mux_conn& m, std::vector<Waiter*>& to, bool fresh) {
        while (!m.draining && m.in_use < m.limit) {
            Waiter* w = front();
            if (!w || (w->fresh && !fresh)) {
                return;
            }
            w->unlink();
            ++m.in_use;
            to.push_back(w);
        }
    }

    placement close_drained(typename std::vector<mux_conn>::iterator it) {
        if (it->in_use != 0) {
            return {placement_outcome::idle};
        }
        Conn c = std::move(it->conn);
        mux_.erase(it);
        return close(std::move(c));
    }

    placement place_given_back(Conn c, bool reuse, steady_time opened, steady_time now) {
        if (reuse && !stopped_) {
            Waiter* w = front();
            if (!w) {
                idle_.push_back({std::move(c), opened, now});
                return {placement_outcome::idle};
            }
            if (!w->fresh) {
                w->unlink();
                return {placement_outcome::hand_over, std::move(c), w};
            }
            // The first in line needs a fresh connection: close this one to make room for it,
            // rather than serve those behind it first (it might wait until its deadline).
        }
        return close(std::move(c));
    }

    // Closes the least recently used idle connections while they are past either limit. Being
    // in order of last use, those idle too long are all at that end; one past its lifetime
    // further in waits until it is taken, or reaches the end.
    void sweep(steady_time now, std::vector<Conn>& expired) {
        auto end = idle_.begin();
        while (end != idle_.end() &&
               (idle_too_long(ageing_, end->since, now) || too_old(ageing_, end->opened, now))) {
            expired.push_back(std::move(end->conn));
            ++end;
        }
        open_ -= static_cast<std::size_t>(end - idle_.begin());
        idle_.erase(idle_.begin(), end);
        for (auto it = mux_.begin(); it != mux_.end();) {
            if (it->in_use == 0 && (it->draining || idle_too_long(ageing_, it->since, now) ||
                                    too_old(ageing_, it->opened, now))) {
                --open_;
                expired.push_back(std::move(it->conn));
                it = mux_.erase(it);
            } else {
                ++it;
            }
        }
    }

    Waiter* front() noexcept {
        for (auto& l : waiting_) {
            if (!l.empty()) {
                return &l.front();
            }
        }
        return nullptr;
    }

    placement close(Conn c) {
        --open_;
        placement p{placement_outcome::close, std::move(c)};
        p.connects = start_connects();
        return p;
    }

    // Opens connections while waiters outnumber what the connections being opened are expected
    // to carry: one exchange each over HTTP/1.1, the last server's stream limit each over
    // HTTP/2; while unknown (expected_ 0), one connection at a time.
    std::size_t start_connects() noexcept {
        std::size_t n = 0;
        while (!stopped_ && open_ < max_ &&
               (expected_ == 0 ? connecting_ == 0 && waiters_beyond(0)
                               : waiters_beyond(saturating_mul(connecting_, expected_)))) {
            ++open_;
            ++connecting_;
            ++n;
        }
        return n;
    }

    bool waiters_beyond(std::size_t n) const noexcept {
        std::size_t count = 0;
        for (const auto& l : waiting_) {
            for (auto it = l.begin(); it != l.end(); ++it) {
                if (++count > n) {
                    return true;
                }
            }
        }
        return false;
    }

    static std::size_t saturating_mul(std::size_t a, std::size_t b) noexcept {
        return b != 0 && a > std::size_t(-1) / b ? std::size_t(-1) : a * b;
    }

    const std::size_t max_;
    const connection_ageing ageing_;
    /// Exchanges a connection being opened is expected to carry at once: 1 over HTTP/1.1, the
    /// last server's stream limit over HTTP/2, 0 while unknown.
    std::size_t expected_;
    std::vector<mux_conn> mux_; // multiplexed connections, oldest first
    std::size_t open_ = 0;
    std::size_t connecting_ = 0;
    std::vector<idle_conn> idle_; // back: most recently used
    line waiting_[2];             // [0]: high priority, served first; [1]: normal
    bool stopped_ = false;
};

} // namespace glue::detail

#endif
