// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROTOCOL_FORM_HPP
#define GLUE_PROTOCOL_FORM_HPP

// The token request's body, and the install flow's callback query: application/
// x-www-form-urlencoded.

#include "support/outcome.hpp"

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace glue::detail {

using form_field = std::pair<std::string_view, std::string_view>;

/// application/x-www-form-urlencoded (WHATWG URL §5.2): every byte but ALPHA / DIGIT / "-" /
/// "." / "_" / "~" is percent-encoded, and space becomes '+'.
std::string form_encode(std::span<const form_field> fields);

/// The fields of an application/x-www-form-urlencoded body, decoded ('+' is a space);
/// errc::invalid_argument for malformed percent-encoding.
result<std::vector<std::pair<std::string, std::string>>> form_decode(std::string_view body);

} // namespace glue::detail

#endif
