// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.

#include "shared_cache/redis_shared_cache.hpp"

#include "shared_cache/lua_scripts.hpp"
#include "shared_cache/redis_link.hpp"
#include "support/saturating.hpp"
#include "support/waiter.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace glue::detail {

namespace {

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;
using timed_waiter = waiter<asio::steady_timer>;

/// A stored token is taken only while it has at least this long left before its hard margin;
/// closer to it, this process refreshes it instead.
constexpr milliseconds min_shared_remaining{1000};
constexpr milliseconds first_poll{50}, max_poll{1000};

std::string random_hex(std::size_t n) {
    std::vector<unsigned char> b(n);
    if (RAND_bytes(b.data(), static_cast<int>(n)) != 1) {
        throw_error(errc::bad_response, "RAND_bytes failed", "shared cache");
    }
    constexpr std::string_view digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : b) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

// Milliseconds Redis counted (a PTTL), as a duration that steady_clock arithmetic can't
// overflow: negative is none, and none is longer than the longest token lifetime.
milliseconds redis_ms(long long n) {
    constexpr auto most = std::chrono::duration_cast<milliseconds>(max_token_lifetime).count();
    return milliseconds(std::clamp<long long>(n, 0, most));
}

// A reading of Redis's clock (ms since the epoch), kept to a range (up to the year 287,000)
// where sums and differences with the spans above can't overflow.
long long redis_time(long long t) {
    return std::clamp<long long>(t, 0, 1LL << 53);
}

// From `now` to `then` on Redis's clock, as redis_ms.
milliseconds redis_span(long long now, long long then) {
    now = redis_time(now);
    return redis_ms(then > now ? then - now : 0);
}

long long steady_ms(clock_type::time_point t) {
    return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

class redis_shared_cache final : public shared_cache,
                                 public std::enable_shared_from_this<redis_shared_cache> {
public:
    explicit redis_shared_cache(redis_shared_cache_options o)
        : opts_(std::move(o))
        , layout_(opts_.client_id)
        , lease_id_(random_hex(16)) {}

    void start(asio::any_io_executor ex) {
        std::weak_ptr<redis_shared_cache> weak = weak_from_this();
        start_deadline_ = saturating_add(clock_type::now(), opts_.timeout);
        commands_ =
            std::make_shared<redis_link>(ex, opts_.address, opts_.timeout, std::string(),
                                         redis_link::handlers{[weak] {
                                                                  if (auto self = weak.lock()) {
                                                                      self->set_up(true, {});
                                                                  }
                                                              },
                                                              [weak](std::string_view why) {
                                                                  if (auto self = weak.lock()) {
                                                                      self->set_up(false, why);
                                                                  }
                                                              },
                                                              {}});
        // Notifications only shorten waits; while this connection is down, polls still end them.
        subscriber_ =
            std::make_shared<redis_link>(ex, opts_.address, opts_.timeout, layout_.channel(),
                                         redis_link::handlers{[] {}, [](std::string_view) {},
                                                              [weak](std::string ws) {
                                                                  if (auto self = weak.lock()) {
                                                                      self->notify(ws);
                                                                  }
                                                              }});
        commands_->start();
        subscriber_->start();
    }

    ~redis_shared_cache() override { shutdown(); }

    asio::awaitable<shared_claim> claim(std::string ws, std::string replacing, bool rejected,
                                        steady_time until) override {
        shared_claim out;
        commands_->wake(); // a link that is down is tried again (after its backoff) when needed
        subscriber_->wake();
        if (!co_await available(until)) {
            co_return out;
        }
        const std::string tok = layout_.token_key(ws);
        watch w(*this, ws);
        for (auto poll = first_poll;;) {
            const auto now = clock_type::now();
            if (now >= until) {
                co_return out; // the other process took too long: request in-process
            }
            // Named, not a temporary in the co_await (GCC 12 mishandles those).
            std::vector<std::string> cmd =
                claim_command(layout_, ws, replacing, lease_id_, opts_.lease_time, rejected);
            auto r = co_await commands_->exec(std::move(cmd),
                                              std::min(until, saturating_add(now, opts_.timeout)));
            if (!r || r->type != REDIS_REPLY_ARRAY || r->elements.empty()) {
                co_return out;
            }
            const auto& e = r->elements; // as claim_command() describes
            if (e[0].integer == 2) {
                if (e.size() == 2) {
                    redis_clock_offset_ms_ =
                        redis_time(e[1].integer) - steady_ms(clock_type::now());
                }
                out.what = shared_claim::kind::lease;
                co_return out;
            }
            if (e[0].integer == 1 && e.size() == 4) {
                if (auto s = open_token(opts_.key, tok, e[1].str)) {
                    // Usable until the hard margin by Redis's TTL and by the expiry sealed in the
                    // value, both on Redis's clock: no process's own clock, so processes whose
                    // clocks differ still agree. A TTL set again, or an old value written back
                    // with a long one, gains nothing; nor does an expiry past the lifetime.
                    auto& g = s->grant;
                    const auto margin = hard_margin(g.lifetime);
                    const auto left = std::min({std::chrono::nanoseconds(redis_ms(e[2].integer)),
                                                redis_span(e[3].integer, s->expires_at_ms) - margin,
                                                g.lifetime - margin});
                    if (left >= min_shared_remaining) {
                        g.sent_at = clock_type::now() + left + margin - g.lifetime;
                        out.what = shared_claim::kind::token;
                        out.grant = std::move(g);
                        co_return out;
                    }
                }
                // Not one this process can use (another key, no sealed expiry, or too close to
                // its end): the next round takes the lease to replace it.
                replacing = e[1].str.substr(0, stamp_size);
                continue;
            }
            // Another process holds the lease: wait for its notification, polling in case it
            // is lost, never past the lease's end (its holder may have died).
            const auto lease_left =
                std::max(e.size() > 1 ? redis_ms(e[1].integer) : milliseconds(0), milliseconds(1));
            const auto next = std::min({until, now + poll, now + lease_left});
            if (!co_await w.wait(next)) {
                co_return out; // cancelled
            }
            poll = std::min(poll * 2, max_poll);
        }
    }

    asio::awaitable<std::string> publish(std::string ws, const token_grant& g) override {
        const auto usable_until = g.sent_at + g.lifetime - hard_margin(g.lifetime);
        const auto left = usable_until - clock_type::now();
        if (!is_up()) {
            co_return std::string();
        }
        if (left < min_shared_remaining) {
            co_await release(std::move(ws));
            co_return std::string();
        }
        const std::string tok = layout_.token_key(ws);
        // Its expiry on Redis's clock, as the lease's reply told it (publish follows one).
        const long long expires_at_ms = redis_clock_offset_ms_ + steady_ms(g.sent_at + g.lifetime);
        std::string sealed = seal_token(opts_.key, tok, g, expires_at_ms);
        std::string stamp = sealed.substr(0, stamp_size);
        std::vector<std::string> cmd =
            publish_command(layout_, ws, std::move(sealed), left, lease_id_);
        // The stamp whatever the reply: one that didn't come in time (or an error after the
        // SET) may still leave the value stored, and a 401 must then be able to drop it. A
        // stamp of a value never stored matches nothing.
        co_await commands_->exec(std::move(cmd), saturating_add(clock_type::now(), opts_.timeout));
        co_return stamp;
    }

    asio::awaitable<void> release(std::string ws) override {
        if (is_up()) {
            std::vector<std::string> cmd = release_command(layout_, ws, lease_id_);
            co_await commands_->exec(std::move(cmd),
                                     saturating_add(clock_type::now(), opts_.timeout));
        }
    }

    void shutdown() override {
        {
            std::lock_guard lock(mtx_);
            if (stopped_) {
                return;
            }
            stopped_ = true;
            up_ = false;
            settled_ = true;
            while (!start_waiters_.empty()) {
                start_waiters_.front().wake();
            }
        }
        if (commands_) {
            commands_->close();
            subscriber_->close();
        }
    }

private:
    // Registered while a claim waits, so that a notification that arrives between the claim's
    // script and its wait is not missed: the wait then returns at once.
    struct watch_slot {
        waiter_list<timed_waiter> waiters;
        std::uint64_t generation = 0;
        std::size_t watchers = 0;
    };

    class watch {
    public:
        // The subscriber reads while any claim is under way, and only then.
        watch(redis_shared_cache& c, const std::string& ws) : cache_(c) {
            std::lock_guard lock(cache_.watch_mtx_);
            auto it = cache_.watches_.try_emplace(ws).first;
            ws_ = &it->first;
            slot_ = &it->second;
            ++slot_->watchers;
            seen_ = slot_->generation;
            if (cache_.watchers_++ == 0) {
                cache_.subscriber_->listen(true);
            }
        }
        ~watch() {
            std::lock_guard lock(cache_.watch_mtx_);
            if (--slot_->watchers == 0) {
                cache_.watches_.erase(*ws_);
            }
            if (--cache_.watchers_ == 0) {
                cache_.subscriber_->listen(false);
            }
        }
        watch(const watch&) = delete;
        watch& operator=(const watch&) = delete;

        /// Until a notification for the workspace, or `until`; false when cancelled.
        asio::awaitable<bool> wait(steady_time until) {
            timed_waiter w(co_await asio::this_coro::executor, cache_.watch_mtx_);
            {
                std::lock_guard lock(cache_.watch_mtx_);
                if (slot_->generation != seen_) {
                    seen_ = slot_->generation;
                    co_return true;
                }
                slot_->waiters.push_back(w);
            }
            const auto ec = co_await w.wait(cache_.watch_mtx_, until);
            std::lock_guard lock(cache_.watch_mtx_);
            seen_ = slot_->generation;
            co_return ec != asio::error::operation_aborted;
        }

    private:
        redis_shared_cache& cache_;
        const std::string* ws_;
        watch_slot* slot_;
        std::uint64_t seen_;
    };

    void notify(const std::string& ws) {
        std::lock_guard lock(watch_mtx_);
        auto it = watches_.find(ws);
        if (it != watches_.end()) {
            ++it->second.generation;
            while (!it->second.waiters.empty()) {
                it->second.waiters.front().wake();
            }
        }
    }

    bool is_up() {
        std::lock_guard lock(mtx_);
        return up_;
    }

    // Up: go ahead. Down: no, at once. Not yet settled (the first connection is being made):
    // wait for it, at most until `until` or the start's own deadline.
    asio::awaitable<bool> available(steady_time until) {
        timed_waiter w(co_await asio::this_coro::executor, mtx_);
        {
            std::lock_guard lock(mtx_);
            if (settled_ || stopped_) {
                co_return up_;
            }
            start_waiters_.push_back(w);
        }
        co_await w.wait(mtx_, std::min(until, start_deadline_));
        std::lock_guard lock(mtx_);
        co_return up_;
    }

    // The command connection's state is the shared cache's. Told once per change, so an outage is
    // reported once however many commands it fails.
    void set_up(bool up, std::string_view why) {
        {
            std::lock_guard lock(mtx_);
            if (stopped_) {
                return;
            }
            const bool changed = up != up_ || !settled_;
            up_ = up;
            settled_ = true;
            while (!start_waiters_.empty()) {
                start_waiters_.front().wake();
            }
            if (!changed) {
                return;
            }
        }
        if (opts_.on_event) {
            try {
                opts_.on_event(token_event{up ? token_event::kind::shared_cache_up
                                              : token_event::kind::shared_cache_down,
                                           {},
                                           why,
                                           {}});
            } catch (...) { // a hook must not throw; if it does, the shared cache carries on
            }
        }
    }

    const redis_shared_cache_options opts_;
    const redis_layout layout_;
    const std::string lease_id_; // this process's: a lease it holds is taken again, not waited on
    // Redis's clock less steady_clock's, in ms, from the last lease's reply: publish() dates
    // what it stores on Redis's clock. Until a lease's reply has set it, what it would date is
    // long expired, which is refused by whoever reads it.
    std::atomic<long long> redis_clock_offset_ms_{0};
    std::shared_ptr<redis_link> commands_, subscriber_;

    std::mutex mtx_;
    bool up_ = false, settled_ = false, stopped_ = false;
    steady_time start_deadline_{};
    waiter_list<timed_waiter> start_waiters_;

    std::mutex watch_mtx_;
    std::unordered_map<std::string, watch_slot> watches_;
    std::size_t watchers_ = 0; // claims under way
};

} // namespace

std::shared_ptr<shared_cache> make_redis_shared_cache(asio::any_io_executor ex,
                                                      redis_shared_cache_options opts) {
    auto cache = std::make_shared<redis_shared_cache>(std::move(opts));
    cache->start(std::move(ex));
    return cache;
}

} // namespace glue::detail
