// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// glue::try_decode of any JSON into described structs with every kind of member the decoder
// supports. A failure's json_path must point at the value that did not fit (or, for a missing
// member, into an object that lacks it), and its reason must not quote the JSON's strings.

#include <glue/decode.hpp>

#include "fuzz_support.hpp"

#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace fuzz_decode {

enum class color { red, green, blue };
BOOST_DESCRIBE_ENUM(color, red, green, blue)

struct leaf {
    std::int8_t i8 = 0;
    std::uint16_t u16 = 0;
    std::int64_t i64 = 0;
    std::uint64_t u64 = 0;
    float f = 0;
    double d = 0;
    bool b = false;
    color c = color::red;
};
BOOST_DESCRIBE_STRUCT(leaf, (), (i8, u16, i64, u64, f, d, b, c))

struct base {
    std::string id;
};
BOOST_DESCRIBE_STRUCT(base, (), (id))

struct node : base {
    std::optional<std::string> name;
    std::optional<leaf> leaf_;
    std::vector<node> children;
    std::map<std::string, int> counts;
    std::unordered_map<std::string, std::optional<color>> colors;
    boost::json::value any;
    std::optional<boost::json::object> object;
    std::optional<boost::json::array> array;
};
BOOST_DESCRIBE_STRUCT(node, (base), (name, leaf_, children, counts, colors, any, object, array))

struct root {
    std::optional<node> tree;
    std::vector<leaf> leaves;
    std::optional<std::vector<std::optional<std::int32_t>>> numbers;
};
BOOST_DESCRIBE_STRUCT(root, (), (tree, leaves, numbers))

} // namespace fuzz_decode

namespace {

template <class T>
void check(const boost::json::value& v, std::string_view strings) {
    glue::decode_failure f;
    const auto r = glue::try_decode<T>(v, &f);
    if (r) {
        return;
    }
    FUZZ_CHECK(r.error() == glue::errc::decode_error);
    FUZZ_CHECK(!f.reason.empty());
    // Client text only: the reason never holds a string value from the JSON (told for sure of
    // a string with a byte the library's ASCII texts never have).
    const bool marked = std::any_of(strings.begin(), strings.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x80;
    });
    if (marked) {
        FUZZ_CHECK(f.reason.find(strings) == std::string::npos);
    }
    boost::json::error_code ec;
    if (f.reason.starts_with("expected a member with this name")) {
        FUZZ_CHECK(!f.json_path.empty());
        const auto parent = f.json_path.substr(0, f.json_path.rfind('/'));
        const auto* p = v.find_pointer(parent, ec);
        FUZZ_CHECK(p && p->is_object());
    } else {
        FUZZ_CHECK(v.find_pointer(f.json_path, ec) != nullptr);
    }
}

// The longest string value in `v` (what the reason must not quote).
void longest_string(const boost::json::value& v, std::string_view& out) {
    if (const auto* s = v.if_string(); s && s->size() > out.size()) {
        out = *s;
    } else if (const auto* a = v.if_array()) {
        for (const auto& e : *a) {
            longest_string(e, out);
        }
    } else if (const auto* o = v.if_object()) {
        for (const auto& kv : *o) {
            longest_string(kv.value(), out);
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    boost::json::parse_options opts;
    opts.max_depth = 256; // as deep as a GraphQL response may be
    boost::json::error_code ec;
    const auto v = boost::json::parse(std::string_view(reinterpret_cast<const char*>(data), size),
                                      ec, {}, opts);
    if (ec) {
        return 0;
    }
    std::string_view strings;
    longest_string(v, strings);
    check<fuzz_decode::root>(v, strings);
    check<std::vector<fuzz_decode::leaf>>(v, strings);
    check<std::map<std::string, std::vector<std::optional<fuzz_decode::color>>>>(v, strings);
    return 0;
}
