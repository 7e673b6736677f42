// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// glue_loadgen: N GraphQL calls spread over W workspaces at concurrency C through glue::client,
// a token per workspace through its cache. The same work as the peers in benchmarks/peers/ (see
// their README for the contract); benchmarks/run.sh runs them side by side.
//
//   glue_loadgen --url http://127.0.0.1:8080 --requests 200000 --workspaces 1000
//                --connections 64 [--in-flight 256] [--threads 1] [--ca-file ca.pem]
//                [--timeout-s 300]
//                [--rss-sample-ms 1000] [--shared-cache redis://127.0.0.1:6379/0]
//                [--query '{ groups(first: 200) { nodes { id name } } }'] [--compression off]
//                [--metrics off] [--events on] [--http2 auto|off|required]
//
// --connections is client_config::max_connections, and the calls in flight unless --in-flight
// says otherwise (more calls than connections: they wait for one, or share one over HTTP/2).
//
// With --shared-cache the client shares its tokens through Redis (the key from
// GLUE_SHARED_CACHE_KEY), and the JSON counts the flights that took a stored token, took the
// lease, or found Redis unavailable.
//
// --query replaces the GraphQL document (default: query { me { id } }); --compression off sends
// no Accept-Encoding (client_config::accept_compressed_responses). The JSON's rx_bytes and
// tx_bytes are the TCP payload the process's open sockets received and sent over the whole run
// (the kernel's count, wire_bytes.hpp), token requests included, taken before the client closes
// them.
//
// --http2 sets client_config::http2 (without it, the library's default: auto): over TLS, auto
// offers h2 and http/1.1 by ALPN, off HTTP/1.1 only, required h2 only. benchmarks/h2bench.py
// runs glue-h1 with off and glue-h2 with auto, and looks for --http2 in the usage message.
//
// --metrics off turns client_config::collect_metrics off (default on: the library's default);
// --events on sets a client_config::on_request_event hook that counts the events and sums their
// bytes_received (atomics), reported as "events" and "event_bytes_received" so the hook's work
// can't be optimised away. benchmarks/observability_overhead.sh measures what the two cost.
//
// Before its clock starts it fetches the first workspace's token, as the peers send a GET first
// (warm_up()): exit 3 when the origin can't be reached.
//
// Without --url (and the credentials), it takes GLUE_API_URL, GLUE_CLIENT_ID,
// GLUE_CLIENT_SECRET, GLUE_REDIRECT_URI and GLUE_CA_FILE from the environment, as set by
// `glue-mock-server -- glue_loadgen ...`. The last line of its output is one JSON object with
// what it measured, heap allocations per call among it (counted by this program's own global
// operator new).

#include <glue/glue.hpp>

#include "heap_count.hpp"
#include "percentile.hpp"
#include "wire_bytes.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <unistd.h>

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

namespace {

std::string from_env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

struct options {
    std::string url, ca_file, shared_cache;
    std::string query = "query { me { id } }";
    bool compression = true;
    bool metrics = true, events = false;
    std::optional<glue::http2_mode> http2; // unset: the library's default
    std::string client_id = "bench-client", client_secret = "bench-secret", redirect_uri;
    std::size_t requests = 200'000, workspaces = 1'000, connections = 64, threads = 1;
    std::size_t in_flight = 0; // 0: as many as connections
    long timeout_s = 300;
    long rss_sample_ms = 0; // 0: no RSS samples
};

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "glue_loadgen: %s\n"
                 "usage: glue_loadgen --url URL [--requests N] [--workspaces W] "
                 "[--connections C] [--in-flight K] [--threads T] [--ca-file PEM] [--client-id ID] "
                 "[--client-secret S] [--redirect-uri URI] [--timeout-s S] [--rss-sample-ms MS] "
                 "[--shared-cache URL] [--query DOCUMENT] [--compression on|off] "
                 "[--metrics on|off] [--events on|off] [--http2 auto|off|required]\n",
                 why);
    std::exit(2);
}

bool to_switch(std::string_view s, const char* name) {
    if (s != "on" && s != "off") {
        std::fprintf(stderr, "glue_loadgen: %s takes on or off\n", name);
        std::exit(2);
    }
    return s == "on";
}

glue::http2_mode to_http2(std::string_view s) {
    if (s == "auto") {
        return glue::http2_mode::automatic;
    }
    if (s == "off") {
        return glue::http2_mode::off;
    }
    if (s == "required") {
        return glue::http2_mode::required;
    }
    std::fprintf(stderr, "glue_loadgen: --http2 takes auto, off or required\n");
    std::exit(2);
}

std::size_t to_count(std::string_view s, const char* name) {
    std::size_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v == 0) {
        std::fprintf(stderr, "glue_loadgen: %s must be a positive integer\n", name);
        std::exit(2);
    }
    return v;
}

options parse(int argc, char** argv) {
    options o;
    o.url = from_env("GLUE_API_URL");
    o.ca_file = from_env("GLUE_CA_FILE");
    o.redirect_uri = from_env("GLUE_REDIRECT_URI");
    if (auto id = from_env("GLUE_CLIENT_ID"); !id.empty()) {
        o.client_id = id;
    }
    if (auto secret = from_env("GLUE_CLIENT_SECRET"); !secret.empty()) {
        o.client_secret = secret;
    }
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (i + 1 >= argc) {
            usage("every option takes a value");
        }
        const std::string_view v = argv[++i];
        if (a == "--url") {
            o.url = v;
        } else if (a == "--ca-file") {
            o.ca_file = v;
        } else if (a == "--client-id") {
            o.client_id = v;
        } else if (a == "--client-secret") {
            o.client_secret = v;
        } else if (a == "--redirect-uri") {
            o.redirect_uri = v;
        } else if (a == "--requests") {
            o.requests = to_count(v, "--requests");
        } else if (a == "--workspaces") {
            o.workspaces = to_count(v, "--workspaces");
        } else if (a == "--connections") {
            o.connections = to_count(v, "--connections");
        } else if (a == "--in-flight") {
            o.in_flight = to_count(v, "--in-flight");
        } else if (a == "--threads") {
            o.threads = to_count(v, "--threads");
        } else if (a == "--rss-sample-ms") {
            o.rss_sample_ms = static_cast<long>(to_count(v, "--rss-sample-ms"));
        } else if (a == "--shared-cache") {
            o.shared_cache = v;
        } else if (a == "--query") {
            o.query = v;
        } else if (a == "--compression") {
            o.compression = to_switch(v, "--compression");
        } else if (a == "--metrics") {
            o.metrics = to_switch(v, "--metrics");
        } else if (a == "--events") {
            o.events = to_switch(v, "--events");
        } else if (a == "--http2") {
            o.http2 = to_http2(v);
        } else if (a == "--timeout-s") {
            o.timeout_s = static_cast<long>(to_count(v, "--timeout-s"));
        } else {
            usage("unknown option");
        }
    }
    if (o.url.empty()) {
        usage("--url is required");
    }
    if (o.in_flight == 0) {
        o.in_flight = o.connections;
    }
    return o;
}

// Resident set size now, from /proc (KiB).
long rss_kib() {
    std::ifstream statm("/proc/self/statm");
    long pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// Shared by the workers, which may run on several threads.
struct run_state {
    run_state(const options& o, const std::vector<std::string>& ws, const glue::graphql_request& r)
        : opt(o)
        , workspaces(ws)
        , request(r)
        // Written in full now (-1: not done), so recording a latency later grows no memory and
        // the RSS figures show the client alone.
        , latencies_ms(o.requests, -1.0f) {}

    const options& opt;
    const std::vector<std::string>& workspaces;
    const glue::graphql_request& request;
    std::atomic<std::size_t> next{0}, done{0}, failures{0};
    std::vector<float> latencies_ms; // [k]: call k's, written by whoever made it
    std::mutex mtx;
    std::string first_error; // guarded by mtx
};

asio::awaitable<void> worker(glue::client& c, run_state& st) {
    for (;;) {
        const std::size_t k = st.next.fetch_add(1, std::memory_order_relaxed);
        if (k >= st.opt.requests) {
            break;
        }
        const auto start = clock_type::now();
        try {
            auto r = co_await c.graphql(st.workspaces[k % st.workspaces.size()], st.request);
            if (!r.data.is_object()) {
                throw std::runtime_error("no data");
            }
        } catch (const std::exception& e) {
            st.failures.fetch_add(1, std::memory_order_relaxed);
            std::lock_guard lock(st.mtx);
            if (st.first_error.empty()) {
                st.first_error = e.what();
            }
        }
        st.latencies_ms[k] =
            std::chrono::duration<float, std::milli>(clock_type::now() - start).count();
        st.done.fetch_add(1, std::memory_order_relaxed);
    }
}

// Before the clock, as every peer does (benchmarks/peers/README.md): one request, so that an
// unreachable origin or an untrusted certificate fails at once (exit 3) and every program starts
// its run with one connection open. Ours is the first workspace's token, which the run would
// fetch anyway; an answer that is an error of Glue's (a refused client, say) is the run's to
// count, as the peers take any HTTP status. The client's token_request_timeout bounds it.
int warm_up(asio::io_context& ioc, glue::client& c, const std::string& workspace) {
    std::exception_ptr failed;
    asio::co_spawn(ioc, c.fetch_token(workspace),
                   [&](std::exception_ptr e, const glue::access_token&) { failed = e; });
    ioc.run();
    ioc.restart();
    try {
        if (failed) {
            std::rethrow_exception(failed);
        }
    } catch (const glue::error& e) {
        if (e.code().category() != glue::glue_category() || e.code() == glue::errc::timeout) {
            std::fprintf(stderr, "glue_loadgen: origin unreachable: %s\n", e.what());
            return 3;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "glue_loadgen: origin unreachable: %s\n", e.what());
        return 3;
    }
    return 0;
}

// RSS every `every` until stopped: (calls done, KiB) pairs, to see whether memory stays flat.
class rss_sampler {
public:
    rss_sampler(const run_state& st, std::chrono::milliseconds every) {
        if (every.count() > 0) {
            thread_ = std::thread([this, &st, every] {
                std::unique_lock lock(mtx_);
                while (!cv_.wait_for(lock, every, [this] { return stop_; })) {
                    samples_.emplace_back(st.done.load(), rss_kib());
                }
            });
        }
    }
    ~rss_sampler() { stop(); }

    void stop() {
        {
            std::lock_guard lock(mtx_);
            stop_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) {
            thread_.join();
        }
    }

    /// After stop(): `,"rss_samples":[[calls,kib],...]`, or nothing when not sampling.
    std::string json() const {
        if (samples_.empty()) {
            return {};
        }
        std::string out = ",\"rss_samples\":[";
        for (const auto& [calls, kib] : samples_) {
            out += '[' + std::to_string(calls) + ',' + std::to_string(kib) + "],";
        }
        out.back() = ']';
        return out;
    }

private:
    std::mutex mtx_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::vector<std::pair<std::size_t, long>> samples_;
    std::thread thread_;
};

} // namespace

int main(int argc, char** argv) {
    const options opt = parse(argc, argv);

    std::vector<std::string> workspaces;
    workspaces.reserve(opt.workspaces);
    for (std::size_t i = 0; i < opt.workspaces; ++i) {
        workspaces.push_back("wks_bench" + std::to_string(i));
    }
    const glue::graphql_request request(opt.query);

    asio::io_context ioc(static_cast<int>(opt.threads));
    glue::client_config cfg;
    cfg.api_url = opt.url;
    cfg.client_id = opt.client_id;
    cfg.client_secret = opt.client_secret;
    cfg.redirect_uri = opt.redirect_uri;
    cfg.ca_file = opt.ca_file;
    cfg.max_connections = opt.connections;
    cfg.max_cached_workspaces = std::max(cfg.max_cached_workspaces, opt.workspaces);
    // Token requests wait for a connection as calls do, not behind a cap of their own.
    cfg.max_concurrent_token_requests = opt.in_flight;
    cfg.shared_cache_url = opt.shared_cache;
    cfg.accept_compressed_responses = opt.compression;
    cfg.collect_metrics = opt.metrics;
    if (opt.http2) {
        cfg.http2 = *opt.http2;
    }
    // The least a real hook does: thread-safe bookkeeping per event, no lock, no I/O.
    std::atomic<std::uint64_t> events{0}, event_bytes_received{0};
    if (opt.events) {
        cfg.on_request_event = [&](const glue::request_event& e) {
            events.fetch_add(1, std::memory_order_relaxed);
            event_bytes_received.fetch_add(e.bytes_received, std::memory_order_relaxed);
        };
    }
    if (const char* key = std::getenv("GLUE_SHARED_CACHE_KEY")) {
        cfg.shared_cache_key = key;
    }

    std::optional<glue::client> client;
    try {
        client.emplace(ioc.get_executor(), cfg);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "glue_loadgen: %s\n", e.what());
        return 2;
    }

    if (const int code = warm_up(ioc, *client, workspaces.front()); code != 0) {
        return code;
    }
    run_state st{opt, workspaces, request};
    const long rss_start = rss_kib(); // after the big allocations above: the cache's growth shows
    const auto allocations_start = glue_bench::allocations_so_far();

    // Bounded: when the time is up the client shuts down, which ends every call still going.
    asio::steady_timer limit(ioc, std::chrono::seconds(opt.timeout_s));
    bool timed_out = false;
    limit.async_wait([&](glue::error_code ec) {
        if (!ec) {
            timed_out = true;
            client->shutdown();
        }
    });
    std::atomic<std::size_t> running{std::min(opt.in_flight, opt.requests)};
    const auto started = clock_type::now();
    rss_sampler sampler(st, std::chrono::milliseconds(opt.rss_sample_ms));
    for (std::size_t i = 0, n = running.load(); i < n; ++i) {
        asio::co_spawn(ioc, worker(*client, st), [&](std::exception_ptr) {
            if (running.fetch_sub(1) == 1) {
                limit.cancel(); // the last worker is done: let run() return
            }
        });
    }
    std::vector<std::thread> extra;
    for (std::size_t i = 1; i < opt.threads; ++i) {
        extra.emplace_back([&] { ioc.run(); });
    }
    ioc.run();
    for (auto& t : extra) {
        t.join();
    }
    const double wall = std::chrono::duration<double>(clock_type::now() - started).count();
    const auto allocations = glue_bench::allocations_so_far() - allocations_start;
    const long rss_end = rss_kib();
    const auto wire = glue_bench::tcp_bytes_of_open_sockets(); // before the client closes them
    sampler.stop();

    const auto stats = client->stats();
    const auto metrics = client->metrics();
    const std::size_t done = st.done.load();
    const std::size_t failures = st.failures.load() + (opt.requests - done);
    std::erase_if(st.latencies_ms, [](float ms) { return ms < 0; }); // calls never made
    if (!st.first_error.empty()) {
        std::fprintf(stderr, "glue_loadgen: first failure: %s\n", st.first_error.c_str());
    }
    std::printf(
        "{\"contender\":\"glue-cpp\",\"requests\":%zu,\"failures\":%zu,"
        "\"token_requests\":%llu,\"wall_s\":%.4f,\"req_s\":%.1f,\"p50_ms\":%.3f,"
        "\"p99_ms\":%.3f,\"threads\":%zu,\"cache_entries\":%zu,\"rss_start_kib\":%ld,"
        "\"rss_kib\":%ld,\"allocations_per_call\":%.2f,\"shared_hits\":%llu,"
        "\"shared_leases\":%llu,\"shared_unavailable\":%llu,\"rx_bytes\":%llu,"
        "\"tx_bytes\":%llu,\"sockets\":%zu,\"metrics_calls\":%llu,"
        "\"events\":%llu,\"event_bytes_received\":%llu%s}\n",
        opt.requests, failures, static_cast<unsigned long long>(stats.token_requests), wall,
        static_cast<double>(done) / wall, glue::detail::percentile(st.latencies_ms, 0.50),
        glue::detail::percentile(st.latencies_ms, 0.99), opt.threads, stats.entries, rss_start,
        rss_end, static_cast<double>(allocations) / static_cast<double>(opt.requests),
        static_cast<unsigned long long>(stats.shared_hits),
        static_cast<unsigned long long>(stats.shared_leases),
        static_cast<unsigned long long>(stats.shared_unavailable),
        static_cast<unsigned long long>(wire.received), static_cast<unsigned long long>(wire.sent),
        wire.sockets, static_cast<unsigned long long>(metrics.calls),
        static_cast<unsigned long long>(events.load()),
        static_cast<unsigned long long>(event_bytes_received.load()), sampler.json().c_str());
    if (timed_out) {
        std::fprintf(stderr, "glue_loadgen: stopped after %ld s\n", opt.timeout_s);
        return 1;
    }
    return 0;
}
