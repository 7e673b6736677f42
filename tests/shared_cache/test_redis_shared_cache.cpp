// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The shared cache on its own with a real Redis (Debian's redis-server on a free port of
// 127.0.0.1): claims and publishes driven one by one against what a test plants in Redis,
// counting its scripts.

#include "shared_cache/redis_shared_cache.hpp"
#include "shared_cache/test_fixture.hpp"
#include "support/redis_server.hpp"
#include "support/test_support.hpp"

#include <boost/asio/io_context.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

namespace {

using namespace std::chrono_literals;
using glue::test::eventually;
using glue::test::redis_now_ms;
using glue::test::redis_server;
using glue::test::test_key;
namespace gd = glue::detail;

/// The shared cache a client builds for `redis`, on its own: claims and publishes are driven
/// one by one, against values the test plants (keys as in glue:glue-test-client:tok:<ws>).
struct shared_cache_on {
    shared_cache_on(boost::asio::io_context& io, const redis_server& redis,
                    std::chrono::milliseconds timeout = 500ms)
        : ioc(io) {
        gd::redis_shared_cache_options o;
        o.address = *gd::parse_redis_url(redis.url());
        o.key = test_key();
        o.client_id = "glue-test-client";
        o.timeout = timeout;
        cache = gd::make_redis_shared_cache(ioc.get_executor(), std::move(o));
    }
    ~shared_cache_on() {
        cache->shutdown();
        ioc.restart();
        ioc.run_for(1s); // until its connections are closed (at once: nothing else is left)
    }

    gd::shared_claim claim(const std::string& ws, std::string replacing = {}, bool rejected = false,
                           std::chrono::milliseconds wait = 1s) {
        return glue::test::run(ioc, cache->claim(ws, std::move(replacing), rejected,
                                                 std::chrono::steady_clock::now() + wait));
    }

    boost::asio::io_context& ioc;
    std::shared_ptr<gd::shared_cache> cache;
};

std::string token_key(const std::string& ws) {
    return "glue:glue-test-client:tok:" + ws;
}

gd::token_grant sample_grant(std::chrono::seconds lifetime) {
    gd::token_grant g;
    g.value = "gat_SharedCacheTokenValue0123456789";
    g.token_type = "Bearer";
    g.user_id = "usr_App";
    g.lifetime = lifetime;
    g.sent_at = std::chrono::steady_clock::now();
    return g;
}

/// How many scripts Redis has run since the last CONFIG RESETSTAT: a claim that loops shows
/// here, however fast it loops.
long long scripts_run(const redis_server& redis) {
    const std::string info = redis.command({"INFO", "commandstats"}).str;
    constexpr std::string_view field = "cmdstat_eval:calls=";
    const auto at = info.find(field);
    return at == std::string::npos ? 0 : std::stoll(info.substr(at + field.size()));
}

} // namespace

TEST_SUITE("redis shared cache") {
    TEST_CASE("a stored value that is empty or not sealed counts as none: the claim takes the "
              "lease in at most two scripts") {
        redis_server redis;
        boost::asio::io_context ioc;
        shared_cache_on l(ioc, redis);
        for (const std::string& planted : {std::string(), std::string("not a sealed token")}) {
            CAPTURE(planted);
            const std::string ws = "wks_Planted" + std::to_string(planted.size());
            redis.command({"SET", token_key(ws), planted});
            redis.command({"CONFIG", "RESETSTAT"});
            const auto c = l.claim(ws);
            CHECK(c.what == gd::shared_claim::kind::lease);
            CHECK(scripts_run(redis) <= 2);
        }
    }

    TEST_CASE("a lease without an expiry is taken over, not polled") {
        redis_server redis;
        boost::asio::io_context ioc;
        shared_cache_on l(ioc, redis);
        const std::string lease = "glue:glue-test-client:lease:wks_Forever";
        redis.command({"SET", lease, "a process that set no PX"});
        redis.command({"CONFIG", "RESETSTAT"});
        const auto c = l.claim("wks_Forever");
        CHECK(c.what == gd::shared_claim::kind::lease);
        CHECK(scripts_run(redis) == 1);
        CHECK(redis.command({"PTTL", lease}).integer > 0); // ours now, and it expires
    }

    TEST_CASE("a lease with a huge TTL is waited on with the usual polls, its TTL saturated") {
        redis_server redis;
        boost::asio::io_context ioc;
        shared_cache_on l(ioc, redis);
        const std::string lease = "glue:glue-test-client:lease:wks_Long";
        // 9e18 ms: as nanoseconds, past what steady_clock can add.
        redis.command({"SET", lease, "a live holder", "PX", "9000000000000000000"});
        redis.command({"CONFIG", "RESETSTAT"});
        const auto c = l.claim("wks_Long", {}, false, 1s);
        CHECK(c.what == gd::shared_claim::kind::unavailable); // waited until `until`
        // Polls after 50, 100, 200, 400 ms, then `until`: six scripts at most.
        CHECK(scripts_run(redis) >= 2);
        CHECK(scripts_run(redis) <= 6);
    }

    TEST_CASE("a publish whose reply never came keeps its stamp: a later 401 still drops the "
              "stored copy") {
        redis_server redis;
        boost::asio::io_context ioc;
        shared_cache_on l(ioc, redis, 300ms);
        const std::string ws = "wks_LostReply", tok = token_key(ws);
        REQUIRE(l.claim(ws).what == gd::shared_claim::kind::lease);

        // Redis gets the script but answers only after the publish has timed out.
        redis.pause();
        const auto grant = sample_grant(3600s);
        const std::string stamp = glue::test::run(ioc, l.cache->publish(ws, grant));
        redis.resume();
        REQUIRE(eventually([&] { return redis.command({"EXISTS", tok}).integer == 1; }));
        CHECK(stamp.size() == gd::stamp_size);
        CHECK(redis.command({"GET", tok}).str.compare(0, gd::stamp_size, stamp) == 0);

        // Once the shared cache is back (it reconnects when next needed, after its backoff), the
        // 401's compare-and-invalidate finds that copy and drops it.
        auto again = l.claim(ws, stamp, true);
        for (int i = 0; i < 100 && again.what == gd::shared_claim::kind::unavailable; ++i) {
            // That claim asked for a reconnection (if its backoff was over): let it be made.
            ioc.restart();
            ioc.run_for(1s); // returns once it is (an idle shared cache is no work)
            std::this_thread::sleep_for(50ms);
            again = l.claim(ws, stamp, true);
        }
        CHECK(again.what == gd::shared_claim::kind::lease);
        CHECK(redis.command({"EXISTS", tok}).integer == 0);
    }

    TEST_CASE("a stored token is used no longer than its sealed lifetime allows, whatever its "
              "TTL") {
        redis_server redis;
        boost::asio::io_context ioc;
        shared_cache_on l(ioc, redis);
        // 100 s tokens: usable for 90 s (hard margin 10 s), however long Redis keeps them, and
        // even with a sealed expiry an hour away.
        for (const std::string px : {"3600000", "9000000000000000000"}) {
            CAPTURE(px);
            const std::string ws = "wks_Replayed" + px, tok = token_key(ws);
            const auto sealed =
                gd::seal_token(test_key(), tok, sample_grant(100s), redis_now_ms(redis) + 3600'000);
            redis.command({"SET", tok, sealed, "PX", px});
            const auto before = std::chrono::steady_clock::now();
            const auto c = l.claim(ws);
            REQUIRE(c.what == gd::shared_claim::kind::token);
            const auto usable_until =
                c.grant.sent_at + c.grant.lifetime - glue::detail::hard_margin(c.grant.lifetime);
            CHECK(usable_until > before + 80s);
            CHECK(usable_until <= std::chrono::steady_clock::now() + 90s);
        }
    }

    TEST_CASE("a value written back after its sealed expiry is not used, whatever its TTL and "
              "lifetime") {
        redis_server redis;
        boost::asio::io_context ioc;
        shared_cache_on l(ioc, redis);
        const std::string ws = "wks_WrittenBack", tok = token_key(ws);
        // An hour-long token that expired a minute ago (on Redis's clock), stored again for an
        // hour: as an old value copied back would be.
        const auto sealed =
            gd::seal_token(test_key(), tok, sample_grant(3600s), redis_now_ms(redis) - 60'000);
        redis.command({"SET", tok, sealed, "PX", "3600000"});
        CHECK(l.claim(ws).what == gd::shared_claim::kind::lease); // to replace it
    }
}
