// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The configuration's refusals, and how the token cache uses a shared cache: a fake one, on the
// manual clock.

#include <glue/client.hpp>

#include "shared_cache/shared_cache.hpp"
#include "support/cache_fixture.hpp"
#include "unit/shared_cache/samples.hpp"

#include <boost/asio/io_context.hpp>

#include <doctest/doctest.h>

#include <sstream>
#include <stdexcept>
#include <tuple>

using namespace glue::test;
using namespace glue::test::shared_samples;
namespace gd = glue::detail;

namespace {

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

// A client's configuration that a constructor checks and nothing ever reaches.
glue::client_config unreachable_config() {
    glue::client_config cfg;
    cfg.api_url = "http://127.0.0.1:1";
    cfg.client_id = "id";
    cfg.client_secret = "secret";
    return cfg;
}

// Whether constructing a client from `cfg` throws invalid_argument, saying `what` and never the
// shared cache URL's password (hunter2).
bool refused_with(const glue::client_config& cfg, std::string_view what) {
    boost::asio::io_context ioc; // never run
    try {
        glue::client c(ioc.get_executor(), cfg);
    } catch (const glue::error& e) {
        CHECK(e.code() == glue::errc::invalid_argument);
        CHECK(std::string(e.what()).find(what) != std::string::npos);
        CHECK(std::string(e.what()).find("hunter2") == std::string::npos);
        return true;
    }
    return false;
}

} // namespace

TEST_SUITE("shared cache") {
#ifdef GLUE_HAS_SHARED_CACHE
    TEST_CASE("a shared cache is refused without a usable key or URL, before any I/O") {
        auto cfg = unreachable_config();
        cfg.shared_cache_url = "redis://:hunter2@127.0.0.1:1/0";
        auto refused = [&](std::string_view what) { return refused_with(cfg, what); };
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
#else
    TEST_CASE("a build without the shared cache refuses shared_cache_url, however good") {
        auto cfg = unreachable_config();
        boost::asio::io_context ioc; // never run
        CHECK_NOTHROW(glue::client(ioc.get_executor(), cfg));
        cfg.shared_cache_url = "redis://:hunter2@127.0.0.1:1/0";
        cfg.shared_cache_key = key_hex;
        CHECK(refused_with(cfg, "built without the shared cache"));
    }
#endif

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
