// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/client.hpp>

#include "detail/http.hpp"
#include "detail/protocol.hpp"
#include "detail/token_cache.hpp"

#include <boost/asio/error.hpp>

#include <openssl/crypto.h>

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
        cfg.forced_refresh_interval < milliseconds(0)) {
        return make_failure(errc::invalid_argument,
                            "timeouts, intervals and lifetimes must be positive");
    }
    return {};
}

origin checked_origin(const client_config& cfg) {
    if (auto ok = check_config(cfg); !ok) {
        throw to_error(ok.error(), "client");
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
    o.soft_window_cap = cfg.soft_window_cap;
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
        // The fetcher holds the client weakly: the cache belongs to the client, and a token
        // request that outlives it finds it gone rather than keeping it alive.
        impl->cache_.emplace(
            impl->ex_,
            [weak = impl->weak_from_this()](std::string ws, steady_time dl) {
                return request_token(weak, std::move(ws), dl);
            },
            cache_options_of(impl->cfg_));
        return impl;
    }

    asio::awaitable<result<access_token>> fetch_token(std::string_view ws) {
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

    asio::awaitable<result<graphql_response>> graphql(std::string_view ws,
                                                      graphql_request request) {
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
        const auto until = deadline();
        http_request req;
        req.target = graphql_target_;
        req.content_type = "application/json";
        req.body = body;
        req.body_limit = cfg_.max_response_body_bytes;
        // Only a query may be sent twice without the caller saying so.
        req.idempotent =
            graphql_operation_kind(request.query, request.operation_name) == operation_kind::query;

        bool retried_401 = false;
        for (;;) {
            if (!cache_->find(ws)) {
                auto t = co_await cache_->get(ws, until);
                if (!t) {
                    co_return t.error();
                }
            }
            // The token is read from the cache when the request is written, so time spent
            // queued for a connection can't make it stale.
            token_ptr used;
            auto with_token = [&](http_request& r) {
                used = cache_->peek(ws);
                if (!used) {
                    return false;
                }
                r.authorization = used->authorization; // `used` keeps it alive
                return true;
            };
            auto sent = co_await pool_.send(req, until, request_priority::normal, with_token);
            if (!sent) {
                co_return sent.error();
            }
            if (!*sent) {
                continue; // the token expired while waiting for a connection: get a new one
            }
            http_response& resp = **sent;
            if (resp.status == 401 && !retried_401) {
                retried_401 = true;
                // Drop the token only if it is still the cached one; then refetch (through the
                // normal single flight) and retry once, unless a forced refresh just happened.
                if (cache_->invalidate(ws, used.get()) != invalidate_result::throttled) {
                    continue;
                }
            }
            co_return parse_graphql_response(std::move(resp));
        }
    }

    void shutdown() {
        cache_->shutdown();
        pool_.shutdown();
    }

    token_cache_stats stats() const { return cache_->stats(); }

    const asio::any_io_executor& executor() const noexcept { return ex_; }
    const client_config& config() const noexcept { return cfg_; }

private:
    client_impl(asio::any_io_executor ex, client_config cfg)
        : ex_(std::move(ex))
        , cfg_(std::move(cfg))
        , pool_(ex_, checked_origin(cfg_), transport_options_of(cfg_))
        , token_target_(pool_.target().base_path + "/oauth/token")
        , graphql_target_(pool_.target().base_path + "/public/graphql") {}

    steady_time deadline() const { return std::chrono::steady_clock::now() + cfg_.request_timeout; }

    static result<void> check_request(const graphql_request& r) {
        if (r.query.empty()) {
            return make_failure(errc::invalid_argument, "the GraphQL query is empty");
        }
        // A GraphQL Name (spec §2.1.9).
        const auto& name = r.operation_name;
        for (std::size_t i = 0; i < name.size(); ++i) {
            const char c = name[i];
            const bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (i > 0 && c >= '0' && c <= '9');
            if (!ok) {
                return make_failure(errc::invalid_argument, "operation_name is not a GraphQL name");
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
        const auto& cfg = self->cfg_;
        std::vector<form_field> fields = {{"grant_type", "client_credentials"},
                                          {"client_id", cfg.client_id},
                                          {"client_secret", cfg.client_secret}};
        if (!cfg.redirect_uri.empty()) {
            fields.emplace_back("redirect_uri", cfg.redirect_uri);
        }
        fields.emplace_back("subject", ws);
        std::string body = form_encode(fields);

        http_request req;
        req.target = self->token_target_;
        req.content_type = "application/x-www-form-urlencoded";
        req.body = body;
        req.body_limit = token_response_limit;
        steady_time sent_at{}; // the expiry's anchor: when the request is written
        auto note_time = [&](http_request&) {
            sent_at = std::chrono::steady_clock::now();
            return true;
        };
        auto sent = co_await self->pool_.send(req, until, request_priority::high, note_time);
        OPENSSL_cleanse(body.data(), body.size()); // it carries the client secret
        if (!sent) {
            co_return sent.error();
        }
        co_return parse_token_response(**sent, cfg.default_token_lifetime, sent_at);
    }

    const asio::any_io_executor ex_;
    const client_config cfg_;
    http_pool pool_;
    const std::string token_target_, graphql_target_;
    std::optional<token_cache> cache_; // set by create(): its fetcher needs weak_from_this()
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
    } catch (const boost::system::system_error& e) {
        r = detail::make_failure(e.code()); // e.g. cancelled before an operation could start
    }
    if (!r) {
        throw detail::to_error(r.error(), op_name);
    }
    co_return std::move(*r);
}

} // namespace

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
    const auto& impl = checked(impl_, "fetch_token");
    return run<access_token>(impl, "fetch_token", impl->fetch_token(workspace_id));
}

asio::awaitable<graphql_response> client::graphql(std::string_view workspace_id,
                                                  graphql_request request) {
    const auto& impl = checked(impl_, "graphql");
    return run<graphql_response>(impl, "graphql", impl->graphql(workspace_id, std::move(request)));
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
