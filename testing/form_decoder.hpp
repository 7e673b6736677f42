// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_INTERNAL_FORM_DECODER_HPP
#define GLUE_TESTING_INTERNAL_FORM_DECODER_HPP

// The mock's own application/x-www-form-urlencoded decoder, for token request bodies and the
// authorize endpoint's query. It shares no code with the client's encoder: a test oracle built
// on the code under test could not catch that code's bugs.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace glue::testing::detail {

using form_fields = std::vector<std::pair<std::string, std::string>>;

/// The name=value fields of `text`, in order and with repeats, decoded: "%XX" is the byte XX and
/// '+' a space, in names and values alike. Fields are separated by '&' (an empty one is a field
/// with an empty name); a field without '=' has an empty value; the empty text has no fields.
/// nullopt when `text` is not a URL query (RFC 3986 §3.4): a '%' not followed by two hex
/// digits, or a byte other than unreserved, sub-delims, ':', '@', '/', '?' and '%'.
std::optional<form_fields> decode_form(std::string_view text);

} // namespace glue::testing::detail

#endif
