// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/mock_answer.hpp"

#include "testing/mock_compression.hpp"
#include "testing/mock_routes.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <mutex>

namespace glue::testing::detail {

namespace asio = boost::asio;

namespace {

// Token requests being answered right now, delays included.
class token_in_progress {
public:
    token_in_progress(mock_state& state, bool token) : state_(token ? &state : nullptr) {
        if (state_) {
            std::lock_guard lock(state_->mtx);
            state_->max_token_concurrency =
                std::max(state_->max_token_concurrency, ++state_->token_concurrency);
        }
    }
    ~token_in_progress() {
        if (state_) {
            std::lock_guard lock(state_->mtx);
            --state_->token_concurrency;
        }
    }
    token_in_progress(const token_in_progress&) = delete;
    token_in_progress& operator=(const token_in_progress&) = delete;

private:
    mock_state* state_;
};

} // namespace

asio::awaitable<prepared_answer> answer(mock_state& state, http_request req) {
    const token_in_progress counted(state, req.target == "/oauth/token");
    auto [res, f] = route(state, req);
    if (state.opts.compress) {
        compress_answer(res, req.field("Accept-Encoding"), state.opts.compress_min_bytes);
    }
    if (f && f->delay.count() > 0) {
        asio::steady_timer timer(co_await asio::this_coro::executor, f->delay);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    prepared_answer out{std::move(res), std::move(f)};
    co_return out;
}

std::pair<std::string, std::string> filler_field(std::size_t i) {
    return {"X-Filler-" + std::to_string(i), std::string(984, 'f')};
}

} // namespace glue::testing::detail
