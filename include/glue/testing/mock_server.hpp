// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_MOCK_SERVER_HPP
#define GLUE_TESTING_MOCK_SERVER_HPP

/// \file
/// An in-process stand-in for Glue's API, for your tests and ours: the authorize endpoint, the
/// token endpoint (client-credentials, authorization-code and refresh-token grants, PKCE S256),
/// the GraphQL endpoint with the operations Glue documents, and the outbound webhooks, on
/// 127.0.0.1 with an ephemeral port, over plain HTTP or TLS, in HTTP/1.1 or HTTP/2 (negotiated
/// by ALPN), with counters and fault knobs. Link glue::testing.

#include <glue/config.hpp>

#include <boost/json/value.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace glue::testing {

/// The endpoints a fault can be set on.
enum class endpoint { token, graphql };

/// How the next answers of an endpoint misbehave.
///
/// Over HTTP/2 (mock_server_options::http2) each kind acts on the request's stream alone, the
/// connection and its other streams going on: what closes the connection in HTTP/1.1 resets the
/// stream instead (RST_STREAM with INTERNAL_ERROR). malformed_json, oversized_body,
/// oversized_headers (at most 1 MiB of filler fields: a header block is held whole),
/// slow_body and stall_after_headers are as in HTTP/1.1, without closing; truncated_body,
/// close_after_headers and reset_mid_body send what they send in HTTP/1.1, then the reset;
/// close_without_response and close_after_processing reset the stream without an answer;
/// chunked sends the body in three DATA frames and an empty one that ends the stream,
/// `write_interval` apart.
struct fault {
    /// How the answer goes wrong.
    enum class kind {
        none,                ///< the normal answer (after `delay`), or `status` with `body`
        malformed_json,      ///< status 200 with a body that is not JSON
        truncated_body,      ///< Content-Length promises more than is sent, then close
        oversized_body,      ///< a body of `oversized_bytes`
        close_after_headers, ///< send the headers, then close
        /// Read the request, then close without processing it: nothing happens on the server.
        close_without_response,
        /// Read and process the request (a sendMessage creates its message, counters count
        /// it), then close without answering: the client can't know that it took effect.
        close_after_processing,
        /// Send the headers (with the right Content-Length) and part of the normal body, then
        /// an abortive close (SO_LINGER 0): the client's read fails with ECONNRESET.
        reset_mid_body,
        /// The normal answer with about `oversized_bytes` of filler fields in its header block.
        oversized_headers,
        /// The normal answer with Transfer-Encoding: chunked, in several chunks written one at
        /// a time `write_interval` apart; the last chunk ("0\r\n\r\n") is split over two
        /// writes. The connection is kept alive when the request asks for it.
        chunked,
        /// The headers of the normal answer at once, then its body one byte every
        /// `write_interval`, then close.
        slow_body,
        /// The headers of the normal answer (with its Content-Length), then nothing: no body,
        /// no close, until the client gives up (HTTP/1.1: closes the connection, or 30 s pass;
        /// HTTP/2: resets the stream). For a client's deadline on a stalled answer.
        stall_after_headers,
    };
    kind what = kind::none;  ///< how the answer goes wrong
    int status = 0;          ///< with kind::none: answer with this status instead
    std::string body;        ///< the body for `status` (empty: a fitting default)
    std::string retry_after; ///< a Retry-After header, if not empty
    /// Wait this long before answering (the request is processed first, then the answer waits).
    std::chrono::milliseconds delay{0};
    std::size_t oversized_bytes = 64 * 1024 * 1024; ///< oversized_body, oversized_headers
    /// chunked and slow_body: the pause between two writes.
    std::chrono::milliseconds write_interval{10};
    int times = -1; ///< how many requests it applies to; -1: until cleared
};

/// What a mock_server serves and how: set what a test needs, keep the defaults for the rest.
struct mock_server_options {
    bool tls = false; ///< serve HTTPS, with a certificate from a test CA made at start (ca_pem())
    std::uint16_t port = 0; ///< 0: an ephemeral port
    unsigned threads = 1;   ///< threads serving requests

    std::string client_id = "glue-test-client";     ///< the one client the server knows
    std::string client_secret = "glue-test-secret"; ///< its secret (invalid_client otherwise)
    /// The app's registered redirect URLs: a client-credentials token request and an authorize
    /// request must bring one of them.
    std::vector<std::string> redirect_uris = {"http://localhost:8080/oauth/callback"};

    /// Every wks_… id counts as a workspace where the app is installed; otherwise only
    /// `workspaces` (and those added with install_workspace()).
    bool any_workspace = true;
    std::vector<std::string> workspaces; ///< installed workspaces (see any_workspace)

    std::chrono::seconds token_lifetime{3600}; ///< the `expires_in` of the tokens issued
    /// Groups every workspace has (`groups`, `node(id:)`), with ids stable for a workspace.
    std::size_t groups_per_workspace = 5;
    /// Threads every workspace starts with (subject "Thread 1", …; threadType "thread"), with
    /// stable ids like the groups'. sendMessage adds the threads and chats it creates.
    std::size_t threads_per_workspace = 3;
    /// The largest `first` or `last` a connection accepts; above it the field fails. Without
    /// either, a connection returns min(50, max_page_size) items, as Glue documents.
    std::size_t max_page_size = 100;

    /// The server certificate's host names and IP addresses (TLS only).
    std::vector<std::string> tls_hosts = {"localhost", "127.0.0.1", "::1"};
    bool tls_expired = false; ///< serve a certificate that expired a day ago (TLS only)
    /// How long an idle keep-alive connection stays open (0: until the client closes it). An
    /// HTTP/2 connection is idle when no stream is open; it then ends with GOAWAY (NO_ERROR).
    std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};

    // HTTP/2, with nghttp2 doing the framing. Every stream is answered by the same endpoints,
    // with the same counters, faults, rate limits, compression and request ids, as an HTTP/1.1
    // request. Request headers are limited to 1 MiB per stream (more: RST_STREAM), bodies to
    // 16 MiB (more: RST_STREAM INTERNAL_ERROR); http2_stats() counts what happened.
    /// Offer HTTP/2 on TLS: the server's ALPN picks "h2" when the client offers it, else
    /// "http/1.1" (a client offering only that, or no ALPN at all, gets HTTP/1.1). Off, ALPN
    /// picks "http/1.1" alone, as a server without HTTP/2 does.
    bool http2 = false;
    /// Plain HTTP (tls false) speaks HTTP/2 with prior knowledge (RFC 9113 §3.3): every
    /// connection must open with the HTTP/2 preface, none is HTTP/1.1. For tests that want
    /// HTTP/2 without TLS; no effect with tls.
    bool http2_prior_knowledge = false;
    /// SETTINGS_MAX_CONCURRENT_STREAMS, which nghttp2 enforces: a stream beyond it is refused
    /// (REFUSED_STREAM) while the client has not acknowledged the setting, and is a connection
    /// error (GOAWAY with PROTOCOL_ERROR) after.
    std::uint32_t http2_max_concurrent_streams = 100;
    /// A graceful GOAWAY (NO_ERROR) when a connection opens its N-th stream (refused ones
    /// count), with that stream as the last one processed: it is answered, every later stream
    /// of the connection is left unprocessed as the protocol says (the client may send it again
    /// on another connection), and the connection closes once its streams are done. 0: never.
    std::size_t http2_goaway_after_streams = 0;
    /// Once a connection has opened N streams and answered them all, it goes silent: it takes
    /// whatever the client sends and answers nothing (no response, no PING answer, no GOAWAY),
    /// as a peer behind a network path that died without a reset seems to. 0: never.
    std::size_t http2_silent_after_streams = 0;
    /// Refuse the first N streams the server sees (RST_STREAM REFUSED_STREAM: not processed),
    /// counted across connections from the start.
    std::size_t http2_refuse_first_streams = 0;
    /// Refuse every k-th stream the server sees (the k-th, the 2k-th, …, counted as for
    /// http2_refuse_first_streams); 0: none.
    std::size_t http2_refuse_every = 0;
    /// Never grant flow-control window for request bodies: SETTINGS_INITIAL_WINDOW_SIZE 0 and
    /// no WINDOW_UPDATE ever, so a request body stalls and the request is never processed. A
    /// client that sends before it has the server's SETTINGS may use the protocol's initial
    /// windows (65,535 bytes for the connection, never given back): a body larger than that
    /// always stalls. For an answer that stalls, see fault::kind::stall_after_headers.
    bool http2_stall_request_bodies = false;
    /// Gzip every answer of at least compress_min_bytes whose request's Accept-Encoding allows
    /// gzip (Content-Encoding: gzip, Vary: Accept-Encoding), as a web server with compression on
    /// does. Off by default.
    bool compress = false;
    /// Smaller answers go uncompressed, as with nginx's gzip_min_length: too little to gain.
    std::size_t compress_min_bytes = 1024;
    /// Every answer carries `X-Request-Id: req_<n>`, n counting the server's answers from 1, as
    /// many APIs and load balancers do (client_config::capture_response_headers keeps it). False:
    /// none, for a test that needs answers of the same bytes every time.
    bool request_ids = true;

    // Rate limits of the GraphQL endpoint, as token buckets. A request with a valid token beyond
    // them is answered 429 with Retry-After and a small JSON error, and is not executed;
    // rate_limit_stats() counts. (An outage, 503 without Retry-After to every request, is a
    // fault: set_fault(endpoint::graphql, {.status = 503}) until clear_faults().)
    /// GraphQL requests per second admitted across the app; 0: no limit.
    double graphql_rate_limit = 0;
    /// GraphQL requests per second admitted for each workspace (the one the bearer token was
    /// issued for); 0: no limit.
    double graphql_rate_limit_per_workspace = 0;
    /// Requests a bucket lets through back to back after being idle; 0: a second's worth of its
    /// rate (at least 1), so "N a second" lets N through at once after an idle second.
    std::size_t rate_limit_burst = 0;
    /// The least Retry-After a 429 carries; more when a slow bucket needs longer to admit the
    /// request (the whole seconds until it would, rounded up).
    std::chrono::seconds rate_limit_retry_after{1};
    /// The clock the buckets refill by (empty: steady_clock::now); tests hold it still or step
    /// it. Called on the server's threads, so it must be thread-safe.
    std::function<std::chrono::steady_clock::time_point()> rate_limit_clock;

    /// The scopes GET /oauth/authorize accepts (its `scope` is a comma-separated subset).
    std::vector<std::string> scopes = {"workspaces:read", "threads:read", "groups:read",
                                       "threads.messages:write"};
    /// Where an approved authorization installs the app.
    std::string authorize_workspace = "wks_InstalledByAuthorizeFlow000001";
    /// How long an authorization code can be exchanged.
    std::chrono::seconds code_lifetime{600};
    /// How the authorization_code and refresh_token responses spell `scope`: a space-separated
    /// string (RFC 6749), or a JSON array (Linear's old style).
    bool scope_as_array = false;

    /// Where events are POSTed: `http://127.0.0.1:<port>/<path>` only (plain HTTP, loopback).
    /// Empty: no webhooks are sent.
    std::string webhook_url;
    /// The key of X-Glue-Event-Signature (HMAC-SHA256 of the body, lowercase hex).
    std::string webhook_secret = "glue-test-webhook-secret";
    /// After a failed attempt (any status but 200, no connection, a timeout), the next one
    /// waits this long; once they are used up the delivery is dropped. Glue's schedule; tests
    /// scale it down.
    std::vector<std::chrono::milliseconds> webhook_retry_delays = {
        std::chrono::seconds(10), std::chrono::minutes(1), std::chrono::minutes(10)};
    /// How long one delivery attempt may take, connecting included.
    std::chrono::milliseconds webhook_timeout{std::chrono::seconds(10)};
};

/// A message as the mock server holds it.
struct mock_message {
    std::string id;        ///< msg_…
    std::string thread_id; ///< thr_…
    std::string text;      ///< as written
    std::string user_id;   ///< the author: the app user (sendMessage) or a human
};

/// One attempt at delivering a webhook event.
struct webhook_delivery {
    std::string type;      ///< "message.created", "thread.created"
    std::string workspace; ///< wks_…
    std::string body;      ///< the JSON sent, byte for byte
    unsigned copy = 0;     ///< which copy of the event (see set_webhook_copies()), from 0
    unsigned attempt = 1;  ///< 1 for the first attempt, 2 for the first retry, …
    int status = 0;        ///< the HTTP status answered; 0: no response (refused, timeout)
    std::chrono::steady_clock::time_point sent_at; ///< when the attempt started
};

/// What the GraphQL endpoint's rate limits did (mock_server::rate_limit_stats()).
struct rate_limit_stats {
    /// Requests with a valid token that went on to be executed (all of them without limits).
    std::size_t admitted = 0;
    std::size_t refused = 0;           ///< answered 429: refused_app + refused_workspace
    std::size_t refused_app = 0;       ///< by the app-wide limit
    std::size_t refused_workspace = 0; ///< by their workspace's limit, the app's having room
};

/// What the HTTP/2 side of a mock_server saw, and which protocol TLS handshakes negotiated
/// (mock_server::http2_stats()).
struct http2_stats {
    /// Connections that spoke HTTP/2 (ALPN "h2", or prior knowledge).
    std::size_t connections = 0;
    std::size_t tls_handshakes_h2 = 0; ///< TLS handshakes that negotiated "h2"
    /// TLS handshakes that negotiated "http/1.1", or no protocol (a client without ALPN).
    std::size_t tls_handshakes_http1 = 0;
    /// Request streams the server took in (their HEADERS arrived), refused ones included.
    std::size_t streams_opened = 0;
    /// Streams left unprocessed: refused with REFUSED_STREAM (by the refusal options, or by
    /// nghttp2 beyond a stream limit the client had not acknowledged yet), or opened past the
    /// last stream id of a GOAWAY the server had decided to send.
    std::size_t streams_refused = 0;
    /// The most streams being processed at once on one connection.
    std::size_t max_concurrent_streams = 0;
    std::size_t goaways_sent = 0; ///< GOAWAY frames sent, whatever their error code
    /// Of those, the ones with an error code other than NO_ERROR: the client broke the protocol
    /// (exceeding the stream limit, a malformed frame).
    std::size_t goaways_sent_with_error = 0;
    /// RST_STREAM frames received from clients, by error code (RFC 9113 §7: 8 is CANCEL).
    std::map<std::uint32_t, std::size_t> resets_received;
    /// RST_STREAM frames the server sent, by error code (7 REFUSED_STREAM, 2 INTERNAL_ERROR
    /// for a fault or a request over the limits).
    std::map<std::uint32_t, std::size_t> resets_sent;
    /// Connections gone silent (mock_server_options::http2_silent_after_streams).
    std::size_t connections_silenced = 0;
};

/// A request as the server received it.
struct recorded_request {
    std::string method;                         ///< "POST", "GET", …
    std::string target;                         ///< the request target: path and query
    std::map<std::string, std::string> headers; ///< names in lower case
    std::string body;                           ///< as received
};

/// Starts serving in the constructor (on threads of its own) and stops in stop() or the
/// destructor. All member functions are thread-safe.
class mock_server {
public:
    /// Starts serving on 127.0.0.1 (opts.port, or an ephemeral one). Throws
    /// boost::system::system_error when it can't listen there.
    explicit mock_server(mock_server_options opts = {});
    ~mock_server();
    mock_server(const mock_server&) = delete;
    mock_server& operator=(const mock_server&) = delete;

    /// "http://127.0.0.1:<port>" or "https://127.0.0.1:<port>".
    std::string url() const;
    /// The port the server listens on.
    std::uint16_t port() const;
    /// A client configuration for this server: api_url, credentials, redirect_uri, and the
    /// test CA (ca_pem) for TLS.
    glue::client_config client_config() const;
    /// The test CA that signed the server certificate (TLS only; empty otherwise).
    const std::string& ca_pem() const;
    /// A file holding ca_pem(), written on first use and removed by stop().
    std::string ca_file() const;
    /// Stops serving and closes every connection. Idempotent.
    void stop();

    // Knobs
    /// From now on, answers of `e` misbehave as `f` says (replacing its fault, if any).
    void set_fault(endpoint e, fault f);
    /// Both endpoints answer normally again.
    void clear_faults();
    /// Tokens issued so far for the workspace stop working (the GraphQL endpoint answers 401).
    void revoke_tokens(std::string_view workspace);
    /// The `expires_in` of the tokens issued from now on.
    void set_token_lifetime(std::chrono::seconds lifetime);
    /// Sends this raw `expires_in` value instead of the lifetime (null: the lifetime).
    void set_expires_in(boost::json::value raw);
    /// The app is installed in `workspace` from now on: it can have tokens for it.
    void install_workspace(std::string_view workspace);
    /// The app is no longer installed in `workspace`: token requests for it are refused.
    void uninstall_workspace(std::string_view workspace);
    /// While set, every connection misbehaves: its pageInfo says hasNextPage and
    /// hasPreviousPage are true, and endCursor (startCursor) is the same cursor on every page,
    /// the one the first forward (backward) page of that size would end (start) with.
    void set_repeat_cursor(bool on);
    /// While on, GET /oauth/authorize answers as if the user declined: a redirect with
    /// error=access_denied.
    void set_authorize_denied(bool on);
    /// Where webhooks go from now on (see mock_server_options::webhook_url; empty: nowhere).
    /// Throws std::invalid_argument for any other form.
    void set_webhook_url(std::string url);
    /// Delivers each event `n` times, each copy with its own retries, as a forced re-delivery
    /// would (default 1).
    void set_webhook_copies(unsigned n);

    // Acting as Glue's users
    /// The app's user (usr_…) in the workspace.
    std::string app_user_id(std::string_view workspace) const;
    /// A human (`user_id`) writes `text` into thread `thread_id` (an unknown id is adopted, as
    /// sendMessage does) and message.created is emitted. Returns the message id.
    std::string post_message(std::string_view workspace, std::string_view thread_id,
                             std::string_view text,
                             std::string_view user_id = "usr_HumanTestUser00000000000000");
    /// A human starts a thread with a subject and a first message, and thread.created is
    /// emitted (event.thread, and event.message for the first message). Returns the thread id.
    std::string create_thread(std::string_view workspace, std::string_view subject,
                              std::string_view text,
                              std::string_view user_id = "usr_HumanTestUser00000000000000");
    /// Every message in the workspace, in creation order.
    std::vector<mock_message> messages(std::string_view workspace) const;

    /// The last request an endpoint received (empty if none).
    recorded_request last_request(endpoint e) const;

    // Counters
    /// Every request, whatever its path.
    std::size_t requests() const;
    /// Requests to the token endpoint, every grant.
    std::size_t token_requests() const;
    /// Client-credentials token requests for `workspace` (those that passed the client and
    /// redirect_uri checks).
    std::size_t token_requests(std::string_view workspace) const;
    /// Requests to the GraphQL endpoint, refused ones included.
    std::size_t graphql_requests() const;
    /// TCP connections accepted.
    std::size_t connections_accepted() const;
    /// The most connections ever open at the same time.
    std::size_t max_concurrent_connections() const;
    /// Connections open now (accepted and not yet closed by either side).
    std::size_t open_connections() const;
    /// TLS handshakes completed (by protocol: http2_stats()).
    std::size_t tls_handshakes() const;
    /// What HTTP/2 connections and streams did, and the TLS handshakes by the protocol they
    /// negotiated.
    glue::testing::http2_stats http2_stats() const;
    /// Times a GraphQL operation called `operation_name` was executed (its fields resolved; a
    /// request refused before, by a 401, a rate limit, a fault or a document that doesn't
    /// validate, is not). "" counts the anonymous ones.
    std::size_t graphql_executions(std::string_view operation_name) const;
    /// Mutations executed, whatever their name.
    std::size_t mutations_executed() const;
    /// Mutations executed again: the same workspace, document, operation name and variables as
    /// a mutation executed before (since the last reset_counters()). 0: none ran twice.
    std::size_t mutation_repeats() const;
    /// The most token requests ever being answered at the same time (delays included).
    std::size_t max_concurrent_token_requests() const;
    /// What the GraphQL endpoint's rate limits admitted and refused (401s and faults aside).
    glue::testing::rate_limit_stats rate_limit_stats() const;
    /// 401s the GraphQL endpoint answered (a rejected, expired or missing token).
    std::size_t unauthorized_responses() const;
    /// Messages sendMessage created (an upsert through uniqueBy creates none).
    std::size_t messages_created() const;
    /// Messages sendMessage created in `workspace`.
    std::size_t messages_created(std::string_view workspace) const;
    /// GET /oauth/authorize requests that redirected with a code.
    std::size_t authorizations() const;
    /// Every webhook delivery attempt made so far, in the order they ended.
    std::vector<webhook_delivery> webhook_deliveries() const;
    /// Deliveries still to be attempted or in flight (0: the emitter is idle). stop() drops
    /// them all.
    std::size_t webhooks_pending() const;
    /// Zeroes the counters (authorizations() included); messages() and webhook_deliveries()
    /// are records and stay.
    void reset_counters();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace glue::testing

#endif
