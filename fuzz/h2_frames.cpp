// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The client's HTTP/2 receive path (transport/h2_codec.hpp: nghttp2's client session with our
// callbacks) on any bytes from the server. Three requests are opened, the server's connection
// preface (an empty SETTINGS) is received, then the input, fed in parts whose size the first
// byte picks (bits 0-3: whole, or 1 to 15 bytes); bit 4 cancels the second request midway, as a
// caller who gives up does. The limits are small so that inputs reach them: headers 512 bytes,
// bodies 256 bytes (the third request's 64).
// Checks, besides crashes, leaks and UB: a body never passes its request's limit, nor the
// captured headers theirs; a completed exchange is a final response (status 200 to 999) or a
// failure with a reason; every exchange has its outcome once the codec is gone.

#include "fuzz_support.hpp"
#include "transport/h2_codec.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace {

namespace gd = glue::detail;

constexpr std::uint8_t server_preface[] = {0, 0, 0, 4, 0, 0, 0, 0, 0}; // SETTINGS, empty

struct call {
    gd::http_request req;
    gd::http_response resp;
    std::shared_ptr<gd::h2_exchange> x;
};

void check(const call& c) {
    std::lock_guard lock(c.x->mtx);
    FUZZ_CHECK(c.resp.body.size() <= c.req.body_limit);
    FUZZ_CHECK(c.resp.captured.size() <= gd::max_captured_headers);
    for (const auto& h : c.resp.captured) {
        FUZZ_CHECK(h.value.size() <= gd::max_captured_value_size);
    }
    if (c.x->done && c.x->response) {
        if (c.x->outcome.ec) {
            FUZZ_CHECK(!c.x->outcome.why.empty() ||
                       c.x->outcome.ec == boost::asio::error::operation_aborted);
        } else {
            FUZZ_CHECK(c.resp.status >= 200 && c.resp.status <= 999);
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const std::uint8_t control = data[0];
    const std::size_t part = control & 0x0f;
    const bool cancel_second = (control & 0x10) != 0;
    ++data;
    --size;

    const gd::header_capture capture({"x-request-id", "retry-after", "content-type"});
    gd::h2_fixed_fields fixed;
    fixed.authority = "api.example.com";
    fixed.fields.push_back({"user-agent", "fuzz", false});
    fixed.fields.push_back({"x-api-key", "secret", true});
    std::array<call, 3> calls;
    auto codec = std::make_unique<gd::h2_codec>(gd::h2_codec::limits{512, 256}, capture, fixed);
    for (std::size_t i = 0; i < calls.size(); ++i) {
        auto& c = calls[i];
        c.req.target = "/public/graphql";
        c.req.content_type = "application/json";
        c.req.body =
            i == 1 ? std::string_view("{\"query\":\"{ me { id } }\"}") : std::string_view();
        c.req.authorization = "Bearer tok";
        c.req.body_limit = i == 2 ? 64 : 256;
        c.req.extra_headers = "X-Trace: 1\r\n";
        c.x = std::make_shared<gd::h2_exchange>(c.req, c.resp);
        codec->open(c.x);
    }
    std::string out;
    (void)codec->take_output(out, 1 << 16);
    (void)codec->receive(server_preface, sizeof server_preface);
    const std::size_t step = part == 0 ? std::max<std::size_t>(size, 1) : part;
    for (std::size_t at = 0; at < size; at += step) {
        if (cancel_second && at >= size / 2 && calls[1].x->response) {
            std::lock_guard lock(calls[1].x->mtx);
            calls[1].x->detach();
        }
        if (cancel_second && !calls[1].x->response) {
            codec->cancel(calls[1].x);
        }
        const auto err = codec->receive(data + at, std::min(step, size - at));
        out.clear();
        (void)codec->take_output(out, 1 << 16);
        for (const auto& c : calls) {
            check(c);
        }
        if (err) {
            break;
        }
    }
    (void)codec->take_news();
    (void)codec->max_concurrent_streams();
    codec.reset();
    for (const auto& c : calls) {
        check(c);
        std::lock_guard lock(c.x->mtx);
        FUZZ_CHECK(c.x->done || !c.x->response);
    }
    return 0;
}
