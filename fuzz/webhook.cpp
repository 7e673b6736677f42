// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Webhook verification and parsing: any secret, signature header and body.
// Input: "<secret>\n<signature header>\n<raw body>".

#include <glue/error.hpp>
#include <glue/webhook.hpp>

#include "fuzz_support.hpp"

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace webhook = glue::webhook;

namespace {

// The oracle for verify(): 64 hex digits, either case, equal to the lowercase signature.
bool same_hex(std::string_view given, std::string_view expected) {
    if (given.size() != expected.size()) {
        return false;
    }
    for (std::size_t i = 0; i < given.size(); ++i) {
        const char c = given[i];
        const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!hex || std::tolower(static_cast<unsigned char>(c)) != expected[i]) {
            return false;
        }
    }
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    const std::string_view secret = glue::fuzz::take_line(in);
    const std::string_view header = glue::fuzz::take_line(in);
    const std::string_view body = in;

    if (secret.empty()) {
        FUZZ_CHECK(!webhook::verify(body, header, secret));
    } else {
        const std::string sig = webhook::sign(body, secret);
        FUZZ_CHECK(sig.size() == 64);
        FUZZ_CHECK(webhook::verify(body, sig, secret));
        FUZZ_CHECK(webhook::verify(body, header, secret) == same_hex(header, sig));
    }

    // parse() either gives an event consistent with its type or throws bad_response.
    try {
        const auto e = webhook::parse(body);
        FUZZ_CHECK(e.body.is_object());
        FUZZ_CHECK(e.body.at("type").as_string() == e.type_name);
        FUZZ_CHECK(e.body.at("workspaceID").as_string() == e.workspace_id);
        switch (e.type) {
        case webhook::event_type::message_created:
            FUZZ_CHECK(e.type_name == "message.created" && e.message && e.thread);
            break;
        case webhook::event_type::thread_created:
            FUZZ_CHECK(e.type_name == "thread.created" && e.thread);
            break;
        case webhook::event_type::unknown:
            FUZZ_CHECK(e.type_name != "message.created" && e.type_name != "thread.created");
            break;
        }
        if (e.message) {
            FUZZ_CHECK(e.body.at("event").at("message").at("id").as_string() == e.message->id);
        }
        if (e.thread) {
            FUZZ_CHECK(e.body.at("event").at("thread").at("id").as_string() == e.thread->id);
        }
    } catch (const glue::error& e) {
        FUZZ_CHECK(e.code() == glue::errc::bad_response);
        FUZZ_CHECK(std::string_view(e.what()).starts_with("glue::webhook::parse: "));
    }

    // A signature that doesn't verify stops parse_verified before the body is read.
    if (!secret.empty() && !webhook::verify(body, header, secret)) {
        try {
            (void)webhook::parse_verified(body, header, secret);
            FUZZ_CHECK(false);
        } catch (const glue::error& e) {
            FUZZ_CHECK(e.code() == glue::errc::bad_signature);
        }
    }
    return 0;
}
