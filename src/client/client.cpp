// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/client.hpp>

#include "cache/token_cache.hpp"
#include "protocol/protocol.hpp"
#include "shared_cache/redis_shared_cache.hpp"
#include "shared_cache/redis_url.hpp"
#include "shared_cache/sealing.hpp"
#include "support/backoff.hpp"
#include "support/saturating.hpp"
#include "support/waiter.hpp"
#include "support/wipe.hpp"
#include "transport/http_pool.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/asio/this_coro.hpp>

#include <optional>
#include <string>

// A GCC 12 trap for every coroutine here: a braced or lambda temporary with non-trivial members
// inside a co_await expression is copied into the coroutine frame bitwise (its strings then point
// into the dead original). Such objects are named locals first, callbacks included.

namespace glue {

namespace asio = boost::asio;

namespace detail {

namespace {

constexpr std::size_t token_response_limit = 64 * 1024;

result<void> check_config(const client_config& cfg) {
    if (cfg.client_id.empty() || cfg.client_secret.empty()) {
        return make_failure(errc::invalid_argument, "client_id and client_secret are required");
    }
    for (const std::string* s :
         {&cfg.client_id, &cfg.client_secret, &cfg.redirect_uri, &cfg.user_agent}) {
        if (!is_header_safe(*s)) {
            return make_failure(errc::invalid_argument,
                                "a credential, redirect_uri or user_agent contains a control "
                                "character");
        }
    }
    if (cfg.max_connections == 0 || cfg.max_concurrent_token_requests == 0 ||
        cfg.max_cached_workspaces == 0 || cfg.token_retry_attempts == 0) {
        return make_failure(errc::invalid_argument,
                            "max_connections, max_concurrent_token_requests, "
                            "max_cached_workspaces and token_retry_attempts must be at least 1");
    }
    if (cfg.max_response_header_bytes == 0 || cfg.max_response_body_bytes == 0 ||
        cfg.max_request_body_bytes == 0) {
        // Zero would make every request or every response fail.
        return make_failure(errc::invalid_argument, "size limits must be at least 1 byte");
    }
    if (!(cfg.soft_window_jitter >= 0 && cfg.soft_window_jitter <= 0.5)) {
        return make_failure(errc::invalid_argument, "soft_window_jitter must be in [0, 0.5]");
    }
    using std::chrono::milliseconds;
    if (cfg.request_timeout <= milliseconds(0) || cfg.token_request_timeout <= milliseconds(0) ||
        cfg.connect_timeout <= milliseconds(0) ||
        cfg.default_token_lifetime <= std::chrono::seconds(0) ||
        cfg.soft_window_cap <= std::chrono::seconds(0) ||
        cfg.refresh_min_interval < milliseconds(0) ||
        cfg.token_retry_base_delay < milliseconds(0) ||
        cfg.failure_backoff_initial <= milliseconds(0) ||
        cfg.failure_backoff_max < cfg.failure_backoff_initial ||
        cfg.permanent_failure_memory < milliseconds(0) ||
        cfg.retry_after_cap < std::chrono::seconds(0) ||
        cfg.forced_refresh_interval < milliseconds(0) ||
        cfg.shared_cache_timeout <= milliseconds(0)) {
        return make_failure(errc::invalid_argument,
                            "timeouts, intervals and lifetimes must be positive");
    }
    return {};
}

// The shared cache's settings, checked with the rest before anything connects. A URL without
// a key is refused: tokens are never stored in plaintext.
result<redis_shared_cache_options> shared_cache_options(const client_config& cfg) {
    redis_shared_cache_options o;
    auto address = parse_redis_url(cfg.shared_cache_url);
    if (!address) {
        return address.error();
    }
    auto key = parse_shared_cache_key(cfg.shared_cache_key);
    if (!key) {
        return key.error();
    }
    o.address = std::move(*address);
    o.key = *key;
    o.client_id = cfg.client_id;
    o.timeout = cfg.shared_cache_timeout;
    // A lease lasts one token request; Redis refuses a PX that overflows its clock.
    o.lease_time = std::min<std::chrono::milliseconds>(
        cfg.token_request_timeout,
        std::chrono::duration_cast<std::chrono::milliseconds>(max_token_lifetime));
    return o;
}

origin checked_origin(const client_config& cfg) {
    if (auto ok = check_config(cfg); !ok) {
        throw to_error(ok.error(), "client");
    }
    if (!cfg.shared_cache_url.empty()) {
        if (auto ok = shared_cache_options(cfg); !ok) {
            throw to_error(ok.error(), "client");
        }
    }
    auto o = parse_origin(cfg.api_url, cfg.allow_insecure_http);
    if (!o) {
        throw to_error(o.error(), "client");
    }
    return std::move(*o);
}

token_cache_options cache_options_of(const client_config& cfg) {
    token_cache_options o;
    o.flight_timeout = cfg.token_request_timeout;
    o.forced_refresh_interval = cfg.forced_refresh_interval;
    o.soft_window_cap = saturating_cast<std::chrono::nanoseconds>(cfg.soft_window_cap);
    o.soft_window_jitter = cfg.soft_window_jitter;
    o.refresh_min_interval = cfg.refresh_min_interval;
    o.retry_attempts = cfg.token_retry_attempts;
    o.retry_base_delay = cfg.token_retry_base_delay;
    o.backoff_initial = cfg.failure_backoff_initial;
    o.backoff_max = cfg.failure_backoff_max;
    o.permanent_failure_memory = cfg.permanent_failure_memory;
    o.max_concurrent_requests = cfg.max_concurrent_token_requests;
    o.retry_after_cap = cfg.retry_after_cap;
    o.max_entries = cfg.max_cached_workspaces;
    o.on_event = cfg.on_token_event;
    return o;
}

transport_options transport_options_of(const client_config& cfg) {
    transport_options t;
    t.connect_timeout = cfg.connect_timeout;
    t.max_connections = cfg.max_connections;
    t.header_limit = cfg.max_response_header_bytes;
    t.user_agent = cfg.user_agent;
    t.ca_file = cfg.ca_file;
    t.ca_pem = cfg.ca_pem;
    return t;
}

} // namespace

class client_impl : public std::enable_shared_from_this<client_impl> {
public:
    static std::shared_ptr<client_impl> create(asio::any_io_executor ex, client_config cfg) {
        auto impl = std::shared_ptr<client_impl>(new client_impl(std::move(ex), std::move(cfg)));
        // The user's hook runs only through the cache's gate, which its shutdown closes: once
        // the client is shut down or destroyed, no hook runs, ever, on any thread. The shared
        // level's events go through the same gate.
        auto options = cache_options_of(impl->cfg_);
        if (!impl->cfg_.shared_cache_url.empty()) {
            auto shared = *shared_cache_options(impl->cfg_);
            if (impl->cfg_.on_token_event) {
                shared.on_event = [user = impl->cfg_.on_token_event, gate = options.hooks](
                                      const token_event& e) { gate->run([&] { user(e); }); };
            }
            options.shared = make_redis_shared_cache(impl->ex_, std::move(shared));
        }
        // The fetcher holds the client weakly: the cache belongs to the client, and a token
        // request that outlives it finds it gone rather than keeping it alive.
        impl->cache_.emplace(
            impl->ex_,
            [weak = impl->weak_from_this()](std::string ws, steady_time dl) {
                return request_token(weak, std::move(ws), dl);
            },
            std::move(options));
        return impl;
    }

    // The workspace id is copied into the coroutine: an awaitable made from a temporary id may
    // be started later (co_spawn), after the caller's string is gone.
    asio::awaitable<result<access_token>> fetch_token(std::string ws) {
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

    asio::awaitable<result<graphql_response>> graphql(std::string ws, graphql_request request) {
        if (auto ok = check_workspace_id(ws, cfg_.strict_workspace_ids); !ok) {
            co_return ok.error();
        }
        if (auto ok = check_request(request); !ok) {
            co_return ok.error();
        }
        const std::string body = graphql_body(request);
        if (body.size() > cfg_.max_request_body_bytes) {
            co_return make_failure(errc::invalid_argument,
                                   "the GraphQL request is larger than max_request_body_bytes");
        }
        const auto until = deadline(request.timeout);
        const unsigned attempts =
            request.retry_attempts > 0 ? request.retry_attempts : cfg_.graphql_retry_attempts;
        http_request req;
        req.target = graphql_target_;
        req.content_type = "application/json";
        req.body = body;
        req.body_limit = cfg_.max_response_body_bytes;
        req.idempotent = request.idempotent || may_send_twice(request);

        // A caller's own token, made into a header once; then the cache is left alone.
        std::string own_authorization =
            request.access_token.empty() ? std::string() : "Bearer " + request.access_token;
        const wipe_at_exit wipe(own_authorization);
        bool retried_401 = !own_authorization.empty();
        for (unsigned attempt = 1;; ++attempt) {
            if (own_authorization.empty() && !cache_->find(ws)) {
                auto t = co_await cache_->get(ws, until);
                if (!t) {
                    co_return t.error();
                }
            }
            // The token is read from the cache when the request is written, so time spent
            // queued for a connection can't make it stale.
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
            auto sent = co_await pool_.send(req, until, request_priority::normal, with_token);
            if (sent && !*sent) {
                --attempt;
                continue; // the token expired while waiting for a connection: get a new one
            }
            // Retry, after `wait`, when the outcome may be retried, attempts remain, and the
            // wait ends before the deadline; else this outcome is the answer.
            std::optional<std::chrono::nanoseconds> wait;
            if (!sent) {
                const failure& f = sent.error();
                if (retryable(f) && (req.idempotent || f.unsent)) {
                    wait = backoff_delay(cfg_.graphql_retry_base_delay, attempt,
                                         cfg_.graphql_retry_max_delay);
                }
            } else {
                const http_response& resp = **sent;
                if (resp.status == 401 && !retried_401) {
                    retried_401 = true;
                    // Drop the token only if it is still the cached one; then refetch (through
                    // the normal single flight) and retry once, unless a forced refresh just
                    // happened. Not counted as an attempt.
                    if (cache_->invalidate(ws, used.get()) != invalidate_result::throttled) {
                        --attempt;
                        continue;
                    }
                }
                if (req.idempotent) {
                    wait = retry_wait(resp, attempt);
                }
            }
            if (!wait || attempt >= attempts ||
                saturating_add(std::chrono::steady_clock::now(), *wait) >= until) {
                if (!sent) {
                    co_return sent.error();
                }
                co_return parse_graphql_response(std::move(**sent));
            }
            if (!co_await sleep(*wait)) {
                co_return make_failure(asio::error::operation_aborted);
            }
        }
    }

    void shutdown() {
        cache_->shutdown();
        if (const auto& shared = cache_->options().shared) {
            shared->shutdown(); // its connections to Redis end: the io_context can run out
        }
        pool_.shutdown();
        std::lock_guard lock(sleep_mtx_);
        stopped_ = true;
        while (!sleepers_.empty()) {
            sleepers_.front().wake();
        }
    }

    token_cache_stats stats() const { return cache_->stats(); }

    const asio::any_io_executor& executor() const noexcept { return ex_; }
    const client_config& config() const noexcept { return cfg_; }

    // Arguments are copied into the coroutines, as for fetch_token.
    asio::awaitable<result<oauth::token_set>>
    exchange_code(std::string code, std::string redirect_uri, std::string verifier) {
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

    asio::awaitable<result<oauth::token_set>> refresh(std::string refresh_token) {
        if (auto ok = check_grant_value(refresh_token); !ok) {
            co_return ok.error();
        }
        std::vector<form_field> fields = {{"grant_type", "refresh_token"},
                                          {"refresh_token", refresh_token}};
        co_return co_await grant(std::move(fields));
    }

private:
    client_impl(asio::any_io_executor ex, client_config cfg)
        : ex_(std::move(ex))
        , cfg_(std::move(cfg))
        , pool_(ex_, checked_origin(cfg_), transport_options_of(cfg_))
        , token_target_(pool_.target().base_path + "/oauth/token")
        , graphql_target_(pool_.target().base_path + "/public/graphql") {}

    // A call's deadline: `timeout` from now, or request_timeout when it is zero.
    steady_time deadline(std::chrono::milliseconds timeout = {}) const {
        return saturating_add(std::chrono::steady_clock::now(),
                              timeout.count() > 0 ? timeout : cfg_.request_timeout);
    }

    // Transport failures worth another try: not a cancellation, a deadline, a malformed
    // answer (glue's own codes), a TLS handshake refused, or an unknown host.
    static bool retryable(const failure& f) {
        const auto& ec = f.ec;
        return ec != asio::error::operation_aborted && ec.category() != glue_category() &&
               ec.category() != asio::error::get_ssl_category() &&
               ec != asio::error::host_not_found;
    }

    // How long to wait before sending again after this answer; none: don't.
    std::optional<std::chrono::nanoseconds> retry_wait(const http_response& r,
                                                       unsigned attempt) const {
        switch (r.status) {
        case 429:
        case 503:
            if (auto after = parse_retry_after(r.retry_after); after.count() >= 0) {
                return after;
            }
            [[fallthrough]];
        case 500:
        case 502:
        case 504:
            return backoff_delay(cfg_.graphql_retry_base_delay, attempt,
                                 cfg_.graphql_retry_max_delay);
        default:
            return std::nullopt;
        }
    }

    // Waits `d` before a retry. False when cut short: cancelled, or the client shut down.
    asio::awaitable<bool> sleep(std::chrono::nanoseconds d) {
        sleeper w(co_await asio::this_coro::executor, sleep_mtx_);
        {
            std::lock_guard lock(sleep_mtx_);
            if (stopped_) {
                co_return false;
            }
            sleepers_.push_back(w);
        }
        // A sleeper is woken only by shutdown(); the "timeout" is the sleep ending.
        co_return co_await w.wait(
            sleep_mtx_, saturating_add(std::chrono::steady_clock::now(), d)) == errc::timeout;
    }

    static result<void> check_request(const graphql_request& r) {
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
        return {};
    }

    // The fetch operation of the token cache: one client-credentials request (RFC 6749 §4.4,
    // client_secret_post as Glue documents it).
    static asio::awaitable<result<token_grant>> request_token(std::weak_ptr<client_impl> weak,
                                                              std::string ws, steady_time until) {
        auto self = weak.lock();
        if (!self) {
            co_return make_failure(asio::error::operation_aborted);
        }
        std::vector<form_field> fields = {{"grant_type", "client_credentials"}};
        if (!self->cfg_.redirect_uri.empty()) {
            fields.emplace_back("redirect_uri", self->cfg_.redirect_uri);
        }
        fields.emplace_back("subject", ws);
        token_post post;
        auto sent = co_await self->post_token_form(fields, until, request_priority::high,
                                                   /*idempotent=*/true, post);
        if (!sent) {
            co_return sent.error();
        }
        co_return parse_token_response(*sent, self->cfg_.default_token_lifetime, post.steady);
    }

    // The authorization-code and refresh-token grants (RFC 6749 §4.1.3, §6). A code or a
    // rotating refresh token works once, so the request is sent again only when it certainly
    // never left (a refused connection), never after a failure that leaves its fate unknown.
    asio::awaitable<result<oauth::token_set>> grant(std::vector<form_field> fields) {
        const steady_time until = deadline(cfg_.token_request_timeout);
        for (unsigned attempt = 1;; ++attempt) {
            token_post post;
            auto sent = co_await post_token_form(fields, until, request_priority::normal,
                                                 /*idempotent=*/false, post);
            if (sent) {
                co_return parse_token_set(*sent, cfg_.default_token_lifetime, post.wall);
            }
            // As the token cache's retries: no cap but the deadline.
            const auto wait = backoff_delay(cfg_.token_retry_base_delay, attempt,
                                            std::chrono::nanoseconds::max());
            if (!retryable(sent.error()) || !sent.error().unsent ||
                attempt >= cfg_.token_retry_attempts ||
                saturating_add(std::chrono::steady_clock::now(), wait) >= until) {
                co_return sent.error();
            }
            if (!co_await sleep(wait)) {
                co_return make_failure(asio::error::operation_aborted);
            }
        }
    }

    // When a token request was written: a grant's expiry is anchored there.
    struct token_post {
        steady_time steady{};
        std::chrono::system_clock::time_point wall{};
    };

    // POSTs `fields` and the client's credentials (client_secret_post) to the token endpoint,
    // by `until`. Only an `idempotent` request (the client-credentials grant) is sent again
    // after a stale keep-alive connection failed it; the others go on a checked connection.
    asio::awaitable<result<http_response>> post_token_form(std::span<const form_field> fields,
                                                           steady_time until, request_priority prio,
                                                           bool idempotent, token_post& post) {
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
        auto sent = co_await pool_.send(req, until, prio, note_time);
        if (!sent) {
            co_return sent.error();
        }
        co_return std::move(**sent); // note_time never declines
    }

    const asio::any_io_executor ex_;
    const client_config cfg_;
    http_pool pool_;
    const std::string token_target_, graphql_target_;
    std::optional<token_cache> cache_; // set by create(): its fetcher needs weak_from_this()

    using sleeper = waiter<asio::steady_timer>;
    std::mutex sleep_mtx_;
    waiter_list<sleeper> sleepers_; // calls waiting to retry
    bool stopped_ = false;
};

} // namespace detail

//------------------------------------------------------------------------------

namespace {

const std::shared_ptr<detail::client_impl>& checked(const std::shared_ptr<detail::client_impl>& p,
                                                    std::string_view op) {
    if (!p) {
        throw detail::to_error(
            detail::make_failure(errc::invalid_argument, "the client was moved from"), op);
    }
    return p;
}

// The public operations: await the implementation, which reports failures as values, and throw
// them as glue::error. `impl` keeps the implementation alive for the whole call, even if the
// client object is destroyed meanwhile.
template <class T>
asio::awaitable<T> run(std::shared_ptr<detail::client_impl> impl, std::string_view op_name,
                       asio::awaitable<detail::result<T>> op) {
    detail::result<T> r = detail::make_failure(asio::error::operation_aborted);
    try {
        r = co_await std::move(op);
    } catch (...) {
        r = detail::failure_from(std::current_exception()); // e.g. cancelled before it started
    }
    if (!r) {
        throw detail::to_error(r.error(), op_name);
    }
    co_return std::move(*r);
}

// The any-completion-token operations: the same implementation coroutine, spawned on a strand of
// the client's executor (so a cancellation emitted from another thread is handed to it safely),
// completing on the handler's own executor.
template <class T>
void launch(const std::shared_ptr<detail::client_impl>& impl, diagnostics* diag,
            asio::any_completion_handler<void(error_code, T)> h,
            asio::awaitable<detail::result<T>> op) {
    if (!impl) {
        // Never inside the initiating call; then on the handler's executor.
        auto ex = asio::get_associated_executor(h, asio::system_executor());
        asio::post(asio::system_executor(), [ex, h = std::move(h)]() mutable {
            asio::dispatch(ex, [h = std::move(h)]() mutable {
                std::move(h)(make_error_code(errc::invalid_argument), T{});
            });
        });
        return;
    }
    auto strand = asio::make_strand(impl->executor());
    // Every cancellation type the caller emits becomes terminal inside: Beast's operations
    // filter out the others, and the client stays usable whichever it is (a cancelled call's
    // connection is closed, not reused). The bridge is handed to the strand, where the
    // operation runs.
    auto bridge = std::make_shared<asio::cancellation_signal>();
    auto slot = asio::get_associated_cancellation_slot(h);
    if (slot.is_connected()) {
        slot.assign([bridge, strand](asio::cancellation_type) {
            asio::dispatch(strand, [bridge] { bridge->emit(asio::cancellation_type::terminal); });
        });
    }
    auto work = asio::prefer(asio::get_associated_executor(h, impl->executor()),
                             asio::execution::outstanding_work.tracked);
    auto done = [h = std::move(h), work = std::move(work), diag, slot,
                 bridge](std::exception_ptr ep, detail::result<T> r) mutable {
        error_code ec;
        T value{};
        if (ep) {
            ec = detail::failure_from(ep).ec;
        } else if (!r) {
            ec = r.error().ec;
        } else {
            value = std::move(*r);
        }
        if (diag) {
            *diag = !ep && !r && r.error().diag ? *r.error().diag : diagnostics{};
        }
        asio::dispatch(work, [h = std::move(h), slot, ec, value = std::move(value)]() mutable {
            if (slot.is_connected()) {
                slot.clear(); // on the caller's executor, where it emits
            }
            std::move(h)(ec, std::move(value));
        });
    };
    asio::co_spawn(
        strand, std::move(op),
        asio::bind_executor(strand, asio::bind_cancellation_slot(bridge->slot(), std::move(done))));
}

asio::awaitable<detail::result<access_token>>
fetch_token_op(std::shared_ptr<detail::client_impl> impl, std::string ws) {
    co_return co_await impl->fetch_token(std::move(ws));
}

asio::awaitable<detail::result<graphql_response>>
graphql_op(std::shared_ptr<detail::client_impl> impl, std::string ws, graphql_request req) {
    co_return co_await impl->graphql(std::move(ws), std::move(req));
}

} // namespace

void client::launch_fetch_token(std::shared_ptr<detail::client_impl> impl, std::string ws,
                                diagnostics* diag, token_handler h) {
    auto op = impl ? fetch_token_op(impl, std::move(ws))
                   : asio::awaitable<detail::result<access_token>>();
    launch<access_token>(impl, diag, std::move(h), std::move(op));
}

void client::launch_graphql(std::shared_ptr<detail::client_impl> impl, std::string ws,
                            graphql_request request, diagnostics* diag, graphql_handler h) {
    auto op = impl ? graphql_op(impl, std::move(ws), std::move(request))
                   : asio::awaitable<detail::result<graphql_response>>();
    launch<graphql_response>(impl, diag, std::move(h), std::move(op));
}

client::client(asio::any_io_executor ex, client_config cfg)
    : impl_(detail::client_impl::create(std::move(ex), std::move(cfg))) {}

client::~client() {
    if (impl_) {
        impl_->shutdown();
    }
}

client::client(client&&) noexcept = default;

client& client::operator=(client&& other) noexcept {
    if (this != &other) {
        if (impl_) {
            impl_->shutdown();
        }
        impl_ = std::move(other.impl_);
    }
    return *this;
}

asio::awaitable<access_token> client::fetch_token(std::string_view workspace_id) {
    const auto& impl = checked(impl_, "client::fetch_token");
    return run<access_token>(impl, "client::fetch_token",
                             impl->fetch_token(std::string(workspace_id)));
}

asio::awaitable<graphql_response> client::graphql(std::string_view workspace_id,
                                                  graphql_request request) {
    const auto& impl = checked(impl_, "client::graphql");
    return run<graphql_response>(impl, "client::graphql",
                                 impl->graphql(std::string(workspace_id), std::move(request)));
}

asio::awaitable<oauth::token_set> client::exchange_code(std::string_view code,
                                                        std::string_view redirect_uri,
                                                        std::string_view code_verifier) {
    const auto& impl = checked(impl_, "client::exchange_code");
    return run<oauth::token_set>(impl, "client::exchange_code",
                                 impl->exchange_code(std::string(code), std::string(redirect_uri),
                                                     std::string(code_verifier)));
}

asio::awaitable<oauth::token_set> client::refresh(std::string_view refresh_token) {
    const auto& impl = checked(impl_, "client::refresh");
    return run<oauth::token_set>(impl, "client::refresh",
                                 impl->refresh(std::string(refresh_token)));
}

void client::shutdown() {
    if (impl_) {
        impl_->shutdown();
    }
}

token_cache_stats client::stats() const {
    return impl_ ? impl_->stats() : token_cache_stats{};
}

asio::any_io_executor client::get_executor() const noexcept {
    return impl_ ? impl_->executor() : asio::any_io_executor();
}

const client_config& client::config() const noexcept {
    static const client_config moved_from;
    return impl_ ? impl_->config() : moved_from;
}

} // namespace glue
