// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROTOCOL_URL_REDACTION_HPP
#define GLUE_PROTOCOL_URL_REDACTION_HPP

// URLs that may carry a password in their user info (redis://:secret@host), made fit to print.

#include <string>
#include <string_view>

namespace glue::detail {

/// `url` with the password of its user info replaced by "(redacted)"; unchanged when it has
/// none; "(unparsable, not shown)" when it is not a URL, since its password can't be found
/// (empty stays empty).
std::string redact_url_password(std::string_view url);

/// A proxy URL (client_config::proxy) fit to print: as redact_url_password, with the user name
/// hidden too, and a bare "[user:password@]host:port" read as http:// first (as the proxy is).
std::string redact_proxy_url(std::string_view url);

} // namespace glue::detail

#endif
