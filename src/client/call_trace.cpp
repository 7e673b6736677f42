// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "client/call_trace.hpp"

#include "protocol/status.hpp"
#include "support/saturating.hpp"

namespace glue::detail {

retry_reason retry_reason_of(unsigned status) noexcept {
    switch (status) {
    case 0:
        return retry_reason::network;
    case 401:
        return retry_reason::unauthorized;
    case 429:
        return retry_reason::throttled;
    case 503:
        return retry_reason::unavailable;
    default:
        return retry_reason::server_error;
    }
}

call_trace::call_trace(const trace_sink& sink, request_event::endpoint target,
                       std::string_view workspace, std::string_view operation, steady_time start,
                       unsigned first_attempt)
    : sink_(sink)
    , target_(target)
    , attempt_(first_attempt)
    , start_(start) {
    if (sink_.hook) {
        d_ = std::make_unique<details>();
        d_->workspace = workspace;
        d_->operation = operation;
        d_->attempt_start = start;
    }
}

void call_trace::absorb(const send_trace& s) {
    if (d_) {
        d_->connection_wait += s.connection_wait;
    }
    if (!s.written) {
        return;
    }
    written_ = true;
    ended_at_ = s.ended_at;
    if (sink_.metrics) {
        sink_.metrics->exchanged(s.exchange);
        if (target_ == request_event::endpoint::graphql) {
            sink_.metrics->attempt_sent();
        }
    }
    if (d_) {
        d_->send = s;
    }
}

void call_trace::ended(const http_response* r, error_code why, steady_time now) {
    if (d_) {
        const send_trace& s = d_->send;
        request_event& e = d_->event;
        e = request_event();
        e.target = target_;
        e.workspace = d_->workspace;
        e.operation = d_->operation;
        e.attempt = attempt_;
        e.sent = written_;
        e.http_status = r ? static_cast<int>(r->status) : 0;
        e.error = why;
        e.new_connection = written_ && s.new_connection;
        e.bytes_sent = written_ ? s.bytes_sent : 0;
        e.bytes_received = written_ ? s.bytes_received : 0;
        e.time.backoff = d_->backoff;
        e.time.token_wait = d_->token_wait;
        e.time.throttle_wait = d_->throttle_wait;
        e.time.connection_wait = d_->connection_wait;
        e.time.exchange = written_ ? s.exchange : std::chrono::nanoseconds(0);
        if (e.new_connection) {
            e.time.dns = s.connect.dns;
            e.time.tcp = s.connect.tcp;
            e.time.tunnel = s.connect.tunnel;
            e.time.tls = s.connect.tls;
        }
        e.time.total = saturating_sub(now, d_->attempt_start);
        if (r) {
            d_->captured = r->captured;
            d_->request_id = std::string(request_id_of(d_->captured));
        } else {
            d_->captured.clear();
            d_->request_id.clear();
        }
        has_pending_ = true;
        // The next attempt starts now, from nothing.
        d_->attempt_start = now;
        d_->backoff = d_->token_wait = d_->throttle_wait = d_->connection_wait =
            std::chrono::nanoseconds(0);
    }
    ++attempt_;
    written_ = false;
}

void call_trace::then(const next_step& s) {
    if (s.retry && sink_.metrics && target_ == request_event::endpoint::graphql) {
        sink_.metrics->retried(s.reason); // GraphQL calls' retries: the grants' are not theirs
    }
    if (!s.retry || !has_pending_) {
        return; // the last attempt: its event waits for the call's outcome
    }
    auto& e = d_->event;
    e.retry = true;
    e.reason = s.reason;
    e.retry_delay = s.delay;
    emit();
}

void call_trace::finish(error_code ec) {
    if (sink_.metrics && target_ == request_event::endpoint::graphql) {
        sink_.metrics->call_ended(classify_outcome(ec),
                                  saturating_sub(std::chrono::steady_clock::now(), start_));
    }
    if (has_pending_) {
        auto& e = d_->event;
        e.last = true;
        if (ec) {
            e.error = ec;
        }
        emit();
    }
}

void call_trace::emit() {
    has_pending_ = false;
    auto& e = d_->event;
    e.response_headers = d_->captured;
    e.request_id = d_->request_id;
    sink_.gate->run([&] { (*sink_.hook)(e); });
}

} // namespace glue::detail
