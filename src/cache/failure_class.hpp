// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_CACHE_FAILURE_CLASS_HPP
#define GLUE_CACHE_FAILURE_CLASS_HPP

// What the cache makes of a failed token request: retry it, remember it, pause for it.

#include "support/outcome.hpp"

namespace glue::detail {

/// How a failed token request is treated.
enum class failure_class {
    aborted,         ///< cancelled or shut down: nothing to remember
    transient,       ///< transport, timeout, 5xx, malformed body: retried, then backed off
    permanent,       ///< an OAuth error, another 4xx, a certificate refused: remembered
    rate_limited,    ///< 429: this workspace waits for Retry-After (or its backoff)
    overloaded,      ///< 503 with Retry-After: the whole endpoint waits
    client_rejected, ///< invalid_client / unauthorized_client: wrong for every workspace alike
};

failure_class classify(const failure& f) noexcept;

} // namespace glue::detail

#endif
