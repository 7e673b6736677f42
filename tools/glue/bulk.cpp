// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "bulk.hpp"

#include "error_class.hpp"
#include "percentile.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <exception>
#include <filesystem>
#include <sstream>
#include <unordered_set>

namespace glue::cli {

namespace asio = boost::asio;
namespace json = boost::json;
using clock_type = std::chrono::steady_clock;

namespace {

// Shared by the workers; they all run on one thread, so no locks.
struct bulk_state {
    const bulk_job& job;
    client& c;
    std::size_t next = 0, done = 0, failed = 0;
    std::vector<float> latencies_ms;
    std::map<std::string, std::size_t> errors_by_class;
    std::string line; // reused for every output line

    // Interruption: the first signal stops new calls and starts the grace period; its end or a
    // second signal cancels the calls in flight, each through its worker's slot.
    asio::signal_set signals;
    asio::steady_timer grace;
    struct worker_slot {
        asio::cancellation_signal cancel;
        bool running = true;
    };
    std::vector<worker_slot> workers;
    std::size_t running = 0;
    int signal = 0;
    bool cancelling = false;
    std::size_t cancelled = 0;

    bulk_state(asio::io_context& ioc, const bulk_job& j, client& cl, std::size_t n)
        : job(j)
        , c(cl)
        , signals(ioc, SIGINT, SIGTERM)
        , grace(ioc)
        , workers(n)
        , running(n) {}
};

// One fwrite of the whole line: a line is written whole or, if the process dies inside the
// write, cut off at the end of the file, where --resume looks for it.
void write_line(bulk_state& st, std::string_view ws, const json::value* data,
                const glue::error* e) {
    if (!st.job.out) {
        return;
    }
    json::object o;
    o["workspace"] = ws;
    o["ok"] = e == nullptr;
    if (data) {
        o["data"] = *data;
    }
    if (e) {
        json::object err{{"class", error_class(e->code())}, {"message", e->what()}};
        if (e->http_status() != 0) {
            err["http_status"] = e->http_status();
        }
        if (!e->graphql_errors().empty()) {
            json::array messages;
            for (const auto& g : e->graphql_errors()) {
                messages.emplace_back(g.message);
            }
            err["graphql_errors"] = std::move(messages);
        }
        o["error"] = std::move(err);
    }
    st.line = json::serialize(o);
    st.line += '\n';
    std::fwrite(st.line.data(), 1, st.line.size(), st.job.out);
}

asio::awaitable<void> worker(bulk_state& st) {
    const auto& job = st.job;
    while (st.signal == 0 && st.next < job.workspaces.size()) {
        const std::string& ws = job.workspaces[st.next++];
        const auto start = clock_type::now();
        try {
            graphql_request req = job.request;
            graphql_response r = co_await st.c.graphql(ws, std::move(req));
            write_line(st, ws, &r.data, nullptr);
        } catch (const glue::error& e) {
            if (st.cancelling && e.code() == asio::error::operation_aborted) {
                // Its fate is unknown: no line, so that --resume calls it again.
                ++st.cancelled;
                break;
            }
            ++st.failed;
            ++st.errors_by_class[error_class(e.code())];
            write_line(st, ws, nullptr, &e);
        }
        st.latencies_ms.push_back(
            std::chrono::duration<float, std::milli>(clock_type::now() - start).count());
        ++st.done;
    }
}

void cancel_in_flight(bulk_state& st) {
    if (st.cancelling) {
        return;
    }
    st.cancelling = true;
    for (auto& w : st.workers) {
        if (w.running) {
            w.cancel.emit(asio::cancellation_type::terminal);
        }
    }
}

const char* signal_name(int signal) {
    return signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "a signal";
}

void wait_for_signal(bulk_state& st) {
    st.signals.async_wait([&st](const error_code& ec, int signal) {
        if (ec || st.running == 0) {
            return; // the job is over
        }
        if (st.signal != 0) {
            cancel_in_flight(st);
            return;
        }
        st.signal = signal;
        const char* erase_bar = st.job.progress ? "\r\x1b[K" : "";
        const std::size_t in_flight = st.next - st.done;
        if (st.job.grace_period.count() > 0) {
            std::fprintf(stderr,
                         "%sglue: %s: no new calls; the %zu in flight have %.0f s to finish (a "
                         "second signal cancels them)\n",
                         erase_bar, signal_name(signal), in_flight,
                         std::chrono::duration<double>(st.job.grace_period).count());
            st.grace.expires_after(st.job.grace_period);
            st.grace.async_wait([&st](const error_code& timer_ec) {
                if (!timer_ec) {
                    cancel_in_flight(st);
                }
            });
        } else {
            std::fprintf(stderr, "%sglue: %s: no new calls; cancelling the %zu in flight\n",
                         erase_bar, signal_name(signal), in_flight);
            cancel_in_flight(st);
        }
        wait_for_signal(st);
    });
}

// The last worker is done: nothing may keep the io_context running.
void finish(bulk_state& st) {
    error_code ignored;
    st.signals.cancel(ignored);
    st.grace.cancel();
}

std::string rate_text(double per_s) {
    char buf[32];
    if (per_s >= 1000) {
        std::snprintf(buf, sizeof buf, "%.1fk", per_s / 1000);
    } else {
        std::snprintf(buf, sizeof buf, "%.0f", per_s);
    }
    return buf;
}

void draw_progress(const bulk_state& st, clock_type::time_point started, bool last) {
    const std::size_t total = st.job.workspaces.size();
    const double secs = std::chrono::duration<double>(clock_type::now() - started).count();
    const double rate = secs > 0 ? static_cast<double>(st.done) / secs : 0;
    constexpr int width = 20;
    const double share = total ? static_cast<double>(st.done) / static_cast<double>(total) : 1;
    const int filled = static_cast<int>(share * width);
    std::string bar(static_cast<std::size_t>(filled), '=');
    if (filled < width) {
        bar += '>';
        bar.append(static_cast<std::size_t>(width - filled - 1), ' ');
    }
    const double eta = rate > 0 ? static_cast<double>(total - st.done) / rate : 0;
    const throttle_stats t = st.c.throttling();
    std::fprintf(st.job.progress,
                 "\r%zu/%zu [%s] %3.0f%%  %s req/s (sending %s/s)  ETA %.0fs  errors %zu  "
                 "throttled %llu  retries %llu\x1b[K%s",
                 st.done, total, bar.c_str(), share * 100, rate_text(rate).c_str(),
                 rate_text(t.send_rate).c_str(), eta, st.failed,
                 static_cast<unsigned long long>(t.throttled),
                 static_cast<unsigned long long>(t.retries), last ? "\n" : "");
    std::fflush(st.job.progress);
}

asio::awaitable<void> progress_loop(bulk_state& st, clock_type::time_point started) {
    asio::steady_timer tick(co_await asio::this_coro::executor);
    while (st.running > 0) {
        draw_progress(st, started, false);
        tick.expires_after(std::chrono::milliseconds(100));
        co_await tick.async_wait(asio::use_awaitable);
    }
    draw_progress(st, started, true);
}

void rethrow_if(std::exception_ptr e) {
    if (e) {
        std::rethrow_exception(e);
    }
}

// The counters `now` has more than `before`; the current values (rates, budget) as they are.
throttle_stats since(const throttle_stats& before, throttle_stats now) {
    for (auto field :
         {&throttle_stats::requests_sent, &throttle_stats::throttled, &throttle_stats::retries,
          &throttle_stats::retries_denied, &throttle_stats::workspace_pauses,
          &throttle_stats::app_pauses, &throttle_stats::calls_failed_waiting,
          &throttle_stats::wait_ns, &throttle_stats::fleet_batches}) {
        now.*field -= std::min(now.*field, before.*field);
    }
    return now;
}

} // namespace

bulk_report run_bulk(asio::io_context& ioc, client& c, const bulk_job& job) {
    const std::size_t workers =
        std::max<std::size_t>(1, std::min(job.concurrency, job.workspaces.size()));
    bulk_state st(ioc, job, c, workers);
    st.latencies_ms.reserve(job.workspaces.size());
    const auto tokens_before = c.stats().token_requests;
    const auto throttling_before = c.throttling();
    const auto started = clock_type::now();
    wait_for_signal(st);
    for (auto& w : st.workers) {
        asio::co_spawn(
            ioc, worker(st),
            asio::bind_cancellation_slot(w.cancel.slot(), [&st, &w](std::exception_ptr e) {
                w.running = false;
                if (--st.running == 0) {
                    finish(st);
                }
                rethrow_if(e);
            }));
    }
    if (job.progress) {
        asio::co_spawn(ioc, progress_loop(st, started), rethrow_if);
    }
    ioc.restart();
    ioc.run();

    bulk_report r;
    r.calls = st.done;
    r.failed = st.failed;
    r.signal = st.signal;
    r.cancelled = st.cancelled;
    r.not_started = job.workspaces.size() - st.next;
    r.wall = clock_type::now() - started;
    r.token_requests = c.stats().token_requests - tokens_before;
    r.throttling = since(throttling_before, c.throttling());
    r.p50_ms = detail::percentile(st.latencies_ms, 0.50);
    r.p99_ms = detail::percentile(st.latencies_ms, 0.99);
    r.errors_by_class = std::move(st.errors_by_class);
    return r;
}

bool write_metrics_file(const std::string& path, const client& c) {
    std::ostringstream text;
    write_prometheus(text, c);
    const std::string body = std::move(text).str();
    const std::string tmp = path + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) {
        return false;
    }
    const bool written = std::fwrite(body.data(), 1, body.size(), f) == body.size();
    std::error_code ec;
    if (std::fclose(f) != 0 || !written) {
        std::filesystem::remove(tmp, ec);
        return false;
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::error_code ignored;
        std::filesystem::remove(tmp, ignored);
        return false;
    }
    return true;
}

void print_summary(std::FILE* to, const bulk_report& r, std::size_t workspaces,
                   const bulk_skipped& skipped) {
    const double secs = r.wall.count();
    const auto& t = r.throttling;
    std::fprintf(to,
                 "%zu requests over %zu workspaces in %.2f s: %s req/s\n"
                 "  token requests  %llu\n"
                 "  latency         p50 %.2f ms, p99 %.2f ms\n"
                 "  succeeded       %zu\n"
                 "  failed          %zu\n",
                 r.calls, workspaces, secs,
                 rate_text(secs > 0 ? static_cast<double>(r.calls) / secs : 0).c_str(),
                 static_cast<unsigned long long>(r.token_requests), r.p50_ms, r.p99_ms,
                 r.calls - r.failed, r.failed);
    for (const auto& [cls, n] : r.errors_by_class) {
        std::fprintf(to, "    %-14s %zu\n", cls.c_str(), n);
    }
    std::fprintf(
        to,
        "  throttled       %llu (429s, and 503s with Retry-After)\n"
        "  retries         %llu, %llu more denied by the retry budget\n"
        "  waited          %.2f s for pauses and rate limits, summed over calls\n",
        static_cast<unsigned long long>(t.throttled), static_cast<unsigned long long>(t.retries),
        static_cast<unsigned long long>(t.retries_denied), static_cast<double>(t.wait_ns) / 1e9);
    if (skipped.resuming) {
        std::fprintf(to, "  already done    %zu skipped (answered ok in the file resumed)\n",
                     skipped.already_done);
    }
    if (skipped.duplicates != 0) {
        std::fprintf(to, "  duplicates      %zu skipped (each workspace is called once)\n",
                     skipped.duplicates);
    }
    if (skipped.invalid != 0) {
        std::fprintf(to, "  invalid lines   %zu skipped (not UTF-8, or a control character)\n",
                     skipped.invalid);
    }
    if (r.signal != 0) {
        std::fprintf(to,
                     "  interrupted     by %s: %zu cancelled in flight, %zu not started; no "
                     "line for them (--resume calls them)\n",
                     signal_name(r.signal), r.cancelled, r.not_started);
    }
}

} // namespace glue::cli
