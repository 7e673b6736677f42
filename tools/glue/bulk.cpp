// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "bulk.hpp"

#include "error_class.hpp"
#include "percentile.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cmath>
#include <exception>
#include <unordered_set>

namespace glue::cli {

namespace asio = boost::asio;
namespace json = boost::json;
using clock_type = std::chrono::steady_clock;

namespace {

// Shared by the workers; they all run on one thread, so no locks.
struct bulk_state {
    const bulk_job& job;
    std::size_t next = 0, done = 0, failed = 0;
    std::vector<float> latencies_ms;
    std::map<std::string, std::size_t> errors_by_class;
    std::string line; // reused for every output line
};

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

asio::awaitable<void> worker(client& c, bulk_state& st) {
    const auto& job = st.job;
    while (st.next < job.workspaces.size()) {
        const std::string& ws = job.workspaces[st.next++];
        const auto start = clock_type::now();
        try {
            graphql_request req = job.request;
            graphql_response r = co_await c.graphql(ws, std::move(req));
            write_line(st, ws, &r.data, nullptr);
        } catch (const glue::error& e) {
            ++st.failed;
            ++st.errors_by_class[error_class(e.code())];
            write_line(st, ws, nullptr, &e);
        }
        st.latencies_ms.push_back(
            std::chrono::duration<float, std::milli>(clock_type::now() - start).count());
        ++st.done;
    }
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
    constexpr int width = 30;
    const double share = total ? static_cast<double>(st.done) / static_cast<double>(total) : 1;
    const int filled = static_cast<int>(share * width);
    std::string bar(static_cast<std::size_t>(filled), '=');
    if (filled < width) {
        bar += '>';
        bar.append(static_cast<std::size_t>(width - filled - 1), ' ');
    }
    const double eta = rate > 0 ? static_cast<double>(total - st.done) / rate : 0;
    std::fprintf(st.job.progress, "\r%zu/%zu [%s] %3.0f%%  %s req/s  ETA %.0fs  errors %zu\x1b[K%s",
                 st.done, total, bar.c_str(), share * 100, rate_text(rate).c_str(), eta, st.failed,
                 last ? "\n" : "");
    std::fflush(st.job.progress);
}

asio::awaitable<void> progress_loop(bulk_state& st, clock_type::time_point started) {
    asio::steady_timer tick(co_await asio::this_coro::executor);
    while (st.done < st.job.workspaces.size()) {
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

} // namespace

bulk_report run_bulk(asio::io_context& ioc, client& c, const bulk_job& job) {
    bulk_state st{job, 0, 0, 0, {}, {}, {}};
    st.latencies_ms.reserve(job.workspaces.size());
    const auto tokens_before = c.stats().token_requests;
    const auto started = clock_type::now();
    const std::size_t workers =
        std::max<std::size_t>(1, std::min(job.concurrency, job.workspaces.size()));
    for (std::size_t i = 0; i < workers; ++i) {
        asio::co_spawn(ioc, worker(c, st), rethrow_if);
    }
    if (job.progress) {
        asio::co_spawn(ioc, progress_loop(st, started), rethrow_if);
    }
    ioc.restart();
    ioc.run();

    bulk_report r;
    r.calls = st.done;
    r.failed = st.failed;
    r.wall = clock_type::now() - started;
    r.token_requests = c.stats().token_requests - tokens_before;
    r.p50_ms = detail::percentile(st.latencies_ms, 0.50);
    r.p99_ms = detail::percentile(st.latencies_ms, 0.99);
    r.errors_by_class = std::move(st.errors_by_class);
    return r;
}

void print_summary(std::FILE* to, const bulk_report& r, std::size_t workspaces) {
    const double secs = r.wall.count();
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
}

} // namespace glue::cli
