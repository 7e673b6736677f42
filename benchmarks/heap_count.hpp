// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_BENCHMARKS_HEAP_COUNT_HPP
#define GLUE_BENCHMARKS_HEAP_COUNT_HPP

// Counts every heap allocation a benchmark program makes, by replacing the global operator new.
// Include it in exactly one translation unit of a program: it defines the replacements.

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace glue_bench {

inline std::atomic<std::uint64_t> heap_allocations{0};

/// Allocations through operator new since the program started.
inline std::uint64_t allocations_so_far() noexcept {
    return heap_allocations.load(std::memory_order_relaxed);
}

} // namespace glue_bench

void* operator new(std::size_t size) {
    glue_bench::heap_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) {
        return p;
    }
    throw std::bad_alloc();
}
// GCC takes free() on what our operator new returned for a mismatch; here it is the match.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
#pragma GCC diagnostic pop

#endif
