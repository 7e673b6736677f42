// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/error.hpp>
#include <glue/webhook.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <string>

namespace webhook = glue::webhook;
using glue::errc;

namespace {

std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return s;
}

glue::error_code parse_error(std::string_view body) {
    try {
        (void)webhook::parse(body);
    } catch (const glue::error& e) {
        return e.code();
    }
    return {};
}

constexpr std::string_view secret = "whsec-test-0123456789";
constexpr std::string_view body =
    R"({"type":"message.created","workspaceID":"wks_1","event":{"message":{"id":"msg_1",)"
    R"("text":"hi","createdAt":"2026-01-01T00:00:00.000Z","user":{"id":"usr_h","name":"Ann"}},)"
    R"("thread":{"id":"thr_1","subject":"Plans","threadType":"thread"}}})";

} // namespace

TEST_SUITE("webhook") {
    TEST_CASE("sign matches RFC 4231's HMAC-SHA256 vectors") {
        // Test case 1: a 20-byte key of 0x0b over "Hi There".
        CHECK(webhook::sign("Hi There", std::string(20, '\x0b')) ==
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
        // Test case 2: a key shorter than the block.
        CHECK(webhook::sign("what do ya want for nothing?", "Jefe") ==
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        // Test case 6: a key longer than the block (131 bytes of 0xaa) is hashed first.
        CHECK(webhook::sign("Test Using Larger Than Block-Size Key - Hash Key First",
                            std::string(131, '\xaa')) ==
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    TEST_CASE("verify accepts the signature in either case and nothing else") {
        const std::string sig = webhook::sign(body, secret);
        REQUIRE(sig.size() == 64);
        CHECK(webhook::verify(body, sig, secret));
        CHECK(webhook::verify(body, upper(sig), secret));
        std::string mixed = sig;
        mixed[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(mixed[0])));
        mixed[63] = static_cast<char>(std::toupper(static_cast<unsigned char>(mixed[63])));
        CHECK(webhook::verify(body, mixed, secret));

        SUBCASE("a tampered body") {
            std::string tampered(body);
            tampered[tampered.find("hi")] = 'H';
            CHECK_FALSE(webhook::verify(tampered, sig, secret));
            std::string extended(body);
            extended += ' ';
            CHECK_FALSE(webhook::verify(extended, sig, secret));
            CHECK_FALSE(webhook::verify(body.substr(1), sig, secret));
        }
        SUBCASE("another secret") {
            CHECK_FALSE(webhook::verify(body, sig, "whsec-test-0123456788"));
            CHECK_FALSE(webhook::verify(body, sig, ""));
        }
        SUBCASE("a digit changed anywhere") {
            for (std::size_t i = 0; i < sig.size(); ++i) {
                std::string bad = sig;
                bad[i] = bad[i] == '0' ? '1' : '0';
                CHECK_FALSE(webhook::verify(body, bad, secret));
            }
        }
        SUBCASE("wrong lengths and non-hex digits") {
            CHECK_FALSE(webhook::verify(body, "", secret));
            CHECK_FALSE(webhook::verify(body, sig.substr(0, 63), secret));
            CHECK_FALSE(webhook::verify(body, sig + "0", secret));
            CHECK_FALSE(webhook::verify(body, sig + sig, secret));
            CHECK_FALSE(webhook::verify(body, "sha256=" + sig, secret));
            CHECK_FALSE(webhook::verify(body, " " + sig.substr(1), secret));
            std::string non_hex = sig;
            non_hex[10] = 'g';
            CHECK_FALSE(webhook::verify(body, non_hex, secret));
            non_hex[10] = '\0';
            CHECK_FALSE(webhook::verify(body, non_hex, secret));
        }
    }

    TEST_CASE("an empty secret signs nothing") {
        CHECK_THROWS_AS(webhook::sign(body, ""), glue::error);
        CHECK_FALSE(webhook::verify("", std::string(64, '0'), ""));
    }

    TEST_CASE("an empty body has a signature too") {
        const std::string sig = webhook::sign("", secret);
        CHECK(webhook::verify("", sig, secret));
        CHECK_FALSE(webhook::verify("{}", sig, secret));
    }

    TEST_CASE("parse reads message.created") {
        const auto e = webhook::parse(body);
        CHECK(e.type == webhook::event_type::message_created);
        CHECK(e.type_name == "message.created");
        CHECK(e.workspace_id == "wks_1");
        REQUIRE(e.message);
        CHECK(e.message->id == "msg_1");
        CHECK(e.message->text == "hi");
        CHECK(e.message->created_at == "2026-01-01T00:00:00.000Z");
        CHECK(e.message->user.id == "usr_h");
        CHECK(e.message->user.name == "Ann");
        REQUIRE(e.thread);
        CHECK(e.thread->id == "thr_1");
        CHECK(e.thread->subject == "Plans");
        CHECK(e.thread->thread_type == "thread");
        CHECK(e.body.at("event").at("message").at("id") == "msg_1");
    }

    TEST_CASE("parse reads thread.created, with or without its first message") {
        const auto e = webhook::parse(
            R"({"type":"thread.created","workspaceID":"wks_2","event":{"thread":{"id":"thr_9"}}})");
        CHECK(e.type == webhook::event_type::thread_created);
        REQUIRE(e.thread);
        CHECK(e.thread->id == "thr_9");
        CHECK(e.thread->subject.empty());
        CHECK_FALSE(e.message);
    }

    TEST_CASE("parse preserves an unknown type whole") {
        const auto e = webhook::parse(
            R"({"type":"reaction.added","workspaceID":"wks_3","event":{"reaction":{"emoji":"+1"}},"extra":[1,2]})");
        CHECK(e.type == webhook::event_type::unknown);
        CHECK(e.type_name == "reaction.added");
        CHECK(e.workspace_id == "wks_3");
        CHECK_FALSE(e.message);
        CHECK_FALSE(e.thread);
        CHECK(e.body.at("event").at("reaction").at("emoji") == "+1");
        CHECK(e.body.at("extra").as_array().size() == 2);
    }

    TEST_CASE("parse refuses bodies that are not a webhook event") {
        for (
            std::string_view bad : {
                "",
                "not json",
                "[]",
                R"({"type":"message.created"})",
                R"({"workspaceID":"wks_1"})",
                R"({"type":7,"workspaceID":"wks_1"})",
                R"({"type":"x","workspaceID":"wks_1","event":[]})",
                R"({"type":"x","workspaceID":"wks_1","event":{"message":"msg_1"}})",
                R"({"type":"x","workspaceID":"wks_1","event":{"thread":{"subject":"no id"}}})",
                R"({"type":"message.created","workspaceID":"wks_1","event":{"thread":{"id":"t"}}})",
                R"({"type":"message.created","workspaceID":"wks_1","event":{"message":{"id":"m"}}})",
                R"({"type":"thread.created","workspaceID":"wks_1","event":{}})",
                R"({"type":"thread.created","workspaceID":"wks_1"})",
            }) {
            CAPTURE(bad);
            CHECK(parse_error(bad) == errc::bad_response);
        }
    }

    TEST_CASE("parse_verified checks the signature before the body") {
        const std::string sig = webhook::sign(body, secret);
        CHECK(webhook::parse_verified(body, sig, secret).message->id == "msg_1");
        try {
            (void)webhook::parse_verified("not json", sig, secret);
            FAIL("no exception");
        } catch (const glue::error& e) {
            CHECK(e.code() == errc::bad_signature); // not bad_response: never parsed
            CHECK(std::string(e.what()).find(sig) == std::string::npos);
        }
    }
}
