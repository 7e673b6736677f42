// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Boost.JSON and Boost.URL compiled into the fuzzers from their headers rather than linked from
// the system's libraries, so that their parsers carry coverage instrumentation and sanitizer
// checks too: libFuzzer then sees how far into the JSON or the query string an input got.

#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
