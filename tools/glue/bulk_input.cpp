// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "bulk_input.hpp"

#include <boost/json/parse.hpp>

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace glue::cli {

namespace json = boost::json;

workspace_list read_workspace_list(std::istream& in) {
    workspace_list out;
    std::unordered_set<std::string> seen;
    std::size_t number = 0;
    for (std::string line; std::getline(in, line);) {
        ++number;
        const auto b = line.find_first_not_of(" \t\r");
        if (b == std::string::npos || line[b] == '#') {
            continue; // blank lines and comments
        }
        const auto e = line.find_last_not_of(" \t\r");
        std::string id = line.substr(b, e - b + 1);
        if (!printable_utf8(id)) {
            // Boost.JSON would copy invalid UTF-8 into a result line as it is, and no JSON
            // reader (nor --resume) could read that line back.
            out.invalid_lines.push_back(number);
            continue;
        }
        if (!seen.insert(id).second) {
            ++out.duplicates;
            continue;
        }
        out.ids.push_back(std::move(id));
    }
    return out;
}

bool printable_utf8(std::string_view s) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* const end = p + s.size();
    while (p < end) {
        const unsigned char c = *p;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) {
                return false;
            }
            ++p;
            continue;
        }
        // The lead byte gives the length and the smallest code point that needs it.
        std::size_t n = 0;
        char32_t cp = 0, min = 0;
        if ((c & 0xe0) == 0xc0) {
            n = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false; // a continuation byte, or 0xf8 and up
        }
        if (static_cast<std::size_t>(end - p) < n) {
            return false;
        }
        for (std::size_t i = 1; i < n; ++i) {
            if ((p[i] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
            (cp >= 0x80 && cp < 0xa0)) { // C1 controls
            return false;
        }
        p += n;
    }
    return true;
}

namespace {

// The workspace of a result line, or null if the line isn't one.
const json::string* result_workspace(const json::value& v, bool& ok) {
    const auto* o = v.if_object();
    const auto* ws = o ? o->if_contains("workspace") : nullptr;
    const auto* okv = o ? o->if_contains("ok") : nullptr;
    if (!ws || !ws->is_string() || !okv || !okv->is_bool()) {
        return nullptr;
    }
    ok = okv->get_bool();
    return &ws->get_string();
}

} // namespace

previous_results read_previous_results(const std::string& path) {
    previous_results out;
    std::error_code exists_ec;
    if (!std::filesystem::exists(path, exists_ec) && !exists_ec) {
        return out;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read " + path);
    }
    std::size_t number = 0;
    for (std::string line; std::getline(in, line);) {
        ++number;
        const bool cut = in.eof(); // no newline after it: the last line, maybe cut off
        json::error_code ec;
        const json::value v = json::parse(line, ec);
        bool ok = false;
        const json::string* ws = ec ? nullptr : result_workspace(v, ok);
        if (!ws) {
            if (cut) {
                break; // what a killed run left: ignored, and cut off before appending
            }
            throw std::runtime_error(path + " line " + std::to_string(number) +
                                     " is not a result line of glue bulk; nothing was appended");
        }
        if (ok) {
            out.succeeded.emplace(ws->data(), ws->size());
        }
        out.whole_lines_bytes += line.size() + (cut ? 0 : 1);
        out.needs_newline = cut;
    }
    if (in.bad()) {
        throw std::runtime_error("cannot read " + path);
    }
    return out;
}

} // namespace glue::cli
