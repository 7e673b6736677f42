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

call_trace::call_trace(trace_sink sink, request_event::endpoint target, std::string_view workspace,
                       std::string_view operation, unsigned first_attempt)
    : sink_(sink)
    , target_(target)
    , workspace_(workspace)
    , operation_(operation)
    , start_(std::chrono::steady_clock::now())
    , attempt_(first_attempt)
    , attempt_start_(start_) {}

void call_trace::absorb() noexcept {
    time_.connection_wait += send_.connection_wait;
    time_.exchange = send_.exchange;
    sent_ = sent_ || send_.written;
    if (send_.written && sink_.metrics) {
        sink_.metrics->exchanged(send_.exchange);
        if (target_ == request_event::endpoint::graphql) {
            sink_.metrics->attempt_sent();
        }
    }
}

void call_trace::ended(const http_response* r, error_code why) {
    const auto now = std::chrono::steady_clock::now();
    if (sink_.hook) {
        request_event e;
        e.target = target_;
        e.workspace = workspace_;
        e.operation = operation_;
        e.attempt = attempt_;
        e.sent = sent_;
        e.http_status = r ? static_cast<int>(r->status) : 0;
        e.error = why;
        e.new_connection = sent_ && send_.new_connection;
        e.bytes_sent = sent_ ? send_.bytes_sent : 0;
        e.bytes_received = sent_ ? send_.bytes_received : 0;
        e.time = time_;
        if (e.new_connection) {
            e.time.dns = send_.connect.dns;
            e.time.tcp = send_.connect.tcp;
            e.time.tunnel = send_.connect.tunnel;
            e.time.tls = send_.connect.tls;
        }
        e.time.total = now - attempt_start_;
        if (r) {
            captured_ = r->captured;
            request_id_ = std::string(request_id_of(captured_));
        } else {
            captured_.clear();
            request_id_.clear();
        }
        pending_ = e;
    }
    // The next attempt starts now, from nothing.
    ++attempt_;
    attempt_start_ = now;
    time_ = {};
    send_ = {};
    sent_ = false;
}

void call_trace::then(const next_step& s) {
    if (s.retry && sink_.metrics) {
        sink_.metrics->retried(s.reason);
    }
    if (!s.retry || !pending_) {
        return; // the last attempt: its event waits for the call's outcome
    }
    pending_->retry = true;
    pending_->reason = s.reason;
    pending_->retry_delay = s.delay;
    emit(*pending_);
    pending_.reset();
}

void call_trace::finish(error_code ec) {
    if (sink_.metrics && target_ == request_event::endpoint::graphql) {
        sink_.metrics->call_ended(classify_outcome(ec), std::chrono::steady_clock::now() - start_);
    }
    if (pending_) {
        pending_->last = true;
        if (ec) {
            pending_->error = ec;
        }
        emit(*pending_);
        pending_.reset();
    }
}

void call_trace::emit(request_event& e) {
    e.response_headers = captured_;
    e.request_id = request_id_;
    sink_.gate->run([&] { (*sink_.hook)(e); });
}

} // namespace glue::detail
