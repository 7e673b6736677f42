// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_SHARED_CACHE_REDIS_LINK_HPP
#define GLUE_SHARED_CACHE_REDIS_LINK_HPP

// One connection to Redis through hiredis's async API, on its own strand: hiredis builds
// commands and parses replies, Asio moves the bytes (hiredis_adapter.hpp). Nothing blocks an
// Asio thread, every command has a deadline, and nothing runs in the background: once lost,
// the link connects again when next needed (wake()), no sooner than a backoff after the last
// attempt.

#include "shared_cache/redis_url.hpp"
#include "support/clock.hpp"
#include "support/outcome.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <hiredis/read.h> // REDIS_REPLY_*

struct redisAsyncContext;

namespace glue::detail {

class hiredis_adapter;
struct command_op;

/// A reply, copied out of hiredis's (freed when its callback returns).
struct redis_reply {
    int type = REDIS_REPLY_NIL;
    long long integer = 0;
    std::string str;
    std::vector<redis_reply> elements;
};

/// The command connection sends the scripts; the subscriber connection (with a channel) only
/// listens. Ready once its handshake (AUTH, SELECT, PING or SUBSCRIBE) has been answered.
class redis_link : public std::enable_shared_from_this<redis_link> {
public:
    struct handlers {
        std::function<void()> ready;
        std::function<void(std::string_view why)> lost;
        std::function<void(std::string payload)> message; // subscriber only
    };

    /// `channel`: empty for the command connection, else the channel the subscriber listens
    /// to. `timeout`: for connecting.
    redis_link(boost::asio::any_io_executor ex, redis_address a, std::chrono::milliseconds timeout,
               std::string channel, handlers h);
    ~redis_link();

    /// Connects for the first time.
    void start();

    /// Reconnects if the connection is down and the backoff since the last attempt is over.
    /// Called whenever the link is about to be needed: nothing reconnects in the background.
    void wake();

    /// While on, the connection reads even with no reply due (the subscriber, while claims
    /// wait for notifications).
    void listen(bool on);

    /// Ends the connection for good.
    void close();

    /// Sends one command; its reply (an error reply included), or a failure: not connected,
    /// connection lost, errc::timeout at `deadline` (which also drops the connection: a slow
    /// Redis counts as down), operation_aborted when the caller is cancelled.
    boost::asio::awaitable<result<redis_reply>> exec(std::vector<std::string> argv,
                                                     steady_time deadline);

private:
    enum class link_state { idle, connecting, ready };

    void connect();
    void open(const std::string& ip);
    void handshake(const std::vector<std::string>& argv);
    static void on_handshake(redisAsyncContext* ac, void* r, void* priv);
    static void on_subscribed(redisAsyncContext* ac, void* r, void* priv);
    static void on_reply(redisAsyncContext* ac, void* r, void* priv);
    void became_ready();
    void submit(const std::shared_ptr<command_op>& op, const std::vector<std::string>& argv);
    void lost(const redisAsyncContext* c, std::string_view why);
    void lose(std::string_view why);
    void drop();

    boost::asio::strand<boost::asio::any_io_executor> strand_;
    const redis_address address_;
    const std::chrono::milliseconds timeout_;
    const std::string channel_;
    const handlers handlers_;
    boost::asio::steady_timer timer_; // the connect deadline
    boost::asio::ip::tcp::resolver resolver_;
    redisAsyncContext* ac_ = nullptr;
    std::shared_ptr<hiredis_adapter> events_;
    link_state state_ = link_state::idle;
    unsigned handshake_pending_ = 0;
    unsigned attempts_ = 0; // failed connects since the last success
    steady_time next_attempt_{};
    bool listening_ = false;
    bool closed_ = false;
};

} // namespace glue::detail

#endif
