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
#include <memory>
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

/// Lives in every call's coroutine frame, which must stay small: Asio recycles frames of up to
/// about 1 KB, and beyond that glibc's slower allocation path is taken for each call. So it keeps
/// only the sums and times every call needs; the rest of an event is built on the heap, and only
/// when there is a hook.
class call_trace {
public:
    /// The call started at `start`; its requests are numbered from `first_attempt` (a token
    /// flight's later requests are traced one by one). `sink` outlives the trace.
    call_trace(const trace_sink& sink, request_event::endpoint target, std::string_view workspace,
               std::string_view operation, steady_time start, unsigned first_attempt = 1);

    /// Time spent before the attempt's send, added to its time split.
    void add_backoff(std::chrono::nanoseconds d) noexcept {
        if (d_) {
            d_->backoff += d;
        }
    }
    void add_token_wait(std::chrono::nanoseconds d) noexcept {
        if (d_) {
            d_->token_wait += d;
        }
    }
    void add_throttle_wait(std::chrono::nanoseconds d) noexcept {
        if (d_) {
            d_->throttle_wait += d;
        }
    }

    /// Takes in what one of the pool's sends went through (a declined send's wait counts too).
    void absorb(const send_trace& s);
    /// When the attempt's request was written and answered (or failed), as the pool read the
    /// clock; none when nothing was written.
    std::optional<steady_time> exchange_end() const noexcept {
        return written_ ? std::optional(ended_at_) : std::nullopt;
    }

    /// The attempt under way (the call's next request, a 401's second one included) ended at
    /// `now` with response `r`, or without one for `why`. Its event waits for then() or
    /// finish().
    void ended(const http_response* r, error_code why, steady_time now);
    /// What follows the attempt that ended: another (its event goes out now) or nothing (it
    /// waits for finish()).
    void then(const next_step& s);
    /// The call is over with `ec` (empty: success): the last attempt's event goes out, and the
    /// call is counted.
    void finish(error_code ec);

    steady_time started() const noexcept { return start_; }

private:
    /// Hands the pending event to the hook.
    void emit();

    const trace_sink& sink_;
    const request_event::endpoint target_;
    bool written_ = false;     // some of a request left during this attempt
    bool has_pending_ = false; // d_ holds an attempt's event, not yet emitted
    unsigned attempt_;
    const steady_time start_;
    steady_time ended_at_{};

    // With a hook only: the parts of the attempt's time, the last send's details, then the
    // attempt's event until then() or finish().
    struct details {
        std::string_view workspace, operation;
        steady_time attempt_start;
        std::chrono::nanoseconds backoff{0}, token_wait{0}, throttle_wait{0}, connection_wait{0};
        send_trace send;
        request_event event;
        std::vector<http_header> captured; // its headers, copied: the response moves on
        std::string request_id;
    };
    std::unique_ptr<details> d_;
};

} // namespace glue::detail

#endif
