// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_SUPPORT_CLOCK_HPP
#define GLUE_SUPPORT_CLOCK_HPP

#include <chrono>

namespace glue::detail {

/// Deadlines and expiries are on the steady clock: a wall-clock jump moves none of them.
using steady_time = std::chrono::steady_clock::time_point;

} // namespace glue::detail

#endif
