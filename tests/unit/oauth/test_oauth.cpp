// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The install flow's pure parts: the authorize URL, state and PKCE, the callback, the token set
// the grants answer with, and the in-memory token store.

#include <glue/config.hpp>
#include <glue/error.hpp>
#include <glue/oauth.hpp>

#include "protocol/checks.hpp"
#include "protocol/form.hpp"
#include "protocol/http_message.hpp"
#include "protocol/token_response.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <string>

namespace {

namespace oauth = glue::oauth;
namespace gd = glue::detail;
using glue::errc;
using namespace std::chrono_literals;

glue::client_config config() {
    glue::client_config cfg;
    cfg.api_url = "https://api.gluegroups.com";
    cfg.client_id = "client-1";
    cfg.client_secret = "secret-never-in-urls";
    cfg.redirect_uri = "https://app.example.com/oauth/callback";
    return cfg;
}

// The decoded query parameters of a URL (each name once).
std::map<std::string, std::string> query_of(const std::string& url) {
    auto u = boost::urls::parse_absolute_uri(url);
    REQUIRE(u);
    auto fields = gd::form_decode(u->encoded_query());
    REQUIRE(fields.has_value());
    std::map<std::string, std::string> out;
    for (auto& [k, v] : *fields) {
        CHECK(out.count(k) == 0);
        out[k] = v;
    }
    return out;
}

// The glue::error `f` throws, or a default error_code if it throws none.
template <class F>
glue::error_code thrown(F&& f) {
    try {
        f();
    } catch (const glue::error& e) {
        return e.code();
    }
    return {};
}

bool is_base64url(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_';
    });
}

constexpr std::string_view state = "Zk3v_Q9-abcdefghijklmnopqrstuvwxyz012345678";

} // namespace

TEST_SUITE("oauth") {
    TEST_CASE("pkce_challenge matches RFC 7636 appendix B") {
        CHECK(oauth::pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") ==
              "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    TEST_CASE("pkce_challenge refuses verifiers RFC 7636 doesn't allow") {
        CHECK(thrown([] { oauth::pkce_challenge(std::string(42, 'a')); }) ==
              errc::invalid_argument);
        CHECK(thrown([] { oauth::pkce_challenge(std::string(129, 'a')); }) ==
              errc::invalid_argument);
        CHECK(thrown([] { oauth::pkce_challenge(std::string(42, 'a') + "+"); }) ==
              errc::invalid_argument);
        CHECK(thrown([] { oauth::pkce_challenge(std::string(42, 'a') + "="); }) ==
              errc::invalid_argument);
        CHECK(oauth::pkce_challenge(std::string(43, '~')).size() == 43);
        CHECK(oauth::pkce_challenge(std::string(128, '.')).size() == 43);
    }

    TEST_CASE("make_state and make_code_verifier give 256 fresh bits, URL-safe") {
        std::set<std::string> seen;
        for (int i = 0; i < 1000; ++i) {
            const std::string s = oauth::make_state();
            const std::string v = oauth::make_code_verifier();
            CHECK(s.size() == 43); // 256 bits, base64url without padding
            CHECK(v.size() == 43);
            CHECK(is_base64url(s));
            CHECK(is_base64url(v));
            CHECK(gd::is_code_verifier(v));
            seen.insert(s);
            seen.insert(v);
        }
        CHECK(seen.size() == 2000);
    }

    TEST_CASE("authorize_url carries every parameter, form-encoded") {
        const auto cfg = config();
        oauth::authorize_params p;
        p.scopes = {"workspaces:read", "threads.messages:write"};
        p.state = "a state/with+odd&chars";
        const std::string url = oauth::authorize_url(cfg, p);
        auto u = boost::urls::parse_absolute_uri(url);
        REQUIRE(u);
        CHECK(u->scheme() == "https");
        CHECK(u->encoded_host() == "api.gluegroups.com");
        CHECK(u->encoded_path() == "/oauth/authorize");
        CHECK(url.find("scope=workspaces%3Aread%2Cthreads.messages%3Awrite") != std::string::npos);
        CHECK(url.find("secret") == std::string::npos);
        const auto q = query_of(url);
        CHECK(q.at("response_type") == "code");
        CHECK(q.at("client_id") == "client-1");
        CHECK(q.at("redirect_uri") == "https://app.example.com/oauth/callback");
        CHECK(q.at("scope") == "workspaces:read,threads.messages:write");
        CHECK(q.at("state") == "a state/with+odd&chars");
        CHECK(q.count("code_challenge") == 0);
        CHECK(q.count("code_challenge_method") == 0);
        CHECK(q.size() == 5);
    }

    TEST_CASE("authorize_url with PKCE, its own redirect_uri and an api_url with a path") {
        auto cfg = config();
        cfg.api_url = "http://127.0.0.1:8443/glue/";
        oauth::authorize_params p;
        p.scopes = {"threads:read"};
        p.state = std::string(state);
        p.code_challenge = oauth::pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        p.redirect_uri = "http://localhost:3000/cb?tenant=7";
        const std::string url = oauth::authorize_url(cfg, p);
        CHECK(url.starts_with("http://127.0.0.1:8443/glue/oauth/authorize?"));
        const auto q = query_of(url);
        CHECK(q.at("code_challenge") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        CHECK(q.at("code_challenge_method") == "S256");
        CHECK(q.at("redirect_uri") == "http://localhost:3000/cb?tenant=7");
        CHECK(q.at("state") == state);
    }

    TEST_CASE("authorize_url refuses what it can't send") {
        auto check_refused = [](glue::client_config cfg, oauth::authorize_params p) {
            CHECK(thrown([&] { oauth::authorize_url(cfg, p); }) == errc::invalid_argument);
        };
        oauth::authorize_params good;
        good.scopes = {"threads:read"};
        good.state = std::string(state);
        CHECK_NOTHROW(oauth::authorize_url(config(), good));

        auto p = good;
        p.scopes.clear();
        check_refused(config(), p);
        p.scopes = {""};
        check_refused(config(), p);
        p.scopes = {"threads:read,groups:read"}; // would read as two
        check_refused(config(), p);
        p.scopes = {"threads read"};
        check_refused(config(), p);
        p = good;
        p.state.clear();
        check_refused(config(), p);
        p.state = "line\r\nbreak";
        check_refused(config(), p);
        p = good;
        p.code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URB0ozZE5uFxi"; // 42
        check_refused(config(), p);
        p.code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URB0ozZE5uFx+Q";
        check_refused(config(), p);
        p = good;
        p.redirect_uri = "/relative/callback";
        check_refused(config(), p);
        p.redirect_uri = "https://app.example.com/cb#fragment";
        check_refused(config(), p);
        auto cfg = config();
        cfg.redirect_uri.clear();
        check_refused(cfg, good);
        cfg = config();
        cfg.client_id.clear();
        check_refused(cfg, good);
        cfg = config();
        cfg.api_url = "http://glue.example.com"; // plain HTTP to a remote host
        check_refused(cfg, good);
        cfg.allow_insecure_http = true;
        CHECK_NOTHROW(oauth::authorize_url(cfg, good));
    }

    TEST_CASE("parse_callback returns the code when the state matches") {
        const std::string target =
            "/oauth/callback?code=c0de%2Bx&state=" + std::string(state) + "&iss=https%3A%2F%2Fapi";
        const auto r = oauth::parse_callback(target, state);
        CHECK(r.code == "c0de+x");
        REQUIRE(r.parameters.size() == 3);
        CHECK(r.parameters[2].first == "iss");
        CHECK(r.parameters[2].second == "https://api");
        // A full URL works too.
        CHECK(oauth::parse_callback(
                  "https://app.example.com/cb?state=" + std::string(state) + "&code=abc", state)
                  .code == "abc");
    }

    TEST_CASE("parse_callback: a state that is missing, different or repeated is a mismatch") {
        const std::string s(state);
        for (const std::string& target : std::vector<std::string>{
                 "/cb?code=abc",
                 "/cb?code=abc&state=",
                 "/cb?code=abc&state=" + s.substr(1),
                 "/cb?code=abc&state=" + s + "x",
                 "/cb?code=abc&state=" + s.substr(0, 42) + "Y",
                 "/cb?code=abc&state=" + s + "&state=" + s,
                 // A denial with the wrong state is a mismatch first: it can't be trusted.
                 "/cb?error=access_denied&state=forged",
             }) {
            CAPTURE(target);
            CHECK(thrown([&] { oauth::parse_callback(target, state); }) == errc::state_mismatch);
        }
    }

    TEST_CASE("parse_callback: a denial carries the server's error") {
        const std::string target =
            "/cb?error=access_denied&error_description=The+user+said+no&state=" +
            std::string(state);
        try {
            oauth::parse_callback(target, state);
            FAIL("no exception");
        } catch (const glue::error& e) {
            CHECK(e.code() == errc::authorization_denied);
            CHECK(e.oauth_error() == "access_denied");
            CHECK(e.oauth_error_description() == "The user said no");
            CHECK(std::string(e.what()).find("said no") == std::string::npos); // server text
            CHECK(std::string(e.what()).find(state) == std::string::npos);
        }
        // An error wins over a code sent alongside it.
        CHECK(thrown([&] {
                  oauth::parse_callback("/cb?error=server_error&code=x&state=" + std::string(state),
                                        state);
              }) == errc::authorization_denied);
    }

    TEST_CASE("parse_callback: no code, or a malformed target") {
        const std::string s(state);
        CHECK(thrown([&] { oauth::parse_callback("/cb?state=" + s, state); }) ==
              errc::missing_code);
        CHECK(thrown([&] { oauth::parse_callback("/cb?code=&state=" + s, state); }) ==
              errc::missing_code);
        CHECK(thrown([&] { oauth::parse_callback("/cb?code=a&code=b&state=" + s, state); }) ==
              errc::invalid_argument);
        CHECK(thrown([&] { oauth::parse_callback("/cb?code=a%zz&state=" + s, state); }) ==
              errc::invalid_argument);
        CHECK(thrown([&] { oauth::parse_callback("/cb?code=a b&state=" + s, state); }) ==
              errc::invalid_argument);
        CHECK(thrown([&] { oauth::parse_callback("/cb?code=a&state=" + s, ""); }) ==
              errc::invalid_argument);
    }

    TEST_CASE("parse_token_set reads RFC 6749 §5.1 answers") {
        const auto sent = std::chrono::system_clock::time_point{} + 1000h;
        gd::http_response r;
        r.status = 200;
        r.body = R"({"access_token":"at-1","token_type":"bearer","expires_in":3600,)"
                 R"("refresh_token":"rt-1","user_id":"usr_A","scope":"threads:read groups:read"})";
        auto t = gd::parse_token_set(r, 300s, sent);
        REQUIRE(t.has_value());
        CHECK(t->access_token == "at-1");
        CHECK(t->token_type == "bearer");
        CHECK(t->refresh_token == "rt-1");
        CHECK(t->user_id == "usr_A");
        CHECK(t->expires_at == sent + 3600s);
        CHECK(t->scopes == std::vector<std::string>{"threads:read", "groups:read"});

        SUBCASE("scope as a comma-separated string or an array; no expires_in or refresh") {
            r.body = R"({"access_token":"at","scope":"a,b, c"})";
            t = gd::parse_token_set(r, 300s, sent);
            REQUIRE(t.has_value());
            CHECK(t->scopes == std::vector<std::string>{"a", "b", "c"});
            CHECK(t->expires_at == sent + 300s);
            CHECK(t->refresh_token.empty());
            CHECK(t->token_type == "Bearer");
            r.body = R"({"access_token":"at","scope":["a","b c",7]})";
            t = gd::parse_token_set(r, 300s, sent);
            REQUIRE(t.has_value());
            CHECK(t->scopes == std::vector<std::string>{"a", "b", "c"});
        }
        SUBCASE("errors map as for the client-credentials grant") {
            r.status = 400;
            r.body = R"({"error":"invalid_grant","error_description":"code used"})";
            t = gd::parse_token_set(r, 300s, sent);
            REQUIRE_FALSE(t.has_value());
            CHECK(t.error().ec == errc::oauth_error);
            CHECK(t.error().diag->oauth_error == "invalid_grant");
            r.status = 200;
            r.body = R"({"token_type":"Bearer"})";
            CHECK(gd::parse_token_set(r, 300s, sent).error().ec == errc::bad_response);
            r.body = R"({"access_token":"at","token_type":"mac"})";
            CHECK(gd::parse_token_set(r, 300s, sent).error().ec == errc::bad_response);
        }
    }

    TEST_CASE("a printed token set shows no token") {
        oauth::token_set t;
        t.access_token = "glue_at_SECRETSECRETSECRET1234";
        t.refresh_token = "glue_rt_SECRETSECRETSECRET5678";
        t.user_id = "usr_A";
        t.scopes = {"threads:read"};
        std::ostringstream os;
        os << t;
        const std::string text = os.str();
        CHECK(text.find("SECRET") == std::string::npos);
        CHECK(text.find("...1234") != std::string::npos);
        CHECK(text.find("...5678") != std::string::npos);
        CHECK(text.find("usr_A") != std::string::npos);
    }

    TEST_CASE("memory_token_store keeps, replaces and forgets sets") {
        boost::asio::io_context ioc;
        oauth::memory_token_store store;
        auto run = [&](auto op) {
            auto f = boost::asio::co_spawn(ioc, std::move(op), boost::asio::use_future);
            ioc.restart();
            ioc.run();
            return f.get();
        };
        auto body = [&]() -> boost::asio::awaitable<bool> {
            oauth::token_set a;
            a.access_token = "at-a";
            co_await store.save("wks_1", a);
            a.access_token = "at-b";
            co_await store.save("wks_1", a); // replaces
            co_await store.save("wks_2", a);
            auto got = co_await store.load("wks_1");
            const bool replaced = got && got->access_token == "at-b";
            co_await store.erase("wks_1");
            co_await store.erase("wks_unknown");
            const bool gone = !(co_await store.load("wks_1"));
            co_return replaced&& gone&& store.size() == 1;
        };
        CHECK(run(body()));
    }
}
