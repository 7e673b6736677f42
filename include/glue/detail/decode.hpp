// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_DETAIL_DECODE_HPP
#define GLUE_DETAIL_DECODE_HPP

// The machinery behind glue::decode. One function template, read(), walks the JSON value and
// the C++ type together. Failures travel as a `false` return plus a filled decode_failure, so
// try_decode throws nothing of its own; only user conversions may throw, and they are caught
// where they are called.

#include <glue/export.hpp>

#include <boost/describe/enumerators.hpp>
#include <boost/describe/members.hpp>
#include <boost/describe/modifiers.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_to.hpp>
#include <boost/mp11/algorithm.hpp>
#include <boost/system/system_error.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace glue {

struct decode_failure;

namespace detail {

/// One step from the decoded root to the value being decoded. Each lives in a decoding frame
/// on the stack and points to its parent, so a successful decode builds no path string; the
/// root has no segment (a null pointer).
struct path_segment {
    const path_segment* parent;
    std::string_view key; ///< an object member's name, unless is_index
    std::size_t index = 0;
    bool is_index = false;

    path_segment(const path_segment* up, std::string_view name) : parent(up), key(name) {}
    path_segment(const path_segment* up, std::size_t position)
        : parent(up)
        , index(position)
        , is_index(true) {}
};

// Non-template parts, compiled in src/api/decode.cpp. Each fail function fills `f` and returns
// false, so that a reader writes `return fail...(...)`. None of them puts a JSON string value
// into the reason: only expectations, kinds and limits.

/// The RFC 6901 JSON Pointer of `at` ("" for the root).
GLUE_DECL std::string json_pointer(const path_segment* at);
/// "expected <expected>, got <the kind of got>".
GLUE_DECL bool fail_expected(decode_failure& f, const path_segment* at, std::string_view expected,
                             const boost::json::value& got);
/// A number that is no integer, or one outside [min, max].
GLUE_DECL bool fail_integer(decode_failure& f, const path_segment* at, bool fractional,
                            std::intmax_t min, std::uintmax_t max);
/// A finite number beyond the range of the floating-point type named `type`.
GLUE_DECL bool fail_float_range(decode_failure& f, const path_segment* at, std::string_view type);
/// `names` lists the enumerators, quoted and comma-separated.
GLUE_DECL bool fail_enum(decode_failure& f, const path_segment* at, const std::string& names,
                         const boost::json::value& got);
/// A member that the C++ type requires and the object lacks.
GLUE_DECL bool fail_missing(decode_failure& f, const path_segment* at);
/// A user conversion that returned `ec` (or threw a system_error carrying it).
GLUE_DECL bool fail_user(decode_failure& f, const path_segment* at,
                         const boost::system::error_code& ec);
/// A user conversion that threw something else: its what() may quote the response, so only
/// the fact is reported.
GLUE_DECL bool fail_user_threw(decode_failure& f, const path_segment* at);
/// Throws glue::error (errc::decode_error) for `f`.
[[noreturn]] GLUE_DECL void throw_decode_error(const decode_failure& f);

//----------------------------------------------------------------------------------------------
// Classification. A user's tag_invoke comes first, found by argument-dependent lookup exactly
// as Boost.JSON finds it, so a type the user converts never reaches the built-in handling.

template <class T>
concept user_value_to = requires(const boost::json::value& v) {
    tag_invoke(boost::json::value_to_tag<T>(), v);
};

template <class T>
concept user_try_value_to = requires(const boost::json::value& v) {
    tag_invoke(boost::json::try_value_to_tag<T>(), v);
};

template <class T>
struct is_optional : std::false_type {};
template <class U>
struct is_optional<std::optional<U>> : std::true_type {};

// Boost.JSON declares its own tag_invoke for std::optional<U>, which the lookups above find:
// std::optional is decode's own (its U decoded by these rules, failures with their full path),
// so that overload doesn't count as the user's.
template <class T>
concept user_converted = (user_value_to<T> || user_try_value_to<T>)&&!is_optional<T>::value;

template <class T>
concept character = std::is_same_v<T, char> || std::is_same_v<T, wchar_t> ||
    std::is_same_v<T, char8_t> || std::is_same_v<T, char16_t> || std::is_same_v<T, char32_t>;

// Character types are left out: a JSON number decoded into `char` is more likely a mistake
// than a wish. signed char and unsigned char are plain small integers.
template <class T>
concept integer = std::is_integral_v<T> && !std::is_same_v<T, bool> && !character<T> &&
                  sizeof(T) <= sizeof(std::uint64_t);

template <class T>
concept described_enum = std::is_enum_v<T> && boost::describe::has_describe_enumerators<T>::value;

template <class T>
concept described_class =
    std::is_class_v<T> && !std::is_union_v<T> && boost::describe::has_describe_members<T>::value;

template <class T>
struct is_vector : std::false_type {};
template <class U, class A>
struct is_vector<std::vector<U, A>> : std::true_type {};

template <class T>
struct is_string_map : std::false_type {};
template <class U, class C, class A>
struct is_string_map<std::map<std::string, U, C, A>> : std::true_type {};
template <class U, class H, class E, class A>
struct is_string_map<std::unordered_map<std::string, U, H, E, A>> : std::true_type {};

template <class T>
inline constexpr bool unsupported = false;

//----------------------------------------------------------------------------------------------

template <class T>
bool read(const boost::json::value& v, T& out, const path_segment* at, decode_failure& f);

/// Calls the user's conversion; on failure fills `f` and returns nullopt.
template <class T>
std::optional<T> convert_user(const boost::json::value& v, const path_segment* at,
                              decode_failure& f) {
    try {
        if constexpr (user_try_value_to<T>) {
            auto r = boost::json::try_value_to<T>(v);
            if (r) {
                return std::optional<T>(std::move(*r));
            }
            fail_user(f, at, r.error());
        } else {
            // Not through try_value_to: it would turn every exception that is no system_error
            // into one vague code, and this tells the user the conversion threw.
            return std::optional<T>(boost::json::value_to<T>(v));
        }
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const boost::system::system_error& e) {
        fail_user(f, at, e.code());
    } catch (const std::exception&) {
        fail_user_threw(f, at);
    }
    return std::nullopt;
}

/// Decodes `v` into the T that `emplace(args...)` constructs (in a container, an optional) and
/// returns a reference to. A user-converted T is constructed from the conversion's result, so
/// it need not be default-constructible; any other T is default-constructed, then read in place.
template <class T, class Emplace>
bool read_emplace(const boost::json::value& v, const path_segment* at, decode_failure& f,
                  Emplace&& emplace) {
    if constexpr (user_converted<T>) {
        auto r = convert_user<T>(v, at, f);
        if (!r) {
            return false;
        }
        emplace(std::move(*r));
        return true;
    } else {
        return read(v, emplace(), at, f);
    }
}

/// Copies what one of value's if_xxx() accessors found, if anything.
template <class T, class Found>
bool read_native(const Found* found, T& out, const path_segment* at, decode_failure& f,
                 std::string_view expected, const boost::json::value& v) {
    if (!found) {
        return fail_expected(f, at, expected, v);
    }
    out = *found;
    return true;
}

template <integer T>
bool read_integer(const boost::json::value& v, T& out, const path_segment* at, decode_failure& f) {
    using limits = std::numeric_limits<T>;
    switch (v.kind()) {
    case boost::json::kind::int64:
        if (std::in_range<T>(v.get_int64())) {
            out = static_cast<T>(v.get_int64());
            return true;
        }
        break;
    case boost::json::kind::uint64:
        if (std::in_range<T>(v.get_uint64())) {
            out = static_cast<T>(v.get_uint64());
            return true;
        }
        break;
    case boost::json::kind::double_: {
        // "3.0" parses as a double; it is still the integer 3. Both bounds are powers of two,
        // so they are exact as doubles; NaN fails both comparisons.
        const double d = v.get_double();
        if (std::trunc(d) != d && std::isfinite(d)) {
            return fail_integer(f, at, true, limits::min(),
                                static_cast<std::uintmax_t>(limits::max()));
        }
        constexpr double low = static_cast<double>(limits::min());
        constexpr double high_exclusive =
            2.0 * static_cast<double>(std::uintmax_t(1) << (limits::digits - 1));
        if (d >= low && d < high_exclusive) {
            out = static_cast<T>(d);
            return true;
        }
        break;
    }
    default:
        return fail_expected(f, at, "an integer", v);
    }
    return fail_integer(f, at, false, limits::min(), static_cast<std::uintmax_t>(limits::max()));
}

template <class T>
bool read_floating(const boost::json::value& v, T& out, const path_segment* at, decode_failure& f) {
    switch (v.kind()) {
    case boost::json::kind::int64:
        out = static_cast<T>(v.get_int64());
        return true;
    case boost::json::kind::uint64:
        out = static_cast<T>(v.get_uint64());
        return true;
    case boost::json::kind::double_: {
        const double d = v.get_double();
        if constexpr (std::numeric_limits<T>::max() < std::numeric_limits<double>::max()) {
            // Converting a double beyond the target's range is undefined behaviour.
            if (std::isfinite(d) &&
                std::abs(d) > static_cast<double>(std::numeric_limits<T>::max())) {
                return fail_float_range(f, at, std::is_same_v<T, float> ? "float" : "the type");
            }
        }
        out = static_cast<T>(d);
        return true;
    }
    default:
        return fail_expected(f, at, "a number", v);
    }
}

template <described_enum E>
bool read_enum(const boost::json::value& v, E& out, const path_segment* at, decode_failure& f) {
    using enumerators = boost::describe::describe_enumerators<E>;
    if (const auto* s = v.if_string()) {
        // Compared as string_views: a name with an embedded NUL must not match a prefix.
        const std::string_view name(s->data(), s->size());
        bool found = false;
        boost::mp11::mp_for_each<enumerators>([&](auto e) {
            if (!found && name == e.name) {
                out = e.value;
                found = true;
            }
        });
        if (found) {
            return true;
        }
    }
    std::string names;
    boost::mp11::mp_for_each<enumerators>([&](auto e) {
        names += names.empty() ? "\"" : ", \"";
        names += e.name;
        names += '"';
    });
    return fail_enum(f, at, names, v);
}

template <class U>
bool read_optional(const boost::json::value& v, std::optional<U>& out, const path_segment* at,
                   decode_failure& f) {
    if (v.is_null()) {
        out.reset();
        return true;
    }
    return read_emplace<U>(v, at, f, [&](auto&&... args) -> U& {
        return out.emplace(std::forward<decltype(args)>(args)...);
    });
}

template <class U, class A>
bool read_vector(const boost::json::value& v, std::vector<U, A>& out, const path_segment* at,
                 decode_failure& f) {
    const auto* array = v.if_array();
    if (!array) {
        return fail_expected(f, at, "an array", v);
    }
    out.clear();
    out.reserve(array->size());
    for (std::size_t i = 0; i != array->size(); ++i) {
        const path_segment here(at, i);
        bool ok;
        if constexpr (std::is_same_v<U, bool>) {
            // vector<bool> hands out proxies, not bool&.
            bool b = false;
            ok = read((*array)[i], b, &here, f);
            out.push_back(b);
        } else {
            ok = read_emplace<U>((*array)[i], &here, f, [&](auto&&... args) -> U& {
                return out.emplace_back(std::forward<decltype(args)>(args)...);
            });
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

template <class Map>
bool read_map(const boost::json::value& v, Map& out, const path_segment* at, decode_failure& f) {
    using U = typename Map::mapped_type;
    const auto* object = v.if_object();
    if (!object) {
        return fail_expected(f, at, "an object", v);
    }
    out.clear();
    for (const auto& member : *object) {
        const path_segment here(at, member.key());
        const bool ok = read_emplace<U>(member.value(), &here, f, [&](auto&&... args) -> U& {
            return out.try_emplace(std::string(member.key()), std::forward<decltype(args)>(args)...)
                .first->second;
        });
        if (!ok) {
            return false;
        }
    }
    return true;
}

template <described_class T>
bool read_class(const boost::json::value& v, T& out, const path_segment* at, decode_failure& f) {
    using members = boost::describe::describe_members<T, boost::describe::mod_public |
                                                             boost::describe::mod_inherited>;
    const auto* object = v.if_object();
    if (!object) {
        return fail_expected(f, at, "an object", v);
    }
    bool ok = true;
    boost::mp11::mp_for_each<members>([&](auto m) {
        if (!ok) {
            return;
        }
        using M = std::remove_cvref_t<decltype(out.*m.pointer)>;
        const path_segment here(at, m.name);
        const auto* member = object->if_contains(m.name);
        if (!member) {
            if constexpr (is_optional<M>::value) {
                (out.*m.pointer).reset();
            } else {
                ok = fail_missing(f, &here);
            }
        } else {
            ok = read(*member, out.*m.pointer, &here, f);
        }
    });
    return ok;
}

template <class T>
bool read(const boost::json::value& v, T& out, const path_segment* at, decode_failure& f) {
    if constexpr (user_converted<T>) {
        auto r = convert_user<T>(v, at, f);
        if (!r) {
            return false;
        }
        out = std::move(*r);
        return true;
    } else if constexpr (std::is_same_v<T, boost::json::value>) {
        out = v;
        return true;
    } else if constexpr (std::is_same_v<T, boost::json::object>) {
        return read_native(v.if_object(), out, at, f, "an object", v);
    } else if constexpr (std::is_same_v<T, boost::json::array>) {
        return read_native(v.if_array(), out, at, f, "an array", v);
    } else if constexpr (std::is_same_v<T, boost::json::string>) {
        return read_native(v.if_string(), out, at, f, "a string", v);
    } else if constexpr (std::is_same_v<T, bool>) {
        return read_native(v.if_bool(), out, at, f, "a boolean", v);
    } else if constexpr (integer<T>) {
        return read_integer(v, out, at, f);
    } else if constexpr (std::is_floating_point_v<T>) {
        return read_floating(v, out, at, f);
    } else if constexpr (std::is_same_v<T, std::string>) {
        const auto* s = v.if_string();
        if (!s) {
            return fail_expected(f, at, "a string", v);
        }
        out.assign(s->data(), s->size());
        return true;
    } else if constexpr (described_enum<T>) {
        return read_enum(v, out, at, f);
    } else if constexpr (is_optional<T>::value) {
        return read_optional(v, out, at, f);
    } else if constexpr (is_vector<T>::value) {
        return read_vector(v, out, at, f);
    } else if constexpr (is_string_map<T>::value) {
        return read_map(v, out, at, f);
    } else if constexpr (described_class<T>) {
        static_assert(std::is_default_constructible_v<T>,
                      "glue::decode: a described class must be default-constructible; its "
                      "members are assigned one by one");
        return read_class(v, out, at, f);
    } else {
        static_assert(unsupported<T>,
                      "glue::decode does not support this type. Supported: bool, integers, "
                      "floating point, std::string, enums described with BOOST_DESCRIBE_ENUM, "
                      "std::optional, std::vector, std::map/unordered_map with std::string keys, "
                      "boost::json::value/object/array/string, classes described with "
                      "BOOST_DESCRIBE_STRUCT or BOOST_DESCRIBE_CLASS, and any type with a "
                      "tag_invoke(boost::json::value_to_tag<T>, const boost::json::value&) or "
                      "tag_invoke(boost::json::try_value_to_tag<T>, const boost::json::value&) "
                      "overload");
        return false;
    }
}

/// Decodes the root value into `out`, which receives the result only on success.
template <class T>
bool decode_root(const boost::json::value& v, std::optional<T>& out, decode_failure& f) {
    static_assert(!std::is_reference_v<T> && !std::is_const_v<T> && !std::is_volatile_v<T>,
                  "glue::decode: T must be a non-const, non-reference object type");
    return read_emplace<T>(v, nullptr, f, [&](auto&&... args) -> T& {
        return out.emplace(std::forward<decltype(args)>(args)...);
    });
}

} // namespace detail
} // namespace glue

#endif
