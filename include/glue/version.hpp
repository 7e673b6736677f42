// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_VERSION_HPP
#define GLUE_VERSION_HPP

/// \file
/// The library's version, as macros. The one place it is written: CMakeLists.txt reads it from
/// here.

/// The major version; 0: the API may still change from one minor version to the next.
#define GLUE_VERSION_MAJOR 0
/// The minor version: find_package(glue) accepts only the minor version it asks for.
#define GLUE_VERSION_MINOR 1
/// The patch version: fixes, with the same API.
#define GLUE_VERSION_PATCH 0
/// "MAJOR.MINOR.PATCH".
#define GLUE_VERSION_STRING "0.1.0"

#endif
