// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_CLIENT_CONFIG_CHECKS_HPP
#define GLUE_CLIENT_CONFIG_CHECKS_HPP

// A client_config checked as a whole before anything is built from it, and the options of the
// parts a client is made of (token cache, shared cache, transport), derived from it.

#include <glue/config.hpp>

#include "cache/token_cache.hpp"
#include "protocol/origin.hpp"
#include "shared_cache/fleet_permits.hpp"
#include "shared_cache/redis_shared_cache.hpp"
#include "support/hook_gate.hpp"
#include "support/outcome.hpp"
#include "throttle/throttle_table.hpp"
#include "transport/http_pool.hpp"

namespace glue::detail {

/// Credentials and strings that go into headers, counts, size limits, the soft window's jitter
/// and every duration; errc::invalid_argument with what is wrong.
result<void> check_config(const client_config& cfg);

/// The shared cache's settings, checked with the rest before anything connects. A URL without
/// a key is refused: tokens are never stored in plaintext.
result<redis_shared_cache_options> shared_cache_options(const client_config& cfg);

/// The API's origin of a checked configuration (check_config, the default headers, and
/// shared_cache_options when a shared cache is configured). Throws glue::error, from "client",
/// when anything is wrong; a bad default header is named by its position and name, never its
/// value.
origin checked_origin(const client_config& cfg);

token_cache_options cache_options_of(const client_config& cfg);

/// The fleet-wide rate limit's options (fleet_rate_limit), its events through `gate`.
fleet_permit_options fleet_options_of(const client_config& cfg, std::shared_ptr<hook_gate> gate);

/// The throttle table's options (rate limits, adaptive rate, pauses) of a checked configuration.
throttle_options throttle_options_of(const client_config& cfg);

/// Includes the proxy `org` (checked_origin's) goes through, from the configuration and the
/// environment; throws glue::error, from "client", for a proxy that can't be used. The default
/// headers become header lines, the names of the headers to capture lower case.
transport_options transport_options_of(const client_config& cfg, const origin& org);

} // namespace glue::detail

#endif
