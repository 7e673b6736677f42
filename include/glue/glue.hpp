// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_GLUE_HPP
#define GLUE_GLUE_HPP

/// \file
/// Umbrella header: everything a user of glue::client needs.

/// \namespace glue
/// glue-cpp's API: glue::client and its configuration, errors and metrics, typed decoding,
/// pagination and Glue's operations.
/// \namespace glue::oauth
/// The authorization-code flow that installs an app into a workspace (see <glue/oauth.hpp>).
/// \namespace glue::webhook
/// Verifying and parsing the events Glue POSTs to an app (see <glue/webhook.hpp>).

#include <glue/blocking_client.hpp>
#include <glue/client.hpp>
#include <glue/config.hpp>
#include <glue/decode.hpp>
#include <glue/error.hpp>
#include <glue/metrics.hpp>
#include <glue/oauth.hpp>
#include <glue/operations.hpp>
#include <glue/pagination.hpp>
#include <glue/prometheus.hpp>
#include <glue/types.hpp>
#include <glue/version.hpp>
#include <glue/webhook.hpp>

#endif
