// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_SUPPORT_STRAND_TASK_HPP
#define GLUE_SUPPORT_STRAND_TASK_HPP

// A coroutine that belongs to the library rather than to a caller (a token request, a
// connection being opened): it runs on a strand of its own, has its own deadline, and can be
// stopped from any thread. Cancellation is emitted on that strand, so it never races with the
// coroutine's own steps.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <utility>

namespace glue::detail {

template <class Timer>
class strand_task : public std::enable_shared_from_this<strand_task<Timer>> {
public:
    using time_point = typename Timer::time_point;

    /// Runs `op` on a new strand of `ex`. If `deadline` passes first, `on_deadline` runs and the
    /// op gets terminal cancellation. `on_done` runs on the strand when the op ends, whatever
    /// ended it. Nothing runs inside this call: it is made under the caller's locks, and a
    /// dispatch to a new strand from a thread running `ex` would run the op right here.
    template <class T>
    static std::shared_ptr<strand_task>
    spawn(const boost::asio::any_io_executor& ex, time_point deadline,
          std::function<boost::asio::awaitable<T>()> op,
          std::function<void(std::exception_ptr, T)> on_done, std::function<void()> on_deadline) {
        auto task = std::shared_ptr<strand_task>(new strand_task(ex));
        boost::asio::post(task->strand_, [task, deadline, op = std::move(op),
                                          on_done = std::move(on_done),
                                          on_deadline = std::move(on_deadline)]() mutable {
            task->timer_.expires_at(deadline);
            task->timer_.async_wait([task, on_deadline = std::move(on_deadline)](auto ec) {
                if (!ec && !task->done_) {
                    on_deadline();
                    task->cancel();
                }
            });
            boost::asio::co_spawn(task->strand_, op(),
                                  boost::asio::bind_cancellation_slot(
                                      task->signal_.slot(), [task, on_done = std::move(on_done)](
                                                                std::exception_ptr ep, T value) {
                                          task->done_ = true;
                                          task->timer_.cancel();
                                          on_done(ep, std::move(value));
                                      }));
        });
        return task;
    }

    /// Cancels the op (terminal). Thread-safe; does nothing once the op has ended.
    void stop() {
        boost::asio::post(strand_, [self = this->shared_from_this()] {
            self->timer_.cancel();
            self->cancel();
        });
    }

private:
    explicit strand_task(const boost::asio::any_io_executor& ex)
        : strand_(boost::asio::make_strand(ex))
        , timer_(strand_) {}

    void cancel() {
        // Never emit into a finished coroutine: its last slot handler may refer to dead state.
        if (!done_) {
            signal_.emit(boost::asio::cancellation_type::terminal);
        }
    }

    boost::asio::strand<boost::asio::any_io_executor> strand_;
    // All of these are used on strand_ only.
    Timer timer_;
    boost::asio::cancellation_signal signal_;
    bool done_ = false;
};

} // namespace glue::detail

#endif
