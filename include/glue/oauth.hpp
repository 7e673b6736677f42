// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_OAUTH_HPP
#define GLUE_OAUTH_HPP

/// \file
/// The authorization-code flow that installs an app into a workspace (RFC 6749 §4.1, with PKCE
/// from RFC 7636):
///
///   1. /install:  state = make_state(), verifier = make_code_verifier(); keep both for the
///                 browser (a cookie) and redirect to authorize_url(cfg, {scopes, state,
///                 pkce_challenge(verifier)}).
///   2. /callback: code = parse_callback(target, kept_state).code;
///                 tokens = co_await client.exchange_code(code, {}, verifier);
///   3. later:     tokens = co_await client.refresh(tokens.refresh_token);
///
/// The token sets go into a token_store. Workspace tokens for the app's own calls need none of
/// this: client::fetch_token gets them with the client-credentials grant.

#include <glue/config.hpp>
#include <glue/export.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <iosfwd>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace glue::oauth {

/// What the authorization request asks for.
struct authorize_params {
    /// Sent comma-separated, as Glue documents (e.g. "threads:read", "threads.messages:write").
    std::vector<std::string> scopes;
    /// The CSRF token the callback must bring back (make_state()). Required.
    std::string state;
    /// pkce_challenge(verifier) to use PKCE (method S256); empty: no PKCE.
    std::string code_challenge;
    /// Where Glue sends the user back; empty: client_config::redirect_uri.
    std::string redirect_uri;
};

/// {api_url}/oauth/authorize?response_type=code&client_id=…&redirect_uri=…&scope=a,b&state=…
/// (and code_challenge, code_challenge_method=S256 with PKCE), form-encoded as RFC 6749 §4.1.1
/// asks. Throws glue::error (errc::invalid_argument) for an unusable api_url, no client_id, no
/// or a non-absolute redirect_uri (or one with a fragment), no scopes or an empty scope or one
/// with a comma, an empty state, a code_challenge that is not 43 base64url characters, or a
/// control character anywhere.
GLUE_DECL std::string authorize_url(const client_config& cfg, const authorize_params& params);

/// A fresh `state`: 256 bits from OpenSSL's CSPRNG, base64url without padding (43 characters).
/// Throws glue::error if the CSPRNG fails.
GLUE_DECL std::string make_state();

/// A fresh PKCE code verifier (RFC 7636 §4.1): 256 bits from OpenSSL's CSPRNG, base64url
/// without padding (43 characters of the unreserved alphabet).
GLUE_DECL std::string make_code_verifier();

/// RFC 7636 S256: BASE64URL(SHA256(code_verifier)) without padding. Throws glue::error
/// (errc::invalid_argument) for a verifier that is not 43 to 128 characters of
/// [A-Za-z0-9-._~].
GLUE_DECL std::string pkce_challenge(std::string_view code_verifier);

/// What the redirect back to the app carried, once checked.
struct authorization_response {
    std::string code; ///< the authorization code, for client::exchange_code()
    /// Every query parameter, decoded, in order (for ones Glue may add, such as `iss`).
    std::vector<std::pair<std::string, std::string>> parameters;
};

/// Parses the redirect's request target ("/callback?code=…&state=…", or a full URL) and checks
/// its `state` against `expected_state` in constant time, then looks for an error, then for the
/// code. Throws glue::error:
///   - errc::state_mismatch: no state, a different one, or a repeated one;
///   - errc::authorization_denied: the redirect carries `error` (oauth_error() is its value,
///     e.g. "access_denied"; oauth_error_description() the server's text);
///   - errc::missing_code: neither a code nor an error;
///   - errc::invalid_argument: a target that is not a URI, malformed percent-encoding, a
///     repeated `code` or `error` (RFC 6749 §3.1), or an empty `expected_state`.
GLUE_DECL authorization_response parse_callback(std::string_view target,
                                                std::string_view expected_state);

/// The tokens the authorization-code and refresh-token grants answer with (RFC 6749 §5.1).
struct token_set {
    std::string access_token; ///< a secret
    std::string token_type;   ///< "Bearer"
    /// Empty when the server issued none. A secret; a refresh may replace it (rotation).
    std::string refresh_token;
    std::string user_id; ///< the app's user in the workspace (usr_…), when sent
    /// `scope`, as a space- or comma-separated string or a JSON array.
    std::vector<std::string> scopes;
    /// On the wall clock, so a stored set can be judged after a restart; anchored at the moment
    /// the request was sent. From `expires_in` (client_config::default_token_lifetime if none).
    std::chrono::system_clock::time_point expires_at;
};

/// Prints the set with its tokens redacted to at most their last 4 characters.
GLUE_DECL std::ostream& operator<<(std::ostream& os, const token_set& tokens);

/// Where an app keeps the token sets of its installations (or users), under keys it chooses
/// (say, the workspace or the user id). Awaitable, so a database or Redis can stand behind it.
class GLUE_DECL token_store {
public:
    virtual ~token_store() = default;
    /// Stores `tokens` under `key`, replacing what was there.
    virtual boost::asio::awaitable<void> save(std::string key, token_set tokens) = 0;
    /// The set stored under `key`, if any.
    virtual boost::asio::awaitable<std::optional<token_set>> load(std::string key) = 0;
    /// Forgets `key` (nothing happens if it is not there).
    virtual boost::asio::awaitable<void> erase(std::string key) = 0;
};

/// A token_store in this process's memory: for tests, tools and single-process apps. Safe to
/// use from several threads; completes at once, never suspending.
class GLUE_DECL memory_token_store final : public token_store {
public:
    boost::asio::awaitable<void> save(std::string key, token_set tokens) override;
    boost::asio::awaitable<std::optional<token_set>> load(std::string key) override;
    boost::asio::awaitable<void> erase(std::string key) override;
    /// How many keys are stored.
    std::size_t size() const;

private:
    mutable std::mutex mtx_;
    std::map<std::string, token_set, std::less<>> sets_;
};

} // namespace glue::oauth

#endif
