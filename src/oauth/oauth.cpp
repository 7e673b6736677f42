// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/error.hpp>
#include <glue/oauth.hpp>

#include "protocol/checks.hpp"
#include "protocol/form.hpp"
#include "protocol/origin.hpp"
#include "support/outcome.hpp"

#include <boost/system/errc.hpp>
#include <boost/url/parse.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>

namespace glue::oauth {

namespace {

using detail::make_failure;

using detail::throw_error;

// Base64url without padding (RFC 4648 §5), as PKCE and our random tokens use it.
std::string base64url(const unsigned char* data, std::size_t size) {
    constexpr std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((size * 4 + 2) / 3);
    for (std::size_t i = 0; i < size; i += 3) {
        const std::size_t n = std::min<std::size_t>(3, size - i);
        std::uint32_t bits = std::uint32_t(data[i]) << 16;
        if (n > 1) {
            bits |= std::uint32_t(data[i + 1]) << 8;
        }
        if (n > 2) {
            bits |= data[i + 2];
        }
        for (std::size_t k = 0; k <= n; ++k) { // n bytes make n + 1 characters
            out += alphabet[(bits >> (18 - 6 * k)) & 63];
        }
    }
    return out;
}

// 256 bits from OpenSSL's CSPRNG, base64url: 43 characters.
std::string random_token(std::string_view operation) {
    std::array<unsigned char, 32> bytes;
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        throw detail::to_error(
            make_failure(boost::system::errc::make_error_code(
                             boost::system::errc::resource_unavailable_try_again),
                         "OpenSSL's random generator failed"),
            operation);
    }
    std::string token = base64url(bytes.data(), bytes.size());
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return token;
}

// RFC 6749 §3.3's scope-token (NQCHAR: visible ASCII but '"' and '\'), without the ',' Glue
// joins scopes with.
bool is_scope_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != ',';
    });
}

// RFC 6749 §3.1.2: absolute, with a host, without a fragment.
bool is_redirect_uri(std::string_view uri) {
    auto u = boost::urls::parse_absolute_uri(uri);
    return u && !u->has_fragment() && !u->encoded_host().empty();
}

} // namespace

std::string authorize_url(const client_config& cfg, const authorize_params& params) {
    constexpr std::string_view op = "oauth::authorize_url";
    auto origin = detail::parse_origin(cfg.api_url, cfg.allow_insecure_http);
    if (!origin) {
        throw detail::to_error(origin.error(), op);
    }
    const std::string& redirect_uri =
        params.redirect_uri.empty() ? cfg.redirect_uri : params.redirect_uri;
    if (cfg.client_id.empty() || !detail::is_header_safe(cfg.client_id)) {
        throw_error(errc::invalid_argument, "client_id is empty or has a control character", op);
    }
    if (!is_redirect_uri(redirect_uri)) {
        throw_error(errc::invalid_argument,
                    "redirect_uri is not an absolute URI without a fragment", op);
    }
    if (params.scopes.empty() || !std::all_of(params.scopes.begin(), params.scopes.end(),
                                              [](const auto& s) { return is_scope_token(s); })) {
        throw_error(errc::invalid_argument,
                    "scopes must be one or more non-empty scope tokens without a comma", op);
    }
    if (params.state.empty() || !detail::is_header_safe(params.state)) {
        throw_error(errc::invalid_argument, "state is empty or has a control character", op);
    }
    // A base64url SHA-256: 43 characters of the verifier's alphabet but '.' and '~'.
    if (!params.code_challenge.empty() &&
        (params.code_challenge.size() != 43 || !detail::is_code_verifier(params.code_challenge) ||
         params.code_challenge.find_first_of(".~") != std::string::npos)) {
        throw_error(errc::invalid_argument,
                    "code_challenge is not an S256 challenge (43 base64url)", op);
    }
    std::string scope;
    for (const auto& s : params.scopes) {
        scope += (scope.empty() ? "" : ",") + s;
    }
    std::vector<detail::form_field> fields = {{"response_type", "code"},
                                              {"client_id", cfg.client_id},
                                              {"redirect_uri", redirect_uri},
                                              {"scope", scope},
                                              {"state", params.state}};
    if (!params.code_challenge.empty()) {
        fields.emplace_back("code_challenge", params.code_challenge);
        fields.emplace_back("code_challenge_method", "S256");
    }
    return (origin->tls ? "https://" : "http://") + origin->host_header + origin->base_path +
           "/oauth/authorize?" + detail::form_encode(fields);
}

std::string make_state() {
    return random_token("oauth::make_state");
}

std::string make_code_verifier() {
    return random_token("oauth::make_code_verifier");
}

std::string pkce_challenge(std::string_view code_verifier) {
    if (!detail::is_code_verifier(code_verifier)) {
        throw_error(errc::invalid_argument,
                    "a PKCE code verifier is 43 to 128 characters of [A-Za-z0-9-._~]",
                    "oauth::pkce_challenge");
    }
    std::array<unsigned char, 32> digest;
    unsigned int size = 0;
    if (EVP_Digest(code_verifier.data(), code_verifier.size(), digest.data(), &size, EVP_sha256(),
                   nullptr) != 1 ||
        size != digest.size()) {
        throw_error(errc::invalid_argument, "SHA-256 failed", "oauth::pkce_challenge");
    }
    return base64url(digest.data(), digest.size());
}

authorization_response parse_callback(std::string_view target, std::string_view expected_state) {
    constexpr std::string_view op = "oauth::parse_callback";
    if (expected_state.empty()) {
        throw_error(errc::invalid_argument, "the expected state is empty", op);
    }
    auto ref = boost::urls::parse_uri_reference(target);
    if (!ref) {
        throw_error(errc::invalid_argument, "the callback target is not a URI", op);
    }
    auto fields = detail::form_decode(ref->encoded_query());
    if (!fields) {
        throw_error(errc::invalid_argument, "the callback's query is malformed", op);
    }
    authorization_response r;
    r.parameters = std::move(*fields);
    // The one value of `name`; null when absent; `repeated` when there are several.
    bool repeated = false;
    auto only = [&](std::string_view name) -> const std::string* {
        const std::string* found = nullptr;
        for (const auto& [k, v] : r.parameters) {
            if (k == name) {
                repeated = repeated || found;
                found = &v;
            }
        }
        return found;
    };
    const std::string* state = only("state");
    // Constant time for equal lengths; the length of a state is no secret.
    if (!state || repeated || state->size() != expected_state.size() ||
        CRYPTO_memcmp(state->data(), expected_state.data(), expected_state.size()) != 0) {
        throw_error(errc::state_mismatch, "the callback's state is not the one sent", op);
    }
    const std::string* error = only("error");
    const std::string* code = only("code");
    if (repeated) {
        throw_error(errc::invalid_argument, "the callback repeats a parameter", op);
    }
    if (error) {
        diagnostics d;
        d.oauth_error = *error;
        if (const std::string* description = only("error_description")) {
            d.oauth_error_description = *description;
        }
        throw detail::to_error(make_failure(make_error_code(errc::authorization_denied),
                                            "the authorization server answered with an error",
                                            std::move(d)),
                               op);
    }
    if (!code || code->empty()) {
        throw_error(errc::missing_code, "the callback carries no code", op);
    }
    r.code = *code;
    return r;
}

} // namespace glue::oauth
