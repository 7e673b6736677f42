// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The decoder of compressed response bodies (protocol/content_coding.hpp) on any bytes, and
// parse_content_coding on any header value. The input is `<control byte><body>`: the control
// byte picks the coding (bit 0: gzip or deflate), the size of the parts the body is fed in (bits
// 1-4: whole, or 1 to 15 bytes) and the decoded limit (bits 5-7: 0 to 7 KiB, or unlimited).
// Checks, besides crashes, leaks and UB: the decoded body never passes the limit; every failure
// is errc::bad_response with a message; the outcome (body, or failure and its reason) does not
// depend on how the body is split; and zlib's own compression of the body, in each format,
// decodes back to it.

#include "protocol/content_coding.hpp"

#include "fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include <zlib.h>

namespace {

namespace gd = glue::detail;

struct outcome {
    std::string body;
    bool ok = false;
    std::string_view why;
};

outcome decode(gd::content_coding c, std::string_view in, std::size_t limit, std::size_t part) {
    gd::content_decoder d(c, limit);
    outcome o;
    const std::size_t step = part == 0 ? std::max<std::size_t>(in.size(), 1) : part;
    for (std::size_t at = 0; at < in.size(); at += step) {
        if (auto r = d.feed(in.substr(at, step), o.body); !r) {
            FUZZ_CHECK(r.error().ec == glue::errc::bad_response);
            FUZZ_CHECK(!r.error().message.empty());
            FUZZ_CHECK(o.body.size() <= limit);
            o.why = r.error().message;
            return o;
        }
        FUZZ_CHECK(o.body.size() <= limit);
    }
    auto r = d.finish();
    o.ok = r.has_value();
    if (!o.ok) {
        FUZZ_CHECK(r.error().ec == glue::errc::bad_response);
        o.why = r.error().message;
    }
    return o;
}

std::string compress(std::string_view data, int window_bits) {
    z_stream z{};
    FUZZ_CHECK(deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&z, data.size()), '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    FUZZ_CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const std::uint8_t control = data[0];
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

    // Any header value: parsed or refused, never anything else.
    if (auto c = gd::parse_content_coding(body); !c) {
        FUZZ_CHECK(c.error().ec == glue::errc::bad_response);
    }

    const auto coding = (control & 1) ? gd::content_coding::gzip : gd::content_coding::deflate;
    const std::size_t part = (control >> 1) & 0x0f;
    const unsigned kib = control >> 5;
    const std::size_t limit = kib == 7 ? std::numeric_limits<std::size_t>::max() : kib * 1024;

    const auto whole = decode(coding, body, limit, 0);
    const auto split = decode(coding, body, limit, part == 0 ? 1 : part);
    FUZZ_CHECK(whole.ok == split.ok);
    FUZZ_CHECK(whole.why == split.why);
    FUZZ_CHECK(whole.body == split.body || !whole.ok);
    if (whole.ok) {
        FUZZ_CHECK(whole.body.size() <= limit);
    }

    // The body as the data: compressed by zlib, it decodes back in every format.
    for (int bits : {15 + 16, 15, -15}) {
        const auto c = bits == 15 + 16 ? gd::content_coding::gzip : gd::content_coding::deflate;
        const auto back = decode(c, compress(body, bits), body.size(), part);
        FUZZ_CHECK(back.ok);
        FUZZ_CHECK(back.body == body);
    }
    return 0;
}
