// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_SUPPORT_WAITER_HPP
#define GLUE_SUPPORT_WAITER_HPP

// One coroutine waiting for another party to hand it something: a token request's outcome, a
// pooled connection. The hand-off is decided under the owner's mutex; the waiter's timer doubles
// as its wake-up signal (the "timer as condition variable" idiom), so waking posts the waiter's
// resumption to its own executor: never inline, never inside the owner's lock.

#include <glue/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/intrusive/list.hpp>
#include <boost/system/system_error.hpp>

#include <mutex>
#include <tuple>

namespace glue::detail {

using waiter_hook =
    boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

template <class Timer>
class waiter : public waiter_hook {
public:
    using time_point = typename Timer::time_point;

    explicit waiter(const typename Timer::executor_type& ex) : timer_(ex) {}

    /// A waiter whose owner links it under `owner`: if it dies still linked (its coroutine is
    /// destroyed while waiting, or an exception leaves before wait()), it unlinks itself under
    /// that mutex, never racing the owner walking its list.
    waiter(const typename Timer::executor_type& ex, std::mutex& owner)
        : timer_(ex)
        , owner_(&owner) {}

    waiter(const waiter&) = delete;
    waiter& operator=(const waiter&) = delete;

    ~waiter() {
        if (owner_) {
            std::lock_guard lock(*owner_);
            this->unlink();
        }
    }

    /// Owner side, with the owner's mutex held: gives the waiter its turn.
    void wake() noexcept {
        this->unlink();
        woken_ = true;
        timer_.cancel();
    }

    /// Waiter side: call after linking this waiter into the owner's list under `mtx` and
    /// unlocking it. Returns success once woken, errc::timeout at `deadline`, or
    /// operation_aborted when the awaiting coroutine is cancelled. On failure the waiter has been
    /// unlinked under `mtx`, so the owner can no longer hand it anything.
    boost::asio::awaitable<error_code> wait(std::mutex& mtx, time_point deadline) {
        auto token = boost::asio::as_tuple(boost::asio::use_awaitable);
        error_code ec;
        try {
            std::tie(ec) = co_await boost::asio::async_initiate<decltype(token), void(error_code)>(
                [this, &mtx, deadline](auto handler) {
                    // Armed under the lock, so a wake() can't slip in between checking and
                    // waiting.
                    std::lock_guard lock(mtx);
                    timer_.expires_at(woken_ ? Timer::clock_type::now() : deadline);
                    timer_.async_wait(std::move(handler));
                },
                token);
        } catch (const boost::system::system_error& e) {
            // A coroutine that was cancelled before it got here throws instead of waiting.
            ec = e.code();
        }
        std::lock_guard lock(mtx);
        if (woken_) {
            co_return error_code{};
        }
        this->unlink();
        if (ec == boost::asio::error::operation_aborted) {
            co_return ec;
        }
        co_return make_error_code(errc::timeout);
    }

private:
    Timer timer_;
    std::mutex* owner_ = nullptr;
    bool woken_ = false;
};

/// The owner's list of waiters (FIFO: push_back, wake front()).
template <class Waiter>
using waiter_list = boost::intrusive::list<Waiter, boost::intrusive::constant_time_size<false>>;

} // namespace glue::detail

#endif
