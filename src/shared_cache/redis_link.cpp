// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.

#include "shared_cache/redis_link.hpp"

#include "shared_cache/hiredis_adapter.hpp"
#include "support/backoff.hpp"
#include "support/waiter.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <mutex>
#include <optional>
#include <utility>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

namespace glue::detail {

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;
using timed_waiter = waiter<asio::steady_timer>;

// A command's outcome, handed from the connection's strand to the coroutine that sent it.
struct command_op {
    std::mutex mtx;
    waiter_list<timed_waiter> waiters;
    std::optional<result<redis_reply>> outcome;

    void complete(result<redis_reply> r) {
        std::lock_guard lock(mtx);
        if (!outcome) {
            outcome = std::move(r);
            while (!waiters.empty()) {
                waiters.front().wake();
            }
        }
    }
};

namespace {

constexpr milliseconds reconnect_base{100}, reconnect_max{5000};

redis_reply copy_reply(const redisReply& r) {
    redis_reply out;
    out.type = r.type;
    out.integer = r.integer;
    if (r.str) {
        out.str.assign(r.str, r.len);
    }
    for (std::size_t i = 0; i < r.elements; ++i) {
        out.elements.push_back(copy_reply(*r.element[i]));
    }
    return out;
}

redis_link* link_of(const redisAsyncContext* ac) {
    return static_cast<redis_link*>(ac->data);
}

bool send_command(redisAsyncContext* ac, redisCallbackFn* fn, void* priv,
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

} // namespace

redis_link::redis_link(asio::any_io_executor ex, redis_address a, milliseconds timeout,
                       std::string channel, handlers h)
    : strand_(asio::make_strand(ex))
    , address_(std::move(a))
    , timeout_(timeout)
    , channel_(std::move(channel))
    , handlers_(std::move(h))
    , timer_(strand_)
    , resolver_(strand_) {}

redis_link::~redis_link() {
    drop();
}

void redis_link::start() {
    asio::post(strand_, [self = shared_from_this()] { self->connect(); });
}

void redis_link::wake() {
    asio::post(strand_, [self = shared_from_this()] {
        if (self->state_ == link_state::idle && clock_type::now() >= self->next_attempt_) {
            self->connect();
        }
    });
}

void redis_link::listen(bool on) {
    asio::post(strand_, [self = shared_from_this(), on] {
        self->listening_ = on;
        if (self->events_ && self->state_ == link_state::ready) {
            self->events_->listen(on);
        }
    });
}

void redis_link::close() {
    asio::post(strand_, [self = shared_from_this()] {
        self->closed_ = true;
        self->timer_.cancel();
        self->resolver_.cancel();
        self->drop();
    });
}

asio::awaitable<result<redis_reply>> redis_link::exec(std::vector<std::string> argv,
                                                      steady_time deadline) {
    auto op = std::make_shared<command_op>();
    asio::post(strand_,
               [self = shared_from_this(), op, argv = std::move(argv)] { self->submit(op, argv); });
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

void redis_link::connect() {
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
            if (ec == asio::error::operation_aborted || self->state_ != link_state::connecting) {
                return;
            }
            if (ec || r.empty()) {
                self->lose("the Redis host name did not resolve");
                return;
            }
            self->open(r.begin()->endpoint().address().to_string());
        });
}

void redis_link::open(const std::string& ip) {
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
    // The subscriber listens from the start: the subscription's confirmation is due.
    events_ = std::make_shared<hiredis_adapter>(strand_, ac, asio::ip::make_address(ip).is_v6(),
                                                !channel_.empty());
    events_->attach();
    redisAsyncSetConnectCallback(ac, [](const redisAsyncContext* c, int status) {
        if (status != REDIS_OK) {
            link_of(c)->lost(c, "cannot connect to Redis"); // hiredis frees it on return
        }
    });
    redisAsyncSetDisconnectCallback(ac, [](const redisAsyncContext* c, int) {
        link_of(c)->lost(c, "the connection to Redis was lost");
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
        send_command(ac_, &on_subscribed, this, {"SUBSCRIBE", channel_});
    }
}

void redis_link::handshake(const std::vector<std::string>& argv) {
    ++handshake_pending_;
    send_command(ac_, &on_handshake, this, argv);
}

void redis_link::on_handshake(redisAsyncContext* ac, void* r, void* priv) {
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

// The subscription's callback: first its confirmation, then every message, then (null) when
// the connection ends.
void redis_link::on_subscribed(redisAsyncContext* ac, void* r, void* priv) {
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

void redis_link::on_reply(redisAsyncContext*, void* r, void* priv) {
    std::unique_ptr<std::shared_ptr<command_op>> op(
        static_cast<std::shared_ptr<command_op>*>(priv));
    if (const auto* rep = static_cast<const redisReply*>(r)) {
        (*op)->complete(copy_reply(*rep));
    } else {
        (*op)->complete(
            make_failure(asio::error::connection_reset, "the connection to Redis was lost"));
    }
}

void redis_link::became_ready() {
    state_ = link_state::ready;
    attempts_ = 0;
    timer_.cancel();
    if (!listening_) {
        events_->listen(false);
    }
    handlers_.ready();
}

void redis_link::submit(const std::shared_ptr<command_op>& op,
                        const std::vector<std::string>& argv) {
    if (state_ != link_state::ready) {
        op->complete(make_failure(asio::error::not_connected, "not connected to Redis"));
        return;
    }
    auto* holder = new std::shared_ptr<command_op>(op);
    if (!send_command(ac_, &on_reply, holder, argv)) {
        delete holder;
        op->complete(make_failure(asio::error::not_connected, "not connected to Redis"));
        return;
    }
    events_->read(); // a reply is due now
}

// From inside a hiredis callback, where the context must not be freed: `c`, which hiredis is
// freeing, is forgotten; the rest happens once the callback has returned.
void redis_link::lost(const redisAsyncContext* c, std::string_view why) {
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

// Frees the context (its pending commands complete as lost); unless closed, the next wake()
// after a backoff connects again.
void redis_link::lose(std::string_view why) {
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

void redis_link::drop() {
    state_ = link_state::idle;
    handshake_pending_ = 0;
    if (auto* ac = std::exchange(ac_, nullptr)) {
        redisAsyncFree(ac); // calls every pending callback with a null reply
    }
}

} // namespace glue::detail
