// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// GraphQL in depth against the mock server: retries that never duplicate a message, Relay
// pagination that can't loop, typed results, every completion token style, Glue's operations,
// and input refused before any I/O.

#include "support/client_fixture.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/describe/class.hpp>

#include <doctest/doctest.h>

#include <set>
#include <thread>

namespace {

namespace asio = boost::asio;
using namespace glue::test;
namespace json = boost::json;

struct me_data {
    glue::user me;
};
BOOST_DESCRIBE_STRUCT(me_data, (), (me))

const char* const send_mutation =
    "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id } } }";

glue::graphql_request send_request(json::object message, json::object extra = {}) {
    extra["message"] = std::move(message);
    if (!extra.contains("threadID") && !extra.contains("thread")) {
        extra["threadID"] = "thr_2hSyORgf8VqMLg0ADIvTi9oY6Nk";
    }
    return glue::graphql_request(send_mutation, json::object{{"input", std::move(extra)}});
}

// The fixture with only the connection and token a test would otherwise count.
struct warm_fixture : client_fixture {
    explicit warm_fixture(glue::testing::mock_server_options opts = {},
                          const std::function<void(glue::client_config&)>& tweak = {})
        : client_fixture(std::move(opts), tweak) {
        glue::graphql_request hello("{ me { id } }");
        run(client->graphql(ws, hello));
        server.reset_counters();
    }
};

} // namespace

TEST_SUITE("graphql") {

    TEST_CASE_FIXTURE(warm_fixture, "429 with Retry-After is waited out, then the call succeeds") {
        server.set_fault(endpoint::graphql, answering(429, "1", {}, 3));
        const auto start = std::chrono::steady_clock::now();
        glue::graphql_request req("{ me { id } }");
        auto r = run(client->graphql(ws, req));
        CHECK(r.data.at("me").at("id").is_string());
        CHECK(std::chrono::steady_clock::now() - start >= 3s); // three Retry-After: 1
        CHECK(server.graphql_requests() == 4);
    }

    TEST_CASE_FIXTURE(warm_fixture, "a Retry-After beyond the deadline fails at once") {
        server.set_fault(endpoint::graphql, answering(429, "120"));
        glue::graphql_request req("{ me { id } }");
        req.timeout = 5s;
        const auto start = std::chrono::steady_clock::now();
        auto e = error_of(client->graphql(ws, req));
        CHECK(e.code() == errc::rate_limited);
        CHECK(e.details()->retry_after == 120s);
        CHECK(std::chrono::steady_clock::now() - start < 5s);
        CHECK(server.graphql_requests() == 1);
    }

    TEST_CASE_FIXTURE(warm_fixture, "5xx answers are retried with backoff, up to the attempts") {
        glue::graphql_request req("{ me { id } }");
        SUBCASE("recovering") {
            server.set_fault(endpoint::graphql, answering(502, {}, {}, 2));
            run(client->graphql(ws, req));
            CHECK(server.graphql_requests() == 3);
        }
        SUBCASE("503 without Retry-After, then 504") {
            server.set_fault(endpoint::graphql, answering(503, {}, {}, 1));
            run(client->graphql(ws, req));
            server.set_fault(endpoint::graphql, answering(504, {}, {}, 1));
            run(client->graphql(ws, req));
            CHECK(server.graphql_requests() == 4);
        }
        SUBCASE("never recovering") {
            server.set_fault(endpoint::graphql, answering(500));
            req.retry_attempts = 3;
            auto e = error_of(client->graphql(ws, req));
            CHECK(e.code() == errc::server_error);
            CHECK(e.http_status() == 500);
            CHECK(server.graphql_requests() == 3);
        }
        SUBCASE("not for other statuses") {
            server.set_fault(endpoint::graphql, answering(403));
            CHECK(error_of(client->graphql(ws, req)).code() == errc::forbidden);
            CHECK(server.graphql_requests() == 1);
        }
    }

    TEST_CASE_FIXTURE(warm_fixture, "a query whose connection drops is sent again") {
        server.set_fault(endpoint::graphql, misbehaving(fault::kind::close_after_processing, 1));
        glue::graphql_request req("{ me { id } }");
        run(client->graphql(ws, req));
        CHECK(server.graphql_requests() == 2);
    }

    TEST_CASE_FIXTURE(warm_fixture, "a mutation that was sent is retried only if idempotent") {
        server.set_fault(endpoint::graphql, misbehaving(fault::kind::close_after_processing, 1));
        SUBCASE("plain: not sent again") {
            auto req = send_request({{"text", "hi"}});
            auto e = error_of(client->graphql(ws, req));
            CHECK(e.code() == asio::error::eof);
            CHECK(server.graphql_requests() == 1);
            CHECK(server.messages_created() == 1);
        }
        SUBCASE("a server error: not sent again") {
            server.set_fault(endpoint::graphql, answering(500));
            auto req = send_request({{"text", "hi"}});
            CHECK(error_of(client->graphql(ws, req)).code() == errc::server_error);
            CHECK(server.graphql_requests() == 1);
        }
        SUBCASE("marked idempotent: sent again") {
            auto req = send_request({{"text", "hi"}});
            req.idempotent = true;
            run(client->graphql(ws, req));
            CHECK(server.graphql_requests() == 2);
            CHECK(server.messages_created() == 2); // the caller's call: nothing deduplicates
        }
        SUBCASE("uniqueBy: sent again, and one message") {
            auto req = send_request({{"text", "hi"}, {"uniqueBy", "report-42"}});
            run(client->graphql(ws, req));
            CHECK(server.graphql_requests() == 2);
            CHECK(server.messages_created() == 1);
        }
        SUBCASE("uniqueBy in a new thread without threadBy: not sent again") {
            json::object thread{{"recipients", json::array{ws}}, {"subject", "Daily"}};
            auto req = send_request({{"text", "hi"}, {"uniqueBy", "report-43"}},
                                    {{"thread", std::move(thread)}});
            CHECK(error_of(client->graphql(ws, req)).code() == asio::error::eof);
            CHECK(server.graphql_requests() == 1);
        }
        SUBCASE("uniqueBy and threadBy in a new thread: sent again") {
            json::object thread{
                {"recipients", json::array{ws}}, {"subject", "Daily"}, {"threadBy", "daily"}};
            auto req = send_request({{"text", "hi"}, {"uniqueBy", "report-44"}},
                                    {{"thread", std::move(thread)}});
            run(client->graphql(ws, req));
            CHECK(server.graphql_requests() == 2);
            CHECK(server.messages_created() == 1);
        }
    }

    TEST_CASE("a mutation that certainly wasn't sent is retried") {
        // The server goes away and comes back on the same port: while it is away connections
        // are refused, so nothing of the mutation left and it may go again.
        std::optional<glue::testing::mock_server> server(std::in_place);
        glue::testing::mock_server_options opts;
        opts.port = server->port();
        asio::io_context ioc;
        auto cfg = server->client_config();
        cfg.graphql_retry_attempts = 50;
        cfg.graphql_retry_base_delay = 10ms;
        cfg.graphql_retry_max_delay = 40ms;
        glue::client c(ioc.get_executor(), cfg);
        run(ioc, c.fetch_token(ws));
        server.reset(); // the connection closes, and new ones are refused

        asio::steady_timer back(ioc, 150ms);
        back.async_wait([&](glue::error_code) { server.emplace(opts); });
        auto req = send_request({{"text", "hi"}});
        run(ioc, c.graphql(ws, req));
        REQUIRE(server);
        CHECK(server->messages_created() == 1);
    }

    TEST_CASE("pagination yields each of 137 groups exactly once") {
        glue::testing::mock_server_options opts;
        opts.groups_per_workspace = 137;
        client_fixture f(opts);
        std::set<std::string> seen;
        std::size_t nodes = 0;
        SUBCASE("with nodes, through groups()") {
            auto groups = f.run(glue::groups(*f.client, ws));
            for (const auto& g : groups) {
                seen.insert(g.id);
            }
            nodes = groups.size();
            CHECK(f.server.graphql_requests() == 3);
        }
        SUBCASE("with edges, through for_each_node()") {
            glue::graphql_request req(R"(query($first: Int, $after: String) {
                groups(first: $first, after: $after) {
                    edges { cursor node { id } } pageInfo { hasNextPage endCursor } } })");
            glue::page_options po;
            po.page_size = 40;
            auto on_node = [&](json::value& n) {
                seen.insert(std::string(n.at("id").as_string()));
            };
            nodes = f.run(glue::for_each_node(*f.client, ws, req, "groups", on_node, po));
            CHECK(f.server.graphql_requests() == 4);
        }
        CHECK(nodes == 137);
        CHECK(seen.size() == 137);
    }

    TEST_CASE("pagination fails on a repeated cursor or too many pages, never loops") {
        glue::testing::mock_server_options opts;
        opts.groups_per_workspace = 137;
        client_fixture f(opts);
        glue::page_options po;
        SUBCASE("repeated cursor") {
            f.server.set_repeat_cursor(true);
            auto e = f.error_of(glue::groups(*f.client, ws, po));
            CHECK(e.code() == errc::repeated_cursor);
            CHECK(f.server.graphql_requests() == 2);
        }
        SUBCASE("page limit") {
            po.max_pages = 2;
            auto e = f.error_of(glue::groups(*f.client, ws, po));
            CHECK(e.code() == errc::too_many_pages);
            CHECK(f.server.graphql_requests() == 2);
        }
        SUBCASE("no connection at the path") {
            glue::graphql_request req("{ me { id } }");
            auto walk = [&]() -> asio::awaitable<void> {
                glue::pager pages(*f.client, std::string(ws), req, "groups");
                co_await pages.next();
            };
            CHECK(f.error_of(walk()).code() == errc::bad_response);
        }
        SUBCASE("a malformed path is refused before any I/O") {
            glue::graphql_request req("{ me { id } }");
            CHECK_THROWS_AS(glue::pager(*f.client, std::string(ws), req, "groups..nodes"),
                            glue::error);
            CHECK(f.server.requests() == 0);
        }
    }

    TEST_CASE_FIXTURE(client_fixture, "typed results decode data, or name the path that failed") {
        glue::graphql_request req("{ me { id name } }");
        auto d = run(client->graphql<me_data>(ws, req));
        CHECK(d.me.id.starts_with("usr_"));
        CHECK(d.me.name == "Glue Test App");

        struct wrong {
            std::vector<int> me;
        };
        glue::graphql_request again("{ me { id name } }");
        try {
            run(client->graphql<std::map<std::string, std::vector<int>>>(ws, again));
            FAIL("decoding an object into a vector succeeded");
        } catch (const glue::error& e) {
            CHECK(e.code() == errc::decode_error);
            CHECK(e.details()->json_path == "/me");
            CHECK(std::string(e.what()).find("/me") != std::string::npos);
        }
    }

    TEST_CASE_FIXTURE(warm_fixture, "every completion token style") {
        glue::graphql_request req("{ me { id } }");
        SUBCASE("use_awaitable") {
            auto op = [&]() -> asio::awaitable<std::string> {
                auto r = co_await client->async_graphql(ws, req, asio::use_awaitable);
                co_return std::string(r.data.at("me").at("id").as_string());
            };
            CHECK(run(op()).starts_with("usr_"));
        }
        SUBCASE("as_tuple(use_awaitable), failure details without exceptions") {
            server.set_fault(endpoint::graphql, answering(403));
            auto op = [&]() -> asio::awaitable<int> {
                glue::diagnostics diag;
                auto [ec, r] = co_await client->async_graphql(ws, req, diag,
                                                              asio::as_tuple(asio::use_awaitable));
                CHECK(ec == errc::forbidden);
                CHECK(r.data.is_null());
                co_return diag.http_status;
            };
            CHECK(run(op()) == 403);
        }
        SUBCASE("deferred") {
            auto deferred_op = client->async_fetch_token(ws, asio::deferred);
            CHECK(server.requests() == 0); // nothing happens until it is initiated
            auto op = [&]() -> asio::awaitable<std::string> {
                auto t = co_await std::move(deferred_op)(asio::use_awaitable);
                co_return t.user_id;
            };
            CHECK(run(op()).starts_with("usr_"));
        }
        SUBCASE("use_future") {
            std::future<glue::graphql_response> fut =
                client->async_graphql(ws, req, asio::use_future);
            ioc.restart();
            std::thread runner([&] { ioc.run_for(30s); });
            auto r = fut.get();
            runner.join();
            CHECK(r.data.at("me").is_object());
        }
        SUBCASE("callback, with a GraphQL error's details") {
            glue::graphql_request bad("{ nope }");
            glue::diagnostics diag;
            std::optional<glue::error_code> got;
            client->async_graphql(ws, bad, diag,
                                  [&](glue::error_code ec, glue::graphql_response) { got = ec; });
            run_until(ioc, [&] { return got.has_value(); });
            CHECK(*got == errc::graphql_error);
            REQUIRE(diag.graphql_errors.size() == 1);
            CHECK(diag.graphql_errors[0].message.find("nope") != std::string::npos);
        }
        SUBCASE("callback, refused before any I/O") {
            std::optional<glue::error_code> got;
            client->async_fetch_token("wks_\r\nbad",
                                      [&](glue::error_code ec, glue::access_token) { got = ec; });
            run_until(ioc, [&] { return got.has_value(); });
            CHECK(*got == errc::invalid_argument);
            CHECK(server.requests() == 0);
        }
    }

    TEST_CASE_FIXTURE(warm_fixture, "cancelling async_graphql mid-flight completes it promptly "
                                    "and discards the connection") {
        server.set_fault(endpoint::graphql, delayed(20s, 1));
        glue::graphql_request req("{ me { id } }");
        for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                          asio::cancellation_type::total}) {
            CAPTURE(static_cast<int>(type));
            server.set_fault(endpoint::graphql, delayed(20s, 1));
            asio::cancellation_signal signal;
            std::optional<glue::error_code> got;
            client->async_graphql(
                ws, req,
                asio::bind_cancellation_slot(
                    signal.slot(), [&](glue::error_code ec, glue::graphql_response) { got = ec; }));
            asio::steady_timer later(ioc, 200ms);
            later.async_wait([&](glue::error_code) { signal.emit(type); });
            run_until(
                ioc, [&] { return got.has_value(); }, 10s); // well before the 20 s answer
            CHECK(*got == asio::error::operation_aborted);
        }
        // The connections the cancelled calls used are gone: the next call opens a new one.
        server.clear_faults();
        const auto opened = server.connections_accepted();
        run(client->graphql(ws, req));
        CHECK(server.connections_accepted() == opened + 1);
    }

    TEST_CASE("Glue operations") {
        client_fixture f;
        SUBCASE("me") {
            auto me = f.run(glue::me(*f.client, ws));
            CHECK(me.id.starts_with("usr_"));
        }
        SUBCASE("defaulted arguments inside a co_await expression (the GCC 12 trap)") {
            auto walk = [&]() -> asio::awaitable<std::size_t> {
                auto groups = co_await glue::groups(*f.client, ws);
                auto threads = co_await glue::threads(*f.client, ws);
                co_return groups.size() + threads.size();
            };
            CHECK(f.run(walk()) == 5 + 3); // the mock's default groups and threads
        }
        SUBCASE("send_message, threads in order, node") {
            glue::send_message_input in;
            in.thread.emplace();
            in.thread->recipients = {std::string(ws)};
            in.thread->subject = "Release";
            in.thread->thread_by = "release-1";
            in.message.text = "Shipped **1.0**";
            in.message.unique_by = "release-1-msg";
            auto sent = f.run(glue::send_message(*f.client, ws, in));
            CHECK(sent.thread.id.starts_with("thr_"));
            CHECK(sent.thread.subject == "Release");
            CHECK(sent.message.text == "Shipped **1.0**");
            auto again = f.run(glue::send_message(*f.client, ws, in)); // an upsert
            CHECK(again.message.id == sent.message.id);
            CHECK(f.server.messages_created() == 1);

            auto by_last = f.run(glue::threads(*f.client, ws, glue::thread_order::last_message));
            REQUIRE(!by_last.empty());
            CHECK(by_last.front().id == sent.thread.id);
            auto by_created = f.run(glue::threads(*f.client, ws));
            CHECK(by_created.size() == by_last.size());
            CHECK(by_created.back().id == sent.thread.id);

            auto n = f.run(
                glue::node(*f.client, ws, sent.thread.id, "__typename ... on Thread { subject }"));
            CHECK(n.at("__typename") == "Thread");
            CHECK(n.at("subject") == "Release");
            auto none = f.run(glue::node(*f.client, ws, "thr_doesnotexist"));
            CHECK(none.is_null());
        }
        SUBCASE("bad input is refused before any I/O") {
            glue::send_message_input in;
            in.thread_id = "thr_1\n";
            in.message.text = "hi";
            CHECK(f.error_of(glue::send_message(*f.client, ws, in)).code() ==
                  errc::invalid_argument);
            in.thread_id.clear();
            CHECK(f.error_of(glue::send_message(*f.client, ws, in)).code() ==
                  errc::invalid_argument);
            CHECK(f.error_of(glue::node(*f.client, ws, "grp_ 1")).code() == errc::invalid_argument);
            CHECK(f.server.requests() == 0);
        }
    }

    TEST_CASE("input guards: oversized requests and variables that are not an object") {
        client_fixture f({}, [](glue::client_config& c) { c.max_request_body_bytes = 1024; });
        glue::graphql_request big("{ me { id } }", {{"pad", std::string(2000, 'x')}});
        CHECK(f.error_of(f.client->graphql(ws, big)).code() == errc::invalid_argument);
        CHECK(f.server.requests() == 0);

        CHECK(glue::parse_variables(R"({"first": 2})").at("first") == 2);
        CHECK(glue::parse_variables("").empty());
        CHECK(glue::parse_variables("null").empty());
        for (const char* bad : {"[1, 2]", "42", "\"s\"", "{"}) {
            CAPTURE(bad);
            try {
                glue::parse_variables(bad);
                FAIL("accepted");
            } catch (const glue::error& e) {
                CHECK(e.code() == errc::invalid_argument);
            }
        }
    }
}
