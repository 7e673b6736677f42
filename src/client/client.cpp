// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/client.hpp>
#include <glue/prometheus.hpp>

#include "client/client_impl.hpp"
#include "support/outcome.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/system_executor.hpp>

#include <exception>
#include <memory>
#include <string>
#include <string_view>

// The public facade: glue::client's members, which run client_impl's coroutines and turn their
// failures into glue::error or a completion handler's error_code.
//
// A GCC 12 trap for every coroutine here: a braced or lambda temporary with non-trivial members
// inside a co_await expression is copied into the coroutine frame bitwise (its strings then point
// into the dead original). Such objects are named locals first, callbacks included.

namespace glue {

namespace asio = boost::asio;

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

// Here rather than with the exposition (api layer): that layer doesn't link the client.
void write_prometheus(std::ostream& os, const client& c) {
    write_prometheus(os, c.metrics(), c.stats(), c.throttling());
}

client_metrics client::metrics() const {
    return impl_ ? impl_->metrics() : client_metrics{};
}

throttle_stats client::throttling() const {
    return impl_ ? impl_->throttling() : throttle_stats{};
}

asio::any_io_executor client::get_executor() const noexcept {
    return impl_ ? impl_->executor() : asio::any_io_executor();
}

const client_config& client::config() const noexcept {
    static const client_config moved_from;
    return impl_ ? impl_->config() : moved_from;
}

} // namespace glue
