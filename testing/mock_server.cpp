// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/testing/mock_server.hpp>

#include "testing/mock_http_server.hpp"
#include "testing/mock_state.hpp"
#include "testing/mock_webhooks.hpp"
#include "testing/mock_workspaces.hpp"

#include <cstdio>
#include <fstream>
#include <mutex>
#include <stdexcept>

#include <unistd.h>

namespace glue::testing {

struct mock_server::impl {
    explicit impl(mock_server_options opts) : state(std::move(opts)), server(state) {}
    ~impl() { stop(); }

    void stop() {
        if (server.stop() && !state.ca_path.empty()) {
            std::remove(state.ca_path.c_str());
            state.ca_path.clear();
        }
    }

    detail::mock_state state;
    detail::http_server server; // declared last: stops before the state goes
};

mock_server::mock_server(mock_server_options opts)
    : impl_(std::make_unique<impl>(std::move(opts))) {}

mock_server::~mock_server() = default;

std::string mock_server::url() const {
    return std::string(impl_->state.opts.tls ? "https" : "http") +
           "://127.0.0.1:" + std::to_string(impl_->server.port());
}

std::uint16_t mock_server::port() const {
    return impl_->server.port();
}

glue::client_config mock_server::client_config() const {
    glue::client_config cfg;
    cfg.api_url = url();
    cfg.client_id = impl_->state.opts.client_id;
    cfg.client_secret = impl_->state.opts.client_secret;
    if (!impl_->state.opts.redirect_uris.empty()) {
        cfg.redirect_uri = impl_->state.opts.redirect_uris.front();
    }
    cfg.ca_pem = impl_->state.pki.ca_pem;
    return cfg;
}

const std::string& mock_server::ca_pem() const {
    return impl_->state.pki.ca_pem;
}

std::string mock_server::ca_file() const {
    std::lock_guard lock(impl_->state.mtx);
    if (impl_->state.ca_path.empty() && !impl_->state.pki.ca_pem.empty()) {
        char path[] = "/tmp/glue-mock-ca-XXXXXX";
        const int fd = ::mkstemp(path);
        if (fd < 0) {
            throw std::runtime_error("mock_server: cannot create the CA file");
        }
        ::close(fd);
        std::ofstream(path) << impl_->state.pki.ca_pem;
        impl_->state.ca_path = path;
    }
    return impl_->state.ca_path;
}

void mock_server::stop() {
    impl_->stop();
}

void mock_server::set_fault(endpoint e, fault f) {
    std::lock_guard lock(impl_->state.mtx);
    impl_->state.faults[static_cast<int>(e)] = std::move(f);
}

void mock_server::clear_faults() {
    std::lock_guard lock(impl_->state.mtx);
    for (auto& f : impl_->state.faults) {
        f.reset();
    }
}

void mock_server::revoke_tokens(std::string_view workspace) {
    std::lock_guard lock(impl_->state.mtx);
    ++impl_->state.generation[std::string(workspace)];
}

void mock_server::set_token_lifetime(std::chrono::seconds lifetime) {
    std::lock_guard lock(impl_->state.mtx);
    impl_->state.token_lifetime = lifetime;
}

void mock_server::set_expires_in(boost::json::value raw) {
    std::lock_guard lock(impl_->state.mtx);
    impl_->state.raw_expires_in = std::move(raw);
}

void mock_server::install_workspace(std::string_view workspace) {
    std::lock_guard lock(impl_->state.mtx);
    impl_->state.installed.emplace(workspace);
    impl_->state.uninstalled.erase(std::string(workspace));
}

void mock_server::uninstall_workspace(std::string_view workspace) {
    std::lock_guard lock(impl_->state.mtx);
    impl_->state.installed.erase(std::string(workspace));
    impl_->state.uninstalled.emplace(workspace);
}

void mock_server::set_repeat_cursor(bool on) {
    impl_->state.repeat_cursor = on;
}

void mock_server::set_authorize_denied(bool on) {
    impl_->state.authorize_denied = on;
}

void mock_server::set_webhook_url(std::string url) {
    auto hook = detail::parse_webhook_url(url);
    std::lock_guard lock(impl_->state.mtx);
    impl_->state.hook = std::move(hook);
}

void mock_server::set_webhook_copies(unsigned n) {
    std::lock_guard lock(impl_->state.mtx);
    impl_->state.webhook_copies = n;
}

std::string mock_server::app_user_id(std::string_view workspace) const {
    return detail::app_user_id(workspace);
}

std::string mock_server::post_message(std::string_view workspace, std::string_view thread_id,
                                      std::string_view text, std::string_view user_id) {
    return detail::post_message(impl_->state, std::string(workspace), std::string(thread_id),
                                std::string(text), std::string(user_id));
}

std::string mock_server::create_thread(std::string_view workspace, std::string_view subject,
                                       std::string_view text, std::string_view user_id) {
    return detail::create_thread(impl_->state, std::string(workspace), std::string(subject),
                                 std::string(text), std::string(user_id));
}

std::vector<mock_message> mock_server::messages(std::string_view workspace) const {
    std::lock_guard lock(impl_->state.mtx);
    std::vector<mock_message> out;
    if (auto it = impl_->state.spaces.find(std::string(workspace));
        it != impl_->state.spaces.end()) {
        for (const auto& id : it->second.message_order) {
            const auto& m = it->second.messages.at(id);
            out.push_back({m.id, m.thread_id, m.text, m.user_id});
        }
    }
    return out;
}

recorded_request mock_server::last_request(endpoint e) const {
    std::lock_guard lock(impl_->state.mtx);
    return impl_->state.last_requests[static_cast<int>(e)];
}

std::size_t mock_server::requests() const {
    return impl_->state.counter(&detail::mock_state::requests_total);
}

std::size_t mock_server::token_requests() const {
    return impl_->state.counter(&detail::mock_state::token_requests_total);
}

std::size_t mock_server::token_requests(std::string_view workspace) const {
    std::lock_guard lock(impl_->state.mtx);
    auto it = impl_->state.token_requests_by_workspace.find(std::string(workspace));
    return it == impl_->state.token_requests_by_workspace.end() ? 0 : it->second;
}

std::size_t mock_server::graphql_requests() const {
    return impl_->state.counter(&detail::mock_state::graphql_requests_total);
}

std::size_t mock_server::connections_accepted() const {
    return impl_->state.counter(&detail::mock_state::connections_accepted);
}

std::size_t mock_server::max_concurrent_connections() const {
    return impl_->state.counter(&detail::mock_state::max_concurrent);
}

std::size_t mock_server::open_connections() const {
    return impl_->state.counter(&detail::mock_state::concurrent);
}

std::size_t mock_server::tls_handshakes() const {
    return impl_->state.counter(&detail::mock_state::handshakes);
}

http2_stats mock_server::http2_stats() const {
    std::lock_guard lock(impl_->state.mtx);
    return impl_->state.h2;
}

std::size_t mock_server::graphql_executions(std::string_view operation_name) const {
    std::lock_guard lock(impl_->state.mtx);
    auto it = impl_->state.graphql_executions.find(std::string(operation_name));
    return it == impl_->state.graphql_executions.end() ? 0 : it->second;
}

std::size_t mock_server::mutations_executed() const {
    return impl_->state.counter(&detail::mock_state::mutations_executed);
}

std::size_t mock_server::mutation_repeats() const {
    return impl_->state.counter(&detail::mock_state::mutation_repeats);
}

std::size_t mock_server::max_concurrent_token_requests() const {
    return impl_->state.counter(&detail::mock_state::max_token_concurrency);
}

rate_limit_stats mock_server::rate_limit_stats() const {
    return impl_->state.limiter.stats();
}

std::size_t mock_server::unauthorized_responses() const {
    return impl_->state.counter(&detail::mock_state::unauthorized_total);
}

std::size_t mock_server::messages_created() const {
    return impl_->state.counter(&detail::mock_state::messages_created);
}

std::size_t mock_server::messages_created(std::string_view workspace) const {
    std::lock_guard lock(impl_->state.mtx);
    auto it = impl_->state.messages_created_by_workspace.find(std::string(workspace));
    return it == impl_->state.messages_created_by_workspace.end() ? 0 : it->second;
}

std::size_t mock_server::authorizations() const {
    return impl_->state.counter(&detail::mock_state::authorizations_total);
}

std::vector<webhook_delivery> mock_server::webhook_deliveries() const {
    std::lock_guard lock(impl_->state.mtx);
    return impl_->state.deliveries;
}

std::size_t mock_server::webhooks_pending() const {
    return impl_->state.counter(&detail::mock_state::pending_webhooks);
}

void mock_server::reset_counters() {
    std::lock_guard lock(impl_->state.mtx);
    impl_->state.requests_total = 0;
    impl_->state.token_requests_total = 0;
    impl_->state.graphql_requests_total = 0;
    impl_->state.connections_accepted = 0;
    impl_->state.max_concurrent = impl_->state.concurrent;
    impl_->state.handshakes = 0;
    impl_->state.messages_created = 0;
    impl_->state.unauthorized_total = 0;
    impl_->state.authorizations_total = 0;
    impl_->state.max_token_concurrency = impl_->state.token_concurrency;
    impl_->state.token_requests_by_workspace.clear();
    impl_->state.messages_created_by_workspace.clear();
    impl_->state.limiter.reset_stats();
    impl_->state.h2 = {};
    impl_->state.graphql_executions.clear();
    impl_->state.mutations_executed = 0;
    impl_->state.mutation_repeats = 0;
    impl_->state.mutations_seen.clear();
}

} // namespace glue::testing
