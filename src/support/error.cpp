// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/error.hpp>

#include <string>

namespace glue {

namespace {

class category final : public boost::system::error_category {
public:
    // A fixed id, so that categories from several copies of the library compare equal.
    constexpr category() noexcept : error_category(0x9f1c2e7a4b3d5601ULL) {}

    const char* name() const noexcept override { return "glue"; }

    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
        case errc::invalid_argument:
            return "invalid argument";
        case errc::oauth_error:
            return "the token endpoint answered with an OAuth error";
        case errc::unauthorized:
            return "unauthorized: the access token was rejected";
        case errc::forbidden:
            return "forbidden";
        case errc::rate_limited:
            return "rate limited";
        case errc::server_error:
            return "server error";
        case errc::http_error:
            return "unexpected HTTP status";
        case errc::bad_response:
            return "malformed, truncated or oversized response";
        case errc::graphql_error:
            return "the GraphQL response carried errors";
        case errc::timeout:
            return "deadline exceeded";
        case errc::decode_error:
            return "the response data does not match the requested type";
        case errc::repeated_cursor:
            return "pagination: the server repeated a cursor";
        case errc::too_many_pages:
            return "pagination: more pages than the limit";
        case errc::bad_signature:
            return "the webhook signature does not match its body";
        case errc::state_mismatch:
            return "the OAuth state does not match the one sent";
        case errc::authorization_denied:
            return "the authorization request was denied";
        case errc::missing_code:
            return "the OAuth callback carries no authorization code";
        case errc::internal_error:
            return "an unexpected exception inside glue";
        }
        return "unknown glue error";
    }
};

const std::shared_ptr<const diagnostics>& no_diagnostics() {
    static const auto empty = std::make_shared<const diagnostics>();
    return empty;
}

} // namespace

const boost::system::error_category& glue_category() noexcept {
    static constexpr category instance;
    return instance;
}

error::error(error_code ec, std::string context, std::shared_ptr<const diagnostics> diag)
    : system_error(ec)
    , diag_(diag ? std::move(diag) : no_diagnostics())
    , what_(std::move(context) + ": " + ec.message()) {}

const char* error::what() const noexcept {
    return what_.c_str();
}
const std::string& error::reason() const noexcept {
    return reason_;
}

int error::http_status() const noexcept {
    return diag_->http_status;
}
const std::string& error::oauth_error() const noexcept {
    return diag_->oauth_error;
}
const std::string& error::oauth_error_description() const noexcept {
    return diag_->oauth_error_description;
}
const std::vector<graphql_error>& error::graphql_errors() const noexcept {
    return diag_->graphql_errors;
}
const boost::json::value& error::partial_data() const noexcept {
    return diag_->partial_data;
}

} // namespace glue
