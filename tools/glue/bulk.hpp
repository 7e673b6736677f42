// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TOOLS_GLUE_BULK_HPP
#define GLUE_TOOLS_GLUE_BULK_HPP

// `glue bulk` and `glue demo`: one GraphQL operation over many workspaces at a bounded
// concurrency, a result line per workspace, a progress bar, and a summary.

#include <glue/glue.hpp>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace glue::cli {

struct bulk_job {
    std::vector<std::string> workspaces; ///< one call per entry, in this order
    graphql_request request;
    std::size_t concurrency = 64;
    std::FILE* out = nullptr;      ///< a JSON line per call; null: none
    std::FILE* progress = nullptr; ///< a progress bar, redrawn in place; null: none
    /// After SIGINT or SIGTERM no call starts, and the calls in flight have this long to
    /// finish before they are cancelled (as a second signal does at once).
    std::chrono::milliseconds grace_period{std::chrono::seconds(5)};
};

struct bulk_report {
    std::size_t calls = 0, failed = 0; ///< calls that completed, each written as a line
    /// Interrupted by this signal (SIGINT, SIGTERM); 0: ran to the end.
    int signal = 0;
    std::size_t cancelled = 0;   ///< in flight when cancelled: no line written
    std::size_t not_started = 0; ///< left when the signal came: no line written
    std::uint64_t token_requests = 0;
    throttle_stats throttling; ///< what the job's calls met (the counters: the job's share)
    std::chrono::duration<double> wall{0};
    double p50_ms = 0, p99_ms = 0;
    std::map<std::string, std::size_t> errors_by_class;
};

/// Runs the job through `client` on its io_context's current thread until every call is done,
/// or until SIGINT or SIGTERM interrupts it: each call completes whole or not at all, so every
/// line written is whole.
bulk_report run_bulk(boost::asio::io_context& ioc, client& c, const bulk_job& job);

/// Workspaces of the list that the job didn't call, for the summary.
struct bulk_skipped {
    bool resuming = false;        ///< the job resumes an earlier run's file
    std::size_t already_done = 0; ///< answered ok in that file
    std::size_t duplicates = 0;   ///< listed again
    std::size_t invalid = 0;      ///< lines that can't be workspace ids
};

/// Writes the client's figures in Prometheus' text format to `path`: to `path`.tmp first,
/// renamed over `path` once whole, so that a reader never sees half of it. False if it couldn't
/// (the .tmp file is then removed).
bool write_metrics_file(const std::string& path, const client& c);

/// The summary, a few lines for humans.
void print_summary(std::FILE* to, const bulk_report& r, std::size_t workspaces,
                   const bulk_skipped& skipped = {});

} // namespace glue::cli

#endif
