// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/blocking_client.hpp>

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
#include <string>
#include <string_view>
#include <thread>
#include <utility>

// glue::blocking_client: each call runs the client's coroutine as a strand_task (the library's
// own way of running an operation with a deadline that can be stopped from any thread) and
// waits on a condition variable for its outcome. The outcome lands in state the call shares
// with the task, so a caller that gave up at its deadline has nothing left on its stack that
// the task could touch.

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
    bool done = false; // under mtx, as are the two below
    std::exception_ptr error;
    T value{};
    bool timed_out = false; // on the task's strand only
};

// Runs `op` on a strand of `ex` and waits for it until `deadline` (max: until it completes).
template <class T>
T wait_for_outcome(const asio::any_io_executor& ex, asio::awaitable<T> op, steady_time deadline,
                   std::string_view op_name) {
    auto state = std::make_shared<blocking_call_state<T>>();
    // strand_task takes a factory it may copy; the awaitable is made here, on the caller's
    // thread, so that nothing the task runs later refers to the blocking_client.
    auto pending = std::make_shared<asio::awaitable<T>>(std::move(op));
    detail::strand_task<asio::steady_timer>::spawn<T>(
        ex, deadline, [pending] { return std::move(*pending); },
        [state, op_name](std::exception_ptr ep, T value) {
            // After the deadline cancelled it, the op's failure is that it ran out of time.
            if (ep && state->timed_out) {
                ep = std::make_exception_ptr(deadline_error(op_name));
            }
            {
                const std::lock_guard lock(state->mtx);
                state->error = ep;
                state->value = std::move(value);
                state->done = true;
            }
            state->cv.notify_all();
        },
        [state] { state->timed_out = true; });

    std::unique_lock lock(state->mtx);
    auto done = [&] { return state->done; };
    if (deadline == steady_time::max()) {
        state->cv.wait(lock, done);
    } else if (!state->cv.wait_until(lock, deadline, done)) {
        // The task stops the op at the same deadline on its own; nothing of ours is left to it.
        throw deadline_error(op_name);
    }
    if (state->error) {
        std::rethrow_exception(state->error);
    }
    return std::move(state->value);
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
    const auto ex = client_.get_executor();
    refuse_unfit_call(ex, d.at(), std::chrono::steady_clock::now(), op);
    return wait_for_outcome(ex, client_.fetch_token(workspace_id), d.at(), op);
}

graphql_response blocking_client::graphql(std::string_view workspace_id, graphql_request request,
                                          deadline d) {
    constexpr std::string_view op = "blocking_client::graphql";
    const auto ex = client_.get_executor();
    const auto now = std::chrono::steady_clock::now();
    refuse_unfit_call(ex, d.at(), now, op);
    if (d.at() != steady_time::max()) {
        // The client's own deadline for the call, when ours is sooner: rounded up to its
        // milliseconds (and at least 1: zero means request_timeout), so it ends the call within
        // a millisecond after ours, never before, and the client's waits keep to it.
        const auto left = std::max(
            std::chrono::milliseconds(1),
            std::chrono::ceil<std::chrono::milliseconds>(detail::saturating_sub(d.at(), now)));
        const auto own =
            request.timeout.count() > 0 ? request.timeout : client_.config().request_timeout;
        if (own.count() <= 0 || own > left) {
            request.timeout = left;
        }
    }
    return wait_for_outcome(ex, client_.graphql(workspace_id, std::move(request)), d.at(), op);
}

oauth::token_set blocking_client::exchange_code(std::string_view code,
                                                std::string_view redirect_uri,
                                                std::string_view code_verifier, deadline d) {
    constexpr std::string_view op = "blocking_client::exchange_code";
    const auto ex = client_.get_executor();
    refuse_unfit_call(ex, d.at(), std::chrono::steady_clock::now(), op);
    return wait_for_outcome(ex, client_.exchange_code(code, redirect_uri, code_verifier), d.at(),
                            op);
}

oauth::token_set blocking_client::refresh(std::string_view refresh_token, deadline d) {
    constexpr std::string_view op = "blocking_client::refresh";
    const auto ex = client_.get_executor();
    refuse_unfit_call(ex, d.at(), std::chrono::steady_clock::now(), op);
    return wait_for_outcome(ex, client_.refresh(refresh_token), d.at(), op);
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
