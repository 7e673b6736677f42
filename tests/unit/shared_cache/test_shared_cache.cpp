// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The shared cache's pure parts (its URL and key, sealing tokens), the configuration's
// refusals, and how the cache uses a shared cache: a fake one, on the manual clock.

#include <glue/client.hpp>

#include "shared_cache/shared_cache.hpp"
#include "support/cache_fixture.hpp"

#include <boost/asio/io_context.hpp>

#include <doctest/doctest.h>

#include <sstream>
#include <stdexcept>
#include <tuple>

using namespace glue::test;
namespace gd = glue::detail;

namespace {

constexpr std::string_view key_hex =
    "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";

gd::shared_cache_key test_key() {
    return *gd::parse_shared_cache_key(key_hex);
}

token_grant sample_grant() {
    token_grant g;
    g.value = "gat_SecretAccessTokenValue0123456789";
    g.token_type = "Bearer";
    g.user_id = "usr_App";
    g.lifetime = std::chrono::seconds(3600);
    return g;
}

/// Stands in for Redis: answers every claim with `answer`, and records what the cache asked.
struct fake_shared_cache : gd::shared_cache {
    gd::shared_claim::kind answer = gd::shared_claim::kind::lease;
    token_grant stored;                                             // for kind::token
    std::vector<std::tuple<std::string, std::string, bool>> claims; // ws, replacing, rejected
    std::vector<std::string> published, released;

    asio::awaitable<gd::shared_claim> claim(std::string ws, std::string replacing, bool rejected,
                                            steady_time) override {
        claims.emplace_back(ws, replacing, rejected);
        gd::shared_claim c;
        c.what = answer;
        if (answer == gd::shared_claim::kind::token) {
            c.grant = stored;
            c.grant.sent_at = manual_clock::now();
        }
        co_return c;
    }
    asio::awaitable<std::string> publish(std::string ws, const token_grant&) override {
        published.push_back(ws);
        co_return "stamp-" + std::to_string(published.size());
    }
    asio::awaitable<void> release(std::string ws) override {
        released.push_back(ws);
        co_return;
    }
    void shutdown() override {}
};

struct shared_fixture : cache_fixture {
    shared_fixture() {
        auto o = exact_options();
        o.shared = shared;
        configure(o);
    }
    std::shared_ptr<fake_shared_cache> shared = std::make_shared<fake_shared_cache>();
};

} // namespace

TEST_SUITE("shared cache") {
    TEST_CASE("redis URLs") {
        auto a = gd::parse_redis_url("redis://127.0.0.1:6380/3");
        REQUIRE(a.has_value());
        CHECK(a->host == "127.0.0.1");
        CHECK(a->port == 6380);
        CHECK(a->db == 3);
        CHECK(a->password.empty());

        a = gd::parse_redis_url("redis://cache.internal");
        REQUIRE(a.has_value());
        CHECK(a->host == "cache.internal");
        CHECK(a->port == 6379);
        CHECK(a->db == 0);

        a = gd::parse_redis_url("redis://:s3cret@[::1]:7000/");
        REQUIRE(a.has_value());
        CHECK(a->host == "::1");
        CHECK(a->port == 7000);
        CHECK(a->user.empty());
        CHECK(a->password == "s3cret");

        a = gd::parse_redis_url("redis://worker:p%40ss@localhost/1");
        REQUIRE(a.has_value());
        CHECK(a->user == "worker");
        CHECK(a->password == "p@ss");

        for (const char* bad :
             {"", "127.0.0.1:6379", "http://127.0.0.1:6379", "rediss://127.0.0.1:6379",
              "redis://127.0.0.1:0", "redis://127.0.0.1:6379/x", "redis://127.0.0.1:6379/1/2",
              "redis://127.0.0.1:6379?db=1", "redis://user@127.0.0.1", "redis://:secretpw@/0"}) {
            CAPTURE(bad);
            auto r = gd::parse_redis_url(bad);
            REQUIRE(r.has_error());
            CHECK(r.error().ec == glue::errc::invalid_argument);
            CHECK(std::string(r.error().message).find("secretpw") == std::string::npos);
        }

        CHECK(gd::redact_redis_url("redis://:hunter2@127.0.0.1:6379/0") ==
              "redis://:(redacted)@127.0.0.1:6379/0");
        CHECK(gd::redact_redis_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0");
    }

    TEST_CASE("the key is 64 hex digits") {
        CHECK(gd::parse_shared_cache_key(key_hex).has_value());
        const auto k = test_key();
        CHECK(k[0] == 0x00);
        CHECK(k[15] == 0xff);
        CHECK(k[31] == 0xff);
        for (std::string bad : {std::string(), std::string(key_hex.substr(1)),
                                std::string(key_hex) + "0", std::string(64, 'g')}) {
            auto r = gd::parse_shared_cache_key(bad);
            REQUIRE(r.has_error());
            CHECK(r.error().ec == glue::errc::invalid_argument);
        }
    }

    TEST_CASE("a sealed token opens only under its key and its Redis key") {
        const std::string where = "glue:app:tok:wks_A";
        const auto g = sample_grant();
        constexpr std::int64_t expiry = 1'796'270'020'666; // Redis's clock, in ms
        const std::string sealed = gd::seal_token(test_key(), where, g, expiry);
        CHECK(sealed.find(g.value) == std::string::npos);
        CHECK(sealed.find("Bearer") == std::string::npos);
        CHECK(sealed.find("usr_App") == std::string::npos);

        auto opened = gd::open_token(test_key(), where, sealed);
        REQUIRE(opened.has_value());
        CHECK(opened->grant.value == g.value);
        CHECK(opened->grant.token_type == "Bearer");
        CHECK(opened->grant.user_id == "usr_App");
        CHECK(opened->grant.lifetime == std::chrono::seconds(3600));
        CHECK(opened->grant.stamp == sealed.substr(0, gd::stamp_size));
        CHECK(opened->expires_at_ms == expiry);

        // Every value has its own IV, so its own stamp.
        const std::string again = gd::seal_token(test_key(), where, g, expiry);
        CHECK(again != sealed);
        CHECK(again.substr(0, gd::stamp_size) != sealed.substr(0, gd::stamp_size));

        auto other_key = test_key();
        other_key[31] ^= 0x80;
        CHECK(gd::open_token(other_key, where, sealed).has_error());
        CHECK(gd::open_token(test_key(), "glue:app:tok:wks_B", sealed).has_error());
        CHECK(gd::open_token(test_key(), where, sealed.substr(0, sealed.size() - 1)).has_error());
        CHECK(gd::open_token(test_key(), where, "").has_error());
        for (std::size_t i = 0; i < sealed.size(); ++i) {
            std::string tampered = sealed;
            tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
            CAPTURE(i);
            CHECK(gd::open_token(test_key(), where, tampered).has_error());
        }
    }

    TEST_CASE("a value sealed without a usable expiry (as an earlier version sealed) is refused") {
        const std::string where = "glue:app:tok:wks_A";
        const std::string fields =
            R"({"a":"gat_Old0123456789","t":"Bearer","u":"usr_App","l":3600)";
        CHECK(gd::open_token(test_key(), where, gd::seal(test_key(), where, fields + "}"))
                  .has_error());
        for (const std::string x : {"0", "-5", "\"soon\"", "1.5e12", "18446744073709551615"}) {
            CAPTURE(x);
            const std::string with_x = fields + ",\"x\":" + x + "}";
            CHECK(
                gd::open_token(test_key(), where, gd::seal(test_key(), where, with_x)).has_error());
        }
        const std::string good = fields + ",\"x\":1796270020666}";
        CHECK(gd::open_token(test_key(), where, gd::seal(test_key(), where, good)).has_value());
    }

    TEST_CASE("a shared cache is refused without a usable key or URL, before any I/O") {
        boost::asio::io_context ioc; // never run
        glue::client_config cfg;
        cfg.api_url = "http://127.0.0.1:1";
        cfg.client_id = "id";
        cfg.client_secret = "secret";
        cfg.shared_cache_url = "redis://:hunter2@127.0.0.1:1/0";
        auto refused = [&](std::string_view what) {
            try {
                glue::client c(ioc.get_executor(), cfg);
            } catch (const glue::error& e) {
                CHECK(e.code() == glue::errc::invalid_argument);
                CHECK(std::string(e.what()).find(what) != std::string::npos);
                CHECK(std::string(e.what()).find("hunter2") == std::string::npos);
                return true;
            }
            return false;
        };
        CHECK(refused("shared_cache_key")); // no key: never plaintext
        cfg.shared_cache_key = "abc";
        CHECK(refused("shared_cache_key"));
        cfg.shared_cache_key = key_hex;
        cfg.shared_cache_url = "memcached://127.0.0.1";
        CHECK(refused("shared_cache_url"));
        cfg.shared_cache_url = "redis://127.0.0.1:1/0";
        cfg.shared_cache_timeout = std::chrono::milliseconds(0);
        CHECK(refused("timeout"));

        cfg.shared_cache_url = "redis://:hunter2@127.0.0.1:1/0";
        std::ostringstream printed;
        printed << cfg;
        CHECK(printed.str().find("hunter2") == std::string::npos);
        CHECK(printed.str().find("8899") == std::string::npos);
        CHECK(printed.str().find("shared_cache_key=(redacted)") != std::string::npos);
    }

    TEST_CASE_FIXTURE(shared_fixture, "a token another process stored is taken without a request") {
        shared->answer = gd::shared_claim::kind::token;
        shared->stored = sample_grant();
        shared->stored.stamp = "S-other";
        const auto t = get_now("wks_A");
        CHECK(t->token.value == sample_grant().value);
        CHECK(t->stamp == "S-other");
        CHECK(fetcher.calls == 0);
        CHECK(cache->stats().shared_hits == 1);
        CHECK(shared->published.empty());
    }

    TEST_CASE_FIXTURE(shared_fixture,
                      "with the lease, the token is requested and published; its stamp is what "
                      "the next flights replace") {
        const auto t = get_now("wks_A");
        CHECK(fetcher.calls == 1);
        CHECK(shared->published == std::vector<std::string>{"wks_A"});
        CHECK(t->stamp == "stamp-1");
        CHECK(std::get<1>(shared->claims.at(0)).empty());
        CHECK(cache->stats().shared_leases == 1);

        // Refresh ahead (the soft window of a 3600 s token starts 720 s before its end): the
        // stored copy, stamp-1, is the one being replaced.
        manual_clock::advance(std::chrono::seconds(2500));
        CHECK(cache->find("wks_A")); // in steady use
        manual_clock::advance(std::chrono::seconds(400));
        CHECK(cache->find("wks_A"));
        drive([&] { return fetcher.calls == 2; });
        drive([&] { return cache->peek("wks_A")->stamp == "stamp-2"; });
        CHECK(std::get<1>(shared->claims.at(1)) == "stamp-1");
        CHECK_FALSE(std::get<2>(shared->claims.at(1)));

        // A 401 for it: the forced flight names the rejected token's stamp.
        const auto current = cache->peek("wks_A");
        CHECK(cache->invalidate("wks_A", current.get()) == invalidate_result::applied);
        get_now("wks_A");
        REQUIRE(shared->claims.size() == 3);
        CHECK(std::get<1>(shared->claims[2]) == "stamp-2");
        CHECK(std::get<2>(shared->claims[2]));
    }

    TEST_CASE_FIXTURE(shared_fixture, "a failed request with the lease releases it") {
        fetcher.respond = [](const std::string&, int, steady_time) -> result<token_grant> {
            return endpoint_failure(errc::oauth_error, 400, "invalid_client");
        };
        CHECK(get_result("wks_A").has_error());
        CHECK(shared->released == std::vector<std::string>{"wks_A"});
        CHECK(shared->published.empty());
    }

    TEST_CASE_FIXTURE(shared_fixture, "a request that throws with the lease releases it") {
        fetcher.respond = [](const std::string&, int, steady_time) -> result<token_grant> {
            throw std::runtime_error("not a system_error");
        };
        CHECK(has_error(get_result("wks_A"), errc::internal_error));
        CHECK(shared->released == std::vector<std::string>{"wks_A"});
        CHECK(shared->published.empty());
    }

    TEST_CASE_FIXTURE(shared_fixture, "a flight that times out with the lease releases it") {
        fetcher.hold = true;
        spawn_get("wks_A", 60s);
        drive([&] { return results.size() == 1; }, 100ms);
        CHECK(has_error(results.front(), errc::timeout));
        drive([&] { return shared->released.size() == 1; });
        CHECK(shared->released == std::vector<std::string>{"wks_A"});
    }

    TEST_CASE_FIXTURE(shared_fixture, "a shared cache that is unavailable changes nothing") {
        shared->answer = gd::shared_claim::kind::unavailable;
        const auto t = get_now("wks_A");
        CHECK(fetcher.calls == 1);
        CHECK(t->stamp.empty());
        CHECK(shared->published.empty());
        CHECK(shared->released.empty());
        CHECK(cache->stats().shared_unavailable == 1);
    }
}
