// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Proxies without I/O: the proxy URL, NO_PROXY's forms, and which proxy an origin takes from
// the configuration and a fake environment.

#include "protocol/proxy.hpp"
#include "protocol/url_redaction.hpp"

#include <doctest/doctest.h>

#include <map>
#include <string>

namespace proxy_test {

namespace gd = glue::detail;
using glue::errc;

gd::proxy_settings settings(std::string_view proxy, std::string_view no_proxy = {},
                            bool from_env = true, bool allow_insecure_http = false) {
    gd::proxy_settings s;
    s.proxy = proxy;
    s.no_proxy = no_proxy;
    s.from_env = from_env;
    s.allow_insecure_http = allow_insecure_http;
    return s;
}

gd::proxy_settings insecure() {
    return settings({}, {}, true, true);
}

gd::origin proxied_origin(std::string_view url, bool allow_insecure = false) {
    auto o = gd::parse_origin(url, allow_insecure);
    REQUIRE(o.has_value());
    return *o;
}

/// A fake environment.
struct fake_env {
    std::map<std::string, std::string> vars;
    const char* operator()(const char* name) const {
        auto it = vars.find(name);
        return it == vars.end() ? nullptr : it->second.c_str();
    }
};

/// The proxy's host:port an origin goes through ("" for none), or "error".
std::string chosen(std::string_view api_url, const fake_env& env,
                   gd::proxy_settings s = settings({})) {
    auto p = gd::choose_proxy(proxied_origin(api_url, s.allow_insecure_http), s, env);
    if (!p) {
        CHECK(p.error().ec == errc::invalid_argument);
        return "error";
    }
    return *p ? (*p)->authority() : std::string();
}

bool np(std::string_view list, std::string_view host, std::uint16_t port = 443) {
    return gd::no_proxy_matches(list, host, port);
}

} // namespace proxy_test

using namespace proxy_test;

TEST_SUITE("proxy") {

    TEST_CASE("a proxy URL: host, port (1080 by default), percent-decoded credentials") {
        auto p = gd::parse_proxy_url("http://proxy.example.com:3128");
        REQUIRE(p.has_value());
        CHECK(p->host == "proxy.example.com");
        CHECK(p->port == 3128);
        CHECK_FALSE(p->has_credentials());
        CHECK_FALSE(p->loopback);

        p = gd::parse_proxy_url("http://proxy.example.com");
        REQUIRE(p.has_value());
        CHECK(p->port == 1080);
        p = gd::parse_proxy_url("HTTP://proxy.example.com/");
        REQUIRE(p.has_value());
        CHECK(p->port == 1080);

        p = gd::parse_proxy_url("http://al%40ice:p%3Ass%20w@127.0.0.1:8080");
        REQUIRE(p.has_value());
        CHECK(p->user == "al@ice");
        CHECK(p->password == "p:ss w");
        CHECK(p->host_is_ip);
        CHECK(p->loopback);
        CHECK(p->authority() == "127.0.0.1:8080");

        p = gd::parse_proxy_url("http://[::1]:3128");
        REQUIRE(p.has_value());
        CHECK(p->host == "::1");
        CHECK(p->loopback);
        CHECK(p->authority() == "[::1]:3128");

        p = gd::parse_proxy_url("http://LocalHost:1");
        REQUIRE(p.has_value());
        CHECK(p->loopback);
        CHECK_FALSE(p->host_is_ip);
    }

    TEST_CASE("authority_form: host:port, an IPv6 host in brackets") {
        CHECK(gd::authority_form("api.example.com", 443) == "api.example.com:443");
        CHECK(gd::authority_form("127.0.0.1", 8443) == "127.0.0.1:8443");
        CHECK(gd::authority_form("::1", 8443) == "[::1]:8443");
        CHECK(gd::authority_form("2001:db8::1", 1) == "[2001:db8::1]:1");
    }

    TEST_CASE("a bare host[:port] is an http:// proxy, as curl takes it") {
        auto p = gd::parse_proxy_url("proxy.internal:8888");
        REQUIRE(p.has_value());
        CHECK(p->host == "proxy.internal");
        CHECK(p->port == 8888);
        p = gd::parse_proxy_url("u:pw@proxy.internal");
        REQUIRE(p.has_value());
        CHECK(p->user == "u");
        CHECK(p->password == "pw");
        CHECK(p->port == 1080);
    }

    TEST_CASE("other schemes and malformed proxy URLs are refused, without showing the URL") {
        for (const char* bad :
             {"https://proxy:443", "socks5://proxy:1080", "socks4a://proxy", "socks5h://u:pw@p",
              "ftp://proxy", "http://", "http://proxy:0", "http://proxy:65536", "http://proxy:x",
              "http://proxy/path", "http://proxy?q=1", "http://proxy#f", "http://pro xy",
              "http://127.0.0.1.example.com:1", "http://a%3Ab:pw@proxy", "http://u:p%0Aw@proxy",
              "http://u%0D:pw@proxy", ""}) {
            CAPTURE(bad);
            auto p = gd::parse_proxy_url(bad);
            REQUIRE_FALSE(p.has_value());
            CHECK(p.error().ec == errc::invalid_argument);
            CHECK(std::string(p.error().message).find("pw") == std::string::npos);
            CHECK(std::string(p.error().message).find("proxy:") == std::string::npos);
        }
        auto https = gd::parse_proxy_url("https://proxy:443");
        CHECK(std::string(https.error().message).find("https://") != std::string::npos);
        auto socks = gd::parse_proxy_url("socks5://proxy:1080");
        CHECK(std::string(socks.error().message).find("SOCKS") != std::string::npos);
    }

    TEST_CASE("Proxy-Authorization is Basic base64(user:password), only with credentials") {
        auto p = gd::parse_proxy_url("http://Aladdin:open%20sesame@proxy");
        REQUIRE(p.has_value());
        CHECK(gd::proxy_authorization(*p) == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="); // RFC 7617
        p = gd::parse_proxy_url("http://a:b@proxy");
        CHECK(gd::proxy_authorization(*p) == "Basic YTpi");
        p = gd::parse_proxy_url("http://ab:c@proxy");
        CHECK(gd::proxy_authorization(*p) == "Basic YWI6Yw==");
        p = gd::parse_proxy_url("http://user@proxy");
        CHECK(gd::proxy_authorization(*p) == "Basic dXNlcjo=");
        p = gd::parse_proxy_url("http://proxy");
        CHECK(gd::proxy_authorization(*p).empty());
    }

    TEST_CASE("NO_PROXY: names match themselves and their subdomains, with or without a dot") {
        CHECK(np("example.com", "example.com"));
        CHECK(np("example.com", "api.example.com"));
        CHECK(np("example.com", "a.b.example.com"));
        CHECK(np(".example.com", "example.com"));
        CHECK(np(".example.com", "api.example.com"));
        CHECK_FALSE(np("example.com", "badexample.com"));
        CHECK_FALSE(np(".example.com", "badexample.com"));
        CHECK_FALSE(np("example.com", "example.com.evil.net"));
        CHECK_FALSE(np("api.example.com", "example.com"));
        CHECK(np("EXAMPLE.Com", "Api.example.COM"));
        CHECK(np("example.com.", "api.example.com"));
        CHECK(np("example.com", "api.example.com."));
    }

    TEST_CASE("NO_PROXY: the list, whitespace, *, and entries that don't parse") {
        CHECK(np("*", "anything.example"));
        CHECK(np(" * ", "10.1.2.3"));
        CHECK_FALSE(np("*.example.com", "api.example.com")); // not a wildcard: ignored
        CHECK(np("other.net, example.com", "api.example.com"));
        CHECK(np("other.net,\texample.com ,", "api.example.com"));
        CHECK(np(",,  ,example.com", "example.com"));
        CHECK_FALSE(np("", "example.com"));
        CHECK_FALSE(np(" , ", "example.com"));
        // Malformed entries are skipped, the rest still count.
        CHECK(np("exa mple.com, 10.0.0.0/33, host:99999, [::1, example.com", "example.com"));
        CHECK_FALSE(np("10.0.0.0/33", "10.0.0.1"));
        CHECK_FALSE(np("10.0.0.0/x", "10.0.0.1"));
        CHECK_FALSE(np("::1/129", "::1"));
        CHECK_FALSE(np("[::1", "::1"));
        CHECK_FALSE(np("[::1]x", "::1"));
        CHECK_FALSE(np("example.com:", "example.com"));
        CHECK_FALSE(np("example.com:https", "example.com"));
    }

    TEST_CASE("NO_PROXY: IP literals match that address, names don't match addresses") {
        CHECK(np("10.1.2.3", "10.1.2.3"));
        CHECK_FALSE(np("10.1.2.3", "10.1.2.4"));
        CHECK(np("::1", "::1"));
        CHECK(np("[::1]", "::1"));
        CHECK(np("[0:0::1]", "::1")); // compared as addresses, not as text
        CHECK(np("2001:db8::1", "2001:db8:0:0:0:0:0:1"));
        CHECK_FALSE(np("::1", "127.0.0.1"));
        CHECK_FALSE(np("127.0.0.1", "::1"));
        CHECK_FALSE(np("1.2.3.4", "example.com")); // no name is looked up
        CHECK_FALSE(np("example.com", "93.184.216.34"));
        CHECK_FALSE(np("3.4", "1.2.3.4")); // an address is not a domain suffix
    }

    TEST_CASE("NO_PROXY: CIDR ranges for IPv4 and IPv6") {
        CHECK(np("10.0.0.0/8", "10.200.3.4"));
        CHECK_FALSE(np("10.0.0.0/8", "11.0.0.1"));
        CHECK(np("192.168.1.0/24", "192.168.1.255"));
        CHECK_FALSE(np("192.168.1.0/24", "192.168.2.0"));
        CHECK(np("172.16.0.0/12", "172.31.255.255"));
        CHECK_FALSE(np("172.16.0.0/12", "172.32.0.0"));
        CHECK(np("0.0.0.0/0", "8.8.8.8"));
        CHECK(np("127.0.0.1/32", "127.0.0.1"));
        CHECK_FALSE(np("127.0.0.1/32", "127.0.0.2"));
        CHECK(np("10.1.2.3/8", "10.9.9.9")); // host bits in the entry don't matter
        CHECK(np("::1/128", "::1"));
        CHECK_FALSE(np("::1/128", "::2"));
        CHECK(np("fd00::/8", "fdab:cd::1"));
        CHECK_FALSE(np("fd00::/8", "fe80::1"));
        CHECK(np("2001:db8::/33", "2001:db8:7fff::1"));
        CHECK_FALSE(np("2001:db8::/33", "2001:db8:8000::1"));
        CHECK(np("[2001:db8::]/32", "2001:db8::5"));
        CHECK_FALSE(np("10.0.0.0/8", "::ffff:10.0.0.1")); // families are never mixed
        CHECK_FALSE(np("10.0.0.0/8", "ten.example"));
    }

    TEST_CASE("NO_PROXY: an entry with a port matches that port only") {
        CHECK(np("example.com:443", "api.example.com", 443));
        CHECK_FALSE(np("example.com:443", "api.example.com", 8443));
        CHECK(np("127.0.0.1:8443", "127.0.0.1", 8443));
        CHECK_FALSE(np("127.0.0.1:8443", "127.0.0.1", 443));
        CHECK(np("[::1]:8443", "::1", 8443));
        CHECK_FALSE(np("[::1]:8443", "::1", 443));
        CHECK(np("10.0.0.0/8:8443", "10.2.3.4", 8443));
        CHECK_FALSE(np("10.0.0.0/8:8443", "10.2.3.4", 80));
    }

    TEST_CASE("choose_proxy: the environment's variables, in curl's precedence") {
        fake_env env{{{"HTTPS_PROXY", "upper:1"},
                      {"https_proxy", "lower:2"},
                      {"HTTP_PROXY", "hup:3"},
                      {"http_proxy", "hlow:4"},
                      {"ALL_PROXY", "allup:5"},
                      {"all_proxy", "alllow:6"}}};
        CHECK(chosen("https://api.example.com", env) == "lower:2");
        CHECK(chosen("http://api.example.com", env, insecure()) == "hlow:4");
        env.vars.erase("https_proxy");
        env.vars.erase("http_proxy");
        CHECK(chosen("https://api.example.com", env) == "upper:1");
        CHECK(chosen("http://api.example.com", env, insecure()) == "hup:3");
        env.vars["HTTPS_PROXY"] = ""; // set but empty counts as unset
        env.vars.erase("HTTP_PROXY");
        CHECK(chosen("https://api.example.com", env) == "alllow:6");
        CHECK(chosen("http://api.example.com", env, insecure()) == "alllow:6");
        env.vars.erase("all_proxy");
        CHECK(chosen("https://api.example.com", env) == "allup:5");
        env.vars.erase("ALL_PROXY");
        CHECK(chosen("https://api.example.com", env) == "");
        // The https variables are not for http origins, nor the other way round.
        CHECK(chosen("http://api.example.com", fake_env{{{"HTTPS_PROXY", "p:1"}}}, insecure()) ==
              "");
        CHECK(chosen("https://api.example.com", fake_env{{{"http_proxy", "p:1"}}}) == "");
    }

    TEST_CASE("choose_proxy: the environment's NO_PROXY, no_proxy first") {
        fake_env env{{{"HTTPS_PROXY", "p:1"}, {"NO_PROXY", "example.com"}}};
        CHECK(chosen("https://api.example.com", env) == "");
        CHECK(chosen("https://api.other.com", env) == "p:1");
        env.vars["no_proxy"] = "other.com";
        CHECK(chosen("https://api.example.com", env) == "p:1");
        CHECK(chosen("https://api.other.com", env) == "");
        // The configured list replaces the environment's.
        CHECK(chosen("https://api.example.com", env, settings({}, "example.com")) == "");
        CHECK(chosen("https://api.other.com", env, settings({}, "example.com")) == "p:1");
    }

    TEST_CASE("choose_proxy: loopback origins never take the environment's proxy") {
        fake_env env{{{"HTTPS_PROXY", "p:1"}, {"HTTP_PROXY", "127.0.0.1:2"}, {"ALL_PROXY", "p:3"}}};
        CHECK(chosen("https://127.0.0.1:8443", env) == "");
        CHECK(chosen("https://127.9.8.7", env) == "");
        CHECK(chosen("https://[::1]:8443", env) == "");
        CHECK(chosen("https://localhost:8443", env) == "");
        CHECK(chosen("http://127.0.0.1:8080", env) == "");
        CHECK(chosen("https://128.0.0.1", env) == "p:1");
        // An explicit proxy does apply to them, unless NO_PROXY matches.
        CHECK(chosen("https://127.0.0.1:8443", env, settings("127.0.0.1:3128")) ==
              "127.0.0.1:3128");
        CHECK(chosen("https://localhost", env, settings("127.0.0.1:3128")) == "127.0.0.1:3128");
        CHECK(chosen("https://127.0.0.1:8443", env, settings("127.0.0.1:3128", "127.0.0.0/8")) ==
              "");
    }

    TEST_CASE("choose_proxy: the configured proxy, and proxy_from_env = false") {
        fake_env env{{{"HTTPS_PROXY", "envproxy:1"}, {"NO_PROXY", "example.com"}}};
        CHECK(chosen("https://api.other.com", env, settings("mine:2")) == "mine:2");
        // NO_PROXY from the environment still applies to the configured proxy...
        CHECK(chosen("https://api.example.com", env, settings("mine:2")) == "");
        // ...unless the environment is ignored: then no variable counts.
        CHECK(chosen("https://api.example.com", env, settings("mine:2", {}, false)) == "mine:2");
        CHECK(chosen("https://api.other.com", env, settings({}, {}, false)) == "");
        CHECK(chosen("https://api.example.com", env, settings("mine:2", "*", false)) == "");
    }

    TEST_CASE("choose_proxy: a bad proxy is an error, from the configuration or the environment") {
        CHECK(chosen("https://api.example.com", {}, settings("socks5://p:1")) == "error");
        CHECK(chosen("https://api.example.com", fake_env{{{"HTTPS_PROXY", "https://p"}}}) ==
              "error");
        // Not when the origin doesn't take it.
        CHECK(chosen("https://127.0.0.1", fake_env{{{"HTTPS_PROXY", "https://p"}}}) == "");
        CHECK(chosen("https://api.example.com", {}, settings("https://p", "*")) == "");
    }

    TEST_CASE("choose_proxy: an http:// origin goes through a loopback proxy only") {
        CHECK(chosen("http://127.0.0.1:8080", {}, settings("http://127.0.0.1:3128")) ==
              "127.0.0.1:3128");
        CHECK(chosen("http://127.0.0.1:8080", {}, settings("http://proxy.corp:3128")) == "error");
        CHECK(chosen("http://127.0.0.1:8080", {},
                     settings("http://proxy.corp:3128", {}, true, true)) == "proxy.corp:3128");
        auto p = gd::choose_proxy(proxied_origin("http://127.0.0.1:8080"),
                                  settings("http://localhost:3128"), fake_env{});
        REQUIRE(p.has_value());
        REQUIRE((*p).has_value());
        CHECK((*p)->loopback_addresses_only); // a name: its addresses are checked too
        p = gd::choose_proxy(proxied_origin("https://example.com"),
                             settings("http://localhost:3128"), fake_env{});
        REQUIRE(p.has_value());
        REQUIRE((*p).has_value());
        CHECK_FALSE((*p)->loopback_addresses_only);
    }

    TEST_CASE("a proxy URL is printed without its user name and password") {
        CHECK(gd::redact_proxy_url("http://alice:s3cret@proxy:3128") ==
              "http://(redacted):(redacted)@proxy:3128");
        CHECK(gd::redact_proxy_url("alice:s3cret@proxy:3128") ==
              "http://(redacted):(redacted)@proxy:3128");
        CHECK(gd::redact_proxy_url("http://p%40ss:w%3Ard@proxy") ==
              "http://(redacted):(redacted)@proxy");
        CHECK(gd::redact_proxy_url("http://alice@proxy") == "http://(redacted)@proxy");
        CHECK(gd::redact_proxy_url("http://proxy:3128") == "http://proxy:3128");
        CHECK(gd::redact_proxy_url("proxy:3128") == "http://proxy:3128");
        CHECK(gd::redact_proxy_url("").empty());
        const auto bad = gd::redact_proxy_url("http://u:pass word@p");
        CHECK(bad.find("pass") == std::string::npos);
    }
}
