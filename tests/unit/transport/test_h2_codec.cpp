// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The HTTP/2 codec (src/transport/h2_codec.hpp) without sockets: requests opened on it, the
// server's frames written here byte by byte and fed to it, and the frames it writes read back.
// Pins what the pool's retry rules rest on (a refused stream, or one past a GOAWAY, is unsent;
// one the server answered is not), a caller's cancellation resetting its stream alone, and the
// limits every response has.

#include "support/zlib_codec.hpp"
#include "transport/h2_codec.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

// Named: the unity build puts other tests' helpers (a `headers`, a `call`) beside these.
namespace h2_codec_test {

namespace gd = glue::detail;
namespace asio = boost::asio;

enum : std::uint8_t {
    data_frame = 0,
    headers_frame = 1,
    rst_frame = 3,
    settings_frame = 4,
    ping_frame = 6,
    goaway_frame = 7
};
enum : std::uint8_t { end_stream = 1, end_headers = 4, ack = 1 };

void put32(std::string& s, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) {
        s.push_back(static_cast<char>((v >> shift) & 0xff));
    }
}

std::string frame(std::uint8_t type, std::uint8_t flags, std::uint32_t stream,
                  std::string_view payload = {}) {
    std::string f;
    const auto n = static_cast<std::uint32_t>(payload.size());
    f.push_back(static_cast<char>(n >> 16));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n));
    f.push_back(static_cast<char>(type));
    f.push_back(static_cast<char>(flags));
    put32(f, stream);
    f.append(payload);
    return f;
}

// HPACK (RFC 7541): a literal field without indexing, with a literal name of under 128 bytes
// and a value of under 128 bytes, or longer ones with the integer continuation.
std::string hpack_int(std::size_t v, unsigned prefix_bits, std::uint8_t first) {
    std::string s;
    const std::size_t max = (1u << prefix_bits) - 1;
    if (v < max) {
        s.push_back(static_cast<char>(first | v));
        return s;
    }
    s.push_back(static_cast<char>(first | max));
    v -= max;
    while (v >= 128) {
        s.push_back(static_cast<char>((v % 128) + 128));
        v /= 128;
    }
    s.push_back(static_cast<char>(v));
    return s;
}

std::string literal(std::string_view name, std::string_view value) {
    std::string s(1, '\0');
    s += hpack_int(name.size(), 7, 0);
    s += name;
    s += hpack_int(value.size(), 7, 0);
    s += value;
    return s;
}

std::string status(std::string_view code) {
    return std::string("\x08", 1) + hpack_int(code.size(), 7, 0) + std::string(code); // :status
}

std::string h2_headers(std::uint32_t stream, std::string_view block, bool end = false) {
    return frame(headers_frame, end_headers | (end ? end_stream : 0), stream, block);
}

std::string h2_data(std::uint32_t stream, std::string_view body, bool end = true) {
    return frame(data_frame, end ? end_stream : 0, stream, body);
}

std::string code(std::uint32_t v) {
    std::string s;
    put32(s, v);
    return s;
}

struct parsed_frame {
    std::uint8_t type, flags;
    std::uint32_t stream;
    std::string payload;
};

/// The frames in what the codec wrote, after the client's connection preface.
std::vector<parsed_frame> frames_of(std::string_view out) {
    constexpr std::string_view preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    if (out.substr(0, preface.size()) == preface) {
        out.remove_prefix(preface.size());
    }
    std::vector<parsed_frame> frames;
    while (out.size() >= 9) {
        auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(std::uint8_t(out[i])); };
        const std::size_t n = (b(0) << 16) | (b(1) << 8) | b(2);
        parsed_frame f{std::uint8_t(b(3)), std::uint8_t(b(4)),
                       ((b(5) & 0x7f) << 24) | (b(6) << 16) | (b(7) << 8) | b(8),
                       std::string(out.substr(9, n))};
        frames.push_back(std::move(f));
        out.remove_prefix(9 + n);
    }
    return frames;
}

struct call {
    explicit call(std::string body = "{}", std::size_t body_limit = 1 << 20) : body_text(body) {
        req.target = "/public/graphql";
        req.content_type = "application/json";
        req.body = body_text;
        req.authorization = "Bearer tok_secret";
        req.body_limit = body_limit;
        x = std::make_shared<gd::h2_exchange>(req, resp);
    }
    std::string body_text;
    gd::http_request req;
    gd::http_response resp;
    std::shared_ptr<gd::h2_exchange> x;

    bool done() const {
        std::lock_guard lock(x->mtx);
        return x->done;
    }
    gd::h2_outcome outcome() const {
        std::lock_guard lock(x->mtx);
        return x->outcome;
    }
};

/// A codec whose server has said its SETTINGS, with calls opened on it.
struct h2_fixture {
    explicit h2_fixture(gd::h2_codec::limits l = {}) : codec(l, capture, fixed) {
        fixed.authority = "api.example.com";
        written = take();
        feed(frame(settings_frame, 0, 0));
    }

    void open(call& c) {
        codec.open(c.x);
        written += take();
    }

    void feed(std::string_view bytes) {
        last_error =
            codec.receive(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
        written += take();
    }

    std::string take() {
        std::string out;
        REQUIRE(!codec.take_output(out, 1 << 20));
        return out;
    }

    /// The RST_STREAM frames written so far: (stream, error code).
    std::vector<std::pair<std::uint32_t, std::uint32_t>> resets() const {
        std::vector<std::pair<std::uint32_t, std::uint32_t>> r;
        for (const auto& f : frames_of(written)) {
            if (f.type == rst_frame && f.payload.size() == 4) {
                const auto& p = f.payload;
                r.emplace_back(f.stream, (std::uint32_t(std::uint8_t(p[0])) << 24) |
                                             (std::uint32_t(std::uint8_t(p[1])) << 16) |
                                             (std::uint32_t(std::uint8_t(p[2])) << 8) |
                                             std::uint32_t(std::uint8_t(p[3])));
            }
        }
        return r;
    }

    gd::header_capture capture{std::vector<std::string>{"x-request-id"}};
    gd::h2_fixed_fields fixed;
    gd::h2_codec codec;
    std::string written;
    glue::error_code last_error;
};

constexpr std::uint32_t refused_stream = 7, cancel_code = 8;

} // namespace h2_codec_test

TEST_SUITE("h2 codec") {
    using namespace h2_codec_test;

    TEST_CASE("a response is read into the caller's http_response, its fields captured") {
        h2_fixture f;
        call c("{\"query\":\"{ me { id } }\"}");
        f.open(c);
        const auto sent = frames_of(f.written);
        CHECK(std::any_of(sent.begin(), sent.end(),
                          [](const parsed_frame& p) { return p.type == headers_frame; }));
        f.feed(h2_headers(1, status("200") + literal("x-request-id", "req_7") +
                                 literal("retry-after", "3")));
        CHECK(!c.done());
        f.feed(h2_data(1, "{\"data\":", false) + h2_data(1, "{}}"));
        REQUIRE(c.done());
        const auto o = c.outcome();
        CHECK(!o.ec);
        CHECK(!o.refused);
        CHECK(o.written);
        CHECK(o.got_response);
        CHECK(o.sent > 0);
        CHECK(o.received > 0);
        CHECK(c.resp.status == 200);
        CHECK(c.resp.body == "{\"data\":{}}");
        CHECK(c.resp.retry_after == "3");
        REQUIRE(c.resp.captured.size() == 1);
        CHECK(c.resp.captured[0].name == "x-request-id");
        CHECK(c.resp.captured[0].value == "req_7");
        CHECK(f.codec.open_streams() == 0);
    }

    TEST_CASE("the server's stream limit is read from its SETTINGS") {
        h2_fixture f;
        CHECK(f.codec.settings_received());
        CHECK(f.codec.max_concurrent_streams() == 100); // none said: RFC 9113's 100
        f.codec.take_news();
        f.feed(frame(settings_frame, 0, 0, std::string("\x00\x03", 2) + code(10)));
        CHECK(f.codec.take_news().settings);
        CHECK(f.codec.max_concurrent_streams() == 10);
    }

    TEST_CASE("REFUSED_STREAM is unsent: refused, whatever was written") {
        h2_fixture f;
        call c;
        f.open(c);
        f.feed(frame(rst_frame, 0, 1, code(refused_stream)));
        REQUIRE(c.done());
        const auto o = c.outcome();
        CHECK(o.ec);
        CHECK(o.refused);
        CHECK(o.written); // its frames left, and yet the server says it did not process it
        CHECK(std::string(o.why).find("REFUSED_STREAM") != std::string::npos);
    }

    TEST_CASE("another RST_STREAM is a failure the server may have acted on") {
        h2_fixture f;
        call c;
        f.open(c);
        f.feed(frame(rst_frame, 0, 1, code(2))); // INTERNAL_ERROR
        REQUIRE(c.done());
        CHECK(c.outcome().ec == asio::error::connection_reset);
        CHECK(!c.outcome().refused);
    }

    TEST_CASE("GOAWAY: streams past its last stream id are refused, those before it finish") {
        h2_fixture f;
        call first, second, third;
        f.open(first);  // stream 1
        f.open(second); // stream 3
        f.open(third);  // stream 5
        f.feed(frame(goaway_frame, 0, 0, code(1) + code(0)));
        CHECK(f.codec.take_news().goaway);
        REQUIRE(second.done());
        REQUIRE(third.done());
        CHECK(second.outcome().refused);
        CHECK(third.outcome().refused);
        CHECK(!first.done());
        f.feed(h2_headers(1, status("200"), true));
        REQUIRE(first.done());
        CHECK(!first.outcome().ec);
        CHECK(first.resp.status == 200);
        // Nothing left to finish: the connection is done.
        CHECK(!f.codec.alive());
    }

    TEST_CASE("a request opened after a GOAWAY never leaves: refused") {
        h2_fixture f;
        call c;
        f.feed(frame(goaway_frame, 0, 0, code(0) + code(0)));
        f.open(c);
        REQUIRE(c.done());
        CHECK(c.outcome().refused);
        CHECK(!c.outcome().written);
    }

    TEST_CASE("a caller who leaves has its stream reset (CANCEL), the others go on") {
        h2_fixture f;
        call leaving, staying;
        f.open(leaving);
        f.open(staying);
        f.feed(h2_headers(1, status("200")) + h2_headers(3, status("200")));
        {
            std::lock_guard lock(leaving.x->mtx);
            leaving.x->detach();
        }
        f.codec.cancel(leaving.x);
        f.written += f.take();
        const auto resets = f.resets();
        REQUIRE(resets.size() == 1);
        CHECK(resets[0].first == 1);
        CHECK(resets[0].second == cancel_code);
        // What still arrives for it touches nothing of the caller's.
        f.feed(h2_data(1, "late") + h2_data(3, "{}"));
        CHECK(leaving.resp.body.empty());
        REQUIRE(staying.done());
        CHECK(!staying.outcome().ec);
        CHECK(staying.resp.body == "{}");
        CHECK(f.codec.alive());
    }

    TEST_CASE("interim (1xx) responses are skipped, at most a few") {
        h2_fixture f;
        call c;
        f.open(c);
        f.feed(h2_headers(1, status("100")) +
               h2_headers(1, status("103") + literal("x-request-id", "no")));
        f.feed(h2_headers(1, status("201") + literal("x-request-id", "yes"), true));
        REQUIRE(c.done());
        CHECK(!c.outcome().ec);
        CHECK(c.resp.status == 201);
        REQUIRE(c.resp.captured.size() == 1);
        CHECK(c.resp.captured[0].value == "yes");

        call endless;
        f.open(endless);              // stream 3
        for (int i = 0; i < 9; ++i) { // more than 8, as over HTTP/1.1
            f.feed(h2_headers(3, status("100")));
        }
        REQUIRE(endless.done());
        CHECK(endless.outcome().ec == glue::errc::bad_response);
    }

    TEST_CASE("the header limit holds per stream, as decoded; the connection stays") {
        h2_fixture f({1024, 1 << 20});
        call big, small;
        f.open(big);
        f.open(small);
        f.feed(h2_headers(1, status("200") + literal("x-pad", std::string(600, 'a')) +
                                 literal("x-pad2", std::string(600, 'b'))));
        REQUIRE(big.done());
        CHECK(big.outcome().ec == glue::errc::bad_response);
        CHECK(std::string(big.outcome().why) == "response header larger than the limit");
        CHECK(f.resets() == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{1, cancel_code}});
        f.feed(h2_headers(3, status("200"), true));
        REQUIRE(small.done());
        CHECK(!small.outcome().ec);
        CHECK(f.codec.alive());
    }

    TEST_CASE("the body limit holds as received and as decoded") {
        h2_fixture f;
        call plain("{}", 10);
        f.open(plain);
        f.feed(h2_headers(1, status("200")) + h2_data(1, std::string(11, 'x')));
        REQUIRE(plain.done());
        CHECK(std::string(plain.outcome().why) == "response body larger than the limit");
        CHECK(plain.resp.body.size() <= 10);

        call bomb("{}", 1000);
        f.open(bomb); // stream 3
        const std::string zipped =
            glue::test::zlib_compress(std::string(100000, 'a'), glue::test::gzip_format);
        REQUIRE(zipped.size() < 1000);
        f.feed(h2_headers(3, status("200") + literal("content-encoding", "gzip")) +
               h2_data(3, zipped));
        REQUIRE(bomb.done());
        CHECK(bomb.outcome().ec == glue::errc::bad_response);
        CHECK(bomb.resp.body.size() <= 1000);

        call zipped_ok;
        f.open(zipped_ok); // stream 5
        f.feed(h2_headers(5, status("200") + literal("content-encoding", "gzip")) +
               h2_data(5, glue::test::zlib_compress("{\"data\":1}", glue::test::gzip_format)));
        REQUIRE(zipped_ok.done());
        CHECK(!zipped_ok.outcome().ec);
        CHECK(zipped_ok.resp.body == "{\"data\":1}");
    }

    TEST_CASE("the windows take two answers of the body limit at once, no WINDOW_UPDATE awaited") {
        // The server sends both 32 MiB answers before it reads anything from the client: with
        // windows smaller than that, nghttp2 would end the connection (FLOW_CONTROL_ERROR), as
        // a server that honours them would stall until the client's WINDOW_UPDATE.
        constexpr std::size_t limit = 32 * 1024 * 1024;
        constexpr std::size_t max_frame = 16 * 1024; // SETTINGS_MAX_FRAME_SIZE's initial value
        gd::h2_codec::limits l;
        l.body_limit = limit;
        h2_fixture f(l);
        call first("{}", limit), second("{}", limit);
        f.open(first);  // stream 1
        f.open(second); // stream 3
        const std::string chunk(max_frame, 'x');
        // As a server does, it acknowledges the client's SETTINGS (the windows among them)
        // before it answers the requests that came after them.
        std::string in = frame(settings_frame, ack, 0) + h2_headers(1, status("200")) +
                         h2_headers(3, status("200"));
        in.reserve(in.size() + 2 * (limit + limit / max_frame * 9));
        for (std::size_t sent = 0; sent < limit; sent += max_frame) {
            const bool last = sent + max_frame == limit;
            in += h2_data(1, chunk, last);
            in += h2_data(3, chunk, last);
        }
        f.feed(in);
        CHECK(!f.last_error);
        REQUIRE(first.done());
        REQUIRE(second.done());
        CHECK(!first.outcome().ec);
        CHECK(!second.outcome().ec);
        CHECK(first.resp.body.size() == limit);
        CHECK(second.resp.body.size() == limit);
    }

    TEST_CASE("the connection failing: written streams fail, unwritten ones are refused") {
        h2_fixture f;
        call written;
        f.open(written);
        call queued;
        f.codec.open(queued.x); // its HEADERS never taken out to the connection
        f.codec.fail_all(asio::error::eof, "lost");
        REQUIRE(written.done());
        REQUIRE(queued.done());
        CHECK(written.outcome().ec == asio::error::eof);
        CHECK(!written.outcome().refused);
        CHECK(queued.outcome().refused);
        CHECK(!queued.outcome().written);
    }

    TEST_CASE("a malformed frame is a connection error: every stream fails") {
        h2_fixture f;
        call c;
        f.open(c);
        f.feed(frame(data_frame, 0, 0, "x")); // DATA on stream 0: PROTOCOL_ERROR
        REQUIRE(c.done());
        CHECK(c.outcome().ec);
        CHECK(!f.codec.alive());
    }

    TEST_CASE("a PING is answered; ours is reported when acknowledged") {
        h2_fixture f;
        f.codec.ping();
        f.written += f.take();
        auto sent = frames_of(f.written);
        CHECK(std::count_if(sent.begin(), sent.end(), [](const parsed_frame& p) {
                  return p.type == ping_frame && p.flags == 0;
              }) == 1);
        f.feed(frame(ping_frame, ack, 0, std::string(8, '\0')));
        CHECK(f.codec.take_news().ping_ack);
    }

    TEST_CASE("before the server's SETTINGS, streams open up to the limit assumed, else 100") {
        // Streams opened on a codec whose server has said nothing yet: the HEADERS that left.
        auto opened_before_settings = [](gd::h2_codec::limits l, std::size_t calls) {
            gd::header_capture capture{std::vector<std::string>{}};
            gd::h2_fixed_fields fixed;
            fixed.authority = "api.example.com";
            gd::h2_codec codec(l, capture, fixed);
            std::vector<std::unique_ptr<call>> cs;
            for (std::size_t i = 0; i < calls; ++i) {
                cs.push_back(std::make_unique<call>());
                codec.open(cs.back()->x);
            }
            std::string out;
            REQUIRE(!codec.take_output(out, 1 << 20));
            const auto sent = frames_of(out);
            return std::make_pair(
                codec.max_concurrent_streams(),
                std::count_if(sent.begin(), sent.end(),
                              [](const parsed_frame& p) { return p.type == headers_frame; }));
        };
        const auto unknown = opened_before_settings({}, 120);
        CHECK(unknown.first == 100);
        CHECK(unknown.second == 100); // the other 20 wait for the SETTINGS
        gd::h2_codec::limits known;
        known.assumed_streams = 128; // as another connection to the server learnt
        const auto assumed = opened_before_settings(known, 120);
        CHECK(assumed.first == 128);
        CHECK(assumed.second == 120);
    }
}
