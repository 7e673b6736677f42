// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "protocol/form.hpp"

#include <boost/url/encode.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

namespace glue::detail {

std::string form_encode(std::span<const form_field> fields) {
    boost::urls::encoding_opts opts;
    opts.space_as_plus = true;
    const auto& chars = boost::urls::unreserved_chars;
    // Sized first, then encoded in place: no temporary copy of a value (the client secret) and
    // no outgrown buffer is freed unwiped.
    std::size_t size = 0;
    for (const auto& [name, value] : fields) {
        size += boost::urls::encoded_size(name, chars, opts) +
                boost::urls::encoded_size(value, chars, opts) + 2; // '=' and '&'
    }
    std::string out(size, '\0');
    char* p = out.data();
    char* const end = p + size;
    for (const auto& [name, value] : fields) {
        if (p != out.data()) {
            *p++ = '&';
        }
        p += boost::urls::encode(p, static_cast<std::size_t>(end - p), name, chars, opts);
        *p++ = '=';
        p += boost::urls::encode(p, static_cast<std::size_t>(end - p), value, chars, opts);
    }
    out.resize(static_cast<std::size_t>(p - out.data())); // shorter: no reallocation
    return out;
}

result<std::vector<std::pair<std::string, std::string>>> form_decode(std::string_view body) {
    std::vector<std::pair<std::string, std::string>> fields;
    if (body.empty()) {
        return fields;
    }
    // Boost.URL 1.81's parse_query (under params_view too) checks the grammar on the view but
    // then takes the text to iterate from data() as a C string, measured with strlen: a view
    // with no NUL right after it is read past its end, or as more fields than it holds. A copy
    // ends with a NUL, and a NUL inside fails the grammar first.
    const std::string text(body);
    if (!boost::urls::parse_query(text)) { // checked first: the view below would throw
        return make_failure(errc::invalid_argument, "malformed form body");
    }
    boost::urls::encoding_opts opts;
    opts.space_as_plus = true;
    for (auto p : boost::urls::params_view(text, opts)) {
        fields.emplace_back(std::move(p.key), std::move(p.value));
    }
    return fields;
}

} // namespace glue::detail
