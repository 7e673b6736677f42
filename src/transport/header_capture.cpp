// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.

#include "transport/header_capture.hpp"

#include "protocol/ascii.hpp"

#include <algorithm>

namespace glue::detail {

namespace {

// A bit from a name's size and first letter (any case): equal names, equal bits.
std::uint64_t key_bit(std::string_view name) noexcept {
    const unsigned first = name.empty() ? 0u : static_cast<unsigned char>(ascii_lower(name[0]));
    return std::uint64_t(1) << ((name.size() * 7 + first) % 64);
}

} // namespace

header_capture::header_capture(std::vector<std::string> lower_case_names)
    : names_(std::move(lower_case_names)) {
    for (const auto& name : names_) {
        keys_ |= key_bit(name);
    }
}

bool header_capture::matches(std::string_view name) const noexcept {
    // Most fields share neither size nor first letter with a listed name: passed over at once.
    return (keys_ & key_bit(name)) != 0 &&
           std::any_of(names_.begin(), names_.end(),
                       [&](const std::string& c) { return iequals(name, c); });
}

void header_capture::keep(std::vector<http_header>& captured, std::string_view name,
                          std::string_view value) const {
    if (captured.size() == max_captured_headers || !matches(name)) {
        return;
    }
    http_header h;
    h.name.resize(name.size());
    std::transform(name.begin(), name.end(), h.name.begin(), ascii_lower);
    h.value.assign(value.data(), std::min(value.size(), max_captured_value_size));
    captured.push_back(std::move(h));
}

} // namespace glue::detail
