// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_DECODE_HPP
#define GLUE_DECODE_HPP

/// \file
/// Typed decoding of a GraphQL response's `data` (or any JSON value) into C++ types.
///
/// Supported types, walked recursively:
/// - bool; integers (a JSON integer, or a number with an exact integral value, that fits: no
///   wrapping, no truncation); floating point (any JSON number); std::string;
/// - enums described with BOOST_DESCRIBE_ENUM, from the enumerator's name as a JSON string;
/// - std::optional<U>: JSON null, or a missing object member, is std::nullopt;
/// - std::vector<U> from an array; std::map<std::string, U> and std::unordered_map<std::string, U>
///   from an object;
/// - boost::json::value, object, array and string, copied (all but value are type-checked);
/// - classes described with BOOST_DESCRIBE_STRUCT or BOOST_DESCRIBE_CLASS: each public member,
///   described bases' included, from the object member whose key is the member's name. A missing
///   key is an error unless the member is a std::optional; keys the class doesn't name are
///   ignored; non-public members keep their default value. The class must be default-constructible.
/// - any type with Boost.JSON's tag_invoke(boost::json::value_to_tag<T>, const boost::json::value&)
///   or tag_invoke(boost::json::try_value_to_tag<T>, const boost::json::value&), found by
///   argument-dependent lookup. It takes precedence over the built-in handling of T, and is called
///   through boost::json::try_value_to. An error it returns, or an exception derived from
///   std::exception it throws (except std::bad_alloc), is a decode failure at that value's path.
///
/// Anything else fails to compile, with a static_assert that lists the above.

#include <glue/detail/decode.hpp>
#include <glue/error.hpp>

#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <optional>
#include <string>
#include <utility>

namespace glue {

/// Where and why try_decode failed. Both strings are client-generated: no string value from the
/// JSON appears in them (object keys do appear in the path).
struct decode_failure {
    /// The JSON Pointer (RFC 6901, with ~0 and ~1 escapes) of the value that did not fit,
    /// relative to the decoded value, such as "/groups/nodes/3/name"; "" for the value itself.
    std::string json_path;
    /// What was expected and what was found, such as "expected a string, got null".
    std::string reason;
};

/// Decodes `v` into a T (see the list of supported types above).
///
/// Throws glue::error with code errc::decode_error when `v` does not fit T. Its
/// details()->json_path is decode_failure::json_path, and what() starts with
/// "glue::decode: <json_path>: <reason>" (e.g. "glue::decode: /groups/nodes/3/name: expected a
/// string, got null"; without the path part for `v` itself). std::bad_alloc propagates.
template <class T>
T decode(const boost::json::value& v) {
    std::optional<T> out;
    decode_failure failure;
    if (!detail::decode_root(v, out, failure)) {
        detail::throw_decode_error(failure);
    }
    return std::move(*out);
}

/// Decodes `v` into a T without throwing on a mismatch: returns errc::decode_error instead, and
/// then, when `failure` is not null, fills `*failure` with where and why. std::bad_alloc still
/// propagates.
template <class T>
boost::system::result<T> try_decode(const boost::json::value& v,
                                    decode_failure* failure = nullptr) {
    std::optional<T> out;
    decode_failure local;
    if (!detail::decode_root(v, out, failure ? *failure : local)) {
        return {boost::system::in_place_error, make_error_code(errc::decode_error)};
    }
    return {boost::system::in_place_value, std::move(*out)};
}

} // namespace glue

#endif
