// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "cache/entry_table.hpp"

#include <algorithm>
#include <iterator>

namespace glue::detail {

namespace {

using entry = entry_table::entry;
using shard = entry_table::shard;

entry* oldest(shard& sh) {
    return sh.lru.empty() ? nullptr : &sh.lru.back();
}

entry* next_newer(shard& sh, entry& e) {
    auto it = sh.lru.iterator_to(e);
    return it == sh.lru.begin() ? nullptr : &*std::prev(it);
}

} // namespace

entry_table::entry_table(std::size_t max_entries, const entry_policy& policy)
    : policy_(policy)
    , max_entries_(max_entries)
    , shard_count_(std::clamp<std::size_t>(max_entries / 256, 1, max_shards)) {}

entry_table::entry* entry_table::find(shard& sh, std::string_view workspace) {
    auto it = sh.entries.find(workspace);
    return it == sh.entries.end() ? nullptr : &it->second;
}

entry_table::entry& entry_table::find_or_add(shard& sh, std::string_view workspace, steady_time now,
                                             evictions& evicted) {
    if (auto* e = find(sh, workspace)) {
        return *e;
    }
    make_room(sh, now, evicted);
    auto it = sh.entries.try_emplace(workspace_key(workspace)).first;
    it->second.key = &it->first;
    total_entries_.fetch_add(1, std::memory_order_relaxed);
    return it->second;
}

void entry_table::add_counts(token_cache_stats& s) const {
    for (std::size_t i = 0; i < shard_count_; ++i) {
        const auto& sh = shards_[i];
        std::lock_guard lock(sh.mtx);
        const auto& c = sh.counts;
        s.hits += sh.hits;
        s.misses += c.misses;
        s.flights += c.flights;
        s.waiters_joined += c.waiters_joined;
        s.refresh_aheads += c.refresh_aheads;
        s.remembered_error_hits += c.remembered_error_hits;
        s.invalidations_applied += c.invalidations_applied;
        s.invalidations_noop += c.invalidations_noop;
        s.evictions += c.evictions;
        s.entries += sh.entries.size();
    }
}

// Before adding an entry: sweep a few expired ones from this shard's least recently used end,
// then, while the table is full, evict the least recently used entry of a few shards. Entries
// with a flight are never dropped (so the bound may be passed while they all have one).
void entry_table::make_room(shard& sh, steady_time now, evictions& evicted) {
    constexpr int sweep_per_insert = 2;
    int looked = 0;
    for (entry* e = oldest(sh); e && looked < sweep_per_insert; ++looked) {
        entry* newer = next_newer(sh, *e); // taken before `e` may go
        if (entry_policy::expired(*e, e->running != nullptr, now)) {
            drop(sh, *e, "expired", evicted);
        }
        e = newer;
    }
    while (total_entries_.load(std::memory_order_relaxed) >= max_entries_ &&
           evict_one(sh, now, evicted)) {
    }
}

// Evicts the least recently used entry among this shard (locked by the caller) and up to
// `sampled_shards` others that can be locked without waiting (so shards never wait for each
// other): close to one LRU over the whole table, with no global lock, so a hot entry is not
// evicted while another shard holds long-idle ones. An entry that still remembers something (an
// error in force, a recent forced refresh) goes only when no sampled shard has one that doesn't,
// so the throttles outlive the churn of a bulk job.
bool entry_table::evict_one(shard& sh, steady_time now, evictions& evicted) {
    constexpr std::size_t sampled_shards = 3;
    shard* from = nullptr;
    entry* worst = nullptr;
    auto consider = [&](shard& s) {
        entry* e = victim(s, now);
        if (e && (!worst || std::pair(policy_.keeps_state(*e, now), e->last_used) <
                                std::pair(policy_.keeps_state(*worst, now), worst->last_used))) {
            from = &s;
            worst = e;
        }
    };
    consider(sh);
    std::array<std::unique_lock<std::mutex>, sampled_shards> held;
    const std::size_t start = next_sample_.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t i = 0, n = 0; i < shard_count_ && n < sampled_shards; ++i) {
        shard& s = shards_[(start + i) % shard_count_];
        if (&s == &sh) {
            continue;
        }
        std::unique_lock lock(s.mtx, std::try_to_lock);
        if (lock) {
            consider(s);
            held[n++] = std::move(lock);
        }
    }
    if (!worst) {
        return false;
    }
    drop(*from, *worst, "lru", evicted);
    return true;
}

// A shard's candidate: its least recently used entry without a flight, or a little newer one
// that remembers nothing.
entry_table::entry* entry_table::victim(shard& s, steady_time now) const {
    constexpr int look_further = 8;
    entry* first = nullptr;
    int looked = 0;
    for (entry* e = oldest(s); e && (!first || looked < look_further); e = next_newer(s, *e)) {
        if (e->running) {
            continue;
        }
        if (!policy_.keeps_state(*e, now)) {
            return e;
        }
        first = first ? first : e;
        ++looked;
    }
    return first;
}

void entry_table::drop(shard& sh, entry& e, std::string_view why, evictions& evicted) {
    ++sh.counts.evictions;
    total_entries_.fetch_sub(1, std::memory_order_relaxed);
    auto it = sh.entries.find(*e.key);
    evicted.emplace_back(it->first.view(), why);
    sh.entries.erase(it);
}

} // namespace glue::detail
