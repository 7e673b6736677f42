// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TRANSPORT_HEADER_CAPTURE_HPP
#define GLUE_TRANSPORT_HEADER_CAPTURE_HPP

// Which response fields an exchange keeps (http_response::captured), HTTP/1.1 (exchange.cpp) and
// HTTP/2 (h2_codec.cpp) alike.

#include <glue/types.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace glue::detail {

/// The response fields an exchange keeps (http_response::captured): their names in lower case,
/// and a one-word filter of them made once per pool, so that most fields of every response are
/// passed over without comparing names.
class header_capture {
public:
    header_capture() = default;
    explicit header_capture(std::vector<std::string> lower_case_names);

    /// Whether `name` (any case) is one of them.
    bool matches(std::string_view name) const noexcept;

    /// Appends the field to `captured` when it is one of them and there is room
    /// (max_captured_headers): its name in lower case, its value cut at max_captured_value_size.
    /// The caps bound what a response full of them costs, within the header limit. Throws
    /// std::bad_alloc.
    void keep(std::vector<http_header>& captured, std::string_view name,
              std::string_view value) const;

private:
    std::vector<std::string> names_;
    std::uint64_t keys_ = 0; // key_bit() of each name
};

/// Captured fields of one response, at most.
inline constexpr std::size_t max_captured_headers = 32;
/// Bytes of a captured field's value kept, at most.
inline constexpr std::size_t max_captured_value_size = 256;

} // namespace glue::detail

#endif
