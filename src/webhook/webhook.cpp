// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/error.hpp>
#include <glue/webhook.hpp>

#include "protocol/checks.hpp"
#include "support/outcome.hpp"

#include <boost/json/parse.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>

namespace glue::webhook {

namespace {

using digest = std::array<unsigned char, 32>;

// HMAC-SHA256; false only if OpenSSL fails (it doesn't for SHA-256 with a non-empty key).
bool hmac_sha256(std::string_view body, std::string_view secret, digest& out) noexcept {
    unsigned int size = 0;
    // A non-null data pointer even for an empty body: OpenSSL rejects null with a size of 0.
    const unsigned char empty = 0;
    const auto* data = body.empty() ? &empty : reinterpret_cast<const unsigned char*>(body.data());
    return HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), data, body.size(),
                out.data(), &size) != nullptr &&
           size == out.size();
}

std::string string_at(const boost::json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

// The entity `key` of `event`: absent is fine, anything but an object or null is not.
const boost::json::object* entity(const boost::json::object* event, std::string_view key) {
    const auto* v = event ? event->if_contains(key) : nullptr;
    if (!v || v->is_null()) {
        return nullptr;
    }
    if (!v->is_object()) {
        detail::throw_error(errc::bad_response, "a webhook's event entity is not a JSON object",
                            "webhook::parse");
    }
    const auto& o = v->get_object();
    const auto* id = o.if_contains("id");
    if (!id || !id->is_string()) {
        detail::throw_error(errc::bad_response, "a webhook's event entity has no string id",
                            "webhook::parse");
    }
    return &o;
}

} // namespace

bool verify(std::string_view raw_body, std::string_view signature_header,
            std::string_view secret) noexcept {
    digest expected;
    if (secret.empty() || signature_header.size() != 2 * expected.size() ||
        !hmac_sha256(raw_body, secret, expected)) {
        return false;
    }
    digest given;
    for (std::size_t i = 0; i < given.size(); ++i) {
        const int hi = detail::hex_digit_value(signature_header[2 * i]);
        const int lo = detail::hex_digit_value(signature_header[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        given[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    return CRYPTO_memcmp(given.data(), expected.data(), given.size()) == 0;
}

std::string sign(std::string_view raw_body, std::string_view secret) {
    digest d;
    if (secret.empty()) {
        detail::throw_error(errc::invalid_argument, "the webhook secret is empty", "webhook::sign");
    }
    if (!hmac_sha256(raw_body, secret, d)) {
        detail::throw_error(errc::invalid_argument, "HMAC-SHA256 failed", "webhook::sign");
    }
    constexpr std::string_view hex = "0123456789abcdef";
    std::string out;
    out.reserve(2 * d.size());
    for (unsigned char b : d) {
        out += hex[b >> 4];
        out += hex[b & 15];
    }
    return out;
}

event parse(std::string_view raw_body) {
    boost::json::error_code ec;
    event e;
    e.body = boost::json::parse(raw_body, ec);
    const auto* root = ec ? nullptr : e.body.if_object();
    const auto* type = root ? root->if_contains("type") : nullptr;
    const auto* ws = root ? root->if_contains("workspaceID") : nullptr;
    if (!type || !type->is_string() || !ws || !ws->is_string()) {
        detail::throw_error(errc::bad_response,
                            "a webhook body must be a JSON object with string type and workspaceID",
                            "webhook::parse");
    }
    e.type_name = type->get_string();
    e.workspace_id = ws->get_string();
    e.type = e.type_name == "message.created"  ? event_type::message_created
             : e.type_name == "thread.created" ? event_type::thread_created
                                               : event_type::unknown;

    const auto* inner = root->if_contains("event");
    if (inner && !inner->is_object() && !inner->is_null()) {
        detail::throw_error(errc::bad_response, "a webhook's event member is not a JSON object",
                            "webhook::parse");
    }
    const auto* entities = inner ? inner->if_object() : nullptr;
    if (const auto* m = entity(entities, "message")) {
        message_object msg{
            string_at(*m, "id"), string_at(*m, "text"), string_at(*m, "createdAt"), {}};
        if (const auto* u = m->if_contains("user"); u && u->is_object()) {
            msg.user = {string_at(u->get_object(), "id"), string_at(u->get_object(), "name")};
        }
        e.message = std::move(msg);
    }
    if (const auto* t = entity(entities, "thread")) {
        e.thread = thread_object{string_at(*t, "id"), string_at(*t, "subject"),
                                 string_at(*t, "threadType")};
    }
    const bool complete = e.type == event_type::message_created  ? e.message && e.thread
                          : e.type == event_type::thread_created ? e.thread.has_value()
                                                                 : true;
    if (!complete) {
        detail::throw_error(errc::bad_response,
                            "a webhook event lacks the entities its type carries",
                            "webhook::parse");
    }
    return e;
}

event parse_verified(std::string_view raw_body, std::string_view signature_header,
                     std::string_view secret) {
    if (!verify(raw_body, signature_header, secret)) {
        detail::throw_error(errc::bad_signature,
                            "the X-Glue-Event-Signature does not match the body",
                            "webhook::verify");
    }
    return parse(raw_body);
}

} // namespace glue::webhook
