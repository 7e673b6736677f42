// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_INTERNAL_MOCK_COMPRESSION_HPP
#define GLUE_TESTING_INTERNAL_MOCK_COMPRESSION_HPP

// The mock's `compress` option: gzip an answer the way a web server with compression on does.
// The encoder side only, written here on zlib: the mock shares no code with the client's
// decoder, so a bug in one can't hide behind the same bug in the other.

#include "testing/mock_state.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace glue::testing::detail {

/// Whether an Accept-Encoding value lets the answer be gzip (RFC 9110 §12.5.3): gzip, x-gzip or
/// "*" listed with a weight above 0. An absent or empty value: no (the mock stays with what
/// most clients expect).
bool accepts_gzip(std::string_view accept_encoding);

/// `data` as one gzip member (RFC 1952).
std::string gzip(std::string_view data);

/// Gzips `res` in place (Content-Encoding: gzip, Vary: Accept-Encoding) when `accept_encoding`
/// allows it and the body has at least `min_bytes`; as nginx's gzip_min_length, smaller answers
/// gain nothing worth the CPU.
void compress_answer(http_response& res, std::string_view accept_encoding, std::size_t min_bytes);

} // namespace glue::testing::detail

#endif
