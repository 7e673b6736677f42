// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// examples/bot_server end to end, as a separate process against the mock server: the install
// flow through a browser's steps, webhooks delivered twice (forced re-delivery), a bad
// signature, its own messages ignored, its client's figures at /metrics, and a graceful stop on
// SIGTERM.

#include <glue/testing/mock_server.hpp>
#include <glue/webhook.hpp>

#include "support/child_process.hpp"
#include "support/raw_http.hpp"
#include "support/test_support.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <sys/wait.h>

namespace {

using namespace std::chrono_literals;
using glue::test::eventually;
using glue::test::raw_get;
using glue::test::raw_request;
using glue::test::target_of;
namespace http = boost::beast::http;

/// The bot example, started with the mock's settings on an ephemeral port; killed if the test
/// doesn't stop it.
class bot_process {
public:
    explicit bot_process(const glue::testing::mock_server& mock, const std::string& secret) {
        const auto cfg = mock.client_config();
        process_ = std::make_unique<glue::test::child_process>(
            std::vector<std::string>{GLUE_BOT_SERVER, "--port", "0"},
            std::map<std::string, std::string>{{"GLUE_API_URL", cfg.api_url},
                                               {"GLUE_CLIENT_ID", cfg.client_id},
                                               {"GLUE_CLIENT_SECRET", cfg.client_secret},
                                               {"GLUE_REDIRECT_URI", cfg.redirect_uri},
                                               {"GLUE_WEBHOOK_SECRET", secret}});
        // "listening on http://127.0.0.1:<port>"
        const std::string line = process_->read_line(20s);
        REQUIRE_MESSAGE(line.starts_with("listening on http://127.0.0.1:"), line);
        port_ = static_cast<std::uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
    }

    std::uint16_t port() const { return port_; }

    /// Sends `sig` and waits (bounded) for the exit; the wait status, or -1 if it didn't exit.
    int stop(int sig) {
        process_->signal(sig);
        return process_->wait(10s);
    }

private:
    std::unique_ptr<glue::test::child_process> process_;
    std::uint16_t port_ = 0;
};

} // namespace

TEST_SUITE("bot") {
    TEST_CASE("the bot installs, replies once to a message delivered twice, ignores its own, "
              "and stops on SIGTERM") {
        glue::testing::mock_server_options o;
        o.webhook_retry_delays = {100ms, 600ms, 6s}; // Glue's schedule, a hundred times faster
        glue::testing::mock_server mock(o);
        bot_process bot(mock, o.webhook_secret);
        mock.set_webhook_url("http://127.0.0.1:" + std::to_string(bot.port()) + "/webhooks");

        // A browser installs the app: /install → Glue's authorize page → /callback.
        const auto install = raw_get(bot.port(), "/install");
        REQUIRE(install.status == 302);
        const std::string authorize = install.header("location");
        CHECK(authorize.starts_with(mock.url() + "/oauth/authorize?"));
        CHECK(authorize.find("code_challenge_method=S256") != std::string::npos);
        const std::string set_cookie = install.header("set-cookie");
        CHECK(set_cookie.find("HttpOnly") != std::string::npos);
        const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));

        const auto approved = raw_get(mock.port(), target_of(authorize));
        REQUIRE(approved.status == 302);
        const std::string callback = approved.header("location");
        CHECK(callback.starts_with(mock.client_config().redirect_uri + "?"));
        const auto installed = raw_get(bot.port(), target_of(callback), {{"Cookie", cookie}});
        CHECK(installed.status == 200);
        CHECK(installed.header("set-cookie").find("Max-Age=0") != std::string::npos); // spent
        CHECK(mock.authorizations() == 1);
        // The state was good for one callback: a replay is refused, without a code exchange.
        const auto tokens_before = mock.token_requests();
        CHECK(raw_get(bot.port(), target_of(callback), {{"Cookie", cookie}}).status == 400);
        CHECK(mock.token_requests() == tokens_before);
        // A callback from a browser that never went through /install is refused too.
        CHECK(raw_get(bot.port(), target_of(callback)).status == 400);

        // A signature that doesn't match, and a signed body that is not an event.
        const std::string ws = o.authorize_workspace;
        const std::string forged = R"({"type":"message.created","workspaceID":")" + ws + R"("})";
        CHECK(
            raw_request(bot.port(), http::verb::post, "/webhooks", forged,
                        {{"Content-Type", "application/json"},
                         {"X-Glue-Event-Signature", glue::webhook::sign(forged, "not-the-secret")}})
                .status == 401);
        CHECK(raw_request(bot.port(), http::verb::post, "/webhooks", forged,
                          {{"Content-Type", "application/json"}})
                  .status == 401);
        CHECK(
            raw_request(bot.port(), http::verb::post, "/webhooks", "[1]",
                        {{"Content-Type", "application/json"},
                         {"X-Glue-Event-Signature", glue::webhook::sign("[1]", o.webhook_secret)}})
                .status == 400);
        CHECK(mock.graphql_requests() == 0);

        // A person starts a thread (thread.created: no reply), then writes in it; every event
        // now arrives twice.
        const std::string thread = mock.create_thread(ws, "Plans", "first message");
        mock.set_webhook_copies(2);
        const std::string human = mock.post_message(ws, thread, "hello bot");
        // Both copies lead to a sendMessage; the reply's own message.created (twice) to none.
        REQUIRE(eventually(
            [&] { return mock.graphql_requests() >= 2 && mock.webhooks_pending() == 0; }));
        std::vector<glue::testing::mock_message> replies;
        for (const auto& m : mock.messages(ws)) {
            if (m.thread_id == thread && m.user_id == mock.app_user_id(ws)) {
                replies.push_back(m);
            }
        }
        REQUIRE(replies.size() == 1);
        CHECK(replies[0].text == "Hello Test Human! You wrote: hello bot");
        CHECK(mock.graphql_requests() == 2);
        std::size_t own_deliveries = 0;
        for (const auto& d : mock.webhook_deliveries()) {
            CHECK(d.status == 200); // each answered 200 at once, nothing re-sent for failing
            own_deliveries += d.body.find(replies[0].id) != std::string::npos;
        }
        CHECK(own_deliveries == 2); // the bot saw its own reply, twice, and let it be

        // Its client's figures, for Prometheus: the two sendMessage calls among them.
        const auto metrics = raw_get(bot.port(), "/metrics");
        CHECK(metrics.status == 200);
        CHECK(metrics.header("content-type") == "text/plain; version=0.0.4; charset=utf-8");
        const std::string lines = "\n" + metrics.body;
        CHECK(lines.find("\n# TYPE glue_graphql_calls_total counter\n") != std::string::npos);
        CHECK(lines.find("\nglue_throttle_requests_sent_total 2\n") != std::string::npos);
        CHECK(lines.find("\nglue_graphql_calls_total{outcome=\"ok\"} 2\n") != std::string::npos);
        CHECK(metrics.body.find(o.client_secret) == std::string::npos);

        const int status = bot.stop(SIGTERM);
        REQUIRE(status != -1);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
    }
}
