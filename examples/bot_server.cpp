// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// A Glue bot: an HTTP server on Beast coroutines that installs itself into workspaces and
// answers messages in their threads.
//
//   GET  /install          redirect to Glue's authorize page (state and PKCE kept per browser)
//   GET  <redirect_uri's path, e.g. /oauth/callback>
//                          check the state, exchange the code, keep the installation's tokens
//   POST /webhooks         verify X-Glue-Event-Signature (401 if wrong), answer 200 at once,
//                          then reply to each new message in its thread, ignoring its own
//   GET  /metrics          the client's figures in Prometheus' text format, for scraping
//
// The reply's uniqueBy comes from the incoming message id, so Glue's re-deliveries of a webhook
// (after any non-200 answer, or a lost one) upsert the same reply instead of posting again.
//
// Configured from the environment: GLUE_API_URL, GLUE_CLIENT_ID, GLUE_CLIENT_SECRET,
// GLUE_REDIRECT_URI, GLUE_CA_FILE, and GLUE_WEBHOOK_SECRET (the webhook signing secret).
//
//   bot_server [--port N] [--address A]     (port 0: any free port; it prints the one it got)
//
// Against the mock server (which sends webhooks to the URL it is given):
//
//   glue-mock-server --webhook-url http://127.0.0.1:8080/webhooks -- bot_server --port 8080
//
// SIGINT or SIGTERM stops it gracefully: no new connections, replies in progress finish (for at
// most 10 s), then it exits with status 0.

#include <glue/glue.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <list>
#include <map>
#include <sstream>
#include <string>
#include <string_view>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

constexpr std::string_view state_cookie = "glue_install_state";
constexpr auto install_lifetime = 10min; // how long an /install waits for its callback

response make_response(const request& req, http::status status, std::string_view content_type,
                       std::string body) {
    response res{status, req.version()};
    res.set(http::field::content_type, content_type);
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

response text_response(const request& req, http::status status, std::string_view text) {
    return make_response(req, status, "text/plain; charset=utf-8", std::string(text) + "\n");
}

// The value of cookie `name` in the request's Cookie header; empty if absent.
std::string cookie(const request& req, std::string_view name) {
    std::string_view all = req[http::field::cookie];
    while (!all.empty()) {
        const std::size_t end = std::min(all.find(';'), all.size());
        std::string_view pair = all.substr(0, end);
        all.remove_prefix(std::min(end + 1, all.size()));
        pair.remove_prefix(std::min(pair.find_first_not_of(' '), pair.size()));
        if (pair.starts_with(name) && pair.size() > name.size() && pair[name.size()] == '=') {
            return std::string(pair.substr(name.size() + 1));
        }
    }
    return {};
}

class bot {
public:
    bot(asio::io_context& ioc, glue::client_config cfg, std::string webhook_secret)
        : ioc_(ioc)
        , client_(ioc.get_executor(), cfg)
        , webhook_secret_(std::move(webhook_secret))
        , idle_(ioc) {
        auto u = boost::urls::parse_absolute_uri(client_.config().redirect_uri);
        if (!u || u->encoded_path().empty()) {
            throw std::runtime_error("GLUE_REDIRECT_URI must be an absolute URL with a path");
        }
        callback_path_ = u->encoded_path();
        secure_cookie_ = u->scheme() == "https";
    }

    // Serves connections from `acceptor` until stop().
    asio::awaitable<void> listen(tcp::acceptor& acceptor) {
        acceptor_ = &acceptor;
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
                co_return;
            }
            if (!ec) {
                asio::co_spawn(ioc_, session(beast::tcp_stream(std::move(socket))), asio::detached);
            }
        }
    }

    // Graceful stop: no new connections, idle ones closed, replies in progress get up to 10 s;
    // then the client is shut down, which ends whatever is left.
    asio::awaitable<void> stop() {
        std::cerr << "bot: stopping\n";
        if (acceptor_) {
            acceptor_->close();
        }
        stopping_ = true;
        for (auto& s : sessions_) {
            if (s.idle) {
                s.stream->cancel(); // ends the wait for a next request
            }
        }
        idle_.expires_after(10s);
        if (tasks_ > 0) {
            co_await idle_.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        client_.shutdown();
    }

private:
    asio::awaitable<void> session(beast::tcp_stream stream) {
        auto self = sessions_.insert(sessions_.end(), {&stream, true});
        beast::flat_buffer buffer;
        while (!stopping_) {
            http::request_parser<http::string_body> parser;
            parser.header_limit(16 * 1024);
            parser.body_limit(1024 * 1024); // Glue's events are small
            stream.expires_after(30s);      // idle keep-alive, then the whole request
            self->idle = true;
            auto [ec, n] = co_await http::async_read(stream, buffer, parser,
                                                     asio::as_tuple(asio::use_awaitable));
            self->idle = false; // from here on, stop() lets the answer go out
            if (ec) {
                break;
            }
            request req = parser.release();
            response res = co_await handle(req);
            auto [wec, wn] =
                co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
            if (wec || !res.keep_alive()) {
                break;
            }
        }
        sessions_.erase(self);
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    }

    asio::awaitable<response> handle(const request& req) {
        const std::string_view target = req.target();
        const std::string_view path = target.substr(0, target.find('?'));
        if (path == "/webhooks" && req.method() == http::verb::post) {
            co_return on_webhook(req);
        }
        if (path == "/install" && req.method() == http::verb::get) {
            co_return on_install(req);
        }
        if (path == callback_path_ && req.method() == http::verb::get) {
            co_return co_await on_callback(req);
        }
        if (path == "/metrics" && req.method() == http::verb::get) {
            co_return on_metrics(req);
        }
        co_return text_response(req, http::status::not_found, "not found");
    }

    // A fresh state and PKCE verifier per browser: the state goes into a cookie and the
    // authorize URL, the verifier stays here until the callback brings the state back.
    response on_install(const request& req) {
        forget_expired_installs();
        const std::string state = glue::oauth::make_state();
        const std::string verifier = glue::oauth::make_code_verifier();
        pending_[state] = {verifier, std::chrono::steady_clock::now() + install_lifetime};

        glue::oauth::authorize_params params;
        params.scopes = {"workspaces:read", "threads:read", "groups:read",
                         "threads.messages:write"};
        params.state = state;
        params.code_challenge = glue::oauth::pkce_challenge(verifier);
        response res = text_response(req, http::status::found, "to Glue's authorize page");
        res.set(http::field::location, glue::oauth::authorize_url(client_.config(), params));
        res.set(http::field::set_cookie,
                std::string(state_cookie) + "=" + state + "; Path=" + callback_path_ +
                    "; Max-Age=600; HttpOnly; SameSite=Lax" + (secure_cookie_ ? "; Secure" : ""));
        return res;
    }

    asio::awaitable<response> on_callback(const request& req) {
        forget_expired_installs();
        const std::string state = cookie(req, state_cookie);
        auto it = pending_.find(state);
        if (state.empty() || it == pending_.end()) {
            co_return text_response(req, http::status::bad_request, "no installation in progress");
        }
        const std::string verifier = it->second.verifier;
        pending_.erase(it); // a state is good for one callback
        ++tasks_;
        response res;
        try {
            const auto r = glue::oauth::parse_callback(req.target(), state);
            const glue::oauth::token_set tokens =
                co_await client_.exchange_code(r.code, {}, verifier);
            // The tokens are the app user's in the new workspace: keyed by that user.
            co_await installations_.save(tokens.user_id, tokens);
            std::cerr << "bot: installed, app user " << tokens.user_id << "\n";
            res = text_response(req, http::status::ok, "Installed. You can close this page.");
        } catch (const glue::error& e) {
            std::cerr << "bot: installation failed: " << e.what() << "\n";
            const bool denied = e.code() == glue::errc::authorization_denied;
            res = text_response(req, denied ? http::status::forbidden : http::status::bad_request,
                                denied ? "The installation was declined."
                                       : "The installation failed.");
        } catch (const std::exception& e) {
            std::cerr << "bot: installation failed: " << e.what() << "\n";
            res =
                text_response(req, http::status::internal_server_error, "The installation failed.");
        }
        // The state is spent either way: the browser may forget it.
        res.set(http::field::set_cookie,
                std::string(state_cookie) + "=; Path=" + callback_path_ + "; Max-Age=0");
        task_done();
        co_return res;
    }

    // Verified before anything reads the body; answered before any reply is sent, because
    // Glue re-delivers whatever isn't answered 200 promptly.
    response on_webhook(const request& req) {
        if (!glue::webhook::verify(req.body(), req[glue::webhook::signature_field],
                                   webhook_secret_)) {
            std::cerr << "bot: webhook with a bad signature refused\n";
            return text_response(req, http::status::unauthorized, "bad signature");
        }
        glue::webhook::event e;
        try {
            e = glue::webhook::parse(req.body());
        } catch (const glue::error& err) {
            std::cerr << "bot: webhook body refused: " << err.what() << "\n";
            return text_response(req, http::status::bad_request, "not a Glue event");
        }
        if (e.type == glue::webhook::event_type::message_created && !stopping_) {
            ++tasks_;
            asio::co_spawn(ioc_, reply(std::move(e)), [this](std::exception_ptr) { task_done(); });
        }
        return text_response(req, http::status::ok, "ok");
    }

    asio::awaitable<void> reply(glue::webhook::event e) {
        try {
            // The workspace token names the app's own user there; its messages are not answered
            // (each reply fires message.created too). A message naming no author is skipped
            // alike: a loop is worse than a missed answer.
            const glue::access_token token = co_await client_.fetch_token(e.workspace_id);
            if (e.message->user.id.empty() || e.message->user.id == token.user_id) {
                co_return;
            }
            glue::send_message_input in;
            in.thread_id = e.thread->id;
            in.message.text = "Hello " +
                              (e.message->user.name.empty() ? "there" : e.message->user.name) +
                              "! You wrote: " + e.message->text.substr(0, 200);
            in.message.unique_by = "reply-to-" + e.message->id;
            const auto sent = co_await glue::send_message(client_, e.workspace_id, std::move(in));
            std::cerr << "bot: replied " << sent.message.id << " in " << sent.thread.id << "\n";
        } catch (const glue::error& err) {
            std::cerr << "bot: reply to " << e.message->id << " failed: " << err.what() << "\n";
        }
    }

    // What the client did (calls, retries, latencies, tokens, connections, throttling), for a
    // Prometheus scrape: counts and durations only, never a token or the secret.
    response on_metrics(const request& req) {
        std::ostringstream text;
        glue::write_prometheus(text, client_);
        return make_response(req, http::status::ok, "text/plain; version=0.0.4; charset=utf-8",
                             std::move(text).str());
    }

    void task_done() {
        if (--tasks_ == 0 && stopping_) {
            idle_.cancel();
        }
    }

    void forget_expired_installs() {
        const auto now = std::chrono::steady_clock::now();
        std::erase_if(pending_, [now](const auto& p) { return p.second.expires < now; });
    }

    struct pending_install {
        std::string verifier;
        std::chrono::steady_clock::time_point expires;
    };

    asio::io_context& ioc_; // one thread: the members below need no lock
    glue::client client_;
    const std::string webhook_secret_;
    std::string callback_path_;
    bool secure_cookie_ = false;
    std::map<std::string, pending_install> pending_; // by state
    glue::oauth::memory_token_store installations_;
    tcp::acceptor* acceptor_ = nullptr;
    struct session_entry {
        beast::tcp_stream* stream;
        bool idle; // waiting for a request: stop() may cut it short
    };
    std::list<session_entry> sessions_;
    bool stopping_ = false;
    std::size_t tasks_ = 0;   // replies and code exchanges in progress
    asio::steady_timer idle_; // stop() waits on it for tasks_ to reach 0
};

int usage() {
    std::cerr << "usage: bot_server [--port N] [--address A]\n"
                 "  configured by GLUE_API_URL, GLUE_CLIENT_ID, GLUE_CLIENT_SECRET,\n"
                 "  GLUE_REDIRECT_URI, GLUE_CA_FILE and GLUE_WEBHOOK_SECRET\n";
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    unsigned short port = 8080;
    std::string address = "127.0.0.1";
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--port" && i + 1 < argc) {
            port = static_cast<unsigned short>(std::atoi(argv[++i]));
        } else if (arg == "--address" && i + 1 < argc) {
            address = argv[++i];
        } else {
            return usage();
        }
    }
    const char* secret = std::getenv("GLUE_WEBHOOK_SECRET");
    if (!secret || !*secret) {
        std::cerr << "bot_server: GLUE_WEBHOOK_SECRET is not set\n";
        return usage();
    }
    try {
        asio::io_context ioc(1);
        bot b(ioc, glue::client_config::from_env(), secret);
        tcp::acceptor acceptor(ioc, {asio::ip::make_address(address), port});
        std::cout << "listening on http://" << acceptor.local_endpoint() << std::endl;

        asio::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code& ec, int) {
            if (!ec) {
                asio::co_spawn(ioc, b.stop(), asio::detached);
            }
        });
        asio::co_spawn(ioc, b.listen(acceptor), asio::detached);
        ioc.run();
        std::cerr << "bot: stopped\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "bot_server: " << e.what() << "\n";
        return 1;
    }
}
