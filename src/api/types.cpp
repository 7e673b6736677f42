// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/oauth.hpp>
#include <glue/types.hpp>

#include "protocol/graphql_document.hpp"
#include "protocol/graphql_request.hpp"
#include "support/outcome.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ostream>
#include <string_view>

namespace glue {

namespace {

// At most the last 4 characters, and only of a token long enough that they reveal little.
void print_redacted(std::ostream& os, std::string_view secret) {
    constexpr std::size_t shown = 4, min_size_to_show = 16;
    if (secret.size() >= min_size_to_show) {
        os << "..." << secret.substr(secret.size() - shown);
    } else {
        os << (secret.empty() ? "(none)" : "(redacted)");
    }
}

} // namespace

std::ostream& operator<<(std::ostream& os, const access_token& token) {
    os << "access_token{type=" << token.token_type << ", user_id=" << token.user_id << ", value=";
    print_redacted(os, token.value);
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(
        token.expires_at - std::chrono::steady_clock::now());
    return os << ", expires_in=" << left.count() << "s}";
}

bool safe_to_repeat(const graphql_request& req) noexcept {
    return detail::may_send_twice(req);
}

boost::json::object parse_variables(std::string_view json_text) {
    if (json_text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
        return {};
    }
    boost::json::error_code ec;
    boost::json::value v = boost::json::parse(json_text, ec);
    if (ec) {
        throw detail::to_error(detail::make_failure(errc::invalid_argument,
                                                    "the GraphQL variables are not valid JSON"),
                               "parse_variables");
    }
    if (v.is_null()) {
        return {};
    }
    if (!v.is_object()) {
        throw detail::to_error(detail::make_failure(errc::invalid_argument,
                                                    "the GraphQL variables are not a JSON object"),
                               "parse_variables");
    }
    if (!detail::all_finite(v)) {
        throw detail::to_error(
            detail::make_failure(errc::invalid_argument,
                                 "a number in the GraphQL variables is too large for a double"),
            "parse_variables");
    }
    return std::move(v.get_object());
}

namespace oauth {

std::ostream& operator<<(std::ostream& os, const token_set& tokens) {
    os << "token_set{type=" << tokens.token_type << ", user_id=" << tokens.user_id
       << ", access_token=";
    print_redacted(os, tokens.access_token);
    os << ", refresh_token=";
    print_redacted(os, tokens.refresh_token);
    os << ", scopes=";
    for (std::size_t i = 0; i < tokens.scopes.size(); ++i) {
        os << (i ? "," : "") << tokens.scopes[i];
    }
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(
        tokens.expires_at - std::chrono::system_clock::now());
    return os << ", expires_in=" << left.count() << "s}";
}

} // namespace oauth

} // namespace glue
