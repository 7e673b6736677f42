// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_CACHE_TOKEN_CACHE_OPTIONS_HPP
#define GLUE_CACHE_TOKEN_CACHE_OPTIONS_HPP

// The token cache's settings: the entry policy's rules, and the cache's own bounds and hooks.

#include <glue/metrics.hpp>

#include "cache/entry_policy.hpp"
#include "shared_cache/shared_cache.hpp"
#include "support/hook_gate.hpp"

#include <chrono>
#include <cstddef>
#include <memory>

namespace glue::detail {

struct token_cache_options : entry_rules {
    std::chrono::nanoseconds soft_window_cap{std::chrono::minutes(15)};
    double soft_window_jitter = 0.10;
    std::size_t max_concurrent_requests = 32;
    std::size_t max_entries = 100'000;
    token_event_hook on_event;
    /// What on_event runs through; shutdown() closes it, and no hook runs once that returned.
    /// A client shares its own with the shared cache's hook.
    std::shared_ptr<hook_gate> hooks = std::make_shared<hook_gate>();
    /// The shared cache, used by other processes too; null: in-process only.
    std::shared_ptr<shared_cache> shared;
};

} // namespace glue::detail

#endif
