// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// glue::write_prometheus from figures made by hand: the exact text of representative lines,
// every field under its name, the format's rules (read back by the tests' strict reader, itself
// tested here), and the caller's stream left as it was.

#include <glue/prometheus.hpp>

#include "support/prometheus_text.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <iomanip>
#include <limits>
#include <locale>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

// Every field a distinct value, so that each line shows which field it came from.
struct prom_figures {
    glue::client_metrics m;
    glue::token_cache_stats cache;
    glue::throttle_stats throttle;

    prom_figures() {
        for (std::size_t i = 0; i < m.outcomes.size(); ++i) {
            m.outcomes[i] = 100 + i;
        }
        m.calls = 0; // the calls are the outcomes' sum: not a line of its own
        m.attempts = 200;
        for (std::size_t i = 0; i < m.retries.size(); ++i) {
            m.retries[i] = 300 + i;
        }
        m.call_duration.buckets[0] = 1;  // ≤ 10 µs
        m.call_duration.buckets[6] = 3;  // ≤ 1 ms
        m.call_duration.buckets[22] = 2; // above 100 s
        m.call_duration.count = 6;
        m.call_duration.sum_seconds = 250.5;
        m.exchange_duration.buckets[9] = 4; // ≤ 10 ms
        m.exchange_duration.count = 4;
        m.exchange_duration.sum_seconds = 0.0125;
        auto& p = m.pool;
        p.open = 3;
        p.idle = 2;
        p.leased = 1;
        p.http2 = 10;
        p.connecting = 5;
        p.waiting = 4;
        p.connects = 6;
        p.connect_failures = 7;
        p.tls_handshakes = 8;
        p.resends = 9;
        for (std::size_t i = 0; i < p.closes.size(); ++i) {
            p.closes[i] = 400 + i;
        }
        cache = {.hits = 1001,
                 .misses = 1002,
                 .flights = 1003,
                 .waiters_joined = 1004,
                 .refresh_aheads = 1005,
                 .token_requests = 1006,
                 .failures_transient = 1007,
                 .failures_permanent = 1008,
                 .failures_rate_limited = 1009,
                 .flight_timeouts = 1010,
                 .remembered_error_hits = 1011,
                 .invalidations_applied = 1012,
                 .invalidations_noop = 1013,
                 .evictions = 1014,
                 .entries = 1015,
                 .in_flight = 1016,
                 .shared_hits = 1017,
                 .shared_leases = 1018,
                 .shared_unavailable = 1019};
        throttle = {.requests_sent = 2001,
                    .throttled = 2002,
                    .retries = 2003,
                    .retries_denied = 2004,
                    .workspace_pauses = 2005,
                    .app_pauses = 2006,
                    .calls_failed_waiting = 2007,
                    .wait_ns = 1'500'000'000,
                    .send_rate = 12.25,
                    .app_rate_limit = 0.5,
                    .retry_budget_left = 500,
                    .fleet_batches = 2008,
                    .fleet_fallback = true};
    }

    std::string text() const {
        std::ostringstream os;
        glue::write_prometheus(os, m, cache, throttle);
        return os.str();
    }
};

bool prom_has_line(const std::string& text, const std::string& line) {
    return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

// A locale that writes 1234.5 as "1.234,5".
struct prom_odd_numbers : std::numpunct<char> {
    char do_decimal_point() const override { return ','; }
    char do_thousands_sep() const override { return '.'; }
    std::string do_grouping() const override { return "\3"; }
};

} // namespace

TEST_SUITE("prometheus") {
    TEST_CASE("the exposition's text: a histogram's block whole, counters, gauges, labels") {
        const std::string text = prom_figures().text();
        CHECK(
            text.find(
                R"(# HELP glue_graphql_call_duration_seconds GraphQL calls from start to end: token, throttling, connection, exchanges and retries
# TYPE glue_graphql_call_duration_seconds histogram
glue_graphql_call_duration_seconds_bucket{le="1e-05"} 1
glue_graphql_call_duration_seconds_bucket{le="2e-05"} 1
glue_graphql_call_duration_seconds_bucket{le="5e-05"} 1
glue_graphql_call_duration_seconds_bucket{le="0.0001"} 1
glue_graphql_call_duration_seconds_bucket{le="0.0002"} 1
glue_graphql_call_duration_seconds_bucket{le="0.0005"} 1
glue_graphql_call_duration_seconds_bucket{le="0.001"} 4
glue_graphql_call_duration_seconds_bucket{le="0.002"} 4
glue_graphql_call_duration_seconds_bucket{le="0.005"} 4
glue_graphql_call_duration_seconds_bucket{le="0.01"} 4
glue_graphql_call_duration_seconds_bucket{le="0.02"} 4
glue_graphql_call_duration_seconds_bucket{le="0.05"} 4
glue_graphql_call_duration_seconds_bucket{le="0.1"} 4
glue_graphql_call_duration_seconds_bucket{le="0.2"} 4
glue_graphql_call_duration_seconds_bucket{le="0.5"} 4
glue_graphql_call_duration_seconds_bucket{le="1"} 4
glue_graphql_call_duration_seconds_bucket{le="2"} 4
glue_graphql_call_duration_seconds_bucket{le="5"} 4
glue_graphql_call_duration_seconds_bucket{le="10"} 4
glue_graphql_call_duration_seconds_bucket{le="20"} 4
glue_graphql_call_duration_seconds_bucket{le="50"} 4
glue_graphql_call_duration_seconds_bucket{le="100"} 4
glue_graphql_call_duration_seconds_bucket{le="+Inf"} 6
glue_graphql_call_duration_seconds_sum 250.5
glue_graphql_call_duration_seconds_count 6
)") != std::string::npos);
        CHECK(text.starts_with("# HELP glue_graphql_calls_total GraphQL calls that ended, by "
                               "outcome (ok, or the class of the failure); their sum is every "
                               "call\n# TYPE glue_graphql_calls_total counter\n"
                               "glue_graphql_calls_total{outcome=\"ok\"} 100\n"
                               "glue_graphql_calls_total{outcome=\"graphql_error\"} 101\n"));
        CHECK(prom_has_line(text, "# TYPE glue_pool_connections gauge"));
        CHECK(prom_has_line(text, R"(glue_pool_connections{state="idle"} 2)"));
        CHECK(prom_has_line(text, R"(glue_pool_closes_total{reason="stale"} 401)"));
        CHECK(prom_has_line(text, "glue_http_exchange_duration_seconds_sum 0.0125"));
        CHECK(prom_has_line(text, "# TYPE glue_throttle_wait_seconds_total counter"));
        CHECK(prom_has_line(text, "glue_throttle_wait_seconds_total 1.5"));
        CHECK(prom_has_line(text, "glue_throttle_send_rate 12.25"));
        CHECK(prom_has_line(text, "glue_throttle_fleet_fallback 1"));
        CHECK(
            prom_has_line(text, R"(glue_token_request_failures_total{class="rate_limited"} 1009)"));
        CHECK(text.ends_with("glue_throttle_fleet_fallback 1\n"));
    }

    TEST_CASE("every field is written under its name, with HELP and TYPE, and nothing else") {
        const prom_figures f;
        const std::string text = f.text();
        const auto read = glue::test::parse_prometheus_text(text);
        for (const auto& p : read.problems) {
            FAIL_CHECK(p);
        }
        struct expected {
            std::string name, type;
            std::vector<std::string> lines;
        };
        std::vector<std::string> calls, retries, closes;
        for (std::size_t i = 0; i < glue::call_outcome_count; ++i) {
            calls.push_back("glue_graphql_calls_total{outcome=\"" +
                            std::string(to_string(static_cast<glue::call_outcome>(i))) + "\"} " +
                            std::to_string(100 + i));
        }
        for (std::size_t i = 0; i < glue::retry_reason_count; ++i) {
            retries.push_back("glue_graphql_retries_total{reason=\"" +
                              std::string(to_string(static_cast<glue::retry_reason>(i))) + "\"} " +
                              std::to_string(300 + i));
        }
        for (std::size_t i = 0; i < glue::close_reason_count; ++i) {
            closes.push_back("glue_pool_closes_total{reason=\"" +
                             std::string(to_string(static_cast<glue::close_reason>(i))) + "\"} " +
                             std::to_string(400 + i));
        }
        const std::vector<expected> all = {
            {"glue_graphql_calls_total", "counter", calls},
            {"glue_graphql_attempts_total", "counter", {"glue_graphql_attempts_total 200"}},
            {"glue_graphql_retries_total", "counter", retries},
            {"glue_graphql_call_duration_seconds",
             "histogram",
             {"glue_graphql_call_duration_seconds_count 6"}},
            {"glue_http_exchange_duration_seconds",
             "histogram",
             {R"(glue_http_exchange_duration_seconds_bucket{le="0.005"} 0)",
              R"(glue_http_exchange_duration_seconds_bucket{le="0.01"} 4)",
              R"(glue_http_exchange_duration_seconds_bucket{le="+Inf"} 4)",
              "glue_http_exchange_duration_seconds_count 4"}},
            {"glue_pool_connections",
             "gauge",
             {R"(glue_pool_connections{state="idle"} 2)",
              R"(glue_pool_connections{state="leased"} 1)",
              R"(glue_pool_connections{state="connecting"} 5)"}},
            {"glue_pool_open_connections", "gauge", {"glue_pool_open_connections 3"}},
            {"glue_pool_http2_connections", "gauge", {"glue_pool_http2_connections 10"}},
            {"glue_pool_waiting_requests", "gauge", {"glue_pool_waiting_requests 4"}},
            {"glue_pool_connects_total", "counter", {"glue_pool_connects_total 6"}},
            {"glue_pool_connect_failures_total", "counter", {"glue_pool_connect_failures_total 7"}},
            {"glue_pool_tls_handshakes_total", "counter", {"glue_pool_tls_handshakes_total 8"}},
            {"glue_pool_resends_total", "counter", {"glue_pool_resends_total 9"}},
            {"glue_pool_closes_total", "counter", closes},
            {"glue_token_cache_hits_total", "counter", {"glue_token_cache_hits_total 1001"}},
            {"glue_token_cache_misses_total", "counter", {"glue_token_cache_misses_total 1002"}},
            {"glue_token_cache_entries", "gauge", {"glue_token_cache_entries 1015"}},
            {"glue_token_cache_evictions_total",
             "counter",
             {"glue_token_cache_evictions_total 1014"}},
            {"glue_token_flights_total", "counter", {"glue_token_flights_total 1003"}},
            {"glue_token_flight_waiters_total",
             "counter",
             {"glue_token_flight_waiters_total 1004"}},
            {"glue_token_flight_timeouts_total",
             "counter",
             {"glue_token_flight_timeouts_total 1010"}},
            {"glue_token_refresh_aheads_total",
             "counter",
             {"glue_token_refresh_aheads_total 1005"}},
            {"glue_token_requests_total", "counter", {"glue_token_requests_total 1006"}},
            {"glue_token_requests_in_flight", "gauge", {"glue_token_requests_in_flight 1016"}},
            {"glue_token_request_failures_total",
             "counter",
             {R"(glue_token_request_failures_total{class="transient"} 1007)",
              R"(glue_token_request_failures_total{class="permanent"} 1008)",
              R"(glue_token_request_failures_total{class="rate_limited"} 1009)"}},
            {"glue_token_remembered_error_hits_total",
             "counter",
             {"glue_token_remembered_error_hits_total 1011"}},
            {"glue_token_invalidations_total",
             "counter",
             {R"(glue_token_invalidations_total{result="applied"} 1012)",
              R"(glue_token_invalidations_total{result="noop"} 1013)"}},
            {"glue_token_shared_cache_flights_total",
             "counter",
             {R"(glue_token_shared_cache_flights_total{result="hit"} 1017)",
              R"(glue_token_shared_cache_flights_total{result="lease"} 1018)",
              R"(glue_token_shared_cache_flights_total{result="unavailable"} 1019)"}},
            {"glue_throttle_requests_sent_total",
             "counter",
             {"glue_throttle_requests_sent_total 2001"}},
            {"glue_throttle_throttled_responses_total",
             "counter",
             {"glue_throttle_throttled_responses_total 2002"}},
            {"glue_throttle_retries_total", "counter", {"glue_throttle_retries_total 2003"}},
            {"glue_throttle_retries_denied_total",
             "counter",
             {"glue_throttle_retries_denied_total 2004"}},
            {"glue_throttle_workspace_pauses_total",
             "counter",
             {"glue_throttle_workspace_pauses_total 2005"}},
            {"glue_throttle_app_pauses_total", "counter", {"glue_throttle_app_pauses_total 2006"}},
            {"glue_throttle_calls_failed_waiting_total",
             "counter",
             {"glue_throttle_calls_failed_waiting_total 2007"}},
            {"glue_throttle_wait_seconds_total",
             "counter",
             {"glue_throttle_wait_seconds_total 1.5"}},
            {"glue_throttle_send_rate", "gauge", {"glue_throttle_send_rate 12.25"}},
            {"glue_throttle_app_rate_limit", "gauge", {"glue_throttle_app_rate_limit 0.5"}},
            {"glue_throttle_retry_budget_left", "gauge", {"glue_throttle_retry_budget_left 500"}},
            {"glue_throttle_fleet_batches_total",
             "counter",
             {"glue_throttle_fleet_batches_total 2008"}},
            {"glue_throttle_fleet_fallback", "gauge", {"glue_throttle_fleet_fallback 1"}},
        };
        std::set<std::string> names;
        for (const auto& e : all) {
            CAPTURE(e.name);
            names.insert(e.name);
            const auto it = read.families.find(e.name);
            REQUIRE(it != read.families.end());
            CHECK(it->second.type == e.type);
            CHECK(it->second.help.size() > 10);
            for (const auto& line : e.lines) {
                CHECK_MESSAGE(prom_has_line(text, line), line);
            }
        }
        CHECK(names.size() == read.families.size()); // no family the table doesn't know

        // Fleet fallback off is 0; a histogram's count is its buckets' (+Inf and _count agree);
        // rates that are not numbers are spelled as Prometheus reads them.
        prom_figures g;
        g.throttle.fleet_fallback = false;
        g.m.call_duration.count = 7; // a duration recorded between the buckets and the count
        g.throttle.send_rate = std::numeric_limits<double>::quiet_NaN();
        g.throttle.app_rate_limit = std::numeric_limits<double>::infinity();
        const std::string other = g.text();
        CHECK(prom_has_line(other, "glue_throttle_fleet_fallback 0"));
        CHECK(prom_has_line(other, "glue_graphql_call_duration_seconds_count 6"));
        CHECK(prom_has_line(other, "glue_throttle_send_rate NaN"));
        CHECK(prom_has_line(other, "glue_throttle_app_rate_limit +Inf"));
        CHECK(glue::test::parse_prometheus_text(other).problems.empty());
    }

    TEST_CASE("the caller's stream keeps its locale and flags, and they change nothing") {
        const prom_figures f;
        std::ostringstream odd;
        odd.imbue(std::locale(std::locale::classic(), new prom_odd_numbers));
        odd << std::hex << std::showpos << std::scientific << std::setprecision(2);
        odd << 1234.5 << ' ';
        const std::string before = odd.str();
        const auto flags = odd.flags();
        glue::write_prometheus(odd, f.m, f.cache, f.throttle);
        CHECK(odd.str() == before + f.text());
        CHECK(odd.flags() == flags);
        CHECK(odd.precision() == 2);
        CHECK(std::use_facet<std::numpunct<char>>(odd.getloc()).decimal_point() == ',');
        CHECK(odd.good());
    }

    TEST_CASE("the strict reader of the format finds what breaks it") {
        const std::string good = "# HELP a_total Some \\\\ help\\n on two lines\n"
                                 "# TYPE a_total counter\n"
                                 "a_total{x=\"q\\\"b\\\\c\\nd\",y=\"\"} 1.5e+06\n"
                                 "# HELP h A histogram\n# TYPE h histogram\n"
                                 "h_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 3\nh_sum 0.5\n"
                                 "h_count 3\n";
        const auto read = glue::test::parse_prometheus_text(good);
        CHECK(read.problems.empty());
        CHECK(read.value("a_total", {{"x", "q\"b\\c\nd"}, {"y", ""}}) == 1.5e6);
        CHECK(read.value("h_count") == 3);
        CHECK(std::isnan(read.value("a_total"))); // no such series

        const std::string type = "# HELP a_total h\n# TYPE a_total counter\n";
        const std::vector<std::string> bad = {
            "a_total 1\n",                         // no HELP and TYPE
            "# TYPE a_total counter\na_total 1\n", // no HELP
            "# HELP a_total h\na_total 1\n",       // no TYPE
            "# HELP a_total h\n# TYPE a_total countr\na_total 1\n",
            "# HELP a h\n# TYPE a counter\na 1\n",  // a counter without _total
            "# HELP 1a h\n# TYPE 1a gauge\n1a 1\n", // not a name
            "# HELP a-b h\n# TYPE a-b gauge\na-b 1\n",
            type + "a_total{x=\"1\",} 1\n",                    // a trailing comma
            type + "a_total{x=1} 1\n",                         // an unquoted value
            type + "a_total{x=\"\\q\"} 1\n",                   // an unknown escape
            type + "a_total{x=\"1\",x=\"2\"} 1\n",             // a label twice
            type + "a_total{__x=\"1\"} 1\n",                   // a reserved label name
            type + "a_total{x=\"1\"} 1\na_total{x=\"1\"} 2\n", // a series twice
            type + "a_total inf\n",                            // not Go's spelling
            type + "a_total 1,5\n",
            type + "a_total -1\n", // a counter going negative
            type + "a_total  1\n",
            type + "a_total 1 1700000000000\n", // a timestamp
            type + "a_total 1",                 // no newline at the end
            type + "\na_total 1\n",             // a blank line
            "# comment\n" + type + "a_total 1\n",
            type + "# HELP b h\n# TYPE b gauge\nb 1\na_total 1\n", // a family split in two
            type + "a_total 1\n# HELP b h\n# TYPE b gauge\nb 1\n# HELP a_total h\n",
            type + "a_total{le=\"1\"} 1\n",
            "# HELP e_total \\t\n# TYPE e_total counter\ne_total 1\n",
            "# HELP g h\n# TYPE g gauge\n", // a family without samples
            // Histograms: not cumulative, +Inf missing or not _count, bounds not increasing.
            "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\n"
            "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n",
            "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n",
            "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
            "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\n"
            "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
            "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
            "# HELP h h\n# TYPE h histogram\nh_bucket 1\nh_sum 1\nh_count 1\n",
        };
        for (const auto& text : bad) {
            CAPTURE(text);
            CHECK_FALSE(glue::test::parse_prometheus_text(text).problems.empty());
        }
    }
}
