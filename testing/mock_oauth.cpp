// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/mock_oauth.hpp"

#include "testing/form_decoder.hpp"
#include "testing/mock_workspaces.hpp"
#include "testing/pkce_check.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <mutex>
#include <optional>
#include <ranges>
#include <vector>

namespace glue::testing::detail {

namespace json = boost::json;

namespace {

http_response oauth_error(unsigned status, std::string_view error, std::string_view description) {
    http_response res = json_response(status, oauth_error_body(error, description));
    res.set("Cache-Control", "no-store");
    return res;
}

// RFC 6749 §5.1: tokens must not be cached on the way.
http_response token_response(const json::object& body) {
    http_response res = json_response(200, json::serialize(body));
    res.set("Cache-Control", "no-store");
    res.set("Pragma", "no-cache");
    return res;
}

bool is_installed_locked(const mock_state& state, const std::string& ws) {
    return state.installed.contains(ws) ||
           (state.opts.any_workspace && ws.starts_with("wks_") && !state.uninstalled.contains(ws));
}

// A new access token for the workspace, as valid on GraphQL as any other.
std::string access_token_locked(mock_state& state, const std::string& ws, std::uint64_t grant) {
    std::string token = "glue_at_" + state.random_id_locked(32);
    state.tokens[token] = {ws, std::chrono::steady_clock::now() + state.token_lifetime,
                           state.generation[ws], grant};
    return token;
}

json::value expires_in_locked(const mock_state& state) {
    return state.raw_expires_in.is_null() ? json::value(state.token_lifetime.count())
                                          : state.raw_expires_in;
}

// The answer to an authorization_code or refresh_token grant: an access token and the
// refresh token that replaces the one used, if any.
json::object user_tokens_locked(mock_state& state, const std::string& client, const std::string& ws,
                                const std::vector<std::string>& scopes, std::uint64_t grant) {
    std::string refresh = "glue_rt_" + state.random_id_locked(40);
    state.refresh_tokens[refresh] = {client, ws, scopes, grant};
    json::value scope;
    if (state.opts.scope_as_array) {
        scope = json::array(scopes.begin(), scopes.end());
    } else {
        std::string joined;
        for (const auto& one : scopes) {
            joined += (joined.empty() ? "" : " ") + one;
        }
        scope = std::move(joined);
    }
    return json::object{{"access_token", access_token_locked(state, ws, grant)},
                        {"token_type", "Bearer"},
                        {"expires_in", expires_in_locked(state)},
                        {"scope", std::move(scope)},
                        {"refresh_token", std::move(refresh)},
                        {"user_id", app_user_id(ws)}};
}

using form_map = std::map<std::string, std::string>;

http_response client_credentials_grant(mock_state& state, form_map& form) {
    const auto& uris = state.opts.redirect_uris;
    if (std::find(uris.begin(), uris.end(), form["redirect_uri"]) == uris.end()) {
        return oauth_error(400, "invalid_request", "redirect_uri is not registered");
    }
    const std::string& ws = form["subject"];
    if (ws.empty()) {
        return oauth_error(400, "invalid_request", "subject is required");
    }
    std::lock_guard lock(state.mtx);
    ++state.token_requests_by_workspace[ws];
    if (!is_installed_locked(state, ws)) {
        return oauth_error(400, "invalid_grant", "the app is not installed in this workspace");
    }
    return token_response(json::object{{"user_id", app_user_id(ws)},
                                       {"access_token", access_token_locked(state, ws, 0)},
                                       {"token_type", "Bearer"},
                                       {"expires_in", expires_in_locked(state)}});
}

// RFC 6749 §4.1.3 and RFC 7636 §4.6.
http_response code_grant(mock_state& state, form_map& form) {
    std::lock_guard lock(state.mtx);
    auto it = state.codes.find(form["code"]);
    if (it == state.codes.end() || it->second.client_id != form["client_id"]) {
        return oauth_error(400, "invalid_grant", "unknown authorization code");
    }
    code_record& code = it->second;
    ++state.token_requests_by_workspace[code.workspace];
    if (code.grant != 0) {
        // §4.1.2: a code used twice may have been stolen; what it gave is taken back.
        state.revoked_grants.insert(code.grant);
        return oauth_error(400, "invalid_grant", "the authorization code was already used");
    }
    if (std::chrono::steady_clock::now() >= code.expires_at) {
        return oauth_error(400, "invalid_grant", "the authorization code has expired");
    }
    if (form["redirect_uri"] != code.redirect_uri) {
        return oauth_error(400, "invalid_grant",
                           "redirect_uri differs from the authorization request's");
    }
    if (const auto verifier = form.find("code_verifier"); code.challenge.empty()) {
        if (verifier != form.end()) {
            return oauth_error(400, "invalid_grant",
                               "code_verifier sent, but the authorization had no challenge");
        }
    } else if (verifier == form.end() || !verifier_matches(verifier->second, code.challenge)) {
        return oauth_error(400, "invalid_grant", "code_verifier does not match the challenge");
    }
    if (!is_installed_locked(state, code.workspace)) {
        return oauth_error(400, "invalid_grant", "the app is not installed in this workspace");
    }
    code.grant = ++state.last_grant;
    return token_response(
        user_tokens_locked(state, code.client_id, code.workspace, code.scopes, code.grant));
}

// RFC 6749 §6, with rotation: each refresh token works once.
http_response refresh_grant(mock_state& state, form_map& form) {
    std::lock_guard lock(state.mtx);
    auto it = state.refresh_tokens.find(form["refresh_token"]);
    if (it == state.refresh_tokens.end() || it->second.client_id != form["client_id"] ||
        state.revoked_grants.contains(it->second.grant)) {
        return oauth_error(400, "invalid_grant", "unknown, used or revoked refresh token");
    }
    const refresh_record used = std::move(it->second);
    state.refresh_tokens.erase(it);
    ++state.token_requests_by_workspace[used.workspace];
    if (!is_installed_locked(state, used.workspace)) {
        return oauth_error(400, "invalid_grant", "the app is not installed in this workspace");
    }
    return token_response(
        user_tokens_locked(state, used.client_id, used.workspace, used.scopes, used.grant));
}

// 302 to `uri` with `params` (and state, when the request had one) added to its query.
http_response redirect(const std::string& uri,
                       std::initializer_list<std::pair<std::string_view, std::string_view>> params,
                       const std::optional<std::string>& state) {
    auto parsed = boost::urls::parse_uri_reference(uri);
    if (!parsed) {
        return text_response(500, "The app's redirect_uri is not a URI.\n");
    }
    boost::urls::url location(*parsed);
    // Encoded here: Boost.URL 1.81's params().append leaves '+' as is, which the callback
    // then reads as a space.
    const auto append = [&location](std::string_view name, std::string_view value) {
        const std::string key = boost::urls::encode(name, boost::urls::unreserved_chars);
        const std::string text = boost::urls::encode(value, boost::urls::unreserved_chars);
        location.encoded_params().append({key, text});
    };
    for (const auto& [name, value] : params) {
        append(name, value);
    }
    if (state) {
        append("state", *state);
    }
    http_response res{302, {}, {}};
    res.set("Location", std::string(location.buffer()));
    res.set("Cache-Control", "no-store");
    return res;
}

} // namespace

http_response handle_token(mock_state& state, const http_request& req) {
    if (req.field("Content-Type").find("application/x-www-form-urlencoded") ==
        std::string_view::npos) {
        return oauth_error(400, "invalid_request",
                           "Content-Type must be application/x-www-form-urlencoded");
    }
    auto fields = decode_form(req.body);
    if (!fields) {
        return oauth_error(400, "invalid_request", "malformed form body");
    }
    form_map form(fields->begin(), fields->end());
    const std::string grant_type = form["grant_type"];
    if (grant_type != "client_credentials" && grant_type != "authorization_code" &&
        grant_type != "refresh_token") {
        return oauth_error(400, "unsupported_grant_type",
                           "supported: client_credentials, authorization_code, refresh_token");
    }
    if (form["client_id"] != state.opts.client_id ||
        form["client_secret"] != state.opts.client_secret) {
        http_response res = oauth_error(401, "invalid_client", "client authentication failed");
        res.set("WWW-Authenticate", R"(Basic realm="glue")");
        return res;
    }
    if (grant_type == "authorization_code") {
        return code_grant(state, form);
    }
    if (grant_type == "refresh_token") {
        return refresh_grant(state, form);
    }
    return client_credentials_grant(state, form);
}

//------------------------------------------------------------------------------
// Authorization endpoint (RFC 6749 §4.1.1, §4.1.2; RFC 7636 §4.3)

http_response handle_authorize(mock_state& state, std::string_view target) {
    const auto q = target.find('?');
    const auto fields = decode_form(q == std::string_view::npos ? "" : target.substr(q + 1));
    if (!fields) {
        return text_response(400, "Malformed authorization request.\n");
    }
    form_map params;
    bool repeated = false; // §3.1: no parameter may be sent twice
    for (const auto& [name, value] : *fields) {
        repeated |= !params.emplace(name, value).second;
    }
    // §4.1.2.1: without a trusted client and redirect_uri, nowhere is safe to redirect to.
    const std::string client = params["client_id"];
    const std::string redirect_uri = params["redirect_uri"];
    const auto& uris = state.opts.redirect_uris;
    if (client != state.opts.client_id) {
        return text_response(400, "Unknown client_id.\n");
    }
    if (std::find(uris.begin(), uris.end(), redirect_uri) == uris.end()) {
        return text_response(400, "redirect_uri is missing or not registered for this app.\n");
    }
    const auto state_param = params.find("state");
    const std::optional<std::string> sent_state =
        state_param == params.end() ? std::nullopt : std::optional(state_param->second);
    const auto refuse = [&](std::string_view error, std::string_view description) {
        return redirect(redirect_uri, {{"error", error}, {"error_description", description}},
                        sent_state);
    };
    if (repeated) {
        return refuse("invalid_request", "a parameter was sent more than once");
    }
    if (params["response_type"] != "code") {
        return refuse("unsupported_response_type", "response_type must be code");
    }
    if (params["scope"].empty()) {
        return refuse("invalid_scope", "scope is required");
    }
    std::vector<std::string> scopes;
    for (std::string_view rest = params["scope"];;) {
        const auto comma = rest.find(',');
        const std::string one(rest.substr(0, comma));
        if (std::ranges::find(state.opts.scopes, one) == state.opts.scopes.end()) {
            return refuse("invalid_scope", "unknown scope: \"" + one + "\"");
        }
        scopes.push_back(one);
        if (comma == std::string_view::npos) {
            break;
        }
        rest.remove_prefix(comma + 1);
    }
    const auto challenge = params.find("code_challenge");
    const auto method = params.find("code_challenge_method");
    if (challenge != params.end() || method != params.end()) {
        // Only S256; a missing method means plain, which hides nothing from an eavesdropper.
        if (method == params.end() || method->second != "S256") {
            return refuse("invalid_request", "code_challenge_method must be S256");
        }
        if (challenge == params.end() || !is_s256_challenge(challenge->second)) {
            return refuse("invalid_request", "code_challenge must be 43 base64url characters");
        }
    }
    if (state.authorize_denied) {
        return refuse("access_denied", "the user declined to install the app");
    }
    std::string code;
    {
        std::lock_guard lock(state.mtx);
        code = state.random_id_locked(43);
        state.codes[code] = {client,
                             redirect_uri,
                             challenge == params.end() ? std::string() : challenge->second,
                             state.opts.authorize_workspace,
                             std::move(scopes),
                             std::chrono::steady_clock::now() + state.opts.code_lifetime};
        state.installed.insert(state.opts.authorize_workspace);
        state.uninstalled.erase(state.opts.authorize_workspace);
        ++state.authorizations_total;
    }
    return redirect(redirect_uri, {{"code", code}}, sent_state);
}

} // namespace glue::testing::detail
