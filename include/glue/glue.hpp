// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_GLUE_HPP
#define GLUE_GLUE_HPP

// Umbrella header: everything a user of glue::client needs.
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
