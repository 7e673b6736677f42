// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TOOLS_GLUE_PERCENTILE_HPP
#define GLUE_TOOLS_GLUE_PERCENTILE_HPP

// Latency percentiles for the programs that report them (the glue command's bulk job, the load
// generator): nearest rank, as wrk and the peers count them.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace glue::detail {

/// The `p` quantile (0 < p <= 1) of `v` by nearest rank; 0 for no values. Reorders `v`.
inline double percentile(std::vector<float>& v, double p) {
    if (v.empty()) {
        return 0;
    }
    const auto k = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
    const auto at = v.begin() + static_cast<std::ptrdiff_t>(std::min(k, v.size() - 1));
    std::nth_element(v.begin(), at, v.end());
    return *at;
}

} // namespace glue::detail

#endif
