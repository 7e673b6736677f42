// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTS_RAW_HTTP_HPP
#define GLUE_TESTS_RAW_HTTP_HPP

// One plain HTTP/1.1 request to 127.0.0.1, as a browser or Glue would send it, with a bounded
// wait: for talking to servers in tests without going through glue::client. Redirects are
// returned, not followed.

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace glue::test {

/// Header fields by name, the names in lower case: HTTP names are case-insensitive, and tests
/// look them up in one spelling.
using header_map = std::map<std::string, std::string>;

/// The fields of a request or response as a header_map.
inline header_map header_map_of(const boost::beast::http::fields& fields) {
    header_map out;
    for (const auto& f : fields) {
        std::string name(f.name_string());
        for (char& c : name) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        out[name] = std::string(f.value());
    }
    return out;
}

struct raw_response {
    unsigned status = 0; ///< 0: no response (refused, reset, timed out)
    header_map headers;
    std::string body;

    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
    bool has(const std::string& name) const { return headers.contains(name); }
};

/// `method target` to 127.0.0.1:`port` with `headers` and `body`, within `limit`. Compiled once,
/// in raw_http.cpp: Beast's client code is slow to build, and several test files call it.
raw_response raw_request(std::uint16_t port, boost::beast::http::verb method, std::string target,
                         std::string body = {},
                         std::vector<std::pair<std::string, std::string>> headers = {},
                         std::chrono::milliseconds limit = std::chrono::seconds(10));

inline raw_response raw_get(std::uint16_t port, std::string target,
                            std::vector<std::pair<std::string, std::string>> headers = {}) {
    return raw_request(port, boost::beast::http::verb::get, std::move(target), {},
                       std::move(headers));
}

/// The path and query of an absolute http URL ("http://127.0.0.1:8080/a?b" → "/a?b").
inline std::string target_of(const std::string& url) {
    const std::size_t scheme = url.find("://");
    const std::size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    return slash == std::string::npos ? "/" : url.substr(slash);
}

} // namespace glue::test

#endif
