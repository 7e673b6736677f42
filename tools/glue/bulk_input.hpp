// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TOOLS_GLUE_BULK_INPUT_HPP
#define GLUE_TOOLS_GLUE_BULK_INPUT_HPP

// What `glue bulk` reads before it calls anyone: the list of workspaces, and the results of an
// earlier run of the job it resumes.

#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace glue::cli {

/// The workspaces of a list, one id per line; blank lines and lines starting with `#` are
/// skipped, and spaces, tabs and CRs around an id are trimmed.
struct workspace_list {
    std::vector<std::string> ids; ///< each once, in the order first listed
    std::size_t duplicates = 0;   ///< lines repeating an id listed earlier
    /// Lines that can't be an id and can't be written as JSON text: not UTF-8, or holding a
    /// control character. Their numbers (1-based), in order.
    std::vector<std::size_t> invalid_lines;
};

workspace_list read_workspace_list(std::istream& in);

/// Whether `s` is UTF-8 (no overlong forms, surrogates or code points past U+10FFFF) without
/// control characters (C0, DEL, C1).
bool printable_utf8(std::string_view s) noexcept;

/// What an earlier run wrote to the file a job resumes: result lines, JSON objects with a
/// string "workspace" and a boolean "ok".
struct previous_results {
    std::unordered_set<std::string> succeeded; ///< workspaces some line says "ok": true for
    /// The bytes of whole lines: a killed run may have left a cut-off line after them.
    std::uintmax_t whole_lines_bytes = 0;
    /// The last line is a whole result without its newline: append one before any new line.
    bool needs_newline = false;
};

/// Reads `path`; a file that doesn't exist holds no results. A last line without its newline
/// is a cut-off line, ignored (unless it is a whole result: a cut-off line can't be one).
/// Throws std::runtime_error, saying which line, for any other line that isn't a result line
/// (not glue bulk's output: nothing should be appended to it).
previous_results read_previous_results(const std::string& path);

} // namespace glue::cli

#endif
