// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "protocol/content_coding.hpp"

#include "protocol/ascii.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <new>

#include <zlib.h>

namespace glue::detail {

namespace {

constexpr std::string_view too_large = "decoded response body larger than the limit";
constexpr std::string_view corrupt = "compressed response body is corrupt";
constexpr std::string_view bad_check =
    "compressed response body fails its check value (CRC or length)";
constexpr std::string_view trailing = "data after the end of the compressed response body";
constexpr std::string_view truncated = "compressed response body truncated";

// RFC 1950 §2.2: method 8 (deflate), a window of at most 32 KiB, and CMF·256 + FLG a multiple
// of 31. Few raw deflate streams start with such two bytes; browsers tell them apart the same
// way.
bool zlib_header(unsigned char cmf, unsigned char flg) {
    return (cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && (cmf * 256 + flg) % 31 == 0;
}

// The output of one inflate step: small and fixed, whatever the input expands to.
constexpr std::size_t step_bytes = 16 * 1024;

} // namespace

result<content_coding> parse_content_coding(std::string_view value) {
    auto coding = content_coding::identity;
    bool found = false;
    while (!value.empty()) {
        const auto comma = value.find(',');
        const auto item = trim_ows(value.substr(0, comma));
        value.remove_prefix(comma == value.npos ? value.size() : comma + 1);
        if (item.empty() || iequals(item, "identity")) {
            continue;
        }
        if (found) {
            return make_failure(errc::bad_response, "response body in several content codings");
        }
        found = true;
        if (iequals(item, "gzip") || iequals(item, "x-gzip")) {
            coding = content_coding::gzip;
        } else if (iequals(item, "deflate")) {
            coding = content_coding::deflate;
        } else {
            return make_failure(errc::bad_response,
                                "response body in a content coding the client did not ask for "
                                "(it decodes gzip and deflate)");
        }
    }
    return coding;
}

struct content_decoder::state {
    state(content_coding c, std::size_t l) : coding(c), limit(l) {}
    state(const state&) = delete;
    state& operator=(const state&) = delete;
    ~state() {
        if (initialized) {
            inflateEnd(&z);
        }
    }

    // Starts inflating with the given window bits (zlib's encoding of the format).
    void init(int window_bits) {
        if (inflateInit2(&z, window_bits) != Z_OK) {
            throw std::bad_alloc(); // the only failure possible with valid arguments
        }
        initialized = true;
        watch_header();
    }

    // For gzip: header.done tells whether a member's header has been read (1), so that bytes
    // after a member which start no other one are told apart from a corrupt member.
    void watch_header() {
        if (coding == content_coding::gzip) {
            header = gz_header{};
            inflateGetHeader(&z, &header);
        }
    }

    result<void> fail(std::string_view why) {
        failed = why;
        return make_failure(errc::bad_response, why);
    }

    // Inflates `n` bytes at `p` (at most UINT_MAX) into `out`.
    result<void> run(const unsigned char* p, std::size_t n, std::string& out) {
        z.next_in = const_cast<unsigned char*>(p); // zlib's API; it does not write there
        z.avail_in = static_cast<uInt>(n);
        bool more_output = false;
        for (;;) {
            if (ended && z.avail_in != 0) {
                if (coding != content_coding::gzip) {
                    return fail(trailing);
                }
                inflateReset(&z); // another gzip member follows, or bytes that must be one
                watch_header();
                ended = false;
                next_member = true;
            }
            if (z.avail_in == 0 && !more_output) {
                return {};
            }
            unsigned char buf[step_bytes];
            z.next_out = buf;
            z.avail_out = sizeof buf;
            const int rc = inflate(&z, Z_NO_FLUSH);
            const std::size_t produced = sizeof buf - z.avail_out;
            if (produced > limit - decoded) {
                return fail(too_large);
            }
            out.append(reinterpret_cast<const char*>(buf), produced);
            decoded += produced;
            more_output = z.avail_out == 0;
            switch (rc) {
            case Z_OK:
                break;
            case Z_STREAM_END:
                ended = true;
                more_output = false; // all of it is out at the end of a stream
                break;
            case Z_BUF_ERROR:
                return {}; // nothing more to do until more input comes
            case Z_MEM_ERROR:
                throw std::bad_alloc();
            case Z_DATA_ERROR:
                if (next_member && header.done != 1) { // 1: the member's header was read
                    return fail(trailing);
                }
                if (z.msg != nullptr && (std::strcmp(z.msg, "incorrect data check") == 0 ||
                                         std::strcmp(z.msg, "incorrect length check") == 0)) {
                    return fail(bad_check); // zlib's words for a wrong CRC-32, Adler-32, ISIZE
                }
                return fail(corrupt);
            default: // Z_NEED_DICT: a zlib stream made with a preset dictionary, never HTTP's
                return fail(corrupt);
            }
        }
    }

    z_stream z{};
    gz_header header{};
    const content_coding coding;
    const std::size_t limit;
    std::size_t decoded = 0;
    bool initialized = false;
    bool any_input = false;
    bool ended = false;       // at the end of a gzip member or of the deflate stream
    bool next_member = false; // gzip: past the first member
    std::string_view failed;  // why it failed; empty: it has not
    // deflate: the first two bytes, held until they tell zlib from raw deflate
    unsigned char head[2] = {};
    std::size_t head_size = 0;
};

content_decoder::content_decoder(content_coding coding, std::size_t limit)
    : st_(std::make_unique<state>(coding, limit)) {}

content_decoder::~content_decoder() = default;

result<void> content_decoder::feed(std::string_view in, std::string& out) {
    auto& st = *st_;
    if (!st.failed.empty()) {
        return make_failure(errc::bad_response, st.failed);
    }
    if (in.empty()) {
        return {};
    }
    st.any_input = true;
    const auto* p = reinterpret_cast<const unsigned char*>(in.data());
    std::size_t n = in.size();
    if (!st.initialized) {
        if (st.coding == content_coding::gzip) {
            st.init(15 + 16); // a 32 KiB window, gzip format only
        } else {
            while (st.head_size < 2 && n != 0) {
                st.head[st.head_size++] = *p++;
                --n;
            }
            if (st.head_size < 2) {
                return {};
            }
            st.init(zlib_header(st.head[0], st.head[1]) ? 15 : -15);
            if (auto r = st.run(st.head, 2, out); !r) {
                return r;
            }
        }
    }
    // zlib counts input in uInt: a larger part goes in slices.
    constexpr std::size_t slice = std::size_t(1) << 30;
    static_assert(slice <= UINT_MAX);
    while (n != 0) {
        const std::size_t take = std::min(n, slice);
        if (auto r = st.run(p, take, out); !r) {
            return r;
        }
        p += take;
        n -= take;
    }
    return {};
}

result<void> content_decoder::finish() const {
    const auto& st = *st_;
    if (!st.failed.empty()) {
        return make_failure(errc::bad_response, st.failed);
    }
    if (!st.any_input || st.ended) {
        return {};
    }
    return make_failure(errc::bad_response, truncated);
}

} // namespace glue::detail
