// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_INTERNAL_MOCK_STATE_HPP
#define GLUE_TESTING_INTERNAL_MOCK_STATE_HPP

// What the mock server knows (tokens, codes, workspaces, counters, faults) and the plain HTTP
// messages its endpoints take and give. The endpoints are functions on this state, in files of
// their own (mock_routes, mock_oauth, mock_graphql_endpoint, mock_workspaces, mock_webhooks);
// only mock_http_server speaks HTTP on sockets, and converts to and from these messages.

#include <glue/testing/mock_server.hpp>

#include "testing/mock_rate_limit.hpp"
#include "testing/test_pki.hpp"

#include <boost/json/value.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace glue::testing::detail {

/// A request as the endpoints see it.
struct http_request {
    std::string method; ///< as sent: "GET", "POST", …
    std::string target;
    std::vector<std::pair<std::string, std::string>> fields; ///< as received, in order
    std::string body;

    /// The value of the first field called `name` (in any case); empty if there is none.
    std::string_view field(std::string_view name) const;
};

/// An answer as the endpoints give it; the server adds Content-Length and Connection.
struct http_response {
    unsigned status = 200;
    std::vector<std::pair<std::string, std::string>> fields; ///< in the order they are sent
    std::string body;

    /// Replaces the fields called `name` (in any case) with one, added last.
    void set(std::string_view name, std::string value);
};

http_response json_response(unsigned status, std::string body);
/// The page a browser shows when the authorize request can't be redirected anywhere safe.
http_response text_response(unsigned status, std::string body);
std::string oauth_error_body(std::string_view error, std::string_view description);
std::string graphql_error_body(std::string_view message);

/// Where webhooks go: tests receive them on the loopback interface (127.0.0.1), over plain HTTP.
struct webhook_target {
    std::uint16_t port = 0;
    std::string host;   ///< the Host header
    std::string target; ///< path and query
};

/// One copy of one event, on its way.
struct webhook_job {
    webhook_target to;
    std::string type, workspace, body;
    unsigned copy = 0;
};

struct issued_token {
    std::string workspace;
    std::chrono::steady_clock::time_point expires_at;
    std::uint64_t generation; // the workspace's revocation generation when issued
    std::uint64_t grant = 0;  // the authorization it comes from; 0: client credentials
};

// An authorization code and what GET /oauth/authorize bound it to.
struct code_record {
    std::string client_id, redirect_uri, challenge, workspace;
    std::vector<std::string> scopes;
    std::chrono::steady_clock::time_point expires_at;
    std::uint64_t grant = 0; // non-zero once exchanged: the grant its tokens belong to
};

struct refresh_record {
    std::string client_id, workspace;
    std::vector<std::string> scopes;
    std::uint64_t grant;
};

struct message_record {
    std::string id, text, thread_id, user_id;
    std::chrono::system_clock::time_point created_at;
};

struct thread_record {
    std::string id, subject;
    bool chat = false; // a persistent chat (threadType chat) rather than a subject thread
    std::chrono::system_clock::time_point created_at;
    std::uint64_t last_message = 0; // the workspace's clock at its latest message
};

// What sendMessage changes in a workspace, and its seeded threads.
struct workspace_state {
    std::vector<thread_record> threads;                     // in creation order
    std::unordered_map<std::string, std::size_t> thread_at; // id -> index in threads
    std::unordered_map<std::string, message_record> messages;
    std::vector<std::string> message_order; // ids, in creation order
    // Upsert keys (threadBy, uniqueBy) and recipient sets (a chat each) -> ids.
    std::unordered_map<std::string, std::string> thread_by, unique_by, chats;
    // Orders last messages: timestamps of quick successive sends can tie.
    std::uint64_t clock = 0;
};

struct mock_state {
    /// Makes the test PKI when opts.tls; throws std::invalid_argument for a bad webhook URL.
    explicit mock_state(mock_server_options o);

    /// n random base62 characters.
    std::string random_id_locked(std::size_t n);
    std::size_t counter(std::size_t mock_state::*which) const;

    const mock_server_options opts;
    test_pki pki;
    /// The GraphQL endpoint's rate limits (thread-safe on their own), on opts.rate_limit_clock.
    rate_limiter limiter;
    rate_time rate_now() const;
    /// Answers given so far: the next one's X-Request-Id is req_<answers + 1>.
    std::atomic<std::uint64_t> answers{0};

    mutable std::mutex mtx; // guards everything below
    std::mt19937_64 rng;
    std::chrono::seconds token_lifetime;
    boost::json::value raw_expires_in;
    std::set<std::string> installed, uninstalled;
    std::unordered_map<std::string, issued_token> tokens;
    std::unordered_map<std::string, std::uint64_t> generation; // bumped by revoke_tokens()
    std::unordered_map<std::string, workspace_state> spaces;
    std::atomic<bool> repeat_cursor{false};
    std::optional<fault> faults[2];
    recorded_request last_requests[2];
    std::size_t token_concurrency = 0, max_token_concurrency = 0, unauthorized_total = 0;
    std::size_t requests_total = 0, token_requests_total = 0, graphql_requests_total = 0,
                connections_accepted = 0, concurrent = 0, max_concurrent = 0, handshakes = 0,
                messages_created = 0;
    std::unordered_map<std::string, std::size_t> token_requests_by_workspace;
    std::unordered_map<std::string, std::size_t> messages_created_by_workspace;
    glue::testing::http2_stats h2;
    std::uint64_t h2_streams_seen = 0; // numbers streams for the refusal knobs; never reset
    // GraphQL operations executed: by name, and for mutations a hash of what makes one the
    // same (workspace, document, name, variables) to tell a repeat.
    std::unordered_map<std::string, std::size_t> graphql_executions;
    std::size_t mutations_executed = 0, mutation_repeats = 0;
    std::unordered_set<std::uint64_t> mutations_seen;
    mutable std::string ca_path;
    // OAuth: codes and refresh tokens; a grant is one code exchange and what it led to.
    std::atomic<bool> authorize_denied{false};
    std::unordered_map<std::string, code_record> codes;
    std::unordered_map<std::string, refresh_record> refresh_tokens;
    std::set<std::uint64_t> revoked_grants;
    std::uint64_t last_grant = 0;
    std::size_t authorizations_total = 0;
    // Webhooks
    std::optional<webhook_target> hook;
    unsigned webhook_copies = 1;
    bool stopped = false; // set by stop(): nothing is handed to start_delivery any more
    /// Starts a delivery on the server's threads without waiting for it (set by the server;
    /// called with mtx held, so it only posts).
    std::function<void(webhook_job)> start_delivery;
    std::vector<webhook_delivery> deliveries;
    std::size_t pending_webhooks = 0;
};

/// The same input always gives the same id: tests can predict a workspace's app user.
std::string stable_id(std::string_view prefix, std::string_view ws, std::size_t n);
/// The app's user (usr_…) in the workspace.
std::string app_user_id(std::string_view ws);
/// ISO 8601 in UTC with milliseconds, the form GraphQL APIs commonly use for DateTime.
std::string iso8601(std::chrono::system_clock::time_point t);

} // namespace glue::testing::detail

#endif
