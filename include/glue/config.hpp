// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_CONFIG_HPP
#define GLUE_CONFIG_HPP

/// \file
/// glue::client_config: everything a client is made with, and client_config::from_env().

#include <glue/export.hpp>
#include <glue/metrics.hpp>

#include <chrono>
#include <cstddef>
#include <iosfwd>
#include <string>
#include <vector>

namespace glue {

/// Whether calls go over HTTP/2. Negotiated by ALPN, so over TLS only: an http:// API URL
/// always speaks HTTP/1.1.
enum class http2_mode {
    /// Offer HTTP/2 and HTTP/1.1 on every TLS connection (ALPN "h2", "http/1.1"), and use
    /// whichever the server selects. The default.
    automatic,
    /// HTTP/1.1 only: no ALPN is offered, as before HTTP/2 support.
    off,
    /// HTTP/2 only: a server that doesn't select "h2" fails the call (errc::http_error, saying
    /// so), and an http:// API URL makes the client's constructor throw (errc::invalid_argument).
    required,
};

/// Everything a glue::client needs. A plain aggregate: set what you need, keep the defaults for
/// the rest. The client checks it when constructed and throws glue::error (errc::invalid_argument)
/// for a value it can't use.
struct GLUE_DECL client_config {
    /// Token endpoint: {api_url}/oauth/token; GraphQL endpoint: {api_url}/public/graphql.
    std::string api_url = "https://api.gluegroups.com";
    /// The app's OAuth client id (required).
    std::string client_id;
    /// The app's client secret (required). Never printed, logged or put in an error.
    std::string client_secret;
    /// A redirect URL registered for the app: sent with every client-credentials token request
    /// when set (Glue asks for it there too), and the authorization-code flow's default.
    std::string redirect_uri;
    /// The CAs trusted for https://: those of ca_file (a PEM file) and ca_pem (PEM text, handy
    /// in tests), together. Either set, they replace the system trust store rather than add to
    /// it (to trust both, also name the system bundle, e.g. ca_file =
    /// "/etc/ssl/certs/ca-certificates.crt" with ca_pem). Both empty: the system trust store.
    /// The server's certificate must name the host in its subjectAltName: partial wildcards
    /// ("a*.example.com") and the subject CN are never accepted.
    std::string ca_file;
    /// PEM text of trusted CAs, with ca_file (see there).
    std::string ca_pem;

    /// Overall deadline of one fetch_token() or graphql() call, including the wait for a token,
    /// for a connection, and any 401 retry.
    std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
    /// Deadline of one token request (the single flight shared by all callers of a workspace).
    std::chrono::milliseconds token_request_timeout{std::chrono::seconds(10)};
    /// Deadline for opening a connection: name resolution, TCP connect and TLS handshake.
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};

    /// Attempts per graphql() call (1: no retries), within request_timeout. Retried: 429 and
    /// 503 (after Retry-After when given, if it ends before the deadline), 500, 502, 503, 504
    /// and transport failures (after an exponential backoff with full jitter from
    /// graphql_retry_base_delay, at most graphql_retry_max_delay). Queries and idempotent
    /// requests are retried; other mutations only when they certainly were not sent. A 401's
    /// one token refresh and retry is separate and not counted here.
    unsigned graphql_retry_attempts = 4;
    /// The backoff before a graphql() call's first retry; it doubles with each retry (full
    /// jitter: the wait is random between 0 and the backoff).
    std::chrono::milliseconds graphql_retry_base_delay{100};
    /// The longest backoff between two attempts of a graphql() call.
    std::chrono::milliseconds graphql_retry_max_delay{std::chrono::seconds(10)};

    /// Keep-alive connections per origin (GraphQL and token requests share them). Over
    /// HTTP/2 each carries up to the server's SETTINGS_MAX_CONCURRENT_STREAMS calls at once, and
    /// another is opened only when every one's streams are in use.
    std::size_t max_connections = 64;
    /// Whether calls go over HTTP/2 (see http2_mode): by default, when the server selects it.
    http2_mode http2 = http2_mode::automatic;
    /// A pooled connection idle for longer than this is closed instead of reused (servers and
    /// middleboxes drop idle connections silently). Default 60 s; 0: no limit. Checked when a
    /// connection is taken or given back, so no timer runs for it.
    std::chrono::milliseconds connection_idle_timeout{std::chrono::seconds(60)};
    /// A connection opened longer ago than this is closed after the exchange in progress,
    /// never reused, so that DNS changes and server-side rebalancing take effect under steady
    /// load. Default 10 min; 0: no limit.
    std::chrono::milliseconds connection_max_lifetime{std::chrono::minutes(10)};
    /// Largest accepted response header block; larger is errc::bad_response.
    std::size_t max_response_header_bytes = 64 * 1024;
    /// Largest accepted response body, as received and as decoded; larger is
    /// errc::bad_response.
    std::size_t max_response_body_bytes = 32 * 1024 * 1024;
    /// Largest GraphQL request body (query plus variables); larger requests are rejected
    /// before any I/O.
    std::size_t max_request_body_bytes = 8 * 1024 * 1024;
    /// Default true: every request carries `Accept-Encoding: gzip, deflate`, and a compressed
    /// answer is decoded as it arrives, max_response_body_bytes holding both the bytes received
    /// and the bytes decoded (a body that inflates past it fails with errc::bad_response). False
    /// sends no Accept-Encoding; an answer compressed anyway with gzip or deflate is still
    /// decoded (RFC 9110 lets a server pick any coding then). Any other coding (br, zstd, ...)
    /// fails with errc::bad_response either way.
    bool accept_compressed_responses = true;

    // The token cache (docs/design.md, "Token cache"). A token is never handed out in
    // its last min(60 s, lifetime/10) (the hard margin); inside its soft window, max(2 × hard
    // margin, 20% of lifetime) capped at soft_window_cap, less a per-key jitter, it is still
    // handed out while one background request refreshes it.

    /// Lifetime assumed when the token response has no usable `expires_in`.
    std::chrono::seconds default_token_lifetime{300};
    /// The longest soft window (see above).
    std::chrono::seconds soft_window_cap{15 * 60};
    /// Largest share of the soft window taken off at random per key, so keys don't refresh in
    /// lockstep.
    double soft_window_jitter = 0.10;
    /// A refresh that brings a token already inside its soft window is not repeated sooner.
    std::chrono::milliseconds refresh_min_interval{std::chrono::seconds(10)};
    /// Attempts per token request on a transient failure (transport, timeout, 5xx), with
    /// exponential backoff and full jitter starting at token_retry_base_delay.
    unsigned token_retry_attempts = 3;
    /// The backoff before a token request's first retry; it doubles with each retry.
    std::chrono::milliseconds token_retry_base_delay{200};
    /// After a failed token request, callers without a usable token get the error at once for
    /// a per-workspace backoff: failure_backoff_initial, doubling per failed attempt, at most
    /// failure_backoff_max.
    std::chrono::milliseconds failure_backoff_initial{std::chrono::seconds(1)};
    /// The longest backoff after failed token requests (see failure_backoff_initial).
    std::chrono::milliseconds failure_backoff_max{std::chrono::seconds(60)};
    /// How long a permanent failure (an OAuth error, another 4xx) is remembered.
    std::chrono::milliseconds permanent_failure_memory{std::chrono::seconds(30)};
    /// Token requests in flight at once across all workspaces (FIFO beyond that).
    std::size_t max_concurrent_token_requests = 32;
    /// Longest pause a Retry-After from the token endpoint can impose.
    std::chrono::seconds retry_after_cap{600};
    /// Workspaces cached at once; beyond it the least recently used are dropped.
    std::size_t max_cached_workspaces = 100'000;
    /// At most one forced token refresh per workspace per this interval after a 401.
    std::chrono::milliseconds forced_refresh_interval{std::chrono::seconds(5)};
    /// Told about refreshes, invalidations and evictions (see <glue/metrics.hpp>).
    token_event_hook on_token_event;

    // The shared cache (processes sharing tokens through Redis; README, "The shared cache").
    // Off unless shared_cache_url is set; the in-process cache works as above either way.

    /// "redis://[[user]:password@]host[:port][/db]"; empty: in-process only.
    std::string shared_cache_url;
    /// 64 hex digits: the AES-256-GCM key tokens are stored under. Required with
    /// shared_cache_url: tokens are never stored in plaintext.
    std::string shared_cache_key;
    /// Deadline of one Redis command and of connecting to Redis. Past it the shared cache counts
    /// as down: token requests go on in-process, and it reconnects when next needed.
    std::chrono::milliseconds shared_cache_timeout{500};

    // Rate limits, throttling and retries of GraphQL requests (README, "Rate limits and bulk
    // jobs"; docs/design.md, "Throttling"). The token endpoint has its own limits above.

    /// GraphQL requests per second across the app; 0 (the default): no limit. A token bucket
    /// holding rate_limit_burst requests: calls take their turns in the order they asked, each
    /// within its own deadline; a call whose turn would come after its deadline fails at once
    /// with errc::rate_limited (diagnostics::retry_after: how far off its turn was). An idle
    /// limiter runs no timer.
    double max_requests_per_second = 0;
    /// The same per workspace; 0 (the default): no limit.
    double max_requests_per_second_per_workspace = 0;
    /// Requests a bucket lets through back to back after being idle; 0 (the default): a tenth of
    /// a second's worth of its rate, at least 1.
    std::size_t rate_limit_burst = 0;
    /// Follow the server's throttling (default true): after a throttling answer (429, or 503
    /// with Retry-After) the send rate of the throttled scope drops to 70% of the rate the server
    /// accepted over the last second, then grows back along a cubic curve while calls succeed
    /// (CUBIC, as the AWS SDKs' adaptive mode). Nothing is limited before the first throttling
    /// answer, so it costs nothing against a server that never throttles.
    bool adaptive_rate = true;
    /// A 429 throttles its workspace: every call for it waits for Retry-After (a doubling backoff
    /// from graphql_retry_base_delay when absent). 429s on at least app_throttle_workspaces
    /// different workspaces within throttle_window throttle the whole app, as does a 503 with
    /// Retry-After (or a 429 with no workspace in play).
    std::size_t app_throttle_workspaces = 3;
    /// The window in which 429s on app_throttle_workspaces workspaces throttle the whole app.
    std::chrono::milliseconds throttle_window{std::chrono::seconds(1)};
    /// The retry budget, as the AWS SDKs' standard retry mode: a retry after a failure (5xx, a
    /// transport error) costs retry_cost units, after a timeout retry_timeout_cost; a call that
    /// succeeds gives back its retry's cost, or 1 unit if it needed none. When the budget can't
    /// pay, the failure is the answer. Throttling answers are retried outside it: the shared
    /// pause and the adaptive rate already hold their load. 0: no budget (attempts alone limit).
    unsigned retry_budget = 500;
    /// What a retry after a 5xx or a transport error costs from retry_budget.
    unsigned retry_cost = 5;
    /// What a retry after a timeout costs from retry_budget.
    unsigned retry_timeout_cost = 10;
    /// With shared_cache_url set and max_requests_per_second > 0: the rate is the fleet's, one
    /// bucket in Redis that every process sharing the cache takes its permits from, in batches.
    /// While Redis is unreachable each process keeps to max_requests_per_second / fleet_size on
    /// its own (token_event::kind::fleet_rate_down says so, once).
    bool fleet_rate_limit = false;
    /// How many processes share the fleet's rate (fleet_rate_limit), at least 1: while Redis is
    /// unreachable each keeps to max_requests_per_second / fleet_size.
    unsigned fleet_size = 1;

    /// `http://` is accepted only for a loopback address (127.0.0.0/8, ::1) or the name
    /// localhost, and then only if every address localhost resolves to is loopback (checked
    /// before connecting; errc::invalid_argument otherwise), unless this is set.
    bool allow_insecure_http = false;
    /// Require workspace ids of the form wks_<base62>; otherwise any id without control
    /// characters or spaces is sent as is.
    bool strict_workspace_ids = false;
    /// Sent as User-Agent; empty: "glue-cpp/<version>".
    std::string user_agent;

    // Observability (README, "Observability").

    /// Told about every request's attempt: its outcome, retry decision and time split (see
    /// <glue/metrics.hpp>). Never a token, a secret, a variable's value or query text.
    request_event_hook on_request_event;
    /// Keep client::metrics()'s counters and histograms (default true): a few relaxed atomic
    /// increments per call. False keeps only the pool's figures.
    bool collect_metrics = true;
    /// Headers sent with every request, token requests included, under the rules of
    /// graphql_request::headers (checked when the client is made).
    std::vector<http_header> default_headers;
    /// Response headers kept (names, any case): in the request event and, when the call fails,
    /// in diagnostics::response_headers. The first of x-request-id, x-amzn-requestid and cf-ray
    /// among them is the request id. At most 32 names; each value kept is cut at 256 bytes.
    std::vector<std::string> capture_response_headers = {"x-request-id", "x-amzn-requestid",
                                                         "cf-ray", "retry-after"};

    // Proxies (README, "Networks"; docs/design.md, "Proxies").

    /// The HTTP proxy every request goes through: "http://[user:password@]host[:port]" (port
    /// 1080 by default; a bare "host:port" is taken as http://; https:// and SOCKS proxies are
    /// refused with errc::invalid_argument). https:// origins are reached through CONNECT, with
    /// TLS end to end and the certificate checked against the origin's name; http:// origins
    /// with absolute-form requests, through a loopback proxy only unless allow_insecure_http.
    /// The credentials are sent as Proxy-Authorization: Basic and never printed. Empty (the
    /// default): the environment's https_proxy, HTTPS_PROXY (for https://) or http_proxy,
    /// HTTP_PROXY (for http://), then all_proxy, ALL_PROXY, if proxy_from_env; a proxy from the
    /// environment is never used for a loopback api_url (127.0.0.0/8, ::1, localhost).
    std::string proxy;
    /// Hosts reached without the proxy: a comma-separated list of names (each matching itself
    /// and its subdomains, with or without a leading dot), IP addresses, CIDR ranges
    /// ("10.0.0.0/8", "::1/128"), any of them with ":port", or "*" for all. Empty (the default):
    /// the environment's no_proxy, then NO_PROXY, if proxy_from_env.
    std::string no_proxy;
    /// Whether the proxy variables of the environment count (default true); false: only proxy
    /// and no_proxy above.
    bool proxy_from_env = true;

    /// GLUE_API_URL, GLUE_CLIENT_ID, GLUE_CLIENT_SECRET, GLUE_REDIRECT_URI, GLUE_CA_FILE,
    /// GLUE_SHARED_CACHE_URL, GLUE_SHARED_CACHE_KEY, GLUE_PROXY, GLUE_NO_PROXY; variables that
    /// are unset keep the defaults above.
    static client_config from_env();
};

/// Prints the configuration with the client secret and the proxy's credentials redacted.
GLUE_DECL std::ostream& operator<<(std::ostream& os, const client_config& cfg);

} // namespace glue

#endif
