// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "client/client_impl.hpp"

#include "client/config_checks.hpp"
#include "protocol/checks.hpp"
#include "protocol/graphql_document.hpp"
#include "protocol/graphql_request.hpp"
#include "protocol/graphql_response.hpp"
#include "protocol/retry_after.hpp"
#include "protocol/token_response.hpp"
#include "shared_cache/fleet_permits.hpp"
#include "shared_cache/redis_shared_cache.hpp"
#include "support/backoff.hpp"
#include "support/saturating.hpp"
#include "support/wipe.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/this_coro.hpp>

// A GCC 12 trap for every coroutine here: a braced or lambda temporary with non-trivial members
// inside a co_await expression is copied into the coroutine frame bitwise (its strings then point
// into the dead original). Such objects are named locals first, callbacks included.

namespace glue::detail {

namespace asio = boost::asio;

namespace {

constexpr std::size_t token_response_limit = 64 * 1024;

} // namespace

std::shared_ptr<client_impl> client_impl::create(asio::any_io_executor ex, client_config cfg) {
    auto impl = std::shared_ptr<client_impl>(new client_impl(std::move(ex), std::move(cfg)));
    // The user's hook runs only through the cache's gate, which its shutdown closes: once
    // the client is shut down or destroyed, no hook runs, ever, on any thread. The shared
    // level's events go through the same gate.
    auto options = cache_options_of(impl->cfg_);
    // A build without the shared cache has refused shared_cache_url, and with it
    // fleet_rate_limit, in the constructor (checked_origin).
#ifdef GLUE_HAS_SHARED_CACHE
    if (!impl->cfg_.shared_cache_url.empty()) {
        auto shared = *shared_cache_options(impl->cfg_);
        if (impl->cfg_.on_token_event) {
            shared.on_event = [user = impl->cfg_.on_token_event, gate = options.hooks](
                                  const token_event& e) { gate->run([&] { user(e); }); };
        }
        options.shared = make_redis_shared_cache(impl->ex_, std::move(shared));
    }
    if (impl->cfg_.fleet_rate_limit) {
        impl->fleet_ = make_fleet_permits(impl->ex_, fleet_options_of(impl->cfg_, options.hooks));
    }
#endif
    // The fetcher holds the client weakly: the cache belongs to the client, and a token
    // request that outlives it finds it gone rather than keeping it alive.
    impl->cache_.emplace(
        impl->ex_,
        [weak = impl->weak_from_this()](std::string ws, steady_time dl, unsigned attempt) {
            return request_token(weak, std::move(ws), dl, attempt);
        },
        std::move(options));
    // Where calls report: the request-event hook (through the cache's hook gate, as token
    // events) and the metrics, each when configured.
    if (impl->cfg_.on_request_event) {
        impl->sink_.hook = &impl->cfg_.on_request_event;
        impl->sink_.gate = impl->cache_->options().hooks.get();
    }
    if (impl->cfg_.collect_metrics) {
        impl->sink_.metrics = &impl->metrics_;
    }
    return impl;
}

namespace {

// A call's own header lines, then its own "Bearer <token>" if it brought one, in one buffer
// made at its final size: growing it would leave a copy of either in freed memory.
// `headers_end`: where the header lines end.
std::string own_request_text(const graphql_request& request, std::size_t& headers_end) {
    std::string lines = header_lines(request.headers);
    const wipe_at_exit wipe(lines);
    std::string text;
    const std::string_view bearer = "Bearer ";
    text.reserve(lines.size() +
                 (request.access_token.empty() ? 0 : bearer.size() + request.access_token.size()));
    text.append(lines);
    headers_end = text.size();
    if (!request.access_token.empty()) {
        text.append(bearer).append(request.access_token);
    }
    return text;
}

// The origin is checked first, then the transport's options (the proxy among them) are made for
// it: the arguments of one constructor call would be evaluated in no set order.
http_pool make_pool(const asio::any_io_executor& ex, const client_config& cfg) {
    auto org = checked_origin(cfg);
    auto opts = transport_options_of(cfg, org);
    return http_pool(ex, std::move(org), std::move(opts));
}

} // namespace

client_impl::client_impl(asio::any_io_executor ex, client_config cfg)
    : ex_(std::move(ex))
    , cfg_(std::move(cfg))
    , pool_(make_pool(ex_, cfg_))
    , token_target_(pool_.target().base_path + "/oauth/token")
    , graphql_target_(pool_.target().base_path + "/public/graphql")
    , throttle_(throttle_options_of(cfg_))
    , budget_(cfg_.retry_budget) {}

asio::awaitable<result<access_token>> client_impl::fetch_token(std::string ws) {
    if (auto ok = check_workspace_id(ws, cfg_.strict_workspace_ids); !ok) {
        co_return ok.error();
    }
    if (auto t = cache_->find(ws)) {
        co_return t->token;
    }
    auto t = co_await cache_->get(ws, deadline());
    if (!t) {
        co_return t.error();
    }
    co_return (*t)->token;
}

asio::awaitable<result<graphql_response>> client_impl::graphql(std::string ws,
                                                               graphql_request request) {
    call_trace trace(sink_, request_event::endpoint::graphql, ws, request.operation_name,
                     std::chrono::steady_clock::now());
    // Every way out tells the trace how the call ended. Few locals, and few of them large: the
    // frame must stay small (call_trace.hpp).
    std::string body;
    if (auto refused = check_call(ws, request, body)) {
        trace.finish(refused->ec);
        co_return std::move(*refused);
    }
    graphql_call call(graphql_call_settings(cfg_, request,
                                            deadline(request.timeout, trace.started()),
                                            budget_.enabled() ? &budget_ : nullptr));
    http_request req;
    req.target = graphql_target_;
    req.content_type = "application/json";
    req.body = body;
    req.body_limit = cfg_.max_response_body_bytes;
    req.idempotent = call.settings().idempotent;
    // The call's own headers and a caller's own token ("Bearer ..."; then the cache is left
    // alone), formatted once for all its attempts in one buffer, wiped at the end: either may
    // hold a secret.
    std::size_t headers_end = 0;
    std::string own_text = own_request_text(request, headers_end);
    const wipe_at_exit wipe(own_text);
    req.extra_headers = std::string_view(own_text).substr(0, headers_end);
    const std::string_view own_authorization = std::string_view(own_text).substr(headers_end);
    // The token is read from the cache when the request is written, so time spent queued for a
    // connection can't make it stale.
    token_ptr used;
    auto with_token = [&](http_request& r) {
        if (!own_authorization.empty()) {
            r.authorization = own_authorization;
            return true;
        }
        used = cache_->peek(ws);
        if (!used) {
            return false;
        }
        r.authorization = used->authorization; // `used` keeps it alive
        return true;
    };
    // Each send waits for its turn first (pauses, rate limits), and tells the throttle table
    // what came back.
    auto send = [&](http_response& into) -> asio::awaitable<result<bool>> {
        // Most calls go at once, on the throttle table's first answer: only a call that must
        // wait (or take the fleet's turn) awaits admit()'s coroutine.
        auto sent = std::chrono::steady_clock::now();
        auto first = throttle_.admit(ws, sent, call.settings().deadline);
        if (first.kind != admission::go || fleet_) {
            std::chrono::nanoseconds waited{0};
            auto admitted = co_await admit(ws, call.settings().deadline, waited, std::move(first));
            trace.add_throttle_wait(waited);
            if (!admitted) {
                co_return admitted.error();
            }
            sent = std::chrono::steady_clock::now();
        }
        used.reset();
        throttle_.on_sent(ws, sent);
        send_trace steps;
        auto r = co_await pool_.send(req, into, call.settings().deadline, request_priority::normal,
                                     with_token, &steps);
        trace.absorb(steps);
        if (r && *r) {
            note_answer(ws, into, sent);
        }
        co_return r;
    };
    result<http_response> answer;
    co_await carry_out(call, send, trace, answer, ws, &used);
    if (call.attempt() > 1) {
        retries_.fetch_add(call.attempt() - 1, std::memory_order_relaxed);
    }
    co_return finish_call(trace, std::move(answer));
}

result<graphql_response> client_impl::finish_call(call_trace& trace,
                                                  result<http_response>&& answer) {
    result<graphql_response> r = answer ? parse_graphql_response(std::move(*answer))
                                        : result<graphql_response>(std::move(answer).error());
    trace.finish(r ? error_code() : r.error().ec);
    return r;
}

std::optional<failure> client_impl::check_call(const std::string& ws,
                                               const graphql_request& request,
                                               std::string& body) const {
    if (auto ok = check_workspace_id(ws, cfg_.strict_workspace_ids); !ok) {
        return ok.error();
    }
    if (auto ok = check_request(request); !ok) {
        return ok.error();
    }
    body = graphql_body(request);
    if (body.size() > cfg_.max_request_body_bytes) {
        return make_failure(errc::invalid_argument,
                            "the GraphQL request is larger than max_request_body_bytes");
    }
    return std::nullopt;
}

asio::awaitable<void> client_impl::carry_out(graphql_call& call, send_fn send, call_trace& trace,
                                             result<http_response>& answer, std::string_view ws,
                                             const token_ptr* used) {
    http_response& into = *answer;
    result<bool> sent = false; // the last send's outcome: true, its answer is in `into`
    for (call_action a = call.resume(call_events::start{});;) {
        switch (a.kind) {
        case call_action::get_token: {
            if (cache_->find(ws)) {
                a = call.resume(call_events::token_ready{});
                break;
            }
            const auto asked = std::chrono::steady_clock::now();
            auto t = co_await cache_->get(ws, call.settings().deadline);
            const auto now = std::chrono::steady_clock::now();
            trace.add_token_wait(saturating_sub(now, asked));
            if (t) {
                a = call.resume(call_events::token_ready{});
            } else {
                a = call.resume(call_events::token_failed{t.error()});
                trace.ended(nullptr, t.error().ec, now); // the call's end: no retry
            }
            break;
        }
        case call_action::send: {
            sent = co_await send(into);
            // When the exchange ended, as the pool read it; else now.
            const auto now = trace.exchange_end().value_or(std::chrono::steady_clock::now());
            const double jitter = jitter_share();
            if (!sent) {
                a = call.resume(call_events::send_failed{sent.error(), now, jitter});
                trace.ended(nullptr, sent.error().ec, now);
            } else if (!*sent) {
                a = call.resume(call_events::declined{}); // not an attempt: nothing was sent
                break;
            } else {
                a = call.resume(call_events::responded{into, now, jitter});
                trace.ended(&into, {}, now);
            }
            // A 401's retry is told once the invalidation decided whether there is one.
            if (a.kind == call_action::sleep) {
                trace.then({true, retry_reason_of(sent ? into.status : 0), a.wait});
            }
            break;
        }
        case call_action::invalidate_and_retry: {
            const auto r = cache_->invalidate(ws, used ? used->get() : nullptr);
            a = call.resume(call_events::invalidated{r == invalidate_result::throttled});
            if (a.kind != call_action::done) {
                trace.then({true, retry_reason::unauthorized, std::chrono::nanoseconds(0)});
            }
            break;
        }
        case call_action::sleep: {
            const auto asleep = std::chrono::steady_clock::now();
            const bool completed = co_await sleep(a.wait);
            const auto now = std::chrono::steady_clock::now();
            trace.add_backoff(saturating_sub(now, asleep));
            a = call.resume(call_events::slept{completed});
            if (!completed && a.error) {
                trace.ended(nullptr, a.error->ec, now); // cancelled before it
            }
            break;
        }
        case call_action::done:
            if (a.error) {
                answer = std::move(*a.error);
            } else if (!sent || !*sent) { // done without an error follows a response: never here
                answer = make_failure(errc::internal_error, "a call ended without an answer");
            }
            co_return;
        }
    }
}

throttle_stats client_impl::throttling() const {
    auto s = throttle_.stats(std::chrono::steady_clock::now());
    s.retries = retries_.load(std::memory_order_relaxed);
    s.retries_denied = budget_.denied();
    s.retry_budget_left = budget_.left();
    if (fleet_) {
        const auto f = fleet_->stats();
        s.fleet_batches = f.batches;
        s.fleet_fallback = f.fallback;
    }
    return s;
}

client_metrics client_impl::metrics() const {
    client_metrics m = cfg_.collect_metrics ? metrics_.snapshot() : client_metrics{};
    m.pool = pool_.stats();
    return m;
}

asio::awaitable<result<void>> client_impl::local_turn(std::string_view ws, steady_time deadline,
                                                      admission a,
                                                      std::optional<steady_time>& start) {
    bool workspace_turn = false; // the workspace's turn has come: the app's next
    for (bool first = true;; first = false) {
        if (!first) {
            a = throttle_.admit(ws, std::chrono::steady_clock::now(), deadline, workspace_turn);
        }
        if (a.kind == admission::refused) {
            co_return std::move(*a.error);
        }
        if (a.kind == admission::go) {
            co_return result<void>{};
        }
        if (!start) {
            start = std::chrono::steady_clock::now();
        }
        if (!co_await sleep_until(a.at)) {
            throttle_.give_back(ws, a);
            co_return make_failure(asio::error::operation_aborted);
        }
        // A pause that began while this call waited for its turn holds it too, and voids the
        // turn: it asks again (for the workspace's turn too) once the pause is over.
        const bool holds = a.kind == admission::wait_turn &&
                           throttle_.turn_holds(ws, a, std::chrono::steady_clock::now());
        if (holds && !a.workspace_turn) {
            co_return result<void>{};
        }
        workspace_turn = holds && a.workspace_turn;
    }
}

asio::awaitable<result<void>> client_impl::admit(std::string_view ws, steady_time deadline,
                                                 std::chrono::nanoseconds& waited_for,
                                                 admission first) {
    // The time spent here is counted only when the call had to wait: no clock read and no lock
    // for the calls that go at once.
    std::optional<steady_time> start;
    auto waited = [&] {
        if (start) {
            waited_for = saturating_sub(std::chrono::steady_clock::now(), *start);
            throttle_.add_wait(waited_for);
        }
    };
    for (bool asked = true;; asked = false) {
        if (!asked) {
            first = throttle_.admit(ws, std::chrono::steady_clock::now(), deadline);
        }
        if (first.kind == admission::refused) {
            waited();
            co_return std::move(*first.error);
        }
        if (first.kind != admission::go) {
            // Only the calls that wait take local_turn()'s coroutine frame.
            if (auto local = co_await local_turn(ws, deadline, std::move(first), start); !local) {
                waited();
                co_return std::move(local).error();
            }
        }
        if (!fleet_) {
            break;
        }
        // The fleet's turn last: a call held back here by its own limits takes none meanwhile.
        // Its round trip to Redis counts as waiting too.
        start = start.value_or(std::chrono::steady_clock::now());
        auto turn = co_await fleet_->take(deadline);
        if (!turn) {
            waited();
            co_return std::move(turn).error();
        }
        if (*turn > std::chrono::steady_clock::now() && !co_await sleep_until(*turn)) {
            waited();
            co_return make_failure(asio::error::operation_aborted);
        }
        // A pause that began meanwhile holds this call too: it asks again once it is over.
        if (throttle_.turn_holds(ws, admission{}, std::chrono::steady_clock::now())) {
            break;
        }
    }
    waited();
    co_return result<void>{};
}

void client_impl::note_answer(std::string_view ws, const http_response& r, steady_time sent) {
    const auto now = std::chrono::steady_clock::now();
    const auto after = parse_retry_after(r.retry_after);
    if (r.status == 429) {
        throttle_.on_answer(ws, answer_signal::throttled, after, sent, now, jitter_share());
    } else if (r.status == 503 && after.count() >= 0) {
        throttle_.on_answer(ws, answer_signal::unavailable, after, sent, now, jitter_share());
    } else if (r.status < 500) {
        throttle_.on_answer(ws, answer_signal::accepted, std::chrono::nanoseconds(-1), sent, now,
                            0);
    }
}

void client_impl::shutdown() {
    cache_->shutdown();
    if (const auto& shared = cache_->options().shared) {
        shared->shutdown(); // its connections to Redis end: the io_context can run out
    }
    pool_.shutdown();
    if (fleet_) {
        fleet_->shutdown();
    }
    std::lock_guard lock(sleep_mtx_);
    stopped_ = true;
    while (!sleepers_.empty()) {
        sleepers_.front().wake();
    }
}

asio::awaitable<result<oauth::token_set>>
client_impl::exchange_code(std::string code, std::string redirect_uri, std::string verifier) {
    if (auto ok = check_grant_value(code); !ok) {
        co_return ok.error();
    }
    if (redirect_uri.empty()) {
        redirect_uri = cfg_.redirect_uri;
    }
    if (redirect_uri.empty() || !is_header_safe(redirect_uri)) {
        co_return make_failure(errc::invalid_argument,
                               "the code exchange needs the authorization request's "
                               "redirect_uri, without control characters");
    }
    if (!verifier.empty() && !is_code_verifier(verifier)) {
        co_return make_failure(errc::invalid_argument,
                               "a PKCE code verifier is 43 to 128 characters of "
                               "[A-Za-z0-9-._~]");
    }
    std::vector<form_field> fields = {
        {"grant_type", "authorization_code"}, {"code", code}, {"redirect_uri", redirect_uri}};
    if (!verifier.empty()) {
        fields.emplace_back("code_verifier", verifier);
    }
    co_return co_await grant(std::move(fields));
}

asio::awaitable<result<oauth::token_set>> client_impl::refresh(std::string refresh_token) {
    if (auto ok = check_grant_value(refresh_token); !ok) {
        co_return ok.error();
    }
    std::vector<form_field> fields = {{"grant_type", "refresh_token"},
                                      {"refresh_token", refresh_token}};
    co_return co_await grant(std::move(fields));
}

steady_time client_impl::deadline(std::chrono::milliseconds timeout,
                                  std::optional<steady_time> from) const {
    return saturating_add(from.value_or(std::chrono::steady_clock::now()),
                          timeout.count() > 0 ? timeout : cfg_.request_timeout);
}

asio::awaitable<bool> client_impl::sleep(std::chrono::nanoseconds d) {
    co_return co_await sleep_until(saturating_add(std::chrono::steady_clock::now(), d));
}

asio::awaitable<bool> client_impl::sleep_until(steady_time t) {
    sleeper w(co_await asio::this_coro::executor, sleep_mtx_);
    {
        std::lock_guard lock(sleep_mtx_);
        if (stopped_) {
            co_return false;
        }
        sleepers_.push_back(w);
    }
    // A sleeper is woken only by shutdown(); the "timeout" is the sleep ending.
    co_return co_await w.wait(sleep_mtx_, t) == errc::timeout;
}

result<void> client_impl::check_request(const graphql_request& r) {
    if (r.query.empty()) {
        return make_failure(errc::invalid_argument, "the GraphQL query is empty");
    }
    if (!r.operation_name.empty() && !is_graphql_name(r.operation_name)) {
        return make_failure(errc::invalid_argument, "operation_name is not a GraphQL name");
    }
    // It goes into the Authorization header (RFC 6750 §2.1: visible ASCII).
    if (!r.access_token.empty() &&
        (r.access_token.size() > max_grant_value_size || !is_plain_id(r.access_token))) {
        return make_failure(errc::invalid_argument,
                            "access_token is longer than 4096 or has a space, control or "
                            "non-ASCII character");
    }
    for (const auto& kv : r.variables) {
        if (!all_finite(kv.value())) {
            return make_failure(errc::invalid_argument,
                                "a number in the GraphQL variables is infinite or NaN");
        }
    }
    // Header injection, reserved names, sizes: the rules of the default headers.
    return check_extra_headers(r.headers);
}

// One client-credentials request (RFC 6749 §4.4, client_secret_post as Glue documents it); the
// token cache retries it.
asio::awaitable<result<token_grant>> client_impl::request_token(std::weak_ptr<client_impl> weak,
                                                                std::string ws, steady_time until,
                                                                unsigned attempt) {
    auto self = weak.lock();
    if (!self) {
        co_return make_failure(asio::error::operation_aborted);
    }
    std::vector<form_field> fields = {{"grant_type", "client_credentials"}};
    if (!self->cfg_.redirect_uri.empty()) {
        fields.emplace_back("redirect_uri", self->cfg_.redirect_uri);
    }
    fields.emplace_back("subject", ws);
    // One request of the flight: whether another follows is the token cache's to decide.
    call_trace trace(self->sink_, request_event::endpoint::token, ws, {},
                     std::chrono::steady_clock::now(), attempt);
    token_post post;
    http_response answer;
    auto sent = co_await self->post_token_form(fields, answer, until, request_priority::high,
                                               /*idempotent=*/true, post, trace);
    const auto now = std::chrono::steady_clock::now();
    if (!sent) {
        trace.ended(nullptr, sent.error().ec, now);
        trace.finish(sent.error().ec);
        co_return sent.error();
    }
    // post_token_form never declines.
    trace.ended(&answer, {}, now);
    auto grant = parse_token_response(answer, self->cfg_.default_token_lifetime, post.steady);
    trace.finish(grant ? error_code() : grant.error().ec);
    co_return grant;
}

// The authorization-code and refresh-token grants (RFC 6749 §4.1.3, §6).
asio::awaitable<result<oauth::token_set>> client_impl::grant(std::vector<form_field> fields) {
    graphql_call call(grant_call_settings(cfg_, deadline(cfg_.token_request_timeout)));
    call_trace trace(sink_, request_event::endpoint::token, {}, {},
                     std::chrono::steady_clock::now());
    token_post post;
    auto send = [&](http_response& into) {
        return post_token_form(fields, into, call.settings().deadline, request_priority::normal,
                               /*idempotent=*/false, post, trace);
    };
    result<http_response> answer;
    co_await carry_out(call, send, trace, answer);
    if (!answer) {
        trace.finish(answer.error().ec);
        co_return answer.error();
    }
    auto set = parse_token_set(*answer, cfg_.default_token_lifetime, post.wall);
    trace.finish(set ? error_code() : set.error().ec);
    co_return set;
}

// Only an `idempotent` request (the client-credentials grant) is sent again after a stale
// keep-alive connection failed it; the others go on a checked connection.
asio::awaitable<result<bool>> client_impl::post_token_form(std::span<const form_field> fields,
                                                           http_response& into, steady_time until,
                                                           request_priority prio, bool idempotent,
                                                           token_post& post, call_trace& trace) {
    std::vector<form_field> all(fields.begin(), fields.end());
    all.emplace_back("client_id", cfg_.client_id);
    all.emplace_back("client_secret", cfg_.client_secret);
    std::string body = form_encode(all);
    const wipe_at_exit wipe(body); // it carries the client secret

    http_request req;
    req.target = token_target_;
    req.content_type = "application/x-www-form-urlencoded";
    req.body = body;
    req.body_limit = token_response_limit;
    req.idempotent = idempotent;
    auto note_time = [&post](http_request&) {
        post.steady = std::chrono::steady_clock::now();
        post.wall = std::chrono::system_clock::now();
        return true;
    };
    send_trace steps;
    auto sent = co_await pool_.send(req, into, until, prio, note_time, &steps);
    trace.absorb(steps);
    co_return sent;
}

} // namespace glue::detail
