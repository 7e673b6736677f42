// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTS_SUPPORT_ZLIB_CODEC_HPP
#define GLUE_TESTS_SUPPORT_ZLIB_CODEC_HPP

// Compressed bodies made with zlib itself, so the tests of the client's decoder don't depend on
// any code of ours to make them.

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include <zlib.h>

namespace glue::test {

/// zlib's window bits for each format.
inline constexpr int gzip_format = 15 + 16;
inline constexpr int zlib_format = 15;
inline constexpr int raw_format = -15;

/// `data` compressed in one of the formats above at `level`.
inline std::string zlib_compress(std::string_view data, int window_bits, int level = 6) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&z, static_cast<uLong>(data.size())), '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

} // namespace glue::test

#endif
