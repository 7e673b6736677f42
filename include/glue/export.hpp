// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_EXPORT_HPP
#define GLUE_EXPORT_HPP

// GLUE_DECL marks what the library exports: the public classes and functions defined in it. The
// library is compiled with hidden visibility, static or shared, so a shared libglue exports these
// and nothing else (its internals, glue::detail, stay inside), and an exported class's typeinfo
// is one across the boundary (catching glue::error works). The same attribute serves the library
// and its users, on GCC and Clang, so it needs no definition from the build.

#if defined(__GNUC__)
/// Exports a public class or function from a shared libglue (default visibility).
#define GLUE_DECL __attribute__((visibility("default")))
#else
/// Exports a public class or function from a shared libglue: nothing to mark for this compiler.
#define GLUE_DECL
#endif

#endif
