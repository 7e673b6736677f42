// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// glue_bench_rate_limits: a bulk job through glue::client against a rate-limited server. N
// calls of a cheap query over W workspaces, C in flight, against an in-process mock server on
// 127.0.0.1 that admits R GraphQL requests a second across the app and/or P per workspace and
// answers 429 with Retry-After beyond (mock_server_options::graphql_rate_limit, ...).
//
//   glue_bench_rate_limits [--calls 20000] [--workspaces 50] [--concurrency 256]
//       [--server-rate R] [--server-rate-per-workspace P] [--server-burst B]
//       [--server-threads 2] [--adaptive on|off] [--client-rate R]
//       [--client-rate-per-workspace P] [--retry-attempts N] [--connections 64]
//       [--time-limit 300] [--query DOCUMENT]
//       [--mode steady|outage] [--outage-seconds 10]
//       [--api-url URL] [--shared-cache-url URL] [--fleet] [--fleet-size K]
//
// It prints one JSON line: the calls made, succeeded and failed (by error class); what the
// server saw (GraphQL requests, admitted, refused: its counters); the 429 share (refused /
// requests seen); the achieved rate (admitted per second over the job) against the allowed
// one (the sustained rate: min(R, P x W), the workspaces being used in turn) and their ratio,
// and the same with the buckets' first burst spread over the job (the buckets start full, so a
// short job gets more than the sustained rate); the duration; and the client's throttling()
// counters.
//
// --time-limit bounds the run: no call starts after it, and the client is shut down
// request_timeout later, ending any call still waiting. The default client settings stand
// unless a flag changes them (--adaptive: client_config::adaptive_rate, --client-rate:
// max_requests_per_second, --retry-attempts: graphql_retry_attempts).
//
// --mode outage: the server answers every GraphQL request 503 without Retry-After (a fault)
// for the first --outage-seconds, then recovers. The JSON's "outage" object says what the
// client sent during the outage (requests the server saw, the client's requests_sent, calls
// started and failed) and after it: requests beyond one per call started after the recovery
// are retries (the server's view, "retries_after_recovery"), beside the client's own count.
//
// Fleet workers: with --api-url the job runs against that server instead of starting one
// (plain HTTP on loopback; GLUE_CLIENT_ID, GLUE_CLIENT_SECRET and GLUE_REDIRECT_URI, else the
// mock's test credentials, as `glue-mock-server --rate-limit R -- glue_bench_rate_limits
// --api-url ...` sets them), and reports its own counts only (the "server" object is null).
// --shared-cache-url shares tokens through Redis (the key from GLUE_SHARED_CACHE_KEY); --fleet
// and --fleet-size set client_config::fleet_rate_limit and fleet_size, the client rate being
// the fleet's.

#include <glue/glue.hpp>
#include <glue/testing/mock_server.hpp>

#include "error_class.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace asio = boost::asio;
namespace json = boost::json;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
    std::size_t calls = 20'000, workspaces = 50, concurrency = 256, connections = 64;
    double server_rate = 0, server_rate_per_workspace = 0;
    std::size_t server_burst = 0, server_threads = 2;
    bool adaptive = glue::client_config{}.adaptive_rate;
    double client_rate = 0, client_rate_per_workspace = 0;
    unsigned retry_attempts = glue::client_config{}.graphql_retry_attempts;
    long time_limit_s = 300;
    std::string query = "query { me { id } }";
    bool outage = false;
    long outage_s = 10;
    std::string api_url, shared_cache_url;
    bool fleet = false;
    unsigned fleet_size = 1;
    bool trace = false; // a line on stderr every half second: how the rate moves
};

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "glue_bench_rate_limits: %s\n"
                 "usage: glue_bench_rate_limits [--calls N] [--workspaces W] [--concurrency C]\n"
                 "  [--server-rate R] [--server-rate-per-workspace P] [--server-burst B]\n"
                 "  [--server-threads T] [--adaptive on|off] [--client-rate R]\n"
                 "  [--client-rate-per-workspace P] [--retry-attempts N] [--connections N]\n"
                 "  [--time-limit S] [--query DOCUMENT] [--mode steady|outage]\n"
                 "  [--outage-seconds S] [--api-url URL] [--shared-cache-url URL] [--fleet]\n"
                 "  [--fleet-size K] [--trace]\n",
                 why);
    std::exit(2);
}

std::size_t to_count(std::string_view s, const char* name) {
    std::size_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v == 0 || v > 100'000'000) {
        std::fprintf(stderr, "glue_bench_rate_limits: %s must be a positive integer\n", name);
        std::exit(2);
    }
    return v;
}

double to_rate(std::string_view s, const char* name) {
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || !(v >= 0 && v <= 1e9)) {
        std::fprintf(stderr, "glue_bench_rate_limits: %s must be a rate from 0 to 1e9\n", name);
        std::exit(2);
    }
    return v;
}

bool on_off(std::string_view v, const char* name) {
    if (v != "on" && v != "off") {
        std::fprintf(stderr, "glue_bench_rate_limits: %s takes on or off\n", name);
        std::exit(2);
    }
    return v == "on";
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--fleet") {
            o.fleet = true;
            continue;
        }
        if (a == "--trace") {
            o.trace = true;
            continue;
        }
        if (i + 1 >= argc) {
            usage("every option but --fleet and --trace takes a value");
        }
        const std::string_view v = argv[++i];
        if (a == "--calls") {
            o.calls = to_count(v, "--calls");
        } else if (a == "--workspaces") {
            o.workspaces = to_count(v, "--workspaces");
        } else if (a == "--concurrency") {
            o.concurrency = to_count(v, "--concurrency");
        } else if (a == "--connections") {
            o.connections = to_count(v, "--connections");
        } else if (a == "--server-rate") {
            o.server_rate = to_rate(v, "--server-rate");
        } else if (a == "--server-rate-per-workspace") {
            o.server_rate_per_workspace = to_rate(v, "--server-rate-per-workspace");
        } else if (a == "--server-burst") {
            o.server_burst = to_count(v, "--server-burst");
        } else if (a == "--server-threads") {
            o.server_threads = to_count(v, "--server-threads");
        } else if (a == "--adaptive") {
            o.adaptive = on_off(v, "--adaptive");
        } else if (a == "--client-rate") {
            o.client_rate = to_rate(v, "--client-rate");
        } else if (a == "--client-rate-per-workspace") {
            o.client_rate_per_workspace = to_rate(v, "--client-rate-per-workspace");
        } else if (a == "--retry-attempts") {
            o.retry_attempts = static_cast<unsigned>(to_count(v, "--retry-attempts"));
        } else if (a == "--time-limit") {
            o.time_limit_s = static_cast<long>(to_count(v, "--time-limit"));
        } else if (a == "--query") {
            o.query = v;
        } else if (a == "--mode") {
            if (v != "steady" && v != "outage") {
                usage("--mode takes steady or outage");
            }
            o.outage = v == "outage";
        } else if (a == "--outage-seconds") {
            o.outage_s = static_cast<long>(to_count(v, "--outage-seconds"));
        } else if (a == "--api-url") {
            o.api_url = v;
        } else if (a == "--shared-cache-url") {
            o.shared_cache_url = v;
        } else if (a == "--fleet-size") {
            o.fleet_size = static_cast<unsigned>(to_count(v, "--fleet-size"));
        } else {
            usage("unknown option");
        }
    }
    if (o.outage && !o.api_url.empty()) {
        usage("--mode outage needs the in-process server (no --api-url)");
    }
    return o;
}

std::string env_or(const char* name, std::string fallback) {
    const char* v = std::getenv(name);
    return v && *v ? v : fallback;
}

// The job, shared by the workers; they all run on the one thread of the client's io_context.
struct job_state {
    const options& opt;
    std::vector<std::string> workspaces;
    std::size_t issued = 0, ok = 0, failed = 0;
    std::map<std::string, std::size_t> errors; // failed calls by error class
    bool stop_issuing = false;                 // set when the time limit passes
    clock_type::time_point last_done;
};

asio::awaitable<void> worker(glue::client& c, job_state& st) {
    while (!st.stop_issuing && st.issued < st.opt.calls) {
        const std::size_t k = st.issued++;
        try {
            glue::graphql_request request(st.opt.query); // named: see types.hpp on GCC 12
            co_await c.graphql(st.workspaces[k % st.workspaces.size()], std::move(request));
            ++st.ok;
        } catch (const glue::error& e) {
            ++st.failed;
            ++st.errors[glue::cli::error_class(e.code())];
        } catch (const std::exception&) {
            ++st.failed;
            ++st.errors["exception"];
        }
        st.last_done = clock_type::now();
    }
}

// The counts at one moment, to split the run into phases (the outage, and after it).
struct snapshot {
    std::size_t server_requests = 0, issued = 0, done = 0, failed = 0;
    glue::throttle_stats client;
};

snapshot take_snapshot(const glue::testing::mock_server* server, const glue::client& c,
                       const job_state& st) {
    return {server ? server->graphql_requests() : 0, st.issued, st.ok + st.failed, st.failed,
            c.throttling()};
}

json::object client_json(const glue::throttle_stats& t) {
    return {{"requests_sent", t.requests_sent},
            {"throttled", t.throttled},
            {"retries", t.retries},
            {"retries_denied", t.retries_denied},
            {"app_pauses", t.app_pauses},
            {"workspace_pauses", t.workspace_pauses},
            {"calls_failed_waiting", t.calls_failed_waiting},
            {"wait_ns", t.wait_ns},
            {"send_rate", t.send_rate},
            {"app_rate_limit", t.app_rate_limit},
            {"fleet_batches", t.fleet_batches},
            {"fleet_fallback", t.fleet_fallback}};
}

// The rate the server lets through over `seconds` (0: no limit): the app's, or the
// workspaces' together when they are used in turn, whichever is less. With `burst`, each
// bucket's first burst (full when the job starts) is spread over the job too.
double allowed_rate(const options& o, double seconds, bool burst) {
    // A bucket's capacity, as mock_server_options::rate_limit_burst says.
    const auto capacity = [&](double rate) {
        return o.server_burst > 0 ? static_cast<double>(o.server_burst) : std::max(1.0, rate);
    };
    const auto over_job = [&](double rate) {
        return burst && seconds > 0 ? rate + capacity(rate) / seconds : rate;
    };
    double r = std::numeric_limits<double>::infinity();
    if (o.server_rate > 0) {
        r = over_job(o.server_rate);
    }
    if (o.server_rate_per_workspace > 0) {
        r = std::min(r, over_job(o.server_rate_per_workspace) * static_cast<double>(o.workspaces));
    }
    return r == std::numeric_limits<double>::infinity() ? 0 : r;
}

// JSON with numbers as people read them (6 significant digits, no exponent for everyday
// values): Boost.JSON writes doubles as 5E2.
void write_json(const json::value& v, std::string& out) {
    switch (v.kind()) {
    case json::kind::double_: {
        char text[32];
        std::snprintf(text, sizeof text, "%.6g", v.get_double());
        out += text;
        break;
    }
    case json::kind::object: {
        out += '{';
        for (const auto& [key, value] : v.get_object()) {
            out += json::serialize(json::string_view(key)) + ':';
            write_json(value, out);
            out += ',';
        }
        if (out.back() == ',') {
            out.back() = '}';
        } else {
            out += '}';
        }
        break;
    }
    default: // no arrays here
        out += json::serialize(v);
    }
}

} // namespace

int main(int argc, char** argv) {
    const options opt = parse(argc, argv);

    std::optional<glue::testing::mock_server> server;
    glue::client_config cfg;
    if (opt.api_url.empty()) {
        glue::testing::mock_server_options so;
        so.threads = static_cast<unsigned>(opt.server_threads);
        so.graphql_rate_limit = opt.server_rate;
        so.graphql_rate_limit_per_workspace = opt.server_rate_per_workspace;
        so.rate_limit_burst = opt.server_burst;
        server.emplace(so);
        cfg = server->client_config();
    } else {
        const glue::testing::mock_server_options defaults;
        cfg.api_url = opt.api_url;
        cfg.client_id = env_or("GLUE_CLIENT_ID", defaults.client_id);
        cfg.client_secret = env_or("GLUE_CLIENT_SECRET", defaults.client_secret);
        cfg.redirect_uri = env_or("GLUE_REDIRECT_URI", defaults.redirect_uris.front());
    }
    cfg.max_connections = opt.connections;
    cfg.max_concurrent_token_requests = std::min<std::size_t>(opt.connections, 32);
    cfg.max_cached_workspaces = std::max(cfg.max_cached_workspaces, opt.workspaces);
    cfg.adaptive_rate = opt.adaptive;
    cfg.max_requests_per_second = opt.client_rate;
    cfg.max_requests_per_second_per_workspace = opt.client_rate_per_workspace;
    cfg.graphql_retry_attempts = opt.retry_attempts;
    cfg.shared_cache_url = opt.shared_cache_url;
    cfg.shared_cache_key = env_or("GLUE_SHARED_CACHE_KEY", "");
    cfg.fleet_rate_limit = opt.fleet;
    cfg.fleet_size = opt.fleet_size;

    asio::io_context ioc(1);
    std::optional<glue::client> client;
    try {
        client.emplace(ioc.get_executor(), cfg);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "glue_bench_rate_limits: %s\n", e.what());
        return 2;
    }

    job_state st{opt, {}, 0, 0, 0, {}, false, clock_type::now()};
    for (std::size_t i = 0; i < opt.workspaces; ++i) {
        st.workspaces.push_back("wks_rate" + std::to_string(i));
    }

    // The outage: every GraphQL request answered 503 without Retry-After until cleared.
    std::optional<snapshot> at_recovery;
    asio::steady_timer outage_end(ioc, std::chrono::seconds(opt.outage_s));
    if (opt.outage) {
        glue::testing::fault down;
        down.status = 503;
        server->set_fault(glue::testing::endpoint::graphql, down);
        outage_end.async_wait([&](glue::error_code ec) {
            if (!ec) {
                at_recovery = take_snapshot(&*server, *client, st);
                server->clear_faults();
            }
        });
    }

    // Bounded: no call starts after the time limit, and request_timeout later the client shuts
    // down, which ends every call still going.
    bool timed_out = false;
    asio::steady_timer limit(ioc, std::chrono::seconds(opt.time_limit_s));
    limit.async_wait([&](glue::error_code ec) {
        if (ec) {
            return;
        }
        timed_out = true;
        st.stop_issuing = true;
        limit.expires_after(cfg.request_timeout + std::chrono::seconds(1));
        limit.async_wait([&](glue::error_code ec2) {
            if (!ec2) {
                client->shutdown();
            }
        });
    });

    const auto started = clock_type::now();
    st.last_done = started;
    asio::steady_timer tracer(ioc);
    std::function<void()> trace_next = [&] {
        tracer.expires_after(std::chrono::milliseconds(500));
        tracer.async_wait([&](glue::error_code ec) {
            if (ec) {
                return;
            }
            const auto t = client->throttling();
            std::fprintf(stderr,
                         "t=%6.1f sent/s=%6.0f limit=%7.1f throttled=%llu app_pauses=%llu "
                         "ws_pauses=%llu done=%zu\n",
                         std::chrono::duration<double>(clock_type::now() - started).count(),
                         t.send_rate, t.app_rate_limit,
                         static_cast<unsigned long long>(t.throttled),
                         static_cast<unsigned long long>(t.app_pauses),
                         static_cast<unsigned long long>(t.workspace_pauses), st.ok + st.failed);
            trace_next();
        });
    };
    if (opt.trace) {
        trace_next();
    }
    std::size_t running = std::min(opt.concurrency, opt.calls);
    for (std::size_t i = 0, n = running; i < n; ++i) {
        asio::co_spawn(ioc, worker(*client, st), [&](std::exception_ptr) {
            if (--running == 0) { // the job is over: let run() return
                limit.cancel();
                tracer.cancel();
                outage_end.cancel();
            }
        });
    }
    ioc.run();
    const double duration = std::chrono::duration<double>(st.last_done - started).count();

    json::object out{{"bench", "rate_limits"},
                     {"mode", opt.outage ? "outage" : "steady"},
                     {"calls", opt.calls},
                     {"issued", st.issued},
                     {"ok", st.ok},
                     {"failed", st.failed + (opt.calls - st.issued)}};
    json::object errors;
    for (const auto& [cls, n] : st.errors) {
        errors[cls] = n;
    }
    if (st.issued < opt.calls) {
        errors["never_issued"] = opt.calls - st.issued;
    }
    out["errors"] = std::move(errors);
    out["workspaces"] = opt.workspaces;
    out["concurrency"] = opt.concurrency;
    out["adaptive"] = opt.adaptive;
    out["client_rate"] = opt.client_rate;
    out["client_rate_per_workspace"] = opt.client_rate_per_workspace;
    out["retry_attempts"] = opt.retry_attempts;
    out["server_rate"] = opt.server_rate;
    out["server_rate_per_workspace"] = opt.server_rate_per_workspace;
    out["duration_s"] = duration;
    out["timed_out"] = timed_out;
    if (server) {
        const auto limits = server->rate_limit_stats();
        const std::size_t seen = server->graphql_requests();
        out["server"] = json::object{{"requests", seen},
                                     {"admitted", limits.admitted},
                                     {"refused", limits.refused},
                                     {"refused_app", limits.refused_app},
                                     {"refused_workspace", limits.refused_workspace},
                                     {"token_requests", server->token_requests()}};
        out["share_429"] =
            seen ? static_cast<double>(limits.refused) / static_cast<double>(seen) : 0.0;
        const double achieved = duration > 0 ? static_cast<double>(limits.admitted) / duration : 0;
        out["achieved_rate"] = achieved;
        if (const double allowed = allowed_rate(opt, duration, false); allowed > 0) {
            out["allowed_rate"] = allowed;
            out["ratio"] = achieved / allowed;
            const double with_burst = allowed_rate(opt, duration, true);
            out["allowed_rate_with_burst"] = with_burst;
            out["ratio_with_burst"] = achieved / with_burst;
        } else {
            out["allowed_rate"] = nullptr;
            out["ratio"] = nullptr;
        }
    } else {
        out["server"] = nullptr;
    }
    const glue::throttle_stats throttling = client->throttling();
    out["client"] = client_json(throttling);
    if (opt.outage) {
        json::object o{{"seconds", opt.outage_s}};
        if (at_recovery) {
            const snapshot end = take_snapshot(&*server, *client, st);
            const std::size_t after = end.server_requests - at_recovery->server_requests;
            const std::size_t new_calls = end.issued - at_recovery->issued;
            o["server_requests_during"] = at_recovery->server_requests;
            o["client_requests_sent_during"] = at_recovery->client.requests_sent;
            o["calls_issued_during"] = at_recovery->issued;
            o["calls_failed_during"] = at_recovery->failed;
            o["server_requests_after"] = after;
            o["calls_issued_after"] = new_calls;
            // Every request beyond the first of each call started after the recovery is a
            // retry: of those calls, or of the ones still going when it came.
            o["retries_after_recovery"] = after > new_calls ? after - new_calls : 0;
            o["client_retries_after_recovery"] = end.client.retries - at_recovery->client.retries;
        } else {
            o["recovered"] = false; // the job ended inside the outage
        }
        out["outage"] = std::move(o);
    }
    std::string line;
    write_json(out, line);
    std::printf("%s\n", line.c_str());
    if (timed_out) {
        std::fprintf(stderr, "glue_bench_rate_limits: stopped issuing after %ld s\n",
                     opt.time_limit_s);
        return 1;
    }
    return 0;
}
