// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The race is one coroutine waiting on one timer, and a plain completion handler per attempt,
// all on the caller's strand. Asio 1.26 has no cancel_after, Beast 1.81's range connect takes no
// modern tokens and tries one address at a time, and awaitable_operators' `||` and
// parallel_group start all their operations together: none starts an attempt later, or when
// another fails. Here an attempt's handler records its end in the race and cancels the timer;
// the coroutine then looks at the race, starts what is due, and waits for the next attempt's
// time or the next end. The attempts' sockets are shared with their handlers, so a handler that
// runs after the coroutine has returned (an attempt it closed) still finds them.

#include "transport/happy_eyeballs.hpp"

#include "transport/connect_schedule.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <optional>

namespace glue::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

struct race_state {
    race_state(std::vector<tcp::endpoint> order, const asio::any_io_executor& socket_ex,
               const asio::any_io_executor& own_ex, std::chrono::nanoseconds delay)
        : endpoints(std::move(order))
        , sockets(endpoints.size())
        , race(endpoints.size(), delay)
        , wake(own_ex)
        , socket_ex(socket_ex) {}

    void close_all() noexcept {
        for (auto& s : sockets) {
            if (s) {
                error_code ignored;
                s->close(ignored); // a pending connect ends with operation_aborted
            }
        }
    }

    const std::vector<tcp::endpoint> endpoints;
    // Sized once: a socket with a connect in progress is never moved.
    std::vector<std::optional<tcp::socket>> sockets;
    connect_race race;
    asio::steady_timer wake; // until the next attempt is due; cancelled when one ends
    const asio::any_io_executor socket_ex;
};

void start_attempt(const std::shared_ptr<race_state>& st, std::size_t i,
                   const asio::any_io_executor& own_ex) {
    auto& s = st->sockets[i].emplace(st->socket_ex);
    s.async_connect(st->endpoints[i], asio::bind_executor(own_ex, [st, i](error_code ec) {
                        if (ec) {
                            st->race.failed(ec);
                            error_code ignored;
                            st->sockets[i]->close(ignored);
                        } else {
                            st->race.connected(i);
                        }
                        st->wake.cancel();
                    }));
}

// Closes the attempts still connecting when the coroutine's frame goes, whichever way: returned,
// or unwound by the exception a cancelled coroutine throws at its next co_await.
struct close_attempts {
    race_state& st;
    ~close_attempts() { st.close_all(); }
};

} // namespace

asio::awaitable<error_code> connect_first(const std::vector<tcp::endpoint>& endpoints,
                                          tcp::socket& out,
                                          std::chrono::nanoseconds attempt_delay) {
    const auto own_ex = co_await asio::this_coro::executor;
    auto st = std::make_shared<race_state>(connect_order(endpoints), out.get_executor(), own_ex,
                                           attempt_delay);
    const close_attempts closing{*st};
    for (;;) {
        switch (st->race.outcome()) {
        case connect_race::state::won:
            out = std::move(*st->sockets[st->race.winner()]);
            co_return error_code{};
        case connect_race::state::lost:
            co_return st->race.error();
        case connect_race::state::racing:
            break;
        }
        while (auto i = st->race.start_due(std::chrono::steady_clock::now())) {
            start_attempt(st, *i, own_ex);
        }
        st->wake.expires_at(st->race.next_due());
        co_await st->wake.async_wait(asio::as_tuple(asio::use_awaitable));
        // The wait ends when an attempt is due, when one ended (cancel()), or when the
        // coroutine was cancelled: only the last is told by the cancellation state.
        if ((co_await asio::this_coro::cancellation_state).cancelled() !=
            asio::cancellation_type::none) {
            co_return asio::error::operation_aborted;
        }
    }
}

} // namespace glue::detail
