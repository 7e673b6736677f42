// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_SUPPORT_FIFO_SEMAPHORE_HPP
#define GLUE_SUPPORT_FIFO_SEMAPHORE_HPP

// A counting semaphore for coroutines, first come first served: a released unit goes straight
// to the longest waiter, so nobody can overtake it. Thread-safe.

#include "support/waiter.hpp"

#include <boost/asio/this_coro.hpp>

#include <cstddef>
#include <mutex>

namespace glue::detail {

template <class Timer>
class fifo_semaphore {
public:
    using time_point = typename Timer::time_point;

    explicit fifo_semaphore(std::size_t units) : available_(units) {}

    /// Takes a unit, waiting for one in arrival order until `deadline`. Returns errc::timeout at
    /// the deadline, operation_aborted when cancelled (and then holds no unit).
    boost::asio::awaitable<error_code> acquire(time_point deadline) {
        waiter<Timer> w(co_await boost::asio::this_coro::executor, mtx_);
        {
            std::lock_guard lock(mtx_);
            if (available_ > 0 && waiters_.empty()) {
                --available_;
                co_return error_code{};
            }
            waiters_.push_back(w);
        }
        co_return co_await w.wait(mtx_, deadline); // woken: the releaser handed its unit over
    }

    /// Gives a unit back: to the first waiter, or to the pool.
    void release() {
        std::lock_guard lock(mtx_);
        if (!waiters_.empty()) {
            waiters_.front().wake();
        } else {
            ++available_;
        }
    }

private:
    std::mutex mtx_;
    std::size_t available_;
    waiter_list<waiter<Timer>> waiters_;
};

} // namespace glue::detail

#endif
