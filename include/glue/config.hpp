// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_CONFIG_HPP
#define GLUE_CONFIG_HPP

#include <chrono>
#include <cstddef>
#include <iosfwd>
#include <string>

namespace glue {

/// Everything a glue::client needs. A plain aggregate: set what you need, keep the defaults for
/// the rest. The client checks it when constructed and throws glue::error (errc::invalid_argument)
/// for a value it can't use.
struct client_config {
    /// Token endpoint: {api_url}/oauth/token; GraphQL endpoint: {api_url}/public/graphql.
    std::string api_url = "https://api.gluegroups.com";
    std::string client_id, client_secret, redirect_uri;
    /// PEM file of trusted CAs; empty: the system trust store.
    std::string ca_file;
    /// PEM text of trusted CAs, used in addition to ca_file (handy in tests).
    std::string ca_pem;

    /// Overall deadline of one fetch_token() or graphql() call, including the wait for a token,
    /// for a connection, and any 401 retry.
    std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
    /// Deadline of one token request (the single flight shared by all callers of a workspace).
    std::chrono::milliseconds token_request_timeout{std::chrono::seconds(10)};
    /// Deadline for opening a connection: name resolution, TCP connect and TLS handshake.
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};

    /// Keep-alive HTTP/1.1 connections per origin (GraphQL and token requests share them).
    std::size_t max_connections = 64;
    /// Largest accepted response header block and body.
    std::size_t max_response_header_bytes = 64 * 1024;
    std::size_t max_response_body_bytes = 32 * 1024 * 1024;
    /// Largest GraphQL request body (query plus variables); larger requests are rejected
    /// before any I/O.
    std::size_t max_request_body_bytes = 8 * 1024 * 1024;

    /// Lifetime assumed when the token response has no usable `expires_in`.
    std::chrono::seconds default_token_lifetime{300};
    /// At most one forced token refresh per workspace per this interval after a 401.
    std::chrono::milliseconds forced_refresh_interval{std::chrono::seconds(5)};

    /// `http://` is accepted only for loopback hosts unless this is set.
    bool allow_insecure_http = false;
    /// Require workspace ids of the form wks_<base62>; otherwise any id without control
    /// characters or spaces is sent as is.
    bool strict_workspace_ids = false;
    /// Sent as User-Agent; empty: "glue-cpp/<version>".
    std::string user_agent;

    /// GLUE_API_URL, GLUE_CLIENT_ID, GLUE_CLIENT_SECRET, GLUE_REDIRECT_URI, GLUE_CA_FILE;
    /// variables that are unset keep the defaults above.
    static client_config from_env();
};

/// Prints the configuration with the client secret redacted.
std::ostream& operator<<(std::ostream& os, const client_config& cfg);

} // namespace glue

#endif
