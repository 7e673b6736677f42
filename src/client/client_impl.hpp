// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_CLIENT_CLIENT_IMPL_HPP
#define GLUE_CLIENT_CLIENT_IMPL_HPP

// What a glue::client holds: the token cache, the connection pool, and the calls made of them.
// Failures are values here (result<T>); the facade (client.cpp) throws them or hands them to a
// completion handler.

#include <glue/client.hpp>

#include "cache/token_cache.hpp"
#include "client/call_metrics.hpp"
#include "client/call_trace.hpp"
#include "client/graphql_call.hpp"
#include "protocol/form.hpp"
#include "protocol/http_message.hpp"
#include "protocol/token_grant.hpp"
#include "support/function_ref.hpp"
#include "support/waiter.hpp"
#include "throttle/retry_budget.hpp"
#include "throttle/throttle_table.hpp"
#include "transport/http_pool.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace glue::detail {

class fleet_permits;

class client_impl : public std::enable_shared_from_this<client_impl> {
public:
    /// Throws glue::error (errc::invalid_argument) when `cfg` is wrong.
    static std::shared_ptr<client_impl> create(boost::asio::any_io_executor ex, client_config cfg);

    // The arguments are copied into the coroutines: an awaitable made from temporaries may be
    // started later (co_spawn), after the caller's strings are gone.
    boost::asio::awaitable<result<access_token>> fetch_token(std::string ws);
    boost::asio::awaitable<result<graphql_response>> graphql(std::string ws,
                                                             graphql_request request);
    boost::asio::awaitable<result<oauth::token_set>>
    exchange_code(std::string code, std::string redirect_uri, std::string verifier);
    boost::asio::awaitable<result<oauth::token_set>> refresh(std::string refresh_token);

    /// Ends every call: the cache's, the shared cache's connections, the pool's, the retry
    /// waits. Thread-safe and idempotent.
    void shutdown();

    token_cache_stats stats() const { return cache_->stats(); }
    throttle_stats throttling() const;
    client_metrics metrics() const;
    const boost::asio::any_io_executor& executor() const noexcept { return ex_; }
    const client_config& config() const noexcept { return cfg_; }

private:
    client_impl(boost::asio::any_io_executor ex, client_config cfg);

    /// Sends a call's request once, its response read into the argument: the pool's answer
    /// (false when the request's `prepare` declined).
    using send_fn = function_ref<boost::asio::awaitable<result<bool>>(http_response&)>;

    /// Carries out `call`'s actions until it is done: `answer` ends as its last response, or
    /// its failure; it must hold a response (a default one) when called. Every attempt's
    /// response is read into it in place, never moved, and `answer` is the only thing the
    /// caller's frame holds for it: GraphQL calls' frames must stay small (call_trace.hpp). `ws`
    /// names the workspace whose cached token `send` puts in the request, and `*used` is the
    /// token it put there last (for the 401's compare-and-invalidate); neither is read when the
    /// call has a token of its own. Each attempt's end and what follows it go to `trace`
    /// (`send` tells it about its own steps); the caller finishes it.
    boost::asio::awaitable<void> carry_out(graphql_call& call, send_fn send, call_trace& trace,
                                           result<http_response>& answer, std::string_view ws = {},
                                           const token_ptr* used = nullptr);

    /// A call's deadline: `timeout` from now (or `from`), or request_timeout when it is zero.
    steady_time deadline(std::chrono::milliseconds timeout = {},
                         std::optional<steady_time> from = std::nullopt) const;

    /// Waits `d` before a retry, or until `t`. False when cut short: cancelled, or the client
    /// shut down.
    boost::asio::awaitable<bool> sleep(std::chrono::nanoseconds d);
    boost::asio::awaitable<bool> sleep_until(steady_time t);

    /// Waits until a GraphQL request for `ws` may go: the pauses the server asked for, then a
    /// turn of the rate limits, then the fleet's. Fails when the deadline comes first, or cut
    /// short. `first`: the throttle table's answer just now; `waited`: how long it waited
    /// (left alone when it did not).
    boost::asio::awaitable<result<void>> admit(std::string_view ws, steady_time deadline,
                                               std::chrono::nanoseconds& waited, admission first);
    /// admit()'s part in this process, from the throttle table's first answer `a` (not go):
    /// pauses, then the workspace's and the app's turns. Sets `start` when it first waits.
    boost::asio::awaitable<result<void>> local_turn(std::string_view ws, steady_time deadline,
                                                    admission a, std::optional<steady_time>& start);

    /// Tells the throttle table what came back for `ws`, sent at `sent`.
    void note_answer(std::string_view ws, const http_response& r, steady_time sent);

    static result<void> check_request(const graphql_request& r);
    /// A GraphQL call's input checked before any I/O, and its body into `body`: why it can't
    /// go, or nothing.
    std::optional<failure> check_call(const std::string& ws, const graphql_request& request,
                                      std::string& body) const;
    /// A GraphQL call's outcome from its last answer, told to its trace.
    static result<graphql_response> finish_call(call_trace& trace, result<http_response>&& answer);

    /// The fetch operation of the token cache: one client-credentials request.
    static boost::asio::awaitable<result<token_grant>>
    request_token(std::weak_ptr<client_impl> weak, std::string ws, steady_time until,
                  unsigned attempt);

    /// The authorization-code and refresh-token grants, with their retries (grant_call_settings).
    boost::asio::awaitable<result<oauth::token_set>> grant(std::vector<form_field> fields);

    /// When a token request was written: a grant's expiry is anchored there.
    struct token_post {
        steady_time steady{};
        std::chrono::system_clock::time_point wall{};
    };

    /// POSTs `fields` and the client's credentials to the token endpoint, by `until`, the
    /// response into `into`, as the pool's send (it never declines).
    boost::asio::awaitable<result<bool>> post_token_form(std::span<const form_field> fields,
                                                         http_response& into, steady_time until,
                                                         request_priority prio, bool idempotent,
                                                         token_post& post, call_trace& trace);

    const boost::asio::any_io_executor ex_;
    const client_config cfg_;
    http_pool pool_;
    const std::string token_target_, graphql_target_;
    std::optional<token_cache> cache_; // set by create(): its fetcher needs weak_from_this()

    throttle_table throttle_;
    retry_budget budget_;
    std::shared_ptr<fleet_permits> fleet_; // with fleet_rate_limit
    std::atomic<std::uint64_t> retries_{0};
    call_metrics metrics_;
    trace_sink sink_; // set by create(), with the cache

    using sleeper = waiter<boost::asio::steady_timer>;
    std::mutex sleep_mtx_;
    waiter_list<sleeper> sleepers_; // calls waiting to retry
    bool stopped_ = false;
};

} // namespace glue::detail

#endif
