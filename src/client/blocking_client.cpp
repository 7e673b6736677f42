// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/blocking_client.hpp>

#include "client/client_impl.hpp"
#include "support/clock.hpp"
#include "support/outcome.hpp"
#include "support/saturating.hpp"
#include "support/strand_task.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/require.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

// glue::blocking_client: each call runs the client implementation's operation as a strand_task
// (the library's own way of running an operation with a deadline that can be stopped from any
// thread) and waits on a condition variable for its outcome. The outcome lands in state the call
// shares with the task, so a caller that gave up at its deadline has nothing left on its stack
// that the task could touch.

namespace glue {

namespace asio = boost::asio;
using detail::steady_time;

// The io_context an owning blocking_client runs on, and its thread. The thread holds the
// io_context too, so that it can outlive this object when the client is destroyed from it.
struct blocking_client::background {
    std::shared_ptr<asio::io_context> ioc = std::make_shared<asio::io_context>();
    // Keeps run() going while no call is in flight (an idle client holds no work).
    asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(*ioc);
    std::thread thread;

    void start() {
        thread = std::thread([ioc = ioc] { ioc->run(); });
    }

    // run() returns once the calls the client's shutdown aborted are done.
    void stop() {
        work.reset();
        if (thread.get_id() == std::this_thread::get_id()) {
            thread.detach(); // destroyed from a hook: joining would wait for ourselves
        } else if (thread.joinable()) {
            thread.join();
        }
    }
};

namespace {

// Whether this thread runs the execution context behind `ex` (an io_context's or thread pool's
// executor, or a strand of one), where a blocking call would wait for itself. Other executors
// can't tell.
template <class Executor>
bool runs_on(const asio::any_io_executor& ex) {
    using tracked = decltype(asio::require(std::declval<Executor>(),
                                           asio::execution::outstanding_work.tracked));
    if (const auto* e = ex.target<Executor>()) {
        return e->running_in_this_thread();
    }
    if (const auto* e = ex.target<tracked>()) {
        return e->running_in_this_thread();
    }
    if (const auto* s = ex.target<asio::strand<Executor>>()) {
        return s->get_inner_executor().running_in_this_thread();
    }
    if (const auto* s = ex.target<asio::strand<tracked>>()) {
        return s->get_inner_executor().running_in_this_thread();
    }
    return false;
}

bool runs_in_this_thread(const asio::any_io_executor& ex) {
    if (const auto* s = ex.target<asio::strand<asio::any_io_executor>>()) {
        return runs_in_this_thread(s->get_inner_executor());
    }
    return runs_on<asio::io_context::executor_type>(ex) ||
           runs_on<asio::thread_pool::executor_type>(ex);
}

// What a call throws when its deadline passes, whichever side sees it first.
error deadline_error(std::string_view op) {
    return detail::to_error(detail::make_failure(errc::timeout, "the call's deadline passed"), op);
}

// Refuses, before anything starts, a call that could not complete or has no time left.
void refuse_unfit_call(const asio::any_io_executor& ex, steady_time deadline, steady_time now,
                       std::string_view op) {
    if (runs_in_this_thread(ex)) {
        detail::throw_error(errc::invalid_argument,
                            "called on a thread that runs the client's io_context (a hook or a "
                            "handler there), where a blocking call would wait for itself",
                            op);
    }
    if (deadline <= now) {
        throw deadline_error(op);
    }
}

// Where a call's outcome lands: shared by the waiting thread and the task.
template <class T>
struct blocking_call_state {
    std::mutex mtx;
    std::condition_variable cv;
    std::optional<detail::result<T>> outcome; // under mtx, as is `expired`
    bool expired = false;                     // the deadline cancelled the op
    bool timed_out = false;                   // on the task's strand only
};

// Runs `op` on a strand of the client's executor and waits for it until `deadline` (max: until
// it completes). Failures cross threads as values (detail::failure) and become the glue::error
// here, on the waiting thread, as client::graphql() and the others make it (`name`), so the
// waiting thread never shares an exception object with the io_context's thread.
template <class T>
T wait_for_outcome(const std::shared_ptr<detail::client_impl>& impl,
                   asio::awaitable<detail::result<T>> op, steady_time deadline,
                   std::string_view name, std::string_view blocking_name) {
    auto state = std::make_shared<blocking_call_state<T>>();
    // strand_task takes a factory it may copy; the awaitable is made on the caller's thread, so
    // that nothing the task runs later refers to the blocking_client, and `impl` is held until
    // the op ends, even if the client goes first.
    auto pending = std::make_shared<asio::awaitable<detail::result<T>>>(std::move(op));
    detail::strand_task<asio::steady_timer>::spawn<detail::result<T>>(
        impl->executor(), deadline, [pending] { return std::move(*pending); },
        [state, impl](std::exception_ptr ep, detail::result<T> r) {
            if (ep) {
                r = detail::failure_from(ep); // e.g. cancelled before it started
            }
            {
                const std::lock_guard lock(state->mtx);
                state->expired = !r && state->timed_out;
                state->outcome = std::move(r);
            }
            state->cv.notify_all();
        },
        [state] { state->timed_out = true; });

    std::unique_lock lock(state->mtx);
    auto done = [&] { return state->outcome.has_value(); };
    if (deadline == steady_time::max()) {
        state->cv.wait(lock, done);
    } else if (!state->cv.wait_until(lock, deadline, done)) {
        // The task stops the op at the same deadline on its own; nothing of ours is left to it.
        throw deadline_error(blocking_name);
    }
    if (state->expired) {
        throw deadline_error(blocking_name);
    }
    detail::result<T> r = std::move(*state->outcome);
    lock.unlock();
    if (!r) {
        throw detail::to_error(r.error(), name);
    }
    return std::move(*r);
}

} // namespace

steady_time
blocking_client::deadline::from_now(std::chrono::duration<long double> timeout) noexcept {
    return detail::saturating_add(std::chrono::steady_clock::now(), timeout);
}

blocking_client::blocking_client(client_config cfg)
    : own_(std::make_unique<background>())
    , client_(own_->ioc->get_executor(), std::move(cfg)) {
    own_->start();
}

blocking_client::blocking_client(asio::any_io_executor ex, client_config cfg)
    : client_(std::move(ex), std::move(cfg)) {}

blocking_client::~blocking_client() {
    client_.shutdown();
    if (own_) {
        own_->stop();
    }
}

access_token blocking_client::fetch_token(std::string_view workspace_id, deadline d) {
    constexpr std::string_view op = "blocking_client::fetch_token";
    const auto& impl = client_.impl_;
    refuse_unfit_call(impl->executor(), d.at(), std::chrono::steady_clock::now(), op);
    return wait_for_outcome(impl, impl->fetch_token(std::string(workspace_id)), d.at(),
                            "client::fetch_token", op);
}

graphql_response blocking_client::graphql(std::string_view workspace_id, graphql_request request,
                                          deadline d) {
    constexpr std::string_view op = "blocking_client::graphql";
    const auto& impl = client_.impl_;
    const auto now = std::chrono::steady_clock::now();
    refuse_unfit_call(impl->executor(), d.at(), now, op);
    if (d.at() != steady_time::max()) {
        // The client's own deadline for the call, when ours is sooner: rounded up to its
        // milliseconds (and at least 1: zero means request_timeout), so it ends the call within
        // a millisecond after ours, never before, and the client's waits keep to it.
        const auto left = std::max(
            std::chrono::milliseconds(1),
            std::chrono::ceil<std::chrono::milliseconds>(detail::saturating_sub(d.at(), now)));
        const auto own =
            request.timeout.count() > 0 ? request.timeout : impl->config().request_timeout;
        if (own.count() <= 0 || own > left) {
            request.timeout = left;
        }
    }
    return wait_for_outcome(impl, impl->graphql(std::string(workspace_id), std::move(request)),
                            d.at(), "client::graphql", op);
}

oauth::token_set blocking_client::exchange_code(std::string_view code,
                                                std::string_view redirect_uri,
                                                std::string_view code_verifier, deadline d) {
    constexpr std::string_view op = "blocking_client::exchange_code";
    const auto& impl = client_.impl_;
    refuse_unfit_call(impl->executor(), d.at(), std::chrono::steady_clock::now(), op);
    return wait_for_outcome(impl,
                            impl->exchange_code(std::string(code), std::string(redirect_uri),
                                                std::string(code_verifier)),
                            d.at(), "client::exchange_code", op);
}

oauth::token_set blocking_client::refresh(std::string_view refresh_token, deadline d) {
    constexpr std::string_view op = "blocking_client::refresh";
    const auto& impl = client_.impl_;
    refuse_unfit_call(impl->executor(), d.at(), std::chrono::steady_clock::now(), op);
    return wait_for_outcome(impl, impl->refresh(std::string(refresh_token)), d.at(),
                            "client::refresh", op);
}

void blocking_client::shutdown() {
    client_.shutdown();
}

token_cache_stats blocking_client::stats() const {
    return client_.stats();
}

throttle_stats blocking_client::throttling() const {
    return client_.throttling();
}

client_metrics blocking_client::metrics() const {
    return client_.metrics();
}

const client_config& blocking_client::config() const noexcept {
    return client_.config();
}

asio::any_io_executor blocking_client::get_executor() const noexcept {
    return client_.get_executor();
}

} // namespace glue
