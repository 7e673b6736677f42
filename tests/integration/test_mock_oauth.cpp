// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The mock server's authorization-code flow (RFC 6749 §4.1, RFC 7636 PKCE, refresh with
// rotation) and its webhook emitter, checked on the wire: raw HTTP requests to the mock, and a
// small webhook receiver of the test's own on 127.0.0.1 that answers a scripted status. Over 500
// lines: one suite of many small cases, one per rule of the flow.

#include <glue/webhook.hpp>

#include "support/client_fixture.hpp"
#include "support/raw_http.hpp"
#include "support/raw_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace glue::test;
using glue::testing::mock_server;
using glue::testing::mock_server_options;

using fields = std::vector<std::pair<std::string, std::string>>;

const std::string redirect_uri = "http://localhost:8080/oauth/callback";
const std::string all_scopes = "workspaces:read,threads:read,groups:read,threads.messages:write";
// RFC 7636 appendix B (the challenge checked with `openssl dgst -sha256 -binary | base64`).
const std::string rfc_verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const std::string rfc_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

//------------------------------------------------------------------------------
// Raw HTTP to the mock

/// The body of a JSON answer.
json::object json_body(const raw_response& r) {
    return json::parse(r.body).as_object();
}

/// One request on a connection of its own, with raw_request's bounded wait.
raw_response exchange(const mock_server& server, http::verb verb, std::string target,
                      std::string body = {}, const std::string& content_type = {},
                      const std::string& bearer = {}) {
    fields headers;
    if (!content_type.empty()) {
        headers.emplace_back("Content-Type", content_type);
    }
    if (!bearer.empty()) {
        headers.emplace_back("Authorization", "Bearer " + bearer);
    }
    return raw_request(server.port(), verb, std::move(target), std::move(body), std::move(headers));
}

/// name=value&…, every byte but the unreserved ones percent-encoded.
std::string encode(const fields& f) {
    std::string out;
    for (const auto& [name, value] : f) {
        out += (out.empty() ? "" : "&") + boost::urls::encode(name, boost::urls::unreserved_chars) +
               "=" + boost::urls::encode(value, boost::urls::unreserved_chars);
    }
    return out;
}

/// The query of a URL, decoded.
std::map<std::string, std::string> query_of(const std::string& url) {
    auto u = boost::urls::parse_uri(url);
    REQUIRE(u);
    std::map<std::string, std::string> out;
    for (auto p : u->params()) {
        out[p.key] = p.value;
    }
    return out;
}

/// The usual authorization request, with `changes` replacing or adding parameters (an empty
/// value removes one).
fields authorize_params(const fields& changes = {}) {
    fields f = {{"response_type", "code"},
                {"client_id", "glue-test-client"},
                {"redirect_uri", redirect_uri},
                {"scope", all_scopes},
                {"state", "st4te-xyz"}};
    for (const auto& change : changes) {
        const std::string& name = change.first;
        const std::string& value = change.second;
        std::erase_if(f, [&](const auto& p) { return p.first == name; });
        if (!value.empty()) {
            f.emplace_back(name, value);
        }
    }
    return f;
}

raw_response authorize(const mock_server& server, const fields& params) {
    return exchange(server, http::verb::get, "/oauth/authorize?" + encode(params));
}

/// The code an approved authorization redirected with.
std::string authorized_code(const mock_server& server, const fields& changes = {}) {
    const raw_response r = authorize(server, authorize_params(changes));
    REQUIRE(r.status == 302);
    const auto q = query_of(r.header("location"));
    REQUIRE(q.contains("code"));
    return q.at("code");
}

raw_response token_request(const mock_server& server, fields f) {
    f.emplace_back("client_id", "glue-test-client");
    f.emplace_back("client_secret", "glue-test-secret");
    return exchange(server, http::verb::post, "/oauth/token", encode(f),
                    "application/x-www-form-urlencoded");
}

raw_response exchange_code(const mock_server& server, const std::string& code, fields extra = {}) {
    extra.emplace_back("grant_type", "authorization_code");
    extra.emplace_back("code", code);
    if (std::ranges::none_of(extra, [](const auto& p) { return p.first == "redirect_uri"; })) {
        extra.emplace_back("redirect_uri", redirect_uri);
    }
    return token_request(server, std::move(extra));
}

raw_response refresh(const mock_server& server, const std::string& refresh_token) {
    return token_request(server,
                         {{"grant_type", "refresh_token"}, {"refresh_token", refresh_token}});
}

/// The OAuth error of a token endpoint answer ("" when it succeeded).
std::string oauth_error(const raw_response& r) {
    return r.status == 200 ? std::string() : std::string(json_body(r).at("error").as_string());
}

raw_response graphql(const mock_server& server, const std::string& access_token,
                     const std::string& query, json::object variables = {}) {
    const json::object body{{"query", query}, {"variables", std::move(variables)}};
    return exchange(server, http::verb::post, "/public/graphql", json::serialize(body),
                    "application/json", access_token);
}

/// The app user's id according to `{ me { id } }` with this token ("" when refused).
std::string me_with(const mock_server& server, const std::string& access_token) {
    const raw_response r = graphql(server, access_token, "{ me { id } }");
    if (r.status != 200) {
        return {};
    }
    return std::string(json_body(r).at("data").at("me").at("id").as_string());
}

std::string client_credentials_token(const mock_server& server, const std::string& workspace) {
    const raw_response r = token_request(server, {{"grant_type", "client_credentials"},
                                                  {"subject", workspace},
                                                  {"redirect_uri", redirect_uri}});
    REQUIRE(r.status == 200);
    return std::string(json_body(r).at("access_token").as_string());
}

//------------------------------------------------------------------------------
// A webhook receiver

/// Answers request n with the status script[n] (the last entry once they run out). -1 holds the
/// connection: headers promising a body that never comes, so the sender waits until it gives
/// up or the receiver goes.
responder scripted(std::vector<int> script) {
    return [script = std::move(script), n = std::size_t(0)](const seen_request&) mutable {
        const int status = script[std::min(n++, script.size() - 1)];
        if (status < 0) {
            return std::string("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n");
        }
        http::response<http::string_body> res{static_cast<http::status>(status), 11};
        res.keep_alive(false);
        res.prepare_payload();
        std::ostringstream out;
        out << res;
        return out.str();
    };
}

/// A webhook receiver on 127.0.0.1: a raw_server answering a scripted status.
class webhook_receiver : public raw_server {
public:
    explicit webhook_receiver(std::vector<int> script = {200})
        : raw_server(scripted(std::move(script))) {}

    std::string url() const {
        return "http://127.0.0.1:" + std::to_string(port()) + "/hooks/glue?app=test";
    }
};

/// Options with webhooks to `to` and a fast retry schedule.
mock_server_options hooked(const webhook_receiver& to,
                           std::vector<std::chrono::milliseconds> delays = {5ms, 5ms, 5ms}) {
    mock_server_options opts;
    opts.webhook_url = to.url();
    opts.webhook_retry_delays = std::move(delays);
    return opts;
}

/// Waits until the emitter is idle and returns every attempt it made.
std::vector<glue::testing::webhook_delivery> settled(const mock_server& server) {
    REQUIRE(eventually([&] { return server.webhooks_pending() == 0; }));
    return server.webhook_deliveries();
}

/// A port where nothing listens (bound once, then released).
std::uint16_t closed_port() {
    asio::io_context ioc;
    tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

const std::string human = "usr_HumanTestUser00000000000000";

} // namespace

TEST_SUITE("mock oauth") {
    TEST_CASE("authorize: an approved request redirects with a code and the state") {
        mock_server_options opts;
        opts.redirect_uris = {redirect_uri, "http://localhost:8080/cb?app=1&x=a%20b"};
        opts.any_workspace = false; // so the install is visible
        mock_server server(opts);
        const std::string ws = opts.authorize_workspace;
        CHECK(token_request(server, {{"grant_type", "client_credentials"},
                                     {"subject", ws},
                                     {"redirect_uri", redirect_uri}})
                  .status == 400);

        const std::string state = "a b+c/=&?#%é";
        const raw_response r = authorize(server, authorize_params({{"state", state}}));
        CHECK(r.status == 302);
        const std::string location = r.header("location");
        CHECK(location.starts_with(redirect_uri + "?"));
        auto q = query_of(location);
        CHECK(q["state"] == state);
        CHECK(q["code"].size() >= 32);
        CHECK(std::ranges::all_of(q["code"], [](unsigned char c) { return std::isalnum(c); }));
        CHECK(q.size() == 2);
        CHECK(server.authorizations() == 1);
        // The workspace is installed now: client credentials work there.
        CHECK(!client_credentials_token(server, ws).empty());

        // A redirect_uri with a query of its own keeps it.
        const raw_response kept = authorize(
            server, authorize_params({{"redirect_uri", "http://localhost:8080/cb?app=1&x=a%20b"}}));
        CHECK(kept.status == 302);
        q = query_of(kept.header("location"));
        CHECK(q["app"] == "1");
        CHECK(q["x"] == "a b");
        CHECK(q["state"] == "st4te-xyz");
        CHECK(q.contains("code"));
        CHECK(server.authorizations() == 2);

        // Without a state, none comes back.
        CHECK(!query_of(authorize(server, authorize_params({{"state", ""}})).header("location"))
                   .contains("state"));
    }

    TEST_CASE("authorize: an unknown client_id or redirect_uri gets an error page, no redirect") {
        mock_server server;
        const std::vector<fields> bad = {
            {{"client_id", "someone-else"}},
            {{"client_id", ""}},
            {{"redirect_uri", ""}},
            {{"redirect_uri", "http://localhost:8080/oauth/callback/"}},
            {{"redirect_uri", "https://evil.example/oauth/callback"}},
        };
        for (const auto& changes : bad) {
            CAPTURE(encode(changes));
            const raw_response r = authorize(server, authorize_params(changes));
            CHECK(r.status == 400);
            CHECK(!r.has("location"));
            CHECK(r.header("content-type").starts_with("text/plain"));
        }
        CHECK(server.authorizations() == 0);
    }

    TEST_CASE("authorize: each refusal redirects with its error and the state") {
        mock_server server;
        const std::vector<std::pair<fields, std::string>> cases = {
            {{{"response_type", "token"}}, "unsupported_response_type"},
            {{{"response_type", ""}}, "unsupported_response_type"},
            {{{"scope", ""}}, "invalid_scope"},
            {{{"scope", "workspaces:read,admin:everything"}}, "invalid_scope"},
            {{{"scope", "workspaces:read,"}}, "invalid_scope"},
            // PKCE: plain (said, or implied by a missing method) and malformed challenges.
            {{{"code_challenge", rfc_challenge}}, "invalid_request"},
            {{{"code_challenge", rfc_challenge}, {"code_challenge_method", "plain"}},
             "invalid_request"},
            {{{"code_challenge", rfc_challenge.substr(1)}, {"code_challenge_method", "S256"}},
             "invalid_request"},
            {{{"code_challenge", rfc_challenge.substr(1) + "="}, {"code_challenge_method", "S256"}},
             "invalid_request"},
        };
        for (const auto& row : cases) {
            const auto& changes = row.first;
            const auto& error = row.second;
            CAPTURE(encode(changes));
            const raw_response r = authorize(server, authorize_params(changes));
            REQUIRE(r.status == 302);
            CHECK(r.header("location").starts_with(redirect_uri + "?"));
            auto q = query_of(r.header("location"));
            CHECK(q["error"] == error);
            CHECK(q["state"] == "st4te-xyz");
            CHECK(!q.contains("code"));
        }

        server.set_authorize_denied(true);
        auto q = query_of(authorize(server, authorize_params()).header("location"));
        CHECK(q["error"] == "access_denied");
        CHECK(!q["error_description"].empty());
        CHECK(q["state"] == "st4te-xyz");
        CHECK(!q.contains("code"));
        CHECK(server.authorizations() == 0);

        server.set_authorize_denied(false);
        CHECK(query_of(authorize(server, authorize_params()).header("location")).contains("code"));
    }

    TEST_CASE("code exchange: tokens for the app user that work on GraphQL") {
        mock_server_options opts;
        bool as_array = false;
        SUBCASE("scope as a space-separated string") {}
        SUBCASE("scope as an array") {
            as_array = true;
        }
        opts.scope_as_array = as_array;
        mock_server server(opts);
        const std::string ws = opts.authorize_workspace;
        const std::string code =
            authorized_code(server, {{"scope", "workspaces:read,threads.messages:write"}});
        const std::size_t before = server.token_requests();

        const raw_response r = exchange_code(server, code);
        REQUIRE(r.status == 200);
        CHECK(r.header("cache-control") == "no-store");
        CHECK(r.header("pragma") == "no-cache");
        CHECK(r.header("content-type") == "application/json");
        const json::object body = json_body(r);
        CHECK(body.at("token_type") == "Bearer");
        CHECK(body.at("expires_in") == 3600);
        CHECK(body.at("user_id") == json::value(server.app_user_id(ws)));
        CHECK(!body.at("refresh_token").as_string().empty());
        if (as_array) {
            CHECK(body.at("scope") == json::array{"workspaces:read", "threads.messages:write"});
        } else {
            CHECK(body.at("scope") == "workspaces:read threads.messages:write");
        }
        CHECK(server.token_requests() == before + 1);

        const std::string access = std::string(body.at("access_token").as_string());
        CHECK(me_with(server, access) == server.app_user_id(ws));
        // The same revocation as client-credentials tokens.
        server.revoke_tokens(ws);
        CHECK(me_with(server, access).empty());
    }

    TEST_CASE("code exchange: a code used twice is refused, and what it gave stops working") {
        mock_server server;
        const std::string code = authorized_code(server);
        const raw_response first = exchange_code(server, code);
        REQUIRE(first.status == 200);
        const std::string access = std::string(json_body(first).at("access_token").as_string());
        const std::string refresh_token =
            std::string(json_body(first).at("refresh_token").as_string());
        CHECK(!me_with(server, access).empty());

        const raw_response again = exchange_code(server, code);
        CHECK(again.status == 400);
        CHECK(oauth_error(again) == "invalid_grant");
        CHECK(again.header("cache-control") == "no-store");
        const std::size_t refused = server.unauthorized_responses();
        CHECK(graphql(server, access, "{ me { id } }").status == 401);
        CHECK(server.unauthorized_responses() == refused + 1);
        CHECK(oauth_error(refresh(server, refresh_token)) == "invalid_grant");
        // Other tokens of the workspace are not affected.
        const std::string other =
            client_credentials_token(server, "wks_InstalledByAuthorizeFlow000001");
        CHECK(!me_with(server, other).empty());
    }

    TEST_CASE("code exchange: a code is bound to its redirect_uri, client and lifetime") {
        mock_server_options opts;
        opts.redirect_uris = {redirect_uri, "http://localhost:9090/other"};
        SUBCASE("redirect_uri differs") {
            mock_server server(opts);
            const std::string code = authorized_code(server);
            CHECK(oauth_error(exchange_code(server, code,
                                            {{"redirect_uri", "http://localhost:9090/other"}})) ==
                  "invalid_grant");
            CHECK(oauth_error(exchange_code(server, code, {{"redirect_uri", ""}})) ==
                  "invalid_grant");
            CHECK(exchange_code(server, code).status == 200); // a failed try doesn't use it up
        }
        SUBCASE("expired") {
            opts.code_lifetime = 0s;
            mock_server server(opts);
            CHECK(oauth_error(exchange_code(server, authorized_code(server))) == "invalid_grant");
        }
        SUBCASE("unknown code") {
            mock_server server(opts);
            CHECK(oauth_error(exchange_code(server, "not-a-code")) == "invalid_grant");
            CHECK(oauth_error(exchange_code(server, "")) == "invalid_grant");
        }
        SUBCASE("wrong client secret") {
            mock_server server(opts);
            const std::string code = authorized_code(server);
            const raw_response r = exchange(server, http::verb::post, "/oauth/token",
                                            encode({{"grant_type", "authorization_code"},
                                                    {"code", code},
                                                    {"redirect_uri", redirect_uri},
                                                    {"client_id", "glue-test-client"},
                                                    {"client_secret", "wrong"}}),
                                            "application/x-www-form-urlencoded");
            CHECK(r.status == 401);
            CHECK(oauth_error(r) == "invalid_client");
            CHECK(exchange_code(server, code).status == 200);
        }
    }

    TEST_CASE("code exchange: PKCE S256 (RFC 7636 appendix B)") {
        mock_server server;
        const fields s256 = {{"code_challenge", rfc_challenge}, {"code_challenge_method", "S256"}};
        const std::string code = authorized_code(server, s256);
        CHECK(oauth_error(exchange_code(server, code)) == "invalid_grant"); // no verifier
        std::string wrong = rfc_verifier;
        wrong.back() = 'Y';
        CHECK(oauth_error(exchange_code(server, code, {{"code_verifier", wrong}})) ==
              "invalid_grant");
        CHECK(oauth_error(exchange_code(server, code, {{"code_verifier", rfc_challenge}})) ==
              "invalid_grant"); // the challenge itself is no verifier
        CHECK(oauth_error(exchange_code(server, code, {{"code_verifier", "short"}})) ==
              "invalid_grant");
        const raw_response ok = exchange_code(server, code, {{"code_verifier", rfc_verifier}});
        CAPTURE(ok.body);
        REQUIRE(ok.status == 200);
        CHECK(!me_with(server, std::string(json_body(ok).at("access_token").as_string())).empty());

        // A verifier for an authorization that had no challenge.
        CHECK(oauth_error(exchange_code(server, authorized_code(server),
                                        {{"code_verifier", rfc_verifier}})) == "invalid_grant");
    }

    TEST_CASE("refresh: a new access token and a new refresh token; the old one stops working") {
        mock_server server;
        const std::string ws = "wks_InstalledByAuthorizeFlow000001";
        const raw_response first = exchange_code(server, authorized_code(server));
        REQUIRE(first.status == 200);
        const std::string r1 = std::string(json_body(first).at("refresh_token").as_string());

        const raw_response second = refresh(server, r1);
        REQUIRE(second.status == 200);
        CHECK(second.header("cache-control") == "no-store");
        const json::object body = json_body(second);
        const std::string r2 = std::string(body.at("refresh_token").as_string());
        CHECK(r2 != r1);
        CHECK(body.at("access_token") != json_body(first).at("access_token"));
        CHECK(body.at("scope") == json_body(first).at("scope"));
        CHECK(body.at("user_id") == json::value(server.app_user_id(ws)));
        CHECK(body.at("token_type") == "Bearer");
        CHECK(me_with(server, std::string(body.at("access_token").as_string())) ==
              server.app_user_id(ws));

        CHECK(oauth_error(refresh(server, r1)) == "invalid_grant");
        const raw_response third = refresh(server, r2);
        CHECK(third.status == 200);
        CHECK(oauth_error(refresh(server, r2)) == "invalid_grant");
        CHECK(oauth_error(refresh(server, "glue_rt_unknown")) == "invalid_grant");
        CHECK(oauth_error(token_request(server, {{"grant_type", "password"}})) ==
              "unsupported_grant_type");
    }

    TEST_CASE("webhooks: post_message sends a signed message.created") {
        webhook_receiver receiver;
        mock_server server(hooked(receiver));
        const std::string thread = server.create_thread(ws, "Support", "first");
        REQUIRE(eventually([&] { return receiver.requests().size() == 1; }));
        const std::string id = server.post_message(ws, thread, "Hello, **bot**");
        const auto deliveries = settled(server);
        REQUIRE(deliveries.size() == 2);
        REQUIRE(receiver.requests().size() == 2);

        const seen_request got = receiver.requests().back();
        CHECK(got.target == "/hooks/glue?app=test");
        CHECK(got.headers.at("content-type") == "application/json");
        CHECK(got.headers.at("user-agent") == "Glue-Mock-Webhooks");
        const std::string signature = got.headers.at("x-glue-event-signature");
        CHECK(glue::webhook::verify(got.body, signature, "glue-test-webhook-secret"));
        CHECK(!glue::webhook::verify(got.body, signature, "another-secret"));
        CHECK(signature == glue::webhook::sign(got.body, "glue-test-webhook-secret"));

        const auto e = glue::webhook::parse(got.body);
        CHECK(e.type == glue::webhook::event_type::message_created);
        CHECK(e.workspace_id == ws);
        REQUIRE(e.message);
        CHECK(e.message->id == id);
        CHECK(e.message->text == "Hello, **bot**");
        CHECK(!e.message->created_at.empty());
        CHECK(e.message->user.id == human);
        CHECK(e.message->user.name == "Test Human");
        REQUIRE(e.thread);
        CHECK(e.thread->id == thread);
        CHECK(e.thread->subject == "Support");
        CHECK(e.thread->thread_type == "thread");
        CHECK(!e.body.at("event").at("message").as_object().contains("__typename"));

        const auto& d = deliveries.back();
        CHECK(d.type == "message.created");
        CHECK(d.workspace == ws);
        CHECK(d.body == got.body);
        CHECK(d.copy == 0);
        CHECK(d.attempt == 1);
        CHECK(d.status == 200);

        const auto messages = server.messages(ws);
        REQUIRE(messages.size() == 2);
        CHECK(messages[1].id == id);
        CHECK(messages[1].thread_id == thread);
        CHECK(messages[1].text == "Hello, **bot**");
        CHECK(messages[1].user_id == human);
        // Another human, named by the test.
        server.post_message(ws, thread, "me too", "usr_SomeoneElse");
        CHECK(server.messages(ws).back().user_id == "usr_SomeoneElse");
    }

    TEST_CASE("webhooks: create_thread sends thread.created with the thread and its message") {
        webhook_receiver receiver;
        mock_server server(hooked(receiver));
        const std::string thread = server.create_thread(ws, "Incident 42", "It broke");
        settled(server);
        REQUIRE(receiver.requests().size() == 1);
        const std::string body = receiver.requests()[0].body;
        const auto e = glue::webhook::parse(body);
        CHECK(e.type == glue::webhook::event_type::thread_created);
        CHECK(e.workspace_id == ws);
        REQUIRE(e.thread);
        CHECK(e.thread->id == thread);
        CHECK(e.thread->subject == "Incident 42");
        CHECK(thread.starts_with("thr_"));
        CHECK(thread.size() == 4 + 27);
        REQUIRE(e.message);
        CHECK(e.message->text == "It broke");
        CHECK(e.message->user.id == human);
        const auto messages = server.messages(ws);
        REQUIRE(messages.size() == 1);
        CHECK(messages[0].id == e.message->id);
        CHECK(messages[0].thread_id == thread);
        CHECK(server.webhook_deliveries().at(0).type == "thread.created");
    }

    TEST_CASE("webhooks: sendMessage sends message.created authored by the app user") {
        webhook_receiver receiver;
        mock_server server(hooked(receiver));
        const std::string token = client_credentials_token(server, std::string(ws));
        const std::string thread = server.create_thread(ws, "Bot thread", "ping");
        settled(server);

        json::object input{{"threadID", thread}, {"message", json::object{{"text", "pong"}}}};
        const raw_response r = graphql(server, token,
                                       "mutation S($input: SendMessageInput!) { sendMessage(input: "
                                       "$input) { message { id text user { id name } } } }",
                                       json::object{{"input", std::move(input)}});
        REQUIRE(r.status == 200);
        const json::value message = json_body(r).at("data").at("sendMessage").at("message");
        CHECK(message.at("user").at("id") == json::value(server.app_user_id(ws)));
        CHECK(message.at("user").at("name") == "Glue Test App");

        settled(server);
        REQUIRE(receiver.requests().size() == 2);
        const auto e = glue::webhook::parse(receiver.requests()[1].body);
        CHECK(e.type == glue::webhook::event_type::message_created);
        REQUIRE(e.message);
        CHECK(e.message->id == message.at("id").as_string());
        CHECK(e.message->text == "pong");
        CHECK(e.message->user.id == server.app_user_id(ws));
        CHECK(e.message->user.name == "Glue Test App");
        REQUIRE(e.thread);
        CHECK(e.thread->id == thread);
        CHECK(server.messages(ws).back().user_id == server.app_user_id(ws));
    }

    TEST_CASE("webhooks: sendMessage answers without waiting for the delivery") {
        std::optional<webhook_receiver> receiver(std::in_place, std::vector{-1});
        mock_server server(hooked(*receiver, {}));
        const std::string token = client_credentials_token(server, std::string(ws));
        json::object input{{"thread", json::object{{"recipients", json::array{ws}}}},
                           {"message", json::object{{"text", "hi"}}}};
        const raw_response r = graphql(server, token,
                                       "mutation S($input: SendMessageInput!) { sendMessage(input: "
                                       "$input) { message { id } } }",
                                       json::object{{"input", std::move(input)}});
        CHECK(r.status == 200);
        // The receiver holds the delivery until it goes: it is still pending.
        REQUIRE(eventually([&] { return receiver->requests().size() == 1; }));
        CHECK(server.webhooks_pending() == 1);
        receiver.reset(); // closes the held connection, unanswered
        const auto deliveries = settled(server);
        REQUIRE(deliveries.size() == 1);
        CHECK(deliveries[0].status == 0);
    }

    TEST_CASE("webhooks: anything but 200 is retried on the configured schedule") {
        webhook_receiver receiver({500, 204, 200});
        const std::vector<std::chrono::milliseconds> delays = {20ms, 40ms, 80ms};
        mock_server server(hooked(receiver, delays));
        server.post_message(ws, "thr_AdoptedByPostMessage00000000", "retry me");
        const auto deliveries = settled(server);
        REQUIRE(deliveries.size() == 3);
        for (unsigned i = 0; i < 3; ++i) {
            CAPTURE(i);
            CHECK(deliveries[i].attempt == i + 1);
            CHECK(deliveries[i].copy == 0);
            CHECK(deliveries[i].body == deliveries[0].body);
            CHECK(deliveries[i].status == std::vector{500, 204, 200}[i]);
        }
        CHECK(deliveries[1].sent_at - deliveries[0].sent_at >= delays[0]);
        CHECK(deliveries[2].sent_at - deliveries[1].sent_at >= delays[1]);
        const auto got = receiver.requests();
        REQUIRE(got.size() == 3);
        CHECK(got[2].body == got[0].body);
        CHECK(got[2].headers.at("x-glue-event-signature") ==
              got[0].headers.at("x-glue-event-signature"));
    }

    TEST_CASE("webhooks: a delivery that keeps failing is attempted 4 times, then dropped") {
        webhook_receiver receiver({503});
        mock_server server(hooked(receiver));
        server.post_message(ws, "thr_AdoptedByPostMessage00000000", "never accepted");
        const auto deliveries = settled(server);
        REQUIRE(deliveries.size() == 4);
        for (unsigned i = 0; i < 4; ++i) {
            CHECK(deliveries[i].attempt == i + 1);
            CHECK(deliveries[i].status == 503);
        }
        CHECK(receiver.requests().size() == 4);
    }

    TEST_CASE("webhooks: no connection or no answer in time is a failed attempt (status 0)") {
        mock_server_options opts;
        opts.webhook_retry_delays = {5ms, 5ms, 5ms};
        std::optional<webhook_receiver> silent;
        std::size_t attempts = 4;
        SUBCASE("refused") {
            opts.webhook_url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/hook";
        }
        SUBCASE("timeout") {
            silent.emplace(std::vector{-1});
            opts.webhook_url = silent->url();
            opts.webhook_timeout = 300ms; // long enough for the request to get there
            opts.webhook_retry_delays = {5ms};
            attempts = 2;
        }
        mock_server server(opts);
        server.post_message(ws, "thr_AdoptedByPostMessage00000000", "nobody home");
        const auto deliveries = settled(server);
        REQUIRE(deliveries.size() == attempts);
        for (const auto& d : deliveries) {
            CHECK(d.status == 0);
        }
        if (silent) {
            CHECK(silent->requests().size() == attempts); // it was sent, never answered
        }
    }

    TEST_CASE("webhooks: set_webhook_copies(2) delivers each event twice, independently") {
        webhook_receiver receiver;
        mock_server server; // no webhook URL yet: nothing is sent
        server.post_message(ws, "thr_AdoptedByPostMessage00000000", "unseen");
        CHECK(server.webhooks_pending() == 0);
        server.set_webhook_url(receiver.url());
        server.set_webhook_copies(2);
        server.post_message(ws, "thr_AdoptedByPostMessage00000000", "twice");
        const auto deliveries = settled(server);
        REQUIRE(deliveries.size() == 2);
        CHECK(deliveries[0].copy + deliveries[1].copy == 1);
        CHECK(deliveries[0].body == deliveries[1].body);
        for (const auto& d : deliveries) {
            CHECK(d.status == 200);
            CHECK(d.attempt == 1);
        }
        const auto got = receiver.requests();
        REQUIRE(got.size() == 2);
        CHECK(got[0].body == got[1].body);
        CHECK(glue::webhook::parse(got[0].body).message->text == "twice");

        server.set_webhook_url("");
        server.post_message(ws, "thr_AdoptedByPostMessage00000000", "unseen again");
        CHECK(server.webhooks_pending() == 0);
        CHECK(server.webhook_deliveries().size() == 2);
    }

    TEST_CASE("webhooks: only http://127.0.0.1:<port>/… is accepted as the URL") {
        mock_server server;
        for (const std::string url :
             {"https://127.0.0.1:8443/hook", "http://example.com:80/hook", "http://127.0.0.1/hook",
              "http://localhost:8080/hook", "not a url"}) {
            CAPTURE(url);
            CHECK_THROWS_AS(server.set_webhook_url(url), std::invalid_argument);
        }
        mock_server_options opts;
        opts.webhook_url = "ftp://127.0.0.1:21/";
        CHECK_THROWS_AS(mock_server{opts}, std::invalid_argument);
    }

    TEST_CASE("webhooks: stopping the mock with retries pending drops them") {
        webhook_receiver receiver({500});
        auto server = std::make_unique<mock_server>(hooked(receiver, {10min, 10min, 10min}));
        server->set_webhook_copies(3);
        server->post_message(ws, "thr_AdoptedByPostMessage00000000", "stuck");
        REQUIRE(eventually([&] { return server->webhook_deliveries().size() == 3; }));
        CHECK(server->webhooks_pending() == 3);
        SUBCASE("stop()") {
            server->stop();
            CHECK(server->webhooks_pending() == 0);
            CHECK(server->webhook_deliveries().size() == 3);
            // Nothing is sent after stop().
            server->post_message(ws, "thr_AdoptedByPostMessage00000000", "after stop");
            CHECK(server->webhooks_pending() == 0);
        }
        SUBCASE("the destructor") {}
        server.reset();
        CHECK(receiver.requests().size() == 3);
    }
}
