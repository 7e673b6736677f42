// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// application/x-www-form-urlencoded: form_decode(form_encode(fields)) == fields for any fields
// (any bytes), the encoding uses only unreserved characters, '%', '+', '=' and '&', and any
// body form_decode accepts encodes back to a body that decodes to the same fields.

#include "fuzz_support.hpp"
#include "protocol/form.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

namespace gd = glue::detail;

namespace {

using fields_t = std::vector<std::pair<std::string, std::string>>;

std::string encode(const fields_t& fields) {
    std::vector<gd::form_field> views;
    views.reserve(fields.size());
    for (const auto& [k, v] : fields) {
        views.emplace_back(k, v);
    }
    return gd::form_encode(views);
}

bool is_encoded_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '%' || c == '+' || c == '=' || c == '&';
}

fields_t decode(std::string_view body) {
    auto r = gd::form_decode(body);
    FUZZ_CHECK(r.has_value());
    return std::move(*r);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // The whole input as a body someone sent (the mock server decodes what clients send).
    const std::string_view raw(reinterpret_cast<const char*>(data), size);
    if (auto r = gd::form_decode(raw)) {
        const auto again = encode(*r);
        FUZZ_CHECK(decode(again) == *r);
    }

    // The same bytes as fields to send.
    FuzzedDataProvider in(data, size);
    fields_t fields;
    while (in.remaining_bytes() > 0 && fields.size() < 64) {
        auto key = in.ConsumeRandomLengthString(256);
        auto value = in.ConsumeRandomLengthString(1024);
        fields.emplace_back(std::move(key), std::move(value));
    }
    const auto body = encode(fields);
    for (char c : body) {
        FUZZ_CHECK(is_encoded_char(c));
    }
    // No fields and one empty field ("=") are told apart; so is every other list.
    FUZZ_CHECK(decode(body) == fields);
    return 0;
}
