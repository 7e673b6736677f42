// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.

// The shared cache on Redis (README, "Running a fleet"), through hiredis's async API. hiredis
// builds commands and parses replies; Asio moves the bytes, on each connection's strand (see
// socket_events). Nothing blocks an Asio thread, every command has a deadline, and nothing runs
// in the background.
//
// Per workspace, in Redis:
//   glue:<client_id>:tok:<workspace>    the sealed token, expiring at its hard margin
//   glue:<client_id>:lease:<workspace>  which process is requesting it (PX: one flight)
//   channel glue:<client_id>:tok-ready  the workspace, when a lease ends (token or not)
// Each step is one Lua script, so reading the token and taking the lease can't interleave
// with another process's.

#include "shared_cache/shared_cache.hpp"
#include "support/backoff.hpp"
#include "support/saturating.hpp"
#include "support/waiter.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

namespace glue::detail {

namespace {

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;
using timed_waiter = waiter<asio::steady_timer>;

//------------------------------------------------------------------------------
// The scripts

// KEYS: token, lease. ARGV: the stamp being replaced (or ""), this process's lease id, the
// lease's PX, "1" if the replaced token was rejected by a 401.
// Returns {1, sealed token, PTTL, now} | {2, now} (the lease is ours) | {0, the lease's PTTL};
// `now` is Redis's clock (TIME, in ms since the epoch), the one every process reads alike.
// An empty value counts as none: it has no stamp to be skipped by, so a claim that can't use
// it would be handed it again at once, round after round. A lease without an expiry (not one
// this script set) would never end, and every claim would wait on it: it is taken over.
constexpr std::string_view claim_script = R"lua(
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local v = redis.call('GET', KEYS[1])
if v == '' then v = false end
if v and ARGV[1] ~= '' and string.sub(v, 1, #ARGV[1]) == ARGV[1] then
  if ARGV[4] == '1' then redis.call('DEL', KEYS[1]) end
  v = false
end
if v then return {1, v, redis.call('PTTL', KEYS[1]), now} end
local holder = redis.call('GET', KEYS[2])
if (not holder) or holder == ARGV[2] or redis.call('PTTL', KEYS[2]) < 0 then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  return {2, now}
end
return {0, redis.call('PTTL', KEYS[2])}
)lua";

// KEYS: token, lease. ARGV: the sealed token, its PX, the lease id, the channel, the workspace.
constexpr std::string_view publish_script = R"lua(
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
)lua";

// KEYS: lease. ARGV: the lease id, the channel, the workspace.
constexpr std::string_view release_script = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
)lua";

/// A stored token is taken only while it has at least this long left before its hard margin;
/// closer to it, this process refreshes it instead.
constexpr milliseconds min_shared_remaining{1000};
constexpr milliseconds first_poll{50}, max_poll{1000};
constexpr milliseconds reconnect_base{100}, reconnect_max{5000};

//------------------------------------------------------------------------------
// One Redis connection

// A reply, copied out of hiredis's (freed when its callback returns).
struct reply {
    int type = REDIS_REPLY_NIL;
    long long integer = 0;
    std::string str;
    std::vector<reply> elements;

    static reply of(const redisReply& r) {
        reply out;
        out.type = r.type;
        out.integer = r.integer;
        if (r.str) {
            out.str.assign(r.str, r.len);
        }
        for (std::size_t i = 0; i < r.elements; ++i) {
            out.elements.push_back(of(*r.element[i]));
        }
        return out;
    }
};

// A command's outcome, handed from the connection's strand to the coroutine that sent it.
struct command_op {
    std::mutex mtx;
    waiter_list<timed_waiter> waiters;
    std::optional<result<reply>> outcome;

    void complete(result<reply> r) {
        std::lock_guard lock(mtx);
        if (!outcome) {
            outcome = std::move(r);
            while (!waiters.empty()) {
                waiters.front().wake();
            }
        }
    }
};

// The socket of one hiredis context, as Asio sees it. hiredis formats commands into its
// output buffer and parses what it is fed; Asio moves the bytes:
// - reads with async_read_some (speculative: a descriptor wait could miss an edge of Asio's
//   edge-triggered epoll), fed to hiredis's reader, then hiredis dispatches the replies;
// - writes hiredis's buffer with async_write, which sends with MSG_NOSIGNAL: hiredis's own
//   write() would raise SIGPIPE on a connection Redis has closed. hiredis itself only
//   finishes the connect.
// It reads only while a reply is due or `listening` is set, never in the background: an idle
// connection is no work for the io_context, so a program's run() returns when its own work is
// done (a connection that died while idle is noticed by the next command). The descriptor is
// released, not closed (hiredis owns it), in the cleanup hook hiredis calls as it frees the
// context.
struct socket_events : std::enable_shared_from_this<socket_events> {
    socket_events(const asio::strand<asio::any_io_executor>& s, redisAsyncContext* c, bool v6)
        : strand(s)
        , sock(s, v6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4(), c->c.fd)
        , ac(c) {}

    asio::strand<asio::any_io_executor> strand;
    asio::ip::tcp::socket sock;
    redisAsyncContext* ac; // null once hiredis has freed it
    bool want_read = false, want_write = false, reading = false, writing = false;
    bool listening = false; // read even with no reply due (a subscription, a handshake)
    std::array<char, 16 * 1024> in;
    std::string out; // being written: taken from hiredis's buffer

    void read() {
        if (reading || !ac || !want_read || !(listening || ac->replies.head)) {
            return;
        }
        reading = true;
        sock.async_read_some(
            asio::buffer(in),
            [self = shared_from_this()](error_code ec, std::size_t n) { self->on_read(ec, n); });
    }

    void on_read(error_code ec, std::size_t n) {
        if (!ac || ec == asio::error::operation_aborted) {
            reading = false;
            return;
        }
        if (n > 0) {
            redisReaderFeed(ac->c.reader, in.data(), n);
        }
        // Its own read() then sees EAGAIN, the end of the stream, or more data. It asks for
        // reading again before it hands out the replies: still `reading`, that arms nothing;
        // whether a reply is still due is known only afterwards.
        redisAsyncHandleRead(ac);
        reading = false;
        if (ec) {
            fail();
            return;
        }
        read();
    }

    // No longer listening: a read that waits for nothing due is cancelled.
    void stop_listening() {
        listening = false;
        if (reading && ac && !ac->replies.head) {
            error_code ignored;
            sock.cancel(ignored);
        }
    }

    void flush() {
        if (writing || !ac || !want_write) {
            return;
        }
        if (ac->c.flags & REDIS_CONNECTED) {
            send();
            return;
        }
        writing = true; // connecting: writable once connected (or refused)
        sock.async_wait(asio::socket_base::wait_write, [self = shared_from_this()](error_code ec) {
            self->writing = false;
            if (!ec && self->ac) {
                self->send();
            }
        });
    }

    // Takes what hiredis has buffered, lets hiredis finish the connect if it hasn't (its
    // buffer now empty, it writes nothing), and writes it.
    void send() {
        out.assign(ac->c.obuf, sdslen(ac->c.obuf));
        // sdsclear(), but sds.h's out-of-line functions lack C linkage under C++.
        sdssetlen(ac->c.obuf, 0);
        ac->c.obuf[0] = '\0';
        redisAsyncHandleWrite(ac);
        if (!ac || out.empty()) {
            return;
        }
        writing = true;
        asio::async_write(sock, asio::buffer(out),
                          [self = shared_from_this()](error_code ec, std::size_t) {
                              self->writing = false;
                              if (!self->ac || ec == asio::error::operation_aborted) {
                                  return;
                              }
                              if (ec) {
                                  self->fail();
                                  return;
                              }
                              self->read();  // the replies to what was sent are due
                              self->flush(); // whatever hiredis buffered meanwhile
                          });
    }

    // The connection broke under us: freeing the context fails its pending replies and tells
    // the link (onDisconnect).
    void fail() {
        if (ac) {
            redisAsyncFree(std::exchange(ac, nullptr));
        }
    }

    void attach() {
        ac->ev.data = this;
        ac->ev.addRead = [](void* p) {
            auto* self = static_cast<socket_events*>(p);
            self->want_read = true;
            self->read();
        };
        ac->ev.delRead = [](void* p) { static_cast<socket_events*>(p)->want_read = false; };
        ac->ev.addWrite = [](void* p) {
            // Called from inside hiredis's command functions: flushed after they return.
            auto* self = static_cast<socket_events*>(p);
            self->want_write = true;
            asio::post(self->strand, [self = self->shared_from_this()] { self->flush(); });
        };
        ac->ev.delWrite = [](void* p) { static_cast<socket_events*>(p)->want_write = false; };
        ac->ev.cleanup = [](void* p) {
            auto* self = static_cast<socket_events*>(p);
            self->ac = nullptr;
            self->want_read = self->want_write = false;
            error_code ignored;
            self->sock.cancel(ignored);
            self->sock.release(ignored);
        };
    }
};

// One connection to Redis, on its own strand. Once lost, it connects again when next needed
// (wake()), no sooner than a backoff after the last attempt.
// The command connection sends the scripts; the subscriber connection (with a channel) only
// listens. Ready once its handshake (AUTH, SELECT, PING or SUBSCRIBE) has been answered.
class redis_link : public std::enable_shared_from_this<redis_link> {
public:
    struct handlers {
        std::function<void()> ready;
        std::function<void(std::string_view why)> lost;
        std::function<void(std::string payload)> message; // subscriber only
    };

    redis_link(asio::any_io_executor ex, redis_address a, milliseconds timeout, std::string channel,
               handlers h)
        : strand_(asio::make_strand(ex))
        , address_(std::move(a))
        , timeout_(timeout)
        , channel_(std::move(channel))
        , handlers_(std::move(h))
        , timer_(strand_)
        , resolver_(strand_) {}

    ~redis_link() { drop(); }

    void start() {
        asio::post(strand_, [self = shared_from_this()] { self->connect(); });
    }

    /// Reconnects if the connection is down and the backoff since the last attempt is over.
    /// Called whenever the link is about to be needed: nothing reconnects in the background.
    void wake() {
        asio::post(strand_, [self = shared_from_this()] {
            if (self->state_ == link_state::idle && clock_type::now() >= self->next_attempt_) {
                self->connect();
            }
        });
    }

    /// While on, the connection reads even with no reply due (the subscriber, while claims
    /// wait for notifications).
    void listen(bool on) {
        asio::post(strand_, [self = shared_from_this(), on] {
            self->listening_ = on;
            if (self->events_ && self->state_ == link_state::ready) {
                if (on) {
                    self->events_->listening = true;
                    self->events_->read();
                } else {
                    self->events_->stop_listening();
                }
            }
        });
    }

    void close() {
        asio::post(strand_, [self = shared_from_this()] {
            self->closed_ = true;
            self->timer_.cancel();
            self->resolver_.cancel();
            self->drop();
        });
    }

    /// Sends one command; its reply (an error reply included), or a failure: not connected,
    /// connection lost, errc::timeout at `deadline` (which also drops the connection: a slow
    /// Redis counts as down), operation_aborted when the caller is cancelled.
    asio::awaitable<result<reply>> exec(std::vector<std::string> argv, steady_time deadline) {
        auto op = std::make_shared<command_op>();
        asio::post(strand_, [self = shared_from_this(), op, argv = std::move(argv)] {
            self->submit(op, argv);
        });
        timed_waiter w(co_await asio::this_coro::executor, op->mtx);
        {
            std::unique_lock lock(op->mtx);
            if (op->outcome) {
                co_return std::move(*op->outcome);
            }
            op->waiters.push_back(w);
        }
        if (auto ec = co_await w.wait(op->mtx, deadline)) {
            if (ec == errc::timeout) {
                asio::post(strand_, [self = shared_from_this()] {
                    self->lose("a command took longer than shared_cache_timeout");
                });
            }
            co_return make_failure(ec);
        }
        co_return std::move(*op->outcome);
    }

private:
    enum class link_state { idle, connecting, ready };

    static redis_link* of(const redisAsyncContext* ac) {
        return static_cast<redis_link*>(ac->data);
    }

    void connect() {
        if (closed_ || state_ != link_state::idle) {
            return;
        }
        state_ = link_state::connecting;
        timer_.expires_after(timeout_);
        timer_.async_wait([self = shared_from_this()](error_code ec) {
            if (!ec && self->state_ == link_state::connecting) {
                self->lose("connecting took longer than shared_cache_timeout");
            }
        });
        error_code ec;
        const auto ip = asio::ip::make_address(address_.host, ec);
        if (!ec) {
            open(ip.to_string());
            return;
        }
        // A name is resolved by Asio: hiredis's own lookup would block this thread.
        resolver_.async_resolve(
            address_.host, std::to_string(address_.port),
            [self = shared_from_this()](error_code ec, asio::ip::tcp::resolver::results_type r) {
                if (ec == asio::error::operation_aborted ||
                    self->state_ != link_state::connecting) {
                    return;
                }
                if (ec || r.empty()) {
                    self->lose("the Redis host name did not resolve");
                    return;
                }
                self->open(r.begin()->endpoint().address().to_string());
            });
    }

    void open(const std::string& ip) {
        redisAsyncContext* ac = redisAsyncConnect(ip.c_str(), address_.port);
        if (!ac || ac->err) {
            if (ac) {
                redisAsyncFree(ac);
            }
            lose("cannot connect to Redis");
            return;
        }
        ac_ = ac;
        ac->data = this;
        events_ = std::make_shared<socket_events>(strand_, ac, asio::ip::make_address(ip).is_v6());
        events_->listening = !channel_.empty(); // the subscription's confirmation is due
        events_->attach();
        redisAsyncSetConnectCallback(ac, [](const redisAsyncContext* c, int status) {
            if (status != REDIS_OK) {
                of(c)->lost(c, "cannot connect to Redis"); // hiredis frees it on return
            }
        });
        redisAsyncSetDisconnectCallback(ac, [](const redisAsyncContext* c, int) {
            of(c)->lost(c, "the connection to Redis was lost");
        });
        // The handshake, queued now, sent once connected.
        if (!address_.password.empty()) {
            if (address_.user.empty()) {
                handshake({"AUTH", address_.password});
            } else {
                handshake({"AUTH", address_.user, address_.password});
            }
        }
        if (channel_.empty()) {
            if (address_.db != 0) {
                handshake({"SELECT", std::to_string(address_.db)});
            }
            handshake({"PING"});
        } else {
            send(ac_, &on_subscribed, this, {"SUBSCRIBE", channel_});
        }
    }

    static bool send(redisAsyncContext* ac, redisCallbackFn* fn, void* priv,
                     const std::vector<std::string>& argv) {
        std::vector<const char*> args;
        std::vector<std::size_t> lens;
        for (const auto& a : argv) {
            args.push_back(a.data());
            lens.push_back(a.size());
        }
        return redisAsyncCommandArgv(ac, fn, priv, static_cast<int>(args.size()), args.data(),
                                     lens.data()) == REDIS_OK;
    }

    void handshake(const std::vector<std::string>& argv) {
        ++handshake_pending_;
        send(ac_, &on_handshake, this, argv);
    }

    static void on_handshake(redisAsyncContext* ac, void* r, void* priv) {
        auto* self = static_cast<redis_link*>(priv);
        if (self->ac_ != ac || self->state_ != link_state::connecting) {
            return;
        }
        const auto* rep = static_cast<const redisReply*>(r);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            // AUTH or SELECT refused: Redis's text may echo the command, so it isn't repeated.
            self->lost(nullptr, "Redis refused the handshake (AUTH or SELECT)");
            return;
        }
        if (--self->handshake_pending_ == 0) {
            self->became_ready();
        }
    }

    // The subscription's callback: first its confirmation, then every message, then (null)
    // when the connection ends.
    static void on_subscribed(redisAsyncContext* ac, void* r, void* priv) {
        auto* self = static_cast<redis_link*>(priv);
        const auto* rep = static_cast<const redisReply*>(r);
        if (self->ac_ != ac || !rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 3) {
            return;
        }
        const auto* kind = rep->element[0];
        const std::string_view k(kind->str ? kind->str : "", kind->str ? kind->len : 0);
        if (k == "subscribe" && self->state_ == link_state::connecting &&
            self->handshake_pending_ == 0) {
            self->became_ready();
        } else if (k == "message" && rep->element[2]->str) {
            self->handlers_.message(std::string(rep->element[2]->str, rep->element[2]->len));
        }
    }

    static void on_reply(redisAsyncContext*, void* r, void* priv) {
        std::unique_ptr<std::shared_ptr<command_op>> op(
            static_cast<std::shared_ptr<command_op>*>(priv));
        if (const auto* rep = static_cast<const redisReply*>(r)) {
            (*op)->complete(reply::of(*rep));
        } else {
            (*op)->complete(
                make_failure(asio::error::connection_reset, "the connection to Redis was lost"));
        }
    }

    void became_ready() {
        state_ = link_state::ready;
        attempts_ = 0;
        timer_.cancel();
        if (!listening_) {
            events_->stop_listening();
        }
        handlers_.ready();
    }

    void submit(const std::shared_ptr<command_op>& op, const std::vector<std::string>& argv) {
        if (state_ != link_state::ready) {
            op->complete(make_failure(asio::error::not_connected, "not connected to Redis"));
            return;
        }
        auto* holder = new std::shared_ptr<command_op>(op);
        if (!send(ac_, &on_reply, holder, argv)) {
            delete holder;
            op->complete(make_failure(asio::error::not_connected, "not connected to Redis"));
            return;
        }
        events_->read(); // a reply is due now
    }

    // From inside a hiredis callback, where the context must not be freed: `c`, which hiredis
    // is freeing, is forgotten; the rest happens once the callback has returned.
    void lost(const redisAsyncContext* c, std::string_view why) {
        if (c && c != ac_) {
            return; // a context this link already let go of
        }
        if (c) {
            ac_ = nullptr;
        }
        asio::post(strand_, [self = shared_from_this(), why, ctx = ac_] {
            if (self->ac_ == ctx) {
                self->lose(why);
            }
        });
    }

    // Frees the context (its pending commands complete as lost); unless closed, the next
    // wake() after a backoff connects again.
    void lose(std::string_view why) {
        drop();
        timer_.cancel();
        if (closed_) {
            return;
        }
        handlers_.lost(why);
        const auto delay = backoff_delay(reconnect_base, ++attempts_, reconnect_max);
        next_attempt_ =
            clock_type::now() + std::max<std::chrono::nanoseconds>(delay, reconnect_base / 2);
    }

    void drop() {
        state_ = link_state::idle;
        handshake_pending_ = 0;
        if (auto* ac = std::exchange(ac_, nullptr)) {
            redisAsyncFree(ac); // calls every pending callback with a null reply
        }
    }

    asio::strand<asio::any_io_executor> strand_;
    const redis_address address_;
    const milliseconds timeout_;
    const std::string channel_;
    const handlers handlers_;
    asio::steady_timer timer_; // the connect deadline
    asio::ip::tcp::resolver resolver_;
    redisAsyncContext* ac_ = nullptr;
    std::shared_ptr<socket_events> events_;
    link_state state_ = link_state::idle;
    unsigned handshake_pending_ = 0;
    unsigned attempts_ = 0; // failed connects since the last success
    clock_type::time_point next_attempt_{};
    bool listening_ = false;
    bool closed_ = false;
};

//------------------------------------------------------------------------------
// The level

std::string random_hex(std::size_t n) {
    std::vector<unsigned char> b(n);
    if (RAND_bytes(b.data(), static_cast<int>(n)) != 1) {
        throw_error(errc::bad_response, "RAND_bytes failed", "shared cache");
    }
    constexpr std::string_view digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : b) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

template <class Rep, class Period>
std::string ms(std::chrono::duration<Rep, Period> d) {
    return std::to_string(saturating_cast<milliseconds>(d).count());
}

// Milliseconds Redis counted (a PTTL), as a duration that steady_clock arithmetic can't
// overflow: negative is none, and none is longer than the longest token lifetime.
milliseconds redis_ms(long long n) {
    constexpr auto most = std::chrono::duration_cast<milliseconds>(max_token_lifetime).count();
    return milliseconds(std::clamp<long long>(n, 0, most));
}

// A reading of Redis's clock (ms since the epoch), kept to a range (up to the year 287,000)
// where sums and differences with the spans above can't overflow.
long long redis_time(long long t) {
    return std::clamp<long long>(t, 0, 1LL << 53);
}

// From `now` to `then` on Redis's clock, as redis_ms.
milliseconds redis_span(long long now, long long then) {
    now = redis_time(now);
    return redis_ms(then > now ? then - now : 0);
}

long long steady_ms(clock_type::time_point t) {
    return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

class redis_shared_cache final : public shared_cache,
                                 public std::enable_shared_from_this<redis_shared_cache> {
public:
    explicit redis_shared_cache(redis_shared_cache_options o)
        : opts_(std::move(o))
        , prefix_("glue:" + opts_.client_id + ":")
        , channel_(prefix_ + "tok-ready")
        , lease_id_(random_hex(16)) {}

    void start(asio::any_io_executor ex) {
        std::weak_ptr<redis_shared_cache> weak = weak_from_this();
        start_deadline_ = saturating_add(clock_type::now(), opts_.timeout);
        commands_ =
            std::make_shared<redis_link>(ex, opts_.address, opts_.timeout, std::string(),
                                         redis_link::handlers{[weak] {
                                                                  if (auto self = weak.lock()) {
                                                                      self->set_up(true, {});
                                                                  }
                                                              },
                                                              [weak](std::string_view why) {
                                                                  if (auto self = weak.lock()) {
                                                                      self->set_up(false, why);
                                                                  }
                                                              },
                                                              {}});
        // Notifications only shorten waits; while this connection is down, polls still end them.
        subscriber_ =
            std::make_shared<redis_link>(ex, opts_.address, opts_.timeout, channel_,
                                         redis_link::handlers{[] {}, [](std::string_view) {},
                                                              [weak](std::string ws) {
                                                                  if (auto self = weak.lock()) {
                                                                      self->notify(ws);
                                                                  }
                                                              }});
        commands_->start();
        subscriber_->start();
    }

    ~redis_shared_cache() override { shutdown(); }

    asio::awaitable<shared_claim> claim(std::string ws, std::string replacing, bool rejected,
                                        steady_time until) override {
        shared_claim out;
        commands_->wake(); // a link that is down is tried again (after its backoff) when needed
        subscriber_->wake();
        if (!co_await available(until)) {
            co_return out;
        }
        const std::string tok = key("tok:", ws), lease = key("lease:", ws);
        watch w(*this, ws);
        for (auto poll = first_poll;;) {
            const auto now = clock_type::now();
            if (now >= until) {
                co_return out; // the other process took too long: request in-process
            }
            // Named, not a temporary in the co_await (GCC 12 mishandles those).
            std::vector<std::string> cmd = {"EVAL",
                                            std::string(claim_script),
                                            "2",
                                            tok,
                                            lease,
                                            replacing,
                                            lease_id_,
                                            ms(opts_.lease_time),
                                            rejected ? "1" : "0"};
            auto r = co_await commands_->exec(std::move(cmd),
                                              std::min(until, saturating_add(now, opts_.timeout)));
            if (!r || r->type != REDIS_REPLY_ARRAY || r->elements.empty()) {
                co_return out;
            }
            const auto& e = r->elements;
            if (e[0].integer == 2) {
                if (e.size() == 2) {
                    redis_clock_offset_ms_ =
                        redis_time(e[1].integer) - steady_ms(clock_type::now());
                }
                out.what = shared_claim::kind::lease;
                co_return out;
            }
            if (e[0].integer == 1 && e.size() == 4) {
                if (auto s = open_token(opts_.key, tok, e[1].str)) {
                    // Usable until the hard margin by Redis's TTL and by the expiry sealed in the
                    // value, both on Redis's clock: no process's own clock, so processes whose
                    // clocks differ still agree. A TTL set again, or an old value written back
                    // with a long one, gains nothing; nor does an expiry past the lifetime.
                    auto& g = s->grant;
                    const auto margin = hard_margin(g.lifetime);
                    const auto left = std::min({std::chrono::nanoseconds(redis_ms(e[2].integer)),
                                                redis_span(e[3].integer, s->expires_at_ms) - margin,
                                                g.lifetime - margin});
                    if (left >= min_shared_remaining) {
                        g.sent_at = clock_type::now() + left + margin - g.lifetime;
                        out.what = shared_claim::kind::token;
                        out.grant = std::move(g);
                        co_return out;
                    }
                }
                // Not one this process can use (another key, no sealed expiry, or too close to
                // its end): the next round takes the lease to replace it.
                replacing = e[1].str.substr(0, stamp_size);
                continue;
            }
            // Another process holds the lease: wait for its notification, polling in case it
            // is lost, never past the lease's end (its holder may have died).
            const auto lease_left =
                std::max(e.size() > 1 ? redis_ms(e[1].integer) : milliseconds(0), milliseconds(1));
            const auto next = std::min({until, now + poll, now + lease_left});
            if (!co_await w.wait(next)) {
                co_return out; // cancelled
            }
            poll = std::min(poll * 2, max_poll);
        }
    }

    asio::awaitable<std::string> publish(std::string ws, const token_grant& g) override {
        const auto usable_until = g.sent_at + g.lifetime - hard_margin(g.lifetime);
        const auto left = usable_until - clock_type::now();
        if (!is_up()) {
            co_return std::string();
        }
        if (left < min_shared_remaining) {
            co_await release(std::move(ws));
            co_return std::string();
        }
        const std::string tok = key("tok:", ws);
        // Its expiry on Redis's clock, as the lease's reply told it (publish follows one).
        const long long expires_at_ms = redis_clock_offset_ms_ + steady_ms(g.sent_at + g.lifetime);
        std::string sealed = seal_token(opts_.key, tok, g, expires_at_ms);
        std::string stamp = sealed.substr(0, stamp_size);
        std::vector<std::string> cmd = {"EVAL",
                                        std::string(publish_script),
                                        "2",
                                        tok,
                                        key("lease:", ws),
                                        std::move(sealed),
                                        ms(left),
                                        lease_id_,
                                        channel_,
                                        ws};
        // The stamp whatever the reply: one that didn't come in time (or an error after the
        // SET) may still leave the value stored, and a 401 must then be able to drop it. A
        // stamp of a value never stored matches nothing.
        co_await commands_->exec(std::move(cmd), saturating_add(clock_type::now(), opts_.timeout));
        co_return stamp;
    }

    asio::awaitable<void> release(std::string ws) override {
        if (is_up()) {
            std::vector<std::string> cmd = {
                "EVAL", std::string(release_script), "1", key("lease:", ws), lease_id_, channel_,
                ws};
            co_await commands_->exec(std::move(cmd),
                                     saturating_add(clock_type::now(), opts_.timeout));
        }
    }

    void shutdown() override {
        {
            std::lock_guard lock(mtx_);
            if (stopped_) {
                return;
            }
            stopped_ = true;
            up_ = false;
            settled_ = true;
            while (!start_waiters_.empty()) {
                start_waiters_.front().wake();
            }
        }
        if (commands_) {
            commands_->close();
            subscriber_->close();
        }
    }

private:
    // Registered while a claim waits, so that a notification that arrives between the claim's
    // script and its wait is not missed: the wait then returns at once.
    struct watch_slot {
        waiter_list<timed_waiter> waiters;
        std::uint64_t generation = 0;
        std::size_t watchers = 0;
    };

    class watch {
    public:
        // The subscriber reads while any claim is under way, and only then.
        watch(redis_shared_cache& l, const std::string& ws) : level_(l) {
            std::lock_guard lock(level_.watch_mtx_);
            auto it = level_.watches_.try_emplace(ws).first;
            ws_ = &it->first;
            slot_ = &it->second;
            ++slot_->watchers;
            seen_ = slot_->generation;
            if (level_.watchers_++ == 0) {
                level_.subscriber_->listen(true);
            }
        }
        ~watch() {
            std::lock_guard lock(level_.watch_mtx_);
            if (--slot_->watchers == 0) {
                level_.watches_.erase(*ws_);
            }
            if (--level_.watchers_ == 0) {
                level_.subscriber_->listen(false);
            }
        }
        watch(const watch&) = delete;
        watch& operator=(const watch&) = delete;

        /// Until a notification for the workspace, or `until`; false when cancelled.
        asio::awaitable<bool> wait(steady_time until) {
            timed_waiter w(co_await asio::this_coro::executor, level_.watch_mtx_);
            {
                std::lock_guard lock(level_.watch_mtx_);
                if (slot_->generation != seen_) {
                    seen_ = slot_->generation;
                    co_return true;
                }
                slot_->waiters.push_back(w);
            }
            const auto ec = co_await w.wait(level_.watch_mtx_, until);
            std::lock_guard lock(level_.watch_mtx_);
            seen_ = slot_->generation;
            co_return ec != asio::error::operation_aborted;
        }

    private:
        redis_shared_cache& level_;
        const std::string* ws_;
        watch_slot* slot_;
        std::uint64_t seen_;
    };

    std::string key(std::string_view kind, std::string_view ws) const {
        std::string k = prefix_;
        k += kind;
        k += ws;
        return k;
    }

    void notify(const std::string& ws) {
        std::lock_guard lock(watch_mtx_);
        auto it = watches_.find(ws);
        if (it != watches_.end()) {
            ++it->second.generation;
            while (!it->second.waiters.empty()) {
                it->second.waiters.front().wake();
            }
        }
    }

    bool is_up() {
        std::lock_guard lock(mtx_);
        return up_;
    }

    // Up: go ahead. Down: no, at once. Not yet settled (the first connection is being made):
    // wait for it, at most until `until` or the start's own deadline.
    asio::awaitable<bool> available(steady_time until) {
        timed_waiter w(co_await asio::this_coro::executor, mtx_);
        {
            std::lock_guard lock(mtx_);
            if (settled_ || stopped_) {
                co_return up_;
            }
            start_waiters_.push_back(w);
        }
        co_await w.wait(mtx_, std::min(until, start_deadline_));
        std::lock_guard lock(mtx_);
        co_return up_;
    }

    // The command connection's state is the level's. Told once per change, so an outage is
    // reported once however many commands it fails.
    void set_up(bool up, std::string_view why) {
        {
            std::lock_guard lock(mtx_);
            if (stopped_) {
                return;
            }
            const bool changed = up != up_ || !settled_;
            up_ = up;
            settled_ = true;
            while (!start_waiters_.empty()) {
                start_waiters_.front().wake();
            }
            if (!changed) {
                return;
            }
        }
        if (opts_.on_event) {
            try {
                opts_.on_event(token_event{up ? token_event::kind::shared_cache_up
                                              : token_event::kind::shared_cache_down,
                                           {},
                                           why,
                                           {}});
            } catch (...) { // a hook must not throw; if it does, the level carries on
            }
        }
    }

    const redis_shared_cache_options opts_;
    const std::string prefix_, channel_;
    const std::string lease_id_; // this process's: a lease it holds is taken again, not waited on
    // Redis's clock less steady_clock's, in ms, from the last lease's reply: publish() dates
    // what it stores on Redis's clock. Until a lease's reply has set it, what it would date is
    // long expired, which is refused by whoever reads it.
    std::atomic<long long> redis_clock_offset_ms_{0};
    std::shared_ptr<redis_link> commands_, subscriber_;

    std::mutex mtx_;
    bool up_ = false, settled_ = false, stopped_ = false;
    steady_time start_deadline_{};
    waiter_list<timed_waiter> start_waiters_;

    std::mutex watch_mtx_;
    std::unordered_map<std::string, watch_slot> watches_;
    std::size_t watchers_ = 0; // claims under way
};

} // namespace

std::shared_ptr<shared_cache> make_redis_shared_cache(asio::any_io_executor ex,
                                                      redis_shared_cache_options opts) {
    auto level = std::make_shared<redis_shared_cache>(std::move(opts));
    level->start(std::move(ex));
    return level;
}

} // namespace glue::detail
