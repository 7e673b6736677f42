// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/mock_compression.hpp"

#include <cctype>
#include <charconv>
#include <new>
#include <stdexcept>

#include <zlib.h>

namespace glue::testing::detail {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

bool same_token(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) {
            return false;
        }
    }
    return true;
}

// The weight of a list element's parameters ("q=0.5"); 1 without one. "q=0", "q=0.0", ...
// are 0.
bool weight_above_zero(std::string_view params) {
    while (!params.empty()) {
        const auto semi = params.find(';');
        auto p = trim(params.substr(0, semi));
        params.remove_prefix(semi == params.npos ? params.size() : semi + 1);
        if (p.size() >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            p.remove_prefix(2);
            return p.find_first_not_of("0.") != std::string_view::npos;
        }
    }
    return true;
}

} // namespace

bool accepts_gzip(std::string_view accept_encoding) {
    while (!accept_encoding.empty()) {
        const auto comma = accept_encoding.find(',');
        const auto item = accept_encoding.substr(0, comma);
        accept_encoding.remove_prefix(comma == accept_encoding.npos ? accept_encoding.size()
                                                                    : comma + 1);
        const auto semi = item.find(';');
        const auto coding = trim(item.substr(0, semi));
        if (same_token(coding, "gzip") || same_token(coding, "x-gzip") || coding == "*") {
            return semi == item.npos || weight_above_zero(item.substr(semi + 1));
        }
    }
    return false;
}

std::string gzip(std::string_view data) {
    z_stream z{};
    // 15 + 16: a 32 KiB window, gzip's header and trailer.
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        throw std::bad_alloc();
    }
    std::string out(deflateBound(&z, data.size()), '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&z, Z_FINISH); // deflateBound leaves room for all of it
    out.resize(z.total_out);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        throw std::runtime_error("mock server: gzip failed");
    }
    return out;
}

void compress_answer(http_response& res, std::string_view accept_encoding, std::size_t min_bytes) {
    if (res.body.size() < min_bytes || !accepts_gzip(accept_encoding)) {
        return;
    }
    res.body = gzip(res.body);
    res.set("Content-Encoding", "gzip");
    res.set("Vary", "Accept-Encoding");
}

} // namespace glue::testing::detail
