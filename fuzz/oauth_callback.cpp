// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The install flow's URL handling: parse_callback on any redirect target against any expected
// state, and the authorize URL's round trip for any state and scopes.
// Input: "<expected state>\n<callback target>".

#include <glue/config.hpp>
#include <glue/error.hpp>
#include <glue/oauth.hpp>

#include "fuzz_support.hpp"
#include "protocol/form.hpp"

#include <boost/url/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace oauth = glue::oauth;
using glue::errc;

namespace {

// The decoded values of `name` in the query of `target`; false when it can't be read.
bool values_of(std::string_view target, std::string_view name, std::vector<std::string>& out) {
    auto ref = boost::urls::parse_uri_reference(target);
    if (!ref) {
        return false;
    }
    auto fields = glue::detail::form_decode(ref->encoded_query());
    if (!fields) {
        return false;
    }
    for (auto& [k, v] : *fields) {
        if (k == name) {
            out.push_back(v);
        }
    }
    return true;
}

void check_callback(std::string_view expected, std::string_view target) {
    std::vector<std::string> states, codes, errors;
    const bool readable = values_of(target, "state", states) && values_of(target, "code", codes) &&
                          values_of(target, "error", errors);
    try {
        const auto r = oauth::parse_callback(target, expected);
        // Only a readable target with the one expected state, one non-empty code, no error.
        FUZZ_CHECK(readable);
        FUZZ_CHECK(states.size() == 1 && states[0] == expected);
        FUZZ_CHECK(codes.size() == 1 && codes[0] == r.code && !r.code.empty());
        FUZZ_CHECK(errors.empty());
    } catch (const glue::error& e) {
        const auto ec = e.code();
        FUZZ_CHECK(ec == errc::state_mismatch || ec == errc::authorization_denied ||
                   ec == errc::missing_code || ec == errc::invalid_argument);
        if (ec == errc::authorization_denied) {
            FUZZ_CHECK(readable && errors.size() == 1 && e.oauth_error() == errors[0]);
            FUZZ_CHECK(states.size() == 1 && states[0] == expected);
        }
        if (ec == errc::state_mismatch) {
            FUZZ_CHECK(readable && (states.size() != 1 || states[0] != expected));
        }
        // Neither the state nor the code reaches what(): it is one of the library's own texts.
        constexpr std::string_view texts[] = {"the callback target is not a URI",
                                              "the callback's query is malformed",
                                              "the callback's state is not the one sent",
                                              "the callback repeats a parameter",
                                              "the authorization server answered with an error",
                                              "the callback carries no code"};
        // What system_error appends to a context for this code, found with a marker context.
        const std::string suffix = std::string(glue::error(ec, "\x01").what()).substr(1);
        bool known = false;
        for (auto text : texts) {
            known = known || std::string_view(e.what()) ==
                                 "glue::oauth::parse_callback: " + std::string(text) + suffix;
        }
        FUZZ_CHECK(known);
    }
}

// authorize_url puts any state and scopes into a URL that reads back the same.
void check_authorize_url(std::string_view state, std::string_view scopes) {
    glue::client_config cfg;
    cfg.api_url = "https://api.gluegroups.com";
    cfg.client_id = "client";
    cfg.redirect_uri = "https://app.example.com/cb";
    oauth::authorize_params p;
    p.state = std::string(state);
    for (std::size_t at = 0; at <= scopes.size();) {
        const std::size_t end = std::min(scopes.find(' ', at), scopes.size());
        p.scopes.emplace_back(scopes.substr(at, end - at));
        at = end + 1;
    }
    std::string url;
    try {
        url = oauth::authorize_url(cfg, p);
    } catch (const glue::error& e) {
        FUZZ_CHECK(e.code() == errc::invalid_argument);
        return;
    }
    auto u = boost::urls::parse_absolute_uri(url);
    FUZZ_CHECK(u.has_value());
    FUZZ_CHECK(u->encoded_host() == "api.gluegroups.com" &&
               u->encoded_path() == "/oauth/authorize");
    std::vector<std::string> states, scope;
    FUZZ_CHECK(values_of(url, "state", states) && values_of(url, "scope", scope));
    FUZZ_CHECK(states.size() == 1 && states[0] == state);
    std::string joined;
    for (const auto& s : p.scopes) {
        joined += (joined.empty() ? "" : ",") + s;
    }
    FUZZ_CHECK(scope.size() == 1 && scope[0] == joined);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    const std::string_view expected = glue::fuzz::take_line(in);
    const std::string_view target = in;
    if (expected.empty()) {
        try {
            (void)oauth::parse_callback(target, expected);
            FUZZ_CHECK(false);
        } catch (const glue::error& e) {
            FUZZ_CHECK(e.code() == errc::invalid_argument);
        }
    } else {
        check_callback(expected, target);
    }
    check_authorize_url(expected, target.substr(0, std::min<std::size_t>(target.size(), 256)));
    return 0;
}
