// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "client/graphql_call.hpp"

#include <glue/config.hpp>
#include <glue/types.hpp>

#include "protocol/graphql_document.hpp"
#include "protocol/retry_after.hpp"
#include "support/backoff.hpp"
#include "support/saturating.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

namespace glue::detail {

namespace asio = boost::asio;
using std::chrono::nanoseconds;

call_settings graphql_call_settings(const client_config& cfg, const graphql_request& request,
                                    steady_time deadline, retry_budget* budget) {
    call_settings s;
    s.attempts = request.retry_attempts > 0 ? request.retry_attempts : cfg.graphql_retry_attempts;
    s.base_delay = saturating_cast<nanoseconds>(cfg.graphql_retry_base_delay);
    s.max_delay = saturating_cast<nanoseconds>(cfg.graphql_retry_max_delay);
    s.deadline = deadline;
    s.idempotent = request.idempotent || may_send_twice(request);
    s.own_token = !request.access_token.empty();
    s.retry_cost = cfg.retry_cost;
    s.timeout_cost = cfg.retry_timeout_cost;
    s.budget = budget;
    return s;
}

call_settings grant_call_settings(const client_config& cfg, steady_time deadline) {
    call_settings s;
    s.attempts = cfg.token_retry_attempts;
    s.base_delay = saturating_cast<nanoseconds>(cfg.token_retry_base_delay);
    s.max_delay = nanoseconds::max(); // as the token cache's retries: no cap but the deadline
    s.deadline = deadline;
    s.idempotent = false;
    s.own_token = true;
    return s;
}

bool retryable(const failure& f) noexcept {
    const auto& ec = f.ec;
    // A proxy's 502, 503 or 504 to CONNECT: it could not reach the server, as a failed connect.
    if (ec == errc::server_error && f.diag && f.diag->proxy_status != 0) {
        return true;
    }
    return ec != asio::error::operation_aborted && ec.category() != glue_category() &&
           ec.category() != asio::error::get_ssl_category() && ec != asio::error::host_not_found;
}

//------------------------------------------------------------------------------

namespace {

call_action act(call_action::kind_t kind, nanoseconds wait = nanoseconds::zero()) {
    call_action a;
    a.kind = kind;
    a.wait = wait;
    return a;
}

} // namespace

graphql_call::graphql_call(const call_settings& s) noexcept
    : settings_(s)
    , retried_401_(s.own_token) {}

call_action graphql_call::resume(const call_event& e) {
    return std::visit([this](const auto& ev) { return on(ev); }, e);
}

call_action graphql_call::on(const call_events::start&) {
    if (state_ != state::initial) {
        return out_of_order();
    }
    return next_send();
}

call_action graphql_call::on(const call_events::token_ready&) {
    if (state_ != state::getting_token) {
        return out_of_order();
    }
    state_ = state::sending;
    return act(call_action::send);
}

call_action graphql_call::on(const call_events::token_failed& e) {
    if (state_ != state::getting_token) {
        return out_of_order();
    }
    return finish(e.error);
}

call_action graphql_call::on(const call_events::declined&) {
    if (state_ != state::sending) {
        return out_of_order();
    }
    return next_send(); // nothing was sent: not an attempt
}

call_action graphql_call::on(const call_events::responded& e) {
    if (state_ != state::sending) {
        return out_of_order();
    }
    if (e.response.status == 401 && !retried_401_) {
        // The token may have been revoked or rotated early: drop it if it is still the cached
        // one, then a fresh one (through the cache's single flight) and one more send. Not
        // counted as an attempt.
        retried_401_ = true;
        state_ = state::invalidating;
        return act(call_action::invalidate_and_retry);
    }
    const int status = e.response.status;
    std::optional<nanoseconds> wait;
    unsigned cost = 0;
    if (settings_.idempotent) {
        wait = retry_wait(e.response, e.jitter);
        // Throttling answers are retried for free: the shared pause and the adaptive rate hold
        // their load already.
        const bool throttling =
            status == 429 ||
            (status == 503 && parse_retry_after(e.response.retry_after).count() >= 0);
        cost = throttling ? 0 : settings_.retry_cost;
    }
    if (settings_.budget && status < 500 && status != 429) {
        settings_.budget->on_success(paid_); // the server is healthy: the budget fills back
    }
    return retry_or_answer(wait, cost, e.now, std::nullopt);
}

call_action graphql_call::on(const call_events::send_failed& e) {
    if (state_ != state::sending) {
        return out_of_order();
    }
    std::optional<nanoseconds> wait;
    if (retryable(e.error) && (settings_.idempotent || e.error.unsent)) {
        wait = backoff(e.jitter);
    }
    const unsigned cost =
        e.error.ec == asio::error::timed_out ? settings_.timeout_cost : settings_.retry_cost;
    return retry_or_answer(wait, cost, e.now, e.error);
}

call_action graphql_call::on(const call_events::invalidated& e) {
    if (state_ != state::invalidating) {
        return out_of_order();
    }
    if (e.throttled) {
        return finish(std::nullopt); // the 401 is the answer: retry_wait never retries one
    }
    return next_send();
}

call_action graphql_call::on(const call_events::slept& e) {
    if (state_ != state::sleeping) {
        return out_of_order();
    }
    if (!e.completed) {
        return finish(make_failure(asio::error::operation_aborted));
    }
    ++attempt_;
    return next_send();
}

call_action graphql_call::next_send() {
    if (settings_.own_token) {
        state_ = state::sending;
        return act(call_action::send);
    }
    state_ = state::getting_token;
    return act(call_action::get_token);
}

call_action graphql_call::retry_or_answer(std::optional<nanoseconds> wait, unsigned cost,
                                          steady_time now, std::optional<failure> error) {
    if (!wait || attempt_ >= settings_.attempts ||
        saturating_add(now, *wait) >= settings_.deadline) {
        return finish(std::move(error));
    }
    if (cost > 0 && settings_.budget) {
        if (!settings_.budget->try_spend(cost)) {
            return finish(std::move(error)); // the budget is spent: the failure is the answer
        }
        paid_ = cost;
    }
    state_ = state::sleeping;
    return act(call_action::sleep, *wait);
}

nanoseconds graphql_call::backoff(double jitter) const noexcept {
    return jittered(doubled(settings_.base_delay, attempt_, settings_.max_delay), jitter);
}

std::optional<nanoseconds> graphql_call::retry_wait(const http_response& r,
                                                    double jitter) const noexcept {
    switch (r.status) {
    case 429:
    case 503:
        if (auto after = parse_retry_after(r.retry_after); after.count() >= 0) {
            return after; // at most max_retry_after: the deadline check can't overflow
        }
        [[fallthrough]];
    case 500:
    case 502:
    case 504:
        return backoff(jitter);
    default:
        return std::nullopt;
    }
}

call_action graphql_call::out_of_order() {
    return finish(make_failure(errc::internal_error, "a GraphQL call step came out of order"));
}

call_action graphql_call::finish(std::optional<failure> error) {
    state_ = state::finished;
    auto a = act(call_action::done);
    a.error = std::move(error);
    return a;
}

} // namespace glue::detail
