// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_CACHE_ENTRY_TABLE_HPP
#define GLUE_CACHE_ENTRY_TABLE_HPP

// The cache's entries, one per workspace, and their bound (docs/design.md, "Token cache").
// Entries are split over shards, each with its own mutex, so threads looking up different
// workspaces rarely meet; each shard keeps its entries in least-recently-used order. Adding an
// entry sweeps a few expired ones, and while the table is full evicts the least recently used
// entry of a few sampled shards. Which entries are expired or still worth keeping is the entry
// policy's call; this file only keeps the order and the count.

#include <glue/metrics.hpp>

#include "cache/entry_policy.hpp"
#include "cache/workspace_key.hpp"
#include "support/clock.hpp"

#include <boost/intrusive/list.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace glue::detail {

/// What a running flight is to the table: its entry holds it, and is never dropped while it
/// runs. The cache's flights derive from it.
struct flight_base {};

class entry_table {
public:
    using lru_hook = boost::intrusive::list_base_hook<
        boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

    struct entry : lru_hook, entry_state {
        const workspace_key* key = nullptr; // the map node's own key
        std::shared_ptr<flight_base> running;
    };

    /// The cache's counters, kept per shard so that counting takes no lock of its own.
    struct shard_counts {
        std::uint64_t misses = 0, flights = 0, waiters_joined = 0, refresh_aheads = 0,
                      remembered_error_hits = 0, invalidations_applied = 0, invalidations_noop = 0,
                      evictions = 0;
    };

    struct alignas(64) shard { // a cache line each: no false sharing between shards
        mutable std::mutex mtx;
        std::uint64_t hits = 0; // beside the mutex: a hit writes just the line it locks
        std::unordered_map<workspace_key, entry, key_hash, key_equal> entries;
        boost::intrusive::list<entry, boost::intrusive::constant_time_size<false>> lru;
        shard_counts counts;

        void touch(entry& e) { // most recently used at the front
            e.unlink();
            lru.push_front(e);
        }
    };

    /// Entries dropped, with why ("expired" or "lru"), for the cache to report outside its locks.
    using evictions = std::vector<std::pair<std::string, std::string_view>>;

    /// At most `max_entries` entries, except while all of them have a flight.
    entry_table(std::size_t max_entries, const entry_policy& policy);

    entry_table(const entry_table&) = delete;
    entry_table& operator=(const entry_table&) = delete;

    shard& shard_of(std::string_view workspace) noexcept {
        return shards_[key_hash{}(workspace) % shard_count_];
    }

    /// With `sh` (the workspace's shard) locked: its entry, or null.
    static entry* find(shard& sh, std::string_view workspace);

    /// With `sh` (the workspace's shard) locked: its entry, added if missing after making room.
    entry& find_or_add(shard& sh, std::string_view workspace, steady_time now, evictions& evicted);

    /// Calls `f(shard&)` for every shard, each under its own lock in turn.
    template <class F>
    void for_each_shard(F&& f) {
        for (std::size_t i = 0; i < shard_count_; ++i) {
            std::lock_guard lock(shards_[i].mtx);
            f(shards_[i]);
        }
    }

    /// Adds the counters of every shard, and the number of entries, to `s`.
    void add_counts(token_cache_stats& s) const;

private:
    static constexpr std::size_t max_shards = 64;

    void make_room(shard& sh, steady_time now, evictions& evicted);
    bool evict_one(shard& sh, steady_time now, evictions& evicted);
    entry* victim(shard& s, steady_time now) const;
    void drop(shard& sh, entry& e, std::string_view why, evictions& evicted);

    const entry_policy& policy_;
    const std::size_t max_entries_;
    // Small bounds get fewer shards, so that every shard holds a fair number of entries.
    const std::size_t shard_count_;
    std::array<shard, max_shards> shards_;
    // Entries in all shards together. The bound is on this, not on each shard: the hash never
    // spreads workspaces exactly evenly, and a per-shard share would start evicting before the
    // table holds max_entries. Written only when an entry comes or goes.
    std::atomic<std::size_t> total_entries_{0};
    std::atomic<std::size_t> next_sample_{0}; // where evict_one starts looking at others
};

} // namespace glue::detail

#endif
