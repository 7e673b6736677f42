// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.

#include "shared_cache/sealing.hpp"

#include "protocol/checks.hpp"

#include <boost/json.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <memory>

namespace glue::detail {

namespace {

constexpr unsigned char seal_version = 1;
constexpr std::size_t iv_size = 12, tag_size = 16;
static_assert(stamp_size == 1 + iv_size);

struct cipher_ctx_deleter {
    void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_deleter>;

const unsigned char* bytes(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

// The token's fields as sealed: a small JSON object. Its buffer is cleansed once sealed.
std::string token_fields(const token_grant& g, std::int64_t expires_at_ms) {
    boost::json::object o;
    o["a"] = g.value;
    o["t"] = g.token_type;
    o["u"] = g.user_id;
    o["l"] = g.lifetime.count();
    o["x"] = expires_at_ms;
    std::string out = boost::json::serialize(o);
    for (auto& kv : o) { // the object's copy of the token, too
        if (kv.value().is_string()) {
            auto& str = kv.value().get_string();
            OPENSSL_cleanse(str.data(), str.size());
        }
    }
    return out;
}

// Wipes a plaintext however the function holding it returns.
struct wipe_on_exit {
    std::string& s;
    ~wipe_on_exit() { OPENSSL_cleanse(s.data(), s.size()); }
};

failure not_ours() {
    return make_failure(errc::bad_response,
                        "a shared-cache value that does not open under this key");
}

} // namespace

result<shared_cache_key> parse_shared_cache_key(std::string_view hex) {
    shared_cache_key key{};
    bool ok = hex.size() == 2 * key.size();
    for (std::size_t i = 0; ok && i < key.size(); ++i) {
        const int hi = hex_digit_value(hex[2 * i]);
        const int lo = hex_digit_value(hex[2 * i + 1]);
        ok = hi >= 0 && lo >= 0;
        key[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    if (!ok) {
        OPENSSL_cleanse(key.data(), key.size());
        return make_failure(errc::invalid_argument,
                            "shared_cache_key must be 64 hex digits (an AES-256 key); the shared "
                            "cache never stores tokens in plaintext");
    }
    return key;
}

std::string seal(const shared_cache_key& key, std::string_view redis_key, std::string_view plain) {
    std::string out(stamp_size + plain.size() + tag_size, '\0');
    auto* o = reinterpret_cast<unsigned char*>(out.data());
    o[0] = seal_version;
    unsigned char* iv = o + 1;
    unsigned char* ct = o + stamp_size;
    unsigned char* tag = ct + plain.size();
    int n = 0, m = 0;
    cipher_ctx ctx(EVP_CIPHER_CTX_new());
    const bool ok =
        ctx && RAND_bytes(iv, static_cast<int>(iv_size)) == 1 &&
        EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), iv) == 1 &&
        EVP_EncryptUpdate(ctx.get(), nullptr, &n, bytes(redis_key),
                          static_cast<int>(redis_key.size())) == 1 &&
        EVP_EncryptUpdate(ctx.get(), ct, &n, bytes(plain), static_cast<int>(plain.size())) == 1 &&
        EVP_EncryptFinal_ex(ctx.get(), ct + n, &m) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_size), tag) == 1;
    if (!ok) {
        throw_error(errc::bad_response, "AES-256-GCM failed", "shared cache");
    }
    return out;
}

std::string seal_token(const shared_cache_key& key, std::string_view redis_key,
                       const token_grant& grant, std::int64_t expires_at_ms) {
    std::string plain = token_fields(grant, expires_at_ms);
    const wipe_on_exit wipe{plain};
    return seal(key, redis_key, plain);
}

result<opened_token> open_token(const shared_cache_key& key, std::string_view redis_key,
                                std::string_view sealed) {
    if (sealed.size() < stamp_size + tag_size || bytes(sealed)[0] != seal_version) {
        return not_ours();
    }
    const unsigned char* iv = bytes(sealed) + 1;
    const std::size_t ct_size = sealed.size() - stamp_size - tag_size;
    const unsigned char* ct = bytes(sealed) + stamp_size;
    // OpenSSL wants a writable tag buffer.
    std::array<unsigned char, tag_size> tag{};
    std::copy_n(ct + ct_size, tag_size, tag.begin());
    std::string plain(ct_size, '\0');
    auto* p = reinterpret_cast<unsigned char*>(plain.data());
    int n = 0, m = 0;
    cipher_ctx ctx(EVP_CIPHER_CTX_new());
    const bool ok =
        ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), iv) == 1 &&
        EVP_DecryptUpdate(ctx.get(), nullptr, &n, bytes(redis_key),
                          static_cast<int>(redis_key.size())) == 1 &&
        EVP_DecryptUpdate(ctx.get(), p, &n, ct, static_cast<int>(ct_size)) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_size),
                            tag.data()) == 1 &&
        EVP_DecryptFinal_ex(ctx.get(), p + n, &m) == 1;
    const wipe_on_exit wipe{plain};
    if (!ok) {
        return not_ours();
    }
    boost::system::error_code ec;
    auto v = boost::json::parse(plain, ec);
    const auto* o = v.if_object();
    if (ec || !o) {
        return not_ours();
    }
    const auto* a = o->if_contains("a");
    const auto* t = o->if_contains("t");
    const auto* u = o->if_contains("u");
    const auto* l = o->if_contains("l");
    const auto* x = o->if_contains("x");
    if (!a || !a->is_string() || !t || !t->is_string() || !u || !u->is_string() || !l ||
        !l->is_int64() || l->get_int64() < 1 || l->get_int64() > max_token_lifetime.count() || !x ||
        !x->is_int64() || x->get_int64() < 1 || a->get_string().empty()) {
        return not_ours();
    }
    opened_token out;
    token_grant& g = out.grant;
    g.value = a->get_string();
    g.token_type = t->get_string();
    g.user_id = u->get_string();
    g.lifetime = std::chrono::seconds(l->get_int64());
    g.stamp = std::string(sealed.substr(0, stamp_size));
    out.expires_at_ms = x->get_int64();
    for (auto* s : {&a->get_string(), &t->get_string(), &u->get_string()}) {
        OPENSSL_cleanse(const_cast<char*>(s->data()), s->size());
    }
    return out;
}

} // namespace glue::detail
