// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The token cache's hit path (docs/design.md, "Token cache": a hit returns at once, with no I/O,
// no waiting, no heap allocation; we aim for p50 < 200 ns): latency per lookup with p50/p99,
// heap allocations per lookup (counted by this binary's own operator new), and throughput on 1
// and 2 threads.
//
//   glue_bench_token_cache [--benchmark_repetitions=5 ...]

#include "cache/token_cache.hpp"

#include "heap_count.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

//------------------------------------------------------------------------------

namespace {

using clock_type = std::chrono::steady_clock;
using glue::detail::token_cache;

// A cache holding tokens for `n` workspaces (made once per size, shared by the threads), and
// their ids in a shuffled order, so lookups hit the map the way a bulk job's do.
struct warm_cache {
    explicit warm_cache(std::size_t n)
        : cache(ioc.get_executor(),
                [](std::string ws, glue::detail::steady_time, unsigned)
                    -> boost::asio::awaitable<glue::detail::result<glue::detail::token_grant>> {
                    co_return glue::detail::token_grant{
                        "token-for-" + ws + "-abcdefghijklmnopqrstuvwxyz0123456789", "Bearer",
                        "usr_bench", std::chrono::hours(24), clock_type::now()};
                },
                {}) {
        // Real ids are "wks_" and 27 base62 characters. They lie side by side in one buffer, in
        // a fixed shuffled order, so reading the next id costs the benchmark nothing and the
        // lookups still hit the map the way a bulk job's do.
        std::vector<std::size_t> order(n);
        for (std::size_t i = 0; i < n; ++i) {
            order[i] = i;
        }
        std::uint64_t x = 88172645463325252ULL;
        for (std::size_t i = n; i > 1; --i) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            std::swap(order[i - 1], order[x % i]);
        }
        ids.resize(n * id_size, 'x');
        for (std::size_t i = 0; i < n; ++i) {
            const std::string id = "wks_" + std::to_string(order[i]);
            std::copy(id.begin(), id.end(), ids.begin() + static_cast<std::ptrdiff_t>(i * id_size));
        }
        for (std::size_t i = 0; i < n; ++i) { // get() refers to its key until it completes
            boost::asio::co_spawn(ioc,
                                  cache.get(key(i), clock_type::now() + std::chrono::seconds(10)),
                                  boost::asio::detached);
        }
        ioc.run();
    }

    std::size_t size() const { return ids.size() / id_size; }
    std::string_view key(std::size_t i) const { return {ids.data() + i * id_size, id_size}; }

    static constexpr std::size_t id_size = 31;
    boost::asio::io_context ioc;
    token_cache cache;
    std::string ids;
};

warm_cache& cache_of(std::size_t n) {
    // One per size, made before the threads of a run start (Setup runs single-threaded).
    static std::vector<std::unique_ptr<warm_cache>> made;
    for (auto& c : made) {
        if (c->size() == n) {
            return *c;
        }
    }
    made.push_back(std::make_unique<warm_cache>(n));
    return *made.back();
}

void setup(const benchmark::State& state) {
    cache_of(static_cast<std::size_t>(state.range(0)));
}

// One lookup per iteration; every 64 lookups are timed together (a clock read costs about as
// much as a hit), which gives the per-lookup p50 and p99 as counters.
void BM_cache_hit(benchmark::State& state) {
    auto& c = cache_of(static_cast<std::size_t>(state.range(0)));
    constexpr std::size_t batch = 64;
    std::vector<double> per_lookup_ns;
    per_lookup_ns.reserve(1 << 16);
    std::size_t k = static_cast<std::size_t>(state.thread_index()) * 7919 % c.size();
    std::size_t misses = 0, in_batch = 0;
    const auto allocs_before = glue_bench::allocations_so_far();
    auto batch_start = clock_type::now();
    for (auto _ : state) {
        if (++k == c.size()) {
            k = 0;
        }
        auto t = c.cache.find(c.key(k));
        misses += t == nullptr;
        benchmark::DoNotOptimize(t);
        if (++in_batch == batch) {
            const auto now = clock_type::now();
            if (per_lookup_ns.size() < per_lookup_ns.capacity()) {
                per_lookup_ns.push_back(
                    std::chrono::duration<double, std::nano>(now - batch_start).count() / batch);
            }
            batch_start = now;
            in_batch = 0;
        }
    }
    // Allocations are counted process-wide, so with two threads both see the sum: halve it
    // through kAvgThreads like the per-thread latencies.
    const auto allocs = glue_bench::allocations_so_far() - allocs_before;
    const auto avg = benchmark::Counter::kAvgThreads;
    state.SetItemsProcessed(state.iterations());
    state.counters["allocs_per_hit"] = benchmark::Counter(
        static_cast<double>(allocs) / static_cast<double>(state.iterations()), avg);
    state.counters["misses"] = static_cast<double>(misses);
    if (!per_lookup_ns.empty()) {
        std::sort(per_lookup_ns.begin(), per_lookup_ns.end());
        state.counters["p50_ns"] = benchmark::Counter(per_lookup_ns[per_lookup_ns.size() / 2], avg);
        state.counters["p99_ns"] =
            benchmark::Counter(per_lookup_ns[per_lookup_ns.size() * 99 / 100], avg);
    }
}

} // namespace

BENCHMARK(BM_cache_hit)
    ->ArgName("workspaces")
    ->Arg(1) // one hot workspace: an async server's usual case
    ->Arg(1'000)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Setup(setup)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

BENCHMARK_MAIN();
