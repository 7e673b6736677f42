// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// How long a token cache hit takes (DESIGN.md's target: p50 < 200 ns), single-threaded and
// with two threads hitting the same cache. A measurement, not a test: it prints, never fails.
//
//   glue_bench_cache_hit [workspaces] [lookups per thread]

#include "detail/token_cache.hpp"

#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
using glue::detail::token_cache;

struct percentiles {
    double p50, p99;
};

// Times lookups in batches of 64 (a steady_clock read costs about as much as a hit itself).
percentiles measure(token_cache& cache, const std::vector<std::string>& keys,
                    std::size_t lookups, unsigned seed) {
    constexpr std::size_t batch = 64;
    std::vector<double> per_lookup_ns;
    per_lookup_ns.reserve(lookups / batch);
    std::size_t k = seed, misses = 0;
    for (std::size_t done = 0; done < lookups; done += batch) {
        const auto start = clock_type::now();
        for (std::size_t i = 0; i < batch; ++i) {
            k = (k * 2654435761u + 1) % keys.size();
            misses += cache.find(keys[k]) == nullptr;
        }
        const std::chrono::duration<double, std::nano> took = clock_type::now() - start;
        per_lookup_ns.push_back(took.count() / batch);
    }
    if (misses != 0) {
        std::fprintf(stderr, "unexpected misses: %zu\n", misses);
    }
    std::sort(per_lookup_ns.begin(), per_lookup_ns.end());
    return {per_lookup_ns[per_lookup_ns.size() / 2],
            per_lookup_ns[per_lookup_ns.size() * 99 / 100]};
}

} // namespace

int main(int argc, char** argv) {
    const std::size_t workspaces = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 10'000;
    const std::size_t lookups = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 4'000'000;

    boost::asio::io_context ioc;
    token_cache cache(
        ioc.get_executor(),
        [](std::string ws, glue::detail::steady_time)
            -> boost::asio::awaitable<glue::detail::result<glue::detail::token_grant>> {
            co_return glue::detail::token_grant{"token-for-" + ws, "Bearer", "usr_bench",
                                                std::chrono::hours(1), clock_type::now()};
        },
        {});
    std::vector<std::string> keys;
    for (std::size_t i = 0; i < workspaces; ++i) {
        keys.push_back("wks_" + std::to_string(i));
    }
    for (const auto& k : keys) { // get() refers to its key until it completes
        boost::asio::co_spawn(ioc, cache.get(k, clock_type::now() + std::chrono::seconds(10)),
                              boost::asio::detached);
    }
    ioc.run(); // fills the cache

    const auto one = measure(cache, keys, lookups, 1);
    std::printf("cache hit, 1 thread : p50 %.0f ns  p99 %.0f ns  (%zu workspaces)\n", one.p50,
                one.p99, workspaces);
    percentiles two[2];
    std::thread other([&] { two[1] = measure(cache, keys, lookups, 2); });
    two[0] = measure(cache, keys, lookups, 3);
    other.join();
    std::printf("cache hit, 2 threads: p50 %.0f / %.0f ns  p99 %.0f / %.0f ns\n", two[0].p50,
                two[1].p50, two[0].p99, two[1].p99);
}
