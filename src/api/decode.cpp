// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/decode.hpp>
#include <glue/error.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace glue::detail {

namespace {

// Never the value itself: it may be a secret, or text a user typed.
std::string_view kind_of(const boost::json::value& v) {
    switch (v.kind()) {
    case boost::json::kind::null:
        return "null";
    case boost::json::kind::bool_:
        return "a boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
        return "an integer";
    case boost::json::kind::double_:
        return "a number";
    case boost::json::kind::string:
        return "a string";
    case boost::json::kind::array:
        return "an array";
    case boost::json::kind::object:
        return "an object";
    }
    return "an unknown kind of value";
}

bool fail(decode_failure& f, const path_segment* at, std::string reason) {
    f.json_path = json_pointer(at);
    f.reason = std::move(reason);
    return false;
}

} // namespace

std::string json_pointer(const path_segment* at) {
    std::vector<const path_segment*> segments;
    for (; at; at = at->parent) {
        segments.push_back(at);
    }
    std::string path;
    for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
        path += '/';
        if ((*it)->is_index) {
            path += std::to_string((*it)->index);
            continue;
        }
        for (char c : (*it)->key) {
            if (c == '~') {
                path += "~0";
            } else if (c == '/') {
                path += "~1";
            } else {
                path += c;
            }
        }
    }
    return path;
}

bool fail_expected(decode_failure& f, const path_segment* at, std::string_view expected,
                   const boost::json::value& got) {
    std::string reason = "expected ";
    reason += expected;
    reason += ", got ";
    reason += kind_of(got);
    return fail(f, at, std::move(reason));
}

bool fail_integer(decode_failure& f, const path_segment* at, bool fractional, std::intmax_t min,
                  std::uintmax_t max) {
    if (fractional) {
        return fail(f, at, "expected an integer, got a number with a fractional part");
    }
    return fail(f, at,
                "expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
                    "], got one out of that range");
}

bool fail_float_range(decode_failure& f, const path_segment* at, std::string_view type) {
    std::string reason = "expected a number within the range of ";
    reason += type;
    reason += ", got one beyond it";
    return fail(f, at, std::move(reason));
}

bool fail_enum(decode_failure& f, const path_segment* at, const std::string& names,
               const boost::json::value& got) {
    // The names are the enum's own (client text); the string that matched none of them is not.
    std::string reason = names.empty() ? "expected the name of an enumerator (the enum has none)"
                                       : "expected one of " + names;
    reason += got.is_string() ? ", got another string" : ", got " + std::string(kind_of(got));
    return fail(f, at, std::move(reason));
}

bool fail_missing(decode_failure& f, const path_segment* at) {
    return fail(f, at, "expected a member with this name, but the object has none");
}

bool fail_user(decode_failure& f, const path_segment* at, const boost::system::error_code& ec) {
    return fail(f, at, "the type's tag_invoke conversion failed: " + ec.message());
}

bool fail_user_threw(decode_failure& f, const path_segment* at) {
    return fail(f, at, "the type's tag_invoke conversion threw an exception");
}

void throw_decode_error(const decode_failure& f) {
    std::string context = "glue::decode: ";
    if (!f.json_path.empty()) {
        context += f.json_path;
        context += ": ";
    }
    context += f.reason;
    auto diag = std::make_shared<diagnostics>();
    diag->json_path = f.json_path;
    throw error(make_error_code(errc::decode_error), std::move(context), std::move(diag));
}

} // namespace glue::detail
