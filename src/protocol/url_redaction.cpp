// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "protocol/url_redaction.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

namespace glue::detail {

std::string redact_url_password(std::string_view url) {
    auto parsed = boost::urls::parse_uri(url);
    if (!parsed) {
        return url.empty() ? std::string() : std::string("(unparsable, not shown)");
    }
    if (!parsed->has_password()) {
        return std::string(url);
    }
    boost::urls::url u = *parsed;
    u.set_password("(redacted)");
    return std::string(u.buffer());
}

std::string redact_proxy_url(std::string_view url) {
    std::string full;
    if (!url.empty() && url.find("://") == std::string_view::npos) {
        full = "http://";
    }
    full.append(url);
    auto printed = redact_url_password(full);
    if (auto parsed = boost::urls::parse_uri(printed); parsed && !parsed->user().empty()) {
        boost::urls::url u = *parsed;
        u.set_user("(redacted)");
        printed = std::string(u.buffer());
    }
    return printed;
}

} // namespace glue::detail
