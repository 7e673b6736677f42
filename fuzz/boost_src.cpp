// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Boost.JSON compiled into the fuzzers from its headers rather than linked from the system's
// library, so that its parser carries coverage instrumentation and sanitizer checks too:
// libFuzzer then sees how far into the JSON an input got. (Boost.URL, used only by form_decode,
// is linked: compiling it in too would cost CI half a minute.)

#include <boost/json/src.hpp>
