// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_BLOCKING_CLIENT_HPP
#define GLUE_BLOCKING_CLIENT_HPP

#include <glue/client.hpp>
#include <glue/config.hpp>
#include <glue/decode.hpp>
#include <glue/export.hpp>
#include <glue/metrics.hpp>
#include <glue/oauth.hpp>
#include <glue/types.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <memory>
#include <string_view>
#include <utility>

namespace glue {

/// glue::client for code that is not coroutine-based: every call blocks the calling thread until
/// it completes, then returns its result or throws the glue::error the coroutine form throws
/// (same code, what() and details()).
///
/// \par Where the client runs
/// Made from a configuration alone, it owns an io_context and runs it on one background thread
/// of its own; client_config's hooks (on_token_event, on_request_event) then run on that thread.
/// Made from an executor, it runs there, on an io_context (or thread pool) the caller runs, so
/// that code with its own event loop can share it; the blocking calls complete only while that
/// io_context runs.
///
/// \par Thread safety
/// Any number of threads may call at once. They share one glue::client: one token cache (any
/// number of concurrent calls for a workspace still make one token request) and one pool of
/// connections.
///
/// \par Deadlines
/// Every operation takes an optional deadline: a steady_clock time point, or a timeout from now
/// (any std::chrono duration). When it passes first, the call throws glue::error with
/// errc::timeout, at the deadline, and the abandoned operation is cancelled on the client's side
/// (a token request it was waiting for goes on for other callers, as with any cancelled call).
/// A deadline already passed fails at once, before any I/O. graphql() also hands the deadline
/// to the client as graphql_request::timeout when it is the sooner, so the client's own decisions
/// keep to it (a call that a pause would hold past it fails at once with errc::rate_limited).
/// Without a deadline, the client's own timeouts (client_config::request_timeout,
/// token_request_timeout) bound every call. A call that timed out may still have reached the
/// server, as with any timeout.
///
/// \par Calls that would wait for themselves
/// A blocking call waits for the io_context to complete it, so it must not be made from a thread
/// running that io_context: from a hook, or from a handler or coroutine on the borrowed
/// executor. Such a call throws glue::error with errc::invalid_argument instead of waiting
/// forever, when the client's executor is an io_context's or a thread_pool's (or a strand of
/// one), which tell whether the current thread runs them; on any other executor it can't be
/// told, and such a call waits until its deadline.
///
/// \par Lifetime
/// The destructor shuts the client down (client::shutdown()): every call in flight returns,
/// throwing operation_aborted; then, if it owns its io_context, it waits for its thread to end.
/// Destroyed from that thread (in a hook), it doesn't wait: the thread ends on its own once the
/// aborted calls are done. Borrowing an executor, it waits for nothing; the io_context must keep
/// running until the calls in flight have returned.
class GLUE_DECL blocking_client {
public:
    /// When a blocking call gives up. Made implicitly from a steady_clock time point or from a
    /// std::chrono duration (a timeout from now: zero or less has already passed; one too long
    /// to represent is no deadline).
    class GLUE_DECL deadline {
    public:
        /// No deadline: only the client's own timeouts.
        // Not `= default` with a member initializer: clang can't use that for the default
        // arguments below, inside the enclosing class.
        deadline() noexcept : at_(std::chrono::steady_clock::time_point::max()) {}
        /// At `at` on the steady clock; time_point::max() is no deadline.
        deadline(std::chrono::steady_clock::time_point at) noexcept : at_(at) {}
        /// `timeout` from now.
        template <class Rep, class Period>
        deadline(std::chrono::duration<Rep, Period> timeout) noexcept
            : at_(from_now(std::chrono::duration<long double>(timeout))) {}

        /// The time point; time_point::max() for none.
        std::chrono::steady_clock::time_point at() const noexcept { return at_; }

    private:
        static std::chrono::steady_clock::time_point
        from_now(std::chrono::duration<long double> timeout) noexcept;

        std::chrono::steady_clock::time_point at_;
    };

    /// A client on an io_context of its own, run by one background thread started here. Throws
    /// glue::error (errc::invalid_argument) for a configuration glue::client refuses.
    explicit blocking_client(client_config cfg);
    /// A client on `ex`, an executor of an io_context (or thread pool) the caller runs. Throws
    /// as the constructor above.
    blocking_client(boost::asio::any_io_executor ex, client_config cfg);
    /// Shuts the client down: see "Lifetime" above.
    ~blocking_client();
    blocking_client(const blocking_client&) = delete;
    blocking_client& operator=(const blocking_client&) = delete;

    /// client::fetch_token(), blocking: the workspace's access token, from the cache or from the
    /// one token request all concurrent callers for the workspace share. Throws what it throws,
    /// and errc::timeout when `d` passes first.
    access_token fetch_token(std::string_view workspace_id, deadline d = {});

    /// client::graphql(), blocking. Throws what it throws, and errc::timeout when `d` passes
    /// first.
    graphql_response graphql(std::string_view workspace_id, graphql_request request,
                             deadline d = {});

    /// graphql() decoding `data` into T with glue::decode, as client::graphql<T>() does; also
    /// throws errc::decode_error naming the JSON path of a value that doesn't fit.
    template <class T>
    T graphql(std::string_view workspace_id, graphql_request request, deadline d = {}) {
        return glue::decode<T>(graphql(workspace_id, std::move(request), d).data);
    }

    /// client::exchange_code(), blocking. Throws what it throws, and errc::timeout when `d`
    /// passes first (the code may then have been used: it works once).
    oauth::token_set exchange_code(std::string_view code, std::string_view redirect_uri = {},
                                   std::string_view code_verifier = {}, deadline d = {});

    /// client::refresh(), blocking. Throws what it throws, and errc::timeout when `d` passes
    /// first.
    oauth::token_set refresh(std::string_view refresh_token, deadline d = {});

    /// Every call in flight returns, throwing operation_aborted, and later calls throw the same
    /// (client::shutdown()). Thread-safe; also done by the destructor.
    void shutdown();

    /// client::stats(). Thread-safe.
    token_cache_stats stats() const;
    /// client::throttling(). Thread-safe.
    throttle_stats throttling() const;
    /// client::metrics(). Thread-safe.
    client_metrics metrics() const;
    /// The configuration the client runs with.
    const client_config& config() const noexcept;
    /// The executor the client runs on: the borrowed one, or that of the io_context it owns.
    boost::asio::any_io_executor get_executor() const noexcept;

    /// The glue::client underneath, for what has no blocking form (pagination, the async_ forms
    /// with a use_future token, write_prometheus()). Its coroutines and handlers run on
    /// get_executor().
    glue::client& async_client() noexcept { return client_; }

private:
    struct background;

    // Made before the client, which runs on its io_context; destroyed after it.
    std::unique_ptr<background> own_; // null when borrowing an executor
    glue::client client_;
};

} // namespace glue

#endif
