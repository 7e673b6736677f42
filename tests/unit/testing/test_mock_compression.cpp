// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The mock's `compress` option: when an answer is gzipped, and that zlib reads it back.

#include "testing/mock_compression.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include <zlib.h>

namespace {

namespace gt = glue::testing::detail;

// zlib's own gzip reader, independent of the client's decoder.
std::string gunzip(std::string_view gz, std::size_t size) {
    z_stream z{};
    REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
    std::string out(size + 1, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
    z.avail_in = static_cast<uInt>(gz.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    CHECK(inflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    inflateEnd(&z);
    return out;
}

} // namespace

TEST_SUITE("mock compression") {
    TEST_CASE("accepts_gzip: gzip, x-gzip or * with a weight above zero") {
        for (std::string_view v : {"gzip", "gzip, deflate", "deflate, GZIP", "br;q=1, gzip;q=0.5",
                                   "x-gzip", "*", "gzip; q=1.0", " gzip ;q=0.001"}) {
            CAPTURE(v);
            CHECK(gt::accepts_gzip(v));
        }
        for (std::string_view v : {"", "identity", "deflate", "br, zstd", "gzip;q=0",
                                   "gzip;q=0.000", "*;q=0", "gzipx", "gzip-like"}) {
            CAPTURE(v);
            CHECK(!gt::accepts_gzip(v));
        }
    }

    TEST_CASE("compress_answer gzips a large enough answer for a client that accepts it") {
        const std::string body(5000, 'a');
        gt::http_response res;
        res.body = body;
        gt::compress_answer(res, "gzip, deflate", 1024);
        CHECK(res.body.size() < body.size());
        CHECK(gunzip(res.body, body.size()) == body);
        CHECK(res.fields == std::vector<std::pair<std::string, std::string>>{
                                {"Content-Encoding", "gzip"}, {"Vary", "Accept-Encoding"}});
    }

    TEST_CASE("compress_answer leaves small answers and clients that don't accept gzip alone") {
        for (const auto& row : {std::pair<std::size_t, std::string_view>{1023, "gzip"},
                                {0, "gzip"},
                                {5000, ""},
                                {5000, "deflate"}}) {
            const std::size_t size = row.first;
            const std::string_view accept = row.second;
            CAPTURE(size);
            CAPTURE(accept);
            gt::http_response res;
            res.body = std::string(size, 'a');
            gt::compress_answer(res, accept, 1024);
            CHECK(res.body == std::string(size, 'a'));
            CHECK(res.fields.empty());
        }
    }
}
