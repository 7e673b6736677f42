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
};

struct bulk_report {
    std::size_t calls = 0, failed = 0;
    std::uint64_t token_requests = 0;
    std::chrono::duration<double> wall{0};
    double p50_ms = 0, p99_ms = 0;
    std::map<std::string, std::size_t> errors_by_class;
};

/// Runs the job through `client` on its io_context's current thread until every call is done.
bulk_report run_bulk(boost::asio::io_context& ioc, client& c, const bulk_job& job);

/// The summary, a few lines for humans.
void print_summary(std::FILE* to, const bulk_report& r, std::size_t workspaces);

} // namespace glue::cli

#endif
