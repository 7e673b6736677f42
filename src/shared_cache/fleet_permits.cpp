// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.

#include "shared_cache/fleet_permits.hpp"

#include "shared_cache/fleet_schedule.hpp"
#include "shared_cache/lua_scripts.hpp"
#include "shared_cache/redis_link.hpp"
#include "support/hook_gate.hpp"
#include "support/saturating.hpp"
#include "support/waiter.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace glue::detail {

namespace {

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;
using timed_waiter = waiter<asio::steady_timer>;

/// After a round trip failed, Redis is tried again no sooner than this (and only once the link
/// is connected): a Redis that answers with errors is not asked again at every call.
constexpr std::chrono::seconds redis_retry{1};

/// A take() queued for the round trip in flight; the flight fills in its outcome.
struct take_waiter : timed_waiter {
    take_waiter(const asio::any_io_executor& ex, std::mutex& owner, steady_time d)
        : timed_waiter(ex, owner)
        , deadline(d) {}
    steady_time deadline;
    std::optional<result<steady_time>> outcome;
};

/// An event decided under the lock, told after it.
struct fleet_event {
    std::optional<token_event::kind> what;
    std::string_view reason;
};

failure too_late(steady_time turn, steady_time now) {
    return make_wait_failure(errc::rate_limited, now, turn,
                             "the fleet's rate limit has no turn before the deadline");
}

failure aborted() {
    return make_failure(asio::error::operation_aborted, "the fleet's permits are shut down");
}

// Why a round trip failed, as a fleet_rate_down reason (a literal: events carry views).
std::string_view reason_of(const failure& f) {
    if (!f.message.empty()) {
        return f.message;
    }
    return f.ec == errc::timeout ? "Redis did not answer the rate script in time"
                                 : "the rate script failed";
}

class redis_fleet_permits final : public fleet_permits,
                                  public std::enable_shared_from_this<redis_fleet_permits> {
public:
    redis_fleet_permits(asio::any_io_executor ex, fleet_permit_options o)
        : opts_(std::move(o))
        , layout_(opts_.client_id)
        , ex_(std::move(ex))
        , schedule_(opts_.rate, opts_.burst, opts_.fallback_rate) {}

    // Not connected yet: the first take() connects (redis_link::wake()).
    void start() {
        std::weak_ptr<redis_fleet_permits> weak = weak_from_this();
        redis_link::handlers h{[weak] {
                                   if (auto self = weak.lock()) {
                                       self->link_changed(true, {});
                                   }
                               },
                               [weak](std::string_view why) {
                                   if (auto self = weak.lock()) {
                                       self->link_changed(false, why);
                                   }
                               },
                               {}};
        link_ = std::make_shared<redis_link>(ex_, opts_.address, opts_.timeout, std::string(),
                                             std::move(h));
    }

    ~redis_fleet_permits() override { shutdown(); }

    asio::awaitable<result<steady_time>> take(steady_time deadline) override {
        take_waiter w(co_await asio::this_coro::executor, mtx_, deadline);
        const auto step = arrive(w);
        if (step.wake_link) {
            link_->wake(); // a link that is down connects again (after its backoff) when needed
        }
        if (step.start_flight) {
            start_flight();
        }
        if (!step.queued) {
            co_return std::move(*w.outcome);
        }
        if (auto ec = co_await w.wait(mtx_, deadline)) {
            co_return make_failure(ec); // timeout: no turn known by the deadline
        }
        co_return std::move(*w.outcome);
    }

    void shutdown() override {
        {
            std::lock_guard lock(mtx_);
            if (stopped_) {
                return;
            }
            stopped_ = true;
            fail_all(aborted());
            while (!link_waiters_.empty()) {
                link_waiters_.front().wake();
            }
        }
        gate_.close(); // no event after this returns
        if (link_) {
            link_->close();
        }
    }

    fleet_permit_stats stats() const override {
        std::lock_guard lock(mtx_);
        return {batches_, fallback_};
    }

private:
    enum class link_status { unknown, ready, lost };

    struct arrival {
        bool queued = false, start_flight = false, wake_link = false;
    };

    // Under the lock: a held turn, a local one while Redis is out of reach, or the queue (and a
    // flight for it if none is under way). Queued callers are served first, in order.
    arrival arrive(take_waiter& w) {
        std::lock_guard lock(mtx_);
        arrival a;
        if (stopped_) {
            w.outcome = aborted();
            return a;
        }
        const auto now = clock_type::now();
        schedule_.note_take(now);
        if (queue_.empty()) {
            if (const auto t = schedule_.next_held(now)) {
                if (*t > w.deadline) {
                    w.outcome = too_late(*t, now); // the turn stays for the next caller
                } else {
                    schedule_.take_held();
                    w.outcome = *t;
                }
                return a;
            }
            if (fallback_ && !(link_state_ == link_status::ready && now >= retry_at_)) {
                w.outcome = local_turn(now, w.deadline);
                a.wake_link = link_state_ != link_status::ready;
                return a;
            }
        }
        queue_.push_back(w);
        a.queued = true;
        a.start_flight = !std::exchange(flight_, true);
        return a;
    }

    result<steady_time> local_turn(steady_time now, steady_time deadline) {
        const auto t = schedule_.local_next(now);
        if (t > deadline) {
            return too_late(t, now);
        }
        schedule_.local_take(now);
        return t;
    }

    void start_flight() {
        asio::co_spawn(ex_, fly(), [self = shared_from_this()](std::exception_ptr e) {
            if (e) { // e.g. bad_alloc: the callers waiting get it, the next take() flies again
                std::lock_guard lock(self->mtx_);
                self->fail_all(failure_from(e));
                self->flight_ = false;
            }
        });
    }

    // The single flight: round trips while callers are queued, each reserving a batch for them
    // and the look-ahead; a failed one hands them local turns and ends the flight.
    // (start_flight()'s handler keeps this alive until it ends.)
    asio::awaitable<void> fly() {
        for (;;) {
            fleet_event ev;
            std::optional<std::string_view> unusable;
            if (!co_await link_usable()) {
                unusable = "cannot connect to Redis";
            }
            std::vector<std::string> cmd;
            steady_time sent;
            {
                std::lock_guard lock(mtx_);
                if (stopped_ || queue_.empty()) {
                    flight_ = false;
                    co_return;
                }
                sent = clock_type::now();
                if (unusable) {
                    ev = went_down(*unusable);
                    serve_locally(sent);
                    flight_ = false;
                } else {
                    cmd = reserve_turns_command(layout_, schedule_.spacing(), schedule_.tolerance(),
                                                schedule_.batch_size(queue_length(), sent),
                                                horizon(sent));
                }
            }
            if (unusable) {
                emit(ev);
                co_return;
            }
            const auto reply =
                co_await link_->exec(std::move(cmd), saturating_add(sent, opts_.timeout));
            const auto got = clock_type::now();
            const auto parsed = reservation_of(reply);
            bool done = false;
            {
                std::lock_guard lock(mtx_);
                if (stopped_) {
                    flight_ = false;
                    co_return;
                }
                if (!parsed) {
                    ev = went_down(reason_of(parsed.error()));
                    retry_at_ = saturating_add(got, redis_retry);
                    serve_locally(got);
                    done = true;
                } else {
                    if (fallback_) {
                        fallback_ = false;
                        ev = {token_event::kind::fleet_rate_up, {}};
                    }
                    batches_ += parsed->count > 0;
                    hand_out(got, schedule_.reserved(got, *parsed));
                    done = queue_.empty();
                }
                if (done) {
                    flight_ = false;
                }
            }
            emit(ev);
            if (done) {
                co_return;
            }
        }
    }

    // Ready at once, or (never connected yet) once the first connection settles, within the
    // timeout. A link lost is not waited for: the calls go local until it is back.
    asio::awaitable<bool> link_usable() {
        timed_waiter w(co_await asio::this_coro::executor, mtx_);
        {
            std::lock_guard lock(mtx_);
            if (link_state_ != link_status::unknown || stopped_) {
                co_return link_state_ == link_status::ready;
            }
            link_waiters_.push_back(w);
        }
        link_->wake();
        co_await w.wait(mtx_, saturating_add(clock_type::now(), opts_.timeout));
        std::lock_guard lock(mtx_);
        co_return link_state_ == link_status::ready;
    }

    // The queued callers in order: each the next held turn, if before its deadline; else it
    // fails, the turn kept for the next. When no turn is held, those whose deadline comes
    // before `next` (the first turn Redis didn't reserve) fail, and the rest wait for the
    // next round trip.
    void hand_out(steady_time now, steady_time next) {
        while (!queue_.empty()) {
            auto& w = queue_.front();
            const auto t = schedule_.next_held(now);
            if (t && *t <= w.deadline) {
                schedule_.take_held();
                w.outcome = *t;
            } else if (t || next > w.deadline) {
                w.outcome = too_late(t ? *t : next, now);
            } else {
                return;
            }
            w.wake();
        }
    }

    void serve_locally(steady_time now) {
        while (!queue_.empty()) {
            auto& w = queue_.front();
            w.outcome = local_turn(now, w.deadline);
            w.wake();
        }
    }

    void fail_all(const failure& f) {
        while (!queue_.empty()) {
            auto& w = queue_.front();
            w.outcome = f;
            w.wake();
        }
    }

    std::size_t queue_length() const { return std::distance(queue_.begin(), queue_.end()); }

    // No turn later than the last queued caller's deadline is of use to anyone queued.
    std::chrono::microseconds horizon(steady_time now) const {
        steady_time last = now;
        for (const auto& w : queue_) {
            last = std::max(last, w.deadline);
        }
        return saturating_cast<std::chrono::microseconds>(last - now);
    }

    static result<fleet_reservation> reservation_of(const result<redis_reply>& r) {
        if (!r) {
            return r.error();
        }
        const auto& e = r->elements;
        if (r->type != REDIS_REPLY_ARRAY || e.size() != 3 ||
            std::any_of(e.begin(), e.end(),
                        [](const redis_reply& v) { return v.type != REDIS_REPLY_INTEGER; })) {
            return make_failure(errc::bad_response, "Redis's answer to the rate script was not "
                                                    "three integers");
        }
        return fleet_reservation{std::chrono::microseconds(e[0].integer),
                                 std::chrono::microseconds(e[1].integer), e[2].integer};
    }

    // Under the lock: the outage begins (told once, however many failures it causes).
    fleet_event went_down(std::string_view why) {
        if (fallback_) {
            return {};
        }
        fallback_ = true;
        return {token_event::kind::fleet_rate_down, why};
    }

    void link_changed(bool ready, std::string_view why) {
        fleet_event ev;
        {
            std::lock_guard lock(mtx_);
            if (stopped_) {
                return;
            }
            link_state_ = ready ? link_status::ready : link_status::lost;
            if (!ready) {
                ev = went_down(why);
            }
            while (!link_waiters_.empty()) {
                link_waiters_.front().wake();
            }
        }
        emit(ev);
    }

    void emit(const fleet_event& ev) {
        if (ev.what && opts_.on_event) {
            gate_.run([&] { opts_.on_event(token_event{*ev.what, {}, ev.reason, {}}); });
        }
    }

    const fleet_permit_options opts_;
    const redis_layout layout_;
    const asio::any_io_executor ex_;
    std::shared_ptr<redis_link> link_;
    hook_gate gate_;

    mutable std::mutex mtx_;
    fleet_schedule schedule_;
    waiter_list<take_waiter> queue_;
    waiter_list<timed_waiter> link_waiters_; // the flight, while the first connection settles
    link_status link_state_ = link_status::unknown;
    bool flight_ = false, fallback_ = false, stopped_ = false;
    steady_time retry_at_{};
    std::uint64_t batches_ = 0;
};

} // namespace

std::shared_ptr<fleet_permits> make_fleet_permits(asio::any_io_executor ex,
                                                  fleet_permit_options opts) {
    auto p = std::make_shared<redis_fleet_permits>(std::move(ex), std::move(opts));
    p->start();
    return p;
}

} // namespace glue::detail
