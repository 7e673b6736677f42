// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// write_prometheus on a client that made real calls against the mock server (successes, a
// GraphQL error, 429s retried and not): Prometheus' own `promtool check metrics` accepts it, the
// tests' strict reader finds no rule broken, the counts are the calls', and neither the client
// secret nor a token nor a workspace id is in it.

#include <glue/prometheus.hpp>

#include "support/child_process.hpp"
#include "support/client_fixture.hpp"
#include "support/prometheus_text.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace glue::test;

const std::string prom_secret = "S3CR3T-prometheus-5b1e77c4";

std::optional<std::string> prom_promtool_path() {
    for (const char* p : {"/usr/bin/promtool", "/usr/local/bin/promtool"}) {
        if (std::filesystem::exists(p)) {
            return p;
        }
    }
    return std::nullopt;
}

struct prom_check_result {
    int status = -1; // the wait status; -1: it didn't end in time
    std::string output;
};

// `promtool check metrics` on `text` (it reads standard input), with what it says.
prom_check_result prom_promtool_check(const std::string& promtool, const std::string& text) {
    std::string path =
        (std::filesystem::temp_directory_path() / "glue-prometheus-XXXXXX.txt").string();
    const int fd = ::mkstemps(path.data(), 4);
    REQUIRE(fd >= 0);
    ::close(fd);
    std::ofstream(path, std::ios::binary) << text;
    prom_check_result r;
    {
        child_process p(
            {"/bin/sh", "-c", "exec \"$0\" check metrics <\"$1\" 2>&1", promtool, path});
        r.output = p.read_all(std::chrono::seconds(30));
        r.status = p.wait(std::chrono::seconds(30));
    }
    std::filesystem::remove(path);
    return r;
}

bool prom_exited_0(const prom_check_result& r) {
    return r.status != -1 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0;
}

} // namespace

TEST_SUITE("prometheus exposition") {
    TEST_CASE("a client's exposition after real calls: promtool accepts it, the strict reader "
              "too, the counts are the calls', and no secret is in it") {
        glue::testing::mock_server_options opts;
        opts.client_secret = prom_secret;
        client_fixture f(opts, [](glue::client_config& c) {
            c.graphql_retry_base_delay = std::chrono::milliseconds(1);
        });
        const std::vector<std::string> wss = {"wks_PromA", "wks_PromB", "wks_PromC", "wks_PromD"};
        glue::graphql_request me("{ me { id } }");
        for (int i = 0; i < 5; ++i) {
            f.run(f.client->graphql(wss[i % 2], me)); // 5 successes over A and B
        }
        glue::graphql_request nope("{ nope }");
        CHECK(f.error_of(f.client->graphql(wss[0], nope)).code() == errc::graphql_error);
        // C: a 429 and no second attempt; D: a 429, then the retry succeeds.
        f.server.set_fault(endpoint::graphql, answering(429, "0", {}, 1));
        glue::graphql_request once("{ me { id } }");
        once.retry_attempts = 1;
        CHECK(f.error_of(f.client->graphql(wss[2], once)).code() == errc::rate_limited);
        f.server.set_fault(endpoint::graphql, answering(429, "0", {}, 1));
        f.run(f.client->graphql(wss[3], me));
        REQUIRE(f.server.graphql_requests() == 9);
        REQUIRE(f.server.token_requests() == 4);
        // The tokens the calls used (cached: fetching them sends nothing).
        std::vector<std::string> tokens;
        for (const auto& w : wss) {
            tokens.push_back(f.run(f.client->fetch_token(w)).value);
        }
        CHECK(f.server.token_requests() == 4);

        std::ostringstream os;
        glue::write_prometheus(os, *f.client);
        const std::string text = os.str();
        CAPTURE(text);

        // (a) Prometheus' own linter: the format and its naming conventions.
        if (const auto promtool = prom_promtool_path()) {
            const auto r = prom_promtool_check(*promtool, text);
            CHECK_MESSAGE(prom_exited_0(r), "promtool check metrics: " << r.output);
            // It does fail, through the same pipe, for a text that breaks a convention.
            CHECK_FALSE(prom_exited_0(
                prom_promtool_check(*promtool, "# HELP x A count\n# TYPE x counter\nx 1\n")));
        } else {
            const char* ci = std::getenv("CI");
            if (ci != nullptr && *ci != '\0') {
                FAIL_CHECK("promtool is not installed: scripts/setup installs it (Debian's "
                           "prometheus)");
            } else {
                MESSAGE("promtool is not installed (scripts/setup installs Debian's prometheus): "
                        "`promtool check metrics` skipped");
            }
        }

        // (b) The strict reader: HELP and TYPE before every sample, names, labels, histograms.
        const auto read = parse_prometheus_text(text);
        for (const auto& p : read.problems) {
            FAIL_CHECK(p);
        }

        // (c) No secret, no token, and no workspace id (labels are fixed values only).
        CHECK(text.find(prom_secret) == std::string::npos);
        for (const auto& t : tokens) {
            REQUIRE(t.size() > 8);
            CHECK(text.find(t) == std::string::npos);
        }
        for (const auto& w : wss) {
            CHECK(text.find(w) == std::string::npos);
        }

        // What was done, as counted by the token cache, the throttle and the pool.
        CHECK(read.value("glue_token_requests_total") == 4);
        CHECK(read.value("glue_token_flights_total") == 4);
        CHECK(read.value("glue_throttle_requests_sent_total") == 9);
        CHECK(read.value("glue_throttle_throttled_responses_total") == 2);
        CHECK(read.value("glue_throttle_retries_total") == 1);
        CHECK(read.value("glue_pool_connects_total") >= 1);
        CHECK(read.value("glue_pool_connections", {{"state", "leased"}}) == 0);
        CHECK(read.value("glue_pool_waiting_requests") == 0);

        // And by the calls' own counters and histograms.
        CHECK(read.value("glue_graphql_calls_total", {{"outcome", "ok"}}) == 6);
        CHECK(read.value("glue_graphql_calls_total", {{"outcome", "graphql_error"}}) == 1);
        CHECK(read.value("glue_graphql_calls_total", {{"outcome", "rate_limited"}}) == 1);
        CHECK(read.value("glue_graphql_calls_total", {{"outcome", "network"}}) == 0);
        CHECK(read.value("glue_graphql_attempts_total") == 9);
        CHECK(read.value("glue_graphql_retries_total", {{"reason", "throttled"}}) == 1);
        CHECK(read.value("glue_graphql_retries_total", {{"reason", "network"}}) == 0);
        CHECK(read.value("glue_graphql_call_duration_seconds_count") == 8);
        CHECK(read.value("glue_graphql_call_duration_seconds_sum") > 0);
        // Every exchange: the GraphQL requests and the token requests.
        CHECK(read.value("glue_http_exchange_duration_seconds_count") == 9 + 4);
    }
}
