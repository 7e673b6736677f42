// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Content-Encoding and the decoder of compressed bodies: every coding, every way of feeding,
// every failure, and a zip bomb held to its limit.

#include "protocol/content_coding.hpp"
#include "support/zlib_codec.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include <zlib.h>

namespace {

namespace gd = glue::detail;
using namespace std::string_view_literals;

using glue::test::gzip_format;
using glue::test::raw_format;
using glue::test::zlib_compress;
using glue::test::zlib_format;

// Text that compresses about as well as a GraphQL answer does.
std::string sample(std::size_t n) {
    std::string s;
    std::mt19937 rng(7);
    while (s.size() < n) {
        s += R"({"id":"grp_)" + std::to_string(rng() % 100000) + R"(","name":"Group )" +
             std::to_string(rng() % 1000) + R"("},)";
    }
    s.resize(n);
    return s;
}

struct outcome {
    std::string body;
    std::optional<gd::failure> failed; // of feed() or finish()
};

// Feeds `encoded` in parts of `part` bytes (0: all at once), then finishes.
outcome decode(gd::content_coding c, std::string_view encoded, std::size_t limit,
               std::size_t part = 0) {
    gd::content_decoder d(c, limit);
    outcome o;
    const std::size_t step = part == 0 ? std::max<std::size_t>(encoded.size(), 1) : part;
    for (std::size_t at = 0; at < encoded.size(); at += step) {
        if (auto r = d.feed(encoded.substr(at, step), o.body); !r) {
            o.failed = r.error();
            return o;
        }
    }
    if (auto r = d.finish(); !r) {
        o.failed = r.error();
    }
    return o;
}

void check_fails(const outcome& o, std::string_view message) {
    REQUIRE(o.failed);
    CHECK(o.failed->ec == glue::errc::bad_response);
    CHECK(o.failed->message == message);
}

constexpr std::size_t big_limit = 64 * 1024 * 1024;

} // namespace

TEST_SUITE("content coding") {

    TEST_CASE("parse_content_coding: identity, gzip and deflate in any case and spacing") {
        using gd::content_coding;
        for (std::string_view v : {"", " ", "identity", "IDENTITY", " , identity ,", ","}) {
            CAPTURE(v);
            auto c = gd::parse_content_coding(v);
            REQUIRE(c.has_value());
            CHECK(*c == content_coding::identity);
        }
        for (std::string_view v :
             {"gzip", "GZip", "x-gzip", " gzip\t", "identity, gzip", ",gzip,"}) {
            CAPTURE(v);
            auto c = gd::parse_content_coding(v);
            REQUIRE(c.has_value());
            CHECK(*c == content_coding::gzip);
        }
        for (std::string_view v : {"deflate", "Deflate", "deflate, identity"}) {
            CAPTURE(v);
            auto c = gd::parse_content_coding(v);
            REQUIRE(c.has_value());
            CHECK(*c == content_coding::deflate);
        }
    }

    TEST_CASE("parse_content_coding refuses a coding not asked for, and several codings") {
        for (std::string_view v : {"br", "zstd", "compress", "x-compress", "gzip;q=1", "gzipx",
                                   "de flate", "*", "br, gzip"}) {
            CAPTURE(v);
            auto c = gd::parse_content_coding(v);
            REQUIRE(!c.has_value());
            CHECK(c.error().ec == glue::errc::bad_response);
            CHECK(c.error().message == "response body in a content coding the client did not ask "
                                       "for (it decodes gzip and deflate)");
        }
        for (std::string_view v : {"gzip, gzip", "gzip, deflate", "deflate,br", "x-gzip,,gzip"}) {
            CAPTURE(v);
            auto c = gd::parse_content_coding(v);
            REQUIRE(!c.has_value());
            CHECK(c.error().ec == glue::errc::bad_response);
            CHECK(c.error().message == "response body in several content codings");
        }
    }

    TEST_CASE(
        "gzip, zlib-wrapped deflate and raw deflate decode whole, byte by byte and in parts") {
        struct format {
            gd::content_coding coding;
            int bits;
        };
        for (const format f : {format{gd::content_coding::gzip, gzip_format},
                               format{gd::content_coding::deflate, zlib_format},
                               format{gd::content_coding::deflate, raw_format}}) {
            const gd::content_coding coding = f.coding;
            const int bits = f.bits;
            for (std::size_t size : {std::size_t(0), std::size_t(1), std::size_t(100),
                                     std::size_t(70'000), std::size_t(1'000'000)}) {
                const auto data = sample(size);
                for (int level : {0, 1, 9}) {
                    const auto encoded = zlib_compress(data, bits, level);
                    // Every part size for small bodies (1 byte at a time included); a few for
                    // large ones.
                    for (std::size_t part : {0, 1, 2, 3, 7, 1000, 16 * 1024 + 1}) {
                        if (part == 1 && size > 100'000) {
                            continue; // a million calls add nothing the small ones don't show
                        }
                        CAPTURE(bits);
                        CAPTURE(size);
                        CAPTURE(level);
                        CAPTURE(part);
                        const auto o = decode(coding, encoded, big_limit, part);
                        REQUIRE(!o.failed);
                        CHECK(o.body == data);
                    }
                }
            }
        }
    }

    TEST_CASE("a decoded body exactly at the limit is accepted; one byte more is refused") {
        const auto data = sample(50'000);
        for (int bits : {gzip_format, zlib_format, raw_format}) {
            const auto coding =
                bits == gzip_format ? gd::content_coding::gzip : gd::content_coding::deflate;
            const auto encoded = zlib_compress(data, bits);
            CHECK(decode(coding, encoded, data.size()).body == data);
            for (std::size_t part : {0, 1, 100}) {
                const auto o = decode(coding, encoded, data.size() - 1, part);
                check_fails(o, "decoded response body larger than the limit");
                CHECK(o.body.size() <= data.size() - 1);
            }
        }
    }

    TEST_CASE("a zip bomb: 10 MiB of zeros in about 10 KiB is refused at a 1 MiB limit") {
        const std::string zeros(10 * 1024 * 1024, '\0');
        const auto bomb = zlib_compress(zeros, gzip_format, 9);
        CHECK(bomb.size() < 20 * 1024);
        constexpr std::size_t limit = 1024 * 1024;
        for (std::size_t part : {0, 1, 512}) {
            CAPTURE(part);
            gd::content_decoder d(gd::content_coding::gzip, limit);
            std::string out;
            std::optional<gd::failure> failed;
            std::size_t fed = 0;
            const std::size_t step = part == 0 ? bomb.size() : part;
            for (; fed < bomb.size() && !failed; fed += step) {
                if (auto r = d.feed(std::string_view(bomb).substr(fed, step), out); !r) {
                    failed = r.error();
                }
            }
            REQUIRE(failed);
            CHECK(failed->ec == glue::errc::bad_response);
            CHECK(failed->message == "decoded response body larger than the limit");
            // Never more than the limit held, and refused long before the end of the input.
            CHECK(out.size() <= limit);
            CHECK(out.capacity() <= 2 * limit);
            if (part != 0) {
                CHECK(fed < bomb.size() / 2);
            }
            // Failed for good.
            CHECK(!d.feed("x", out).has_value());
            CHECK(!d.finish().has_value());
        }
    }

    TEST_CASE("concatenated gzip members decode to their concatenation, under one limit") {
        const auto a = sample(3000);
        const auto b = std::string(5000, 'b');
        const auto encoded = zlib_compress(a, gzip_format) + zlib_compress(b, gzip_format) +
                             zlib_compress("", gzip_format);
        for (std::size_t part : {0, 1, 5, 64}) {
            CAPTURE(part);
            const auto o = decode(gd::content_coding::gzip, encoded, big_limit, part);
            REQUIRE(!o.failed);
            CHECK(o.body == a + b);
            check_fails(decode(gd::content_coding::gzip, encoded, a.size() + b.size() - 1, part),
                        "decoded response body larger than the limit");
        }
    }

    TEST_CASE("bytes after the end of the stream are refused") {
        const auto data = sample(2000);
        const auto gz = zlib_compress(data, gzip_format);
        // Two bytes at least: one could still be the start of another member (truncated).
        for (std::string_view garbage : {"xy"sv, "\n\n"sv, "\0\0\0\0"sv, "\x1f\x8c"sv}) {
            for (std::size_t part : {0, 1}) {
                CAPTURE(part);
                check_fails(
                    decode(gd::content_coding::gzip, gz + std::string(garbage), big_limit, part),
                    "data after the end of the compressed response body");
            }
        }
        for (int bits : {zlib_format, raw_format}) {
            const auto encoded = zlib_compress(data, bits);
            for (std::string_view garbage : {"x"sv, "\x1f"sv, "\0"sv}) {
                for (std::size_t part : {0, 1}) {
                    check_fails(decode(gd::content_coding::deflate, encoded + std::string(garbage),
                                       big_limit, part),
                                "data after the end of the compressed response body");
                }
            }
            // Another stream after the first one is trailing data too: only gzip has members.
            check_fails(decode(gd::content_coding::deflate, encoded + encoded, big_limit),
                        "data after the end of the compressed response body");
        }
    }

    TEST_CASE("a body cut short anywhere is truncated; feeding a prefix never fails") {
        const auto data = sample(3000);
        struct format {
            gd::content_coding coding;
            int bits;
        };
        for (const format f : {format{gd::content_coding::gzip, gzip_format},
                               format{gd::content_coding::deflate, zlib_format},
                               format{gd::content_coding::deflate, raw_format}}) {
            const gd::content_coding coding = f.coding;
            const int bits = f.bits;
            const auto encoded = zlib_compress(data, bits);
            for (std::size_t n = 1; n < encoded.size(); ++n) {
                CAPTURE(bits);
                CAPTURE(n);
                const auto o = decode(coding, std::string_view(encoded).substr(0, n), big_limit);
                check_fails(o, "compressed response body truncated");
                CHECK(std::string_view(data).starts_with(o.body));
            }
        }
        // The start of a second gzip member (or one byte that could be one), and nothing more.
        const auto gz = zlib_compress(data, gzip_format);
        for (std::string_view more : {"x", "\x1f", "\x1f\x8b", "\x1f\x8b\x08"}) {
            check_fails(decode(gd::content_coding::gzip, gz + std::string(more), big_limit),
                        "compressed response body truncated");
        }
    }

    TEST_CASE("an empty body is complete: nothing to decode") {
        for (auto c : {gd::content_coding::gzip, gd::content_coding::deflate}) {
            gd::content_decoder d(c, 10);
            std::string out;
            CHECK(d.feed("", out).has_value());
            CHECK(d.finish().has_value());
            CHECK(out.empty());
        }
    }

    TEST_CASE("a wrong CRC or length in the gzip trailer, a wrong Adler-32 in zlib's") {
        const auto data = sample(4000);
        const auto gz = zlib_compress(data, gzip_format);
        // The trailer: CRC-32, then the length modulo 2^32, both little-endian.
        for (std::size_t at : {gz.size() - 8, gz.size() - 5, gz.size() - 4, gz.size() - 1}) {
            auto bad = gz;
            bad[at] = static_cast<char>(bad[at] ^ 0x01);
            for (std::size_t part : {0, 1}) {
                CAPTURE(at);
                CAPTURE(part);
                check_fails(decode(gd::content_coding::gzip, bad, big_limit, part),
                            "compressed response body fails its check value (CRC or length)");
            }
        }
        auto z = zlib_compress(data, zlib_format);
        z.back() = static_cast<char>(z.back() ^ 0x80);
        check_fails(decode(gd::content_coding::deflate, z, big_limit),
                    "compressed response body fails its check value (CRC or length)");
    }

    TEST_CASE("corrupt data: not gzip at all, a bad block, a preset dictionary") {
        for (std::size_t part : {0, 1}) {
            CAPTURE(part);
            check_fails(decode(gd::content_coding::gzip, R"({"data":{}})", big_limit, part),
                        "compressed response body is corrupt");
            // A gzip header with an unknown method (not 8).
            check_fails(decode(gd::content_coding::gzip, std::string("\x1f\x8b\x07\0", 4) + "xx",
                               big_limit, part),
                        "compressed response body is corrupt");
        }
        // Raw deflate whose first block has the reserved type 3.
        check_fails(
            decode(gd::content_coding::deflate, std::string_view("\x07\x00\x00", 3), big_limit),
            "compressed response body is corrupt");
        // A zlib stream that needs a preset dictionary: never HTTP's.
        z_stream z{};
        REQUIRE(deflateInit(&z, 6) == Z_OK);
        const std::string dict = "glue";
        deflateSetDictionary(&z, reinterpret_cast<const Bytef*>(dict.data()),
                             static_cast<uInt>(dict.size()));
        std::string out(256, '\0');
        std::string in = "glue glue glue";
        z.next_in = reinterpret_cast<Bytef*>(in.data());
        z.avail_in = static_cast<uInt>(in.size());
        z.next_out = reinterpret_cast<Bytef*>(out.data());
        z.avail_out = static_cast<uInt>(out.size());
        REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
        out.resize(z.total_out);
        deflateEnd(&z);
        check_fails(decode(gd::content_coding::deflate, out, big_limit),
                    "compressed response body is corrupt");
    }

    TEST_CASE("after a failure the decoder refuses everything with the same reason") {
        gd::content_decoder d(gd::content_coding::gzip, big_limit);
        std::string out;
        auto r = d.feed("not gzip", out);
        REQUIRE(!r.has_value());
        const auto gz = zlib_compress("fine", gzip_format);
        auto again = d.feed(gz, out);
        REQUIRE(!again.has_value());
        CHECK(again.error().message == r.error().message);
        auto end = d.finish();
        REQUIRE(!end.has_value());
        CHECK(end.error().message == r.error().message);
        CHECK(out.empty());
    }

    TEST_CASE("every flipped bit of a small gzip body fails or decodes to the same data") {
        // Bits of the header's MTIME, XFL and OS bytes change nothing decoded; any other flip
        // must be caught (the CRC covers the data, the length the size).
        const auto data = sample(300);
        const auto gz = zlib_compress(data, gzip_format);
        for (std::size_t at = 0; at < gz.size(); ++at) {
            for (int bit = 0; bit < 8; ++bit) {
                auto bad = gz;
                bad[at] = static_cast<char>(bad[at] ^ (1 << bit));
                const auto o = decode(gd::content_coding::gzip, bad, big_limit);
                if (!o.failed) {
                    CAPTURE(at);
                    CAPTURE(bit);
                    CHECK(o.body == data);
                } else {
                    CHECK(o.failed->ec == glue::errc::bad_response);
                }
            }
        }
    }
}
