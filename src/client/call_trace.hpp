// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_CLIENT_CALL_TRACE_HPP
#define GLUE_CLIENT_CALL_TRACE_HPP

// One call's attempts as they end: each becomes a request_event for the user's hook, and the
// call's figures go into the metrics. The call's coroutine reports what happened; the trace
// times the parts, holds the last attempt until the call's outcome is known, and emits.

#include <glue/metrics.hpp>

#include "client/call_metrics.hpp"
#include "protocol/http_message.hpp"
#include "support/clock.hpp"
#include "support/hook_gate.hpp"
#include "support/outcome.hpp"
#include "transport/http_pool.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace glue::detail {

/// Where the events and figures of a client's calls go.
struct trace_sink {
    const request_event_hook* hook = nullptr; ///< null: no events
    hook_gate* gate = nullptr;                ///< runs the hook until the client shuts down
    call_metrics* metrics = nullptr;          ///< null: metrics off
};

/// What follows an attempt.
struct next_step {
    bool retry = false;
    retry_reason reason = retry_reason::network;
    std::chrono::nanoseconds delay{0};
};

/// The retry a call's decision stands for, after a response with `status` or a transport
/// failure (`status` 0).
retry_reason retry_reason_of(unsigned status) noexcept;

class call_trace {
public:
    /// The call's requests are numbered from `first_attempt` (a token flight's later requests
    /// are traced one by one).
    call_trace(trace_sink sink, request_event::endpoint target, std::string_view workspace,
               std::string_view operation, unsigned first_attempt = 1);

    /// Time spent before the attempt's send, added to its time split.
    void add_backoff(std::chrono::nanoseconds d) noexcept { time_.backoff += d; }
    void add_token_wait(std::chrono::nanoseconds d) noexcept { time_.token_wait += d; }
    void add_throttle_wait(std::chrono::nanoseconds d) noexcept { time_.throttle_wait += d; }

    /// Handed to the pool's send(); then absorb() it.
    send_trace& send() noexcept { return send_; }
    /// Takes in what the pool's send went through (a declined send's wait counts too).
    void absorb() noexcept;

    /// The attempt under way (the call's next request, a 401's second one included) ended with
    /// response `r`, or without one for `why`. Its event waits for then() or finish().
    void ended(const http_response* r, error_code why);
    /// What follows the attempt that ended: another (its event goes out now) or nothing (it
    /// waits for finish()).
    void then(const next_step& s);
    /// The call is over with `ec` (empty: success): the last attempt's event goes out, and the
    /// call is counted.
    void finish(error_code ec);

    steady_time started() const noexcept { return start_; }

private:
    void emit(request_event& e);

    const trace_sink sink_;
    const request_event::endpoint target_;
    const std::string_view workspace_, operation_;
    const steady_time start_;
    unsigned attempt_;
    steady_time attempt_start_;
    request_event::time_split time_{};
    send_trace send_{};
    bool sent_ = false; // some of a request left during this attempt

    // The attempt that ended, until then() or finish().
    std::optional<request_event> pending_;
    std::vector<http_header> captured_; // its headers, copied: the response moves on
    std::string request_id_;
};

} // namespace glue::detail

#endif
