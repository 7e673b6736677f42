// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_VERSION_HPP
#define GLUE_VERSION_HPP

// The one place the version is written; CMakeLists.txt reads it from here.
#define GLUE_VERSION_MAJOR 0
#define GLUE_VERSION_MINOR 1
#define GLUE_VERSION_PATCH 0
#define GLUE_VERSION_STRING "0.1.0"

#endif
