// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_SERVE_HPP
#define GLUE_TESTING_SERVE_HPP

/// \file
/// Running the mock server in the foreground, as `glue mock-server` and glue-mock-server do.

#include <glue/testing/mock_server.hpp>

#include <iosfwd>

namespace glue::testing {

/// Prints the server's URL and the GLUE_* settings that point a client at it (its credentials
/// are test values, not secrets).
void print_settings(const mock_server& server, std::ostream& os);

/// The server's counters as one JSON line: GraphQL requests (all; admitted and refused by its
/// rate limits), token requests, connections accepted, TLS handshakes, and HTTP/2 connections
/// and streams.
void print_counters(const mock_server& server, std::ostream& os);

/// Serves until SIGINT or SIGTERM, after printing the settings to `os`; returns the exit status.
/// With `counters`, prints the counters there as it stops (print_counters()). Call before
/// starting any other thread: the signals are blocked for all threads.
int serve_until_signalled(const mock_server_options& opts, std::ostream& os,
                          std::ostream* counters = nullptr);

} // namespace glue::testing

#endif
