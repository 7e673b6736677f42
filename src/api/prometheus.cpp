// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/client.hpp>
#include <glue/prometheus.hpp>

#include <ostream>

namespace glue {

void write_prometheus(std::ostream& os, const client& c) {
    write_prometheus(os, c.metrics(), c.stats(), c.throttling());
}

void write_prometheus(std::ostream&, const client_metrics&, const token_cache_stats&,
                      const throttle_stats&) {}

} // namespace glue
