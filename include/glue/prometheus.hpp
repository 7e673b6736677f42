// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROMETHEUS_HPP
#define GLUE_PROMETHEUS_HPP

/// \file
/// A client's figures in the Prometheus text exposition format (version 0.0.4), for a /metrics
/// endpoint or a file a job leaves behind.

#include <glue/export.hpp>
#include <glue/metrics.hpp>

#include <iosfwd>

namespace glue {

class client;

/// Writes every figure of `c` (metrics(), stats(), throttling()) as `glue_`-prefixed metrics,
/// each with its HELP and TYPE lines; histograms with cumulative `le` buckets, `_sum` and
/// `_count`. Never a token or secret: only counts, durations and fixed label values.
GLUE_DECL void write_prometheus(std::ostream& os, const client& c);

/// The same from figures taken earlier (or from several clients, summed by the caller).
GLUE_DECL void write_prometheus(std::ostream& os, const client_metrics& m,
                                const token_cache_stats& cache, const throttle_stats& throttle);

} // namespace glue

#endif
