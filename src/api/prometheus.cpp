// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/prometheus.hpp>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>

namespace glue {

namespace {

// The text is built in a string with std::to_chars and written at once: no locale and none of
// the caller's stream flags take part, and the stream's state is left as it was.
class exposition {
public:
    struct label {
        std::string_view name, value;
    };

    /// A metric's # HELP and # TYPE lines; its samples follow.
    void family(std::string_view name, std::string_view type, std::string_view help) {
        text_ += "# HELP ";
        text_ += name;
        text_ += ' ';
        escape(help, false);
        text_ += "\n# TYPE ";
        text_ += name;
        text_ += ' ';
        text_ += type;
        text_ += '\n';
    }

    template <class T>
    void sample(std::string_view name, std::initializer_list<label> labels, T value) {
        text_ += name;
        if (labels.size() != 0) {
            char sep = '{';
            for (const auto& l : labels) {
                text_ += sep;
                text_ += l.name;
                text_ += "=\"";
                escape(l.value, true);
                text_ += '"';
                sep = ',';
            }
            text_ += '}';
        }
        text_ += ' ';
        number(value);
        text_ += '\n';
    }

    template <class T>
    void counter(std::string_view name, std::string_view help, T value) {
        family(name, "counter", help);
        sample(name, {}, value);
    }

    template <class T>
    void gauge(std::string_view name, std::string_view help, T value) {
        family(name, "gauge", help);
        sample(name, {}, value);
    }

    /// A counter with one sample per enumerator of `Enum`, labelled by its to_string().
    template <class Enum, std::size_t N>
    void counter_by(std::string_view name, std::string_view help, std::string_view label_name,
                    const std::array<std::uint64_t, N>& values) {
        family(name, "counter", help);
        for (std::size_t i = 0; i < N; ++i) {
            sample(name, {{label_name, to_string(static_cast<Enum>(i))}}, values[i]);
        }
    }

    /// Cumulative `le` buckets, `_sum` and `_count`. The count written is that of the buckets,
    /// so that `+Inf` and `_count` agree even if the snapshot was taken while a duration was
    /// being recorded.
    void histogram(std::string_view name, std::string_view help, const latency_histogram& h) {
        family(name, "histogram", help);
        const std::string bucket = std::string(name) + "_bucket";
        std::uint64_t below = 0;
        for (std::size_t i = 0; i < latency_histogram::bounds.size(); ++i) {
            below += h.buckets[i];
            char le[32];
            sample(bucket, {{"le", format(le, latency_histogram::bounds[i])}}, below);
        }
        below += h.buckets.back();
        sample(bucket, {{"le", "+Inf"}}, below);
        sample(std::string(name) + "_sum", {}, h.sum_seconds);
        sample(std::string(name) + "_count", {}, below);
    }

    const std::string& text() const { return text_; }

private:
    // The format's escapes: backslash and newline, and in label values the double quote.
    void escape(std::string_view s, bool quote) {
        for (char c : s) {
            if (c == '\\') {
                text_ += "\\\\";
            } else if (c == '\n') {
                text_ += "\\n";
            } else if (c == '"' && quote) {
                text_ += "\\\"";
            } else {
                text_ += c;
            }
        }
    }

    // The shortest text that reads back as the same double, spelled as Prometheus' own Go
    // clients do (strconv's 'g' with the shortest precision: 1e-05, 0.0001, 100, 1e+06), so
    // that `le` values match theirs; and Go's spelling of the specials.
    static std::string_view format(char (&buf)[32], double v) {
        if (std::isnan(v)) {
            return "NaN";
        }
        if (std::isinf(v)) {
            return v > 0 ? "+Inf" : "-Inf";
        }
        const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
        return {buf, static_cast<std::size_t>(r.ptr - buf)};
    }

    template <class T>
    void number(T v) {
        char buf[32];
        if constexpr (std::is_floating_point_v<T>) {
            text_ += format(buf, static_cast<double>(v));
        } else {
            static_assert(std::is_unsigned_v<T> && !std::is_same_v<T, bool>);
            const auto r = std::to_chars(buf, buf + sizeof buf, v);
            text_.append(buf, r.ptr);
        }
    }

    std::string text_;
};

void write_client(exposition& x, const client_metrics& m) {
    x.counter_by<call_outcome>(
        "glue_graphql_calls_total",
        "GraphQL calls that ended, by outcome (ok, or the class of the failure); their sum is "
        "every call",
        "outcome", m.outcomes);
    x.counter("glue_graphql_attempts_total",
              "GraphQL requests sent for calls, a call's retries included", m.attempts);
    x.counter_by<retry_reason>("glue_graphql_retries_total",
                               "GraphQL requests sent again, by the reason for the retry", "reason",
                               m.retries);
    x.histogram("glue_graphql_call_duration_seconds",
                "GraphQL calls from start to end: token, throttling, connection, exchanges and "
                "retries",
                m.call_duration);
    x.histogram("glue_http_exchange_duration_seconds",
                "HTTP exchanges (GraphQL and token requests): one request written and its "
                "response read",
                m.exchange_duration);

    const pool_stats& p = m.pool;
    x.family("glue_pool_connections", "gauge",
             "Connections to the API by state: idle (kept for the next request), leased "
             "(exchanges in progress: one per HTTP/1.1 connection in use, one per HTTP/2 "
             "stream) and connecting (being opened)");
    x.sample("glue_pool_connections", {{"state", "idle"}}, p.idle);
    x.sample("glue_pool_connections", {{"state", "leased"}}, p.leased);
    x.sample("glue_pool_connections", {{"state", "connecting"}}, p.connecting);
    // With HTTP/2 the states above do not add up to the connections: one carries many streams.
    x.gauge("glue_pool_open_connections", "Connections open to the API, idle or in use", p.open);
    x.gauge("glue_pool_http2_connections", "Open connections speaking HTTP/2", p.http2);
    x.gauge("glue_pool_waiting_requests", "Requests waiting for a connection", p.waiting);
    x.counter("glue_pool_connects_total", "Connections opened successfully", p.connects);
    x.counter("glue_pool_connect_failures_total",
              "Attempts to open a connection that failed or timed out", p.connect_failures);
    x.counter("glue_pool_tls_handshakes_total", "TLS handshakes completed", p.tls_handshakes);
    x.counter("glue_pool_resends_total",
              "Requests sent again on a new connection after a kept-alive one closed before "
              "answering",
              p.resends);
    x.counter_by<close_reason>("glue_pool_closes_total", "Connections closed, by reason", "reason",
                               p.closes);
}

void write_token_cache(exposition& x, const token_cache_stats& s) {
    x.counter("glue_token_cache_hits_total", "Calls that found a usable token cached", s.hits);
    x.counter("glue_token_cache_misses_total",
              "Calls that had to wait for, or start, a token request", s.misses);
    x.gauge("glue_token_cache_entries", "Workspaces with a token cache entry", s.entries);
    x.counter("glue_token_cache_evictions_total",
              "Token cache entries dropped to stay within max_cached_workspaces", s.evictions);
    x.counter("glue_token_flights_total",
              "Token flights started (one per workspace at a time; each may retry inside)",
              s.flights);
    x.counter("glue_token_flight_waiters_total", "Calls that waited for a token flight",
              s.waiters_joined);
    x.counter("glue_token_flight_timeouts_total",
              "Token flights that ran out of token_request_timeout", s.flight_timeouts);
    x.counter("glue_token_refresh_aheads_total",
              "Token flights started early, while the cached token was still good",
              s.refresh_aheads);
    x.counter("glue_token_requests_total", "HTTP requests to the token endpoint", s.token_requests);
    x.gauge("glue_token_requests_in_flight", "Token requests on the wire", s.in_flight);
    x.family("glue_token_request_failures_total", "counter",
             "Failed token requests by class: transient (transport, timeout, 5xx, bad body), "
             "permanent (OAuth errors, other 4xx), rate_limited (429, 503 with Retry-After)");
    x.sample("glue_token_request_failures_total", {{"class", "transient"}}, s.failures_transient);
    x.sample("glue_token_request_failures_total", {{"class", "permanent"}}, s.failures_permanent);
    x.sample("glue_token_request_failures_total", {{"class", "rate_limited"}},
             s.failures_rate_limited);
    x.counter("glue_token_remembered_error_hits_total",
              "Calls answered at once with a remembered token endpoint error",
              s.remembered_error_hits);
    x.family("glue_token_invalidations_total", "counter",
             "401s from GraphQL by result: applied (the cached token was dropped), noop (it was "
             "already replaced, or the refresh throttled)");
    x.sample("glue_token_invalidations_total", {{"result", "applied"}}, s.invalidations_applied);
    x.sample("glue_token_invalidations_total", {{"result", "noop"}}, s.invalidations_noop);
    x.family("glue_token_shared_cache_flights_total", "counter",
             "Token flights with a shared cache by result: hit (another process's token), lease "
             "(this process requested it), unavailable (the shared cache was down)");
    x.sample("glue_token_shared_cache_flights_total", {{"result", "hit"}}, s.shared_hits);
    x.sample("glue_token_shared_cache_flights_total", {{"result", "lease"}}, s.shared_leases);
    x.sample("glue_token_shared_cache_flights_total", {{"result", "unavailable"}},
             s.shared_unavailable);
}

void write_throttle(exposition& x, const throttle_stats& t) {
    x.counter("glue_throttle_requests_sent_total",
              "GraphQL requests written, every attempt counted", t.requests_sent);
    x.counter("glue_throttle_throttled_responses_total",
              "GraphQL answers 429, or 503 with Retry-After", t.throttled);
    x.counter("glue_throttle_retries_total", "GraphQL attempts after a call's first", t.retries);
    x.counter("glue_throttle_retries_denied_total",
              "Retries the retry budget refused (the failure was the call's answer)",
              t.retries_denied);
    x.counter("glue_throttle_workspace_pauses_total", "Pauses of one workspace's calls (429s)",
              t.workspace_pauses);
    x.counter("glue_throttle_app_pauses_total", "Pauses of every call of the app", t.app_pauses);
    x.counter("glue_throttle_calls_failed_waiting_total",
              "Calls whose deadline came while waiting for a pause or a turn of a rate limit",
              t.calls_failed_waiting);
    x.counter("glue_throttle_wait_seconds_total",
              "Time calls spent waiting for pauses and rate limits, summed over calls",
              static_cast<double>(t.wait_ns) / 1e9);
    x.gauge("glue_throttle_send_rate", "GraphQL requests per second sent over the last second",
            t.send_rate);
    x.gauge("glue_throttle_app_rate_limit",
            "The app-wide rate limit in force, requests per second (configured or adaptive); 0: "
            "none",
            t.app_rate_limit);
    x.gauge("glue_throttle_retry_budget_left", "Retries the retry budget allows now",
            static_cast<std::uint64_t>(t.retry_budget_left));
    x.counter("glue_throttle_fleet_batches_total", "Round trips to Redis for fleet rate permits",
              t.fleet_batches);
    x.gauge("glue_throttle_fleet_fallback",
            "1 while Redis is unreachable and the process keeps to its own share of the fleet "
            "rate; else 0",
            std::uint64_t{t.fleet_fallback ? 1u : 0u});
}

} // namespace

void write_prometheus(std::ostream& os, const client_metrics& m, const token_cache_stats& cache,
                      const throttle_stats& throttle) {
    exposition x;
    write_client(x, m);
    write_token_cache(x, cache);
    write_throttle(x, throttle);
    os.write(x.text().data(), static_cast<std::streamsize>(x.text().size()));
}

} // namespace glue
