// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.

#include "transport/connection.hpp"

#include "support/saturating.hpp"
#include "transport/h2_session.hpp"
#include "transport/happy_eyeballs.hpp"
#include "transport/pool_policy.hpp"
#include "transport/proxy_tunnel.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <chrono>
#include <new>
#include <tuple>

#include <sys/socket.h>

namespace glue::detail {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

// SNI (names only: RFC 6066 forbids IP literals) and the peer check that OpenSSL performs
// during the handshake: host name against DNS SANs, or IP address against IP SANs.
error_code prepare_tls(ssl::stream<tcp::socket>& s, const origin& org) {
    SSL* handle = s.native_handle();
    int ok = 0;
    if (org.host_is_ip) {
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(handle), org.host.c_str());
    } else {
        // A name matches the DNS SANs only: no partial wildcard ("a*.example.com"), and never
        // the subject CN, not even in a certificate without SANs (RFC 6125 deprecated that
        // fallback and RFC 9525 removed it; public CAs have put every name in the SANs
        // since 2012). OpenSSL's default falls back to the CN when no DNS SAN is present.
        X509_VERIFY_PARAM_set_hostflags(SSL_get0_param(handle),
                                        X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
                                            X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
        ok = SSL_set_tlsext_host_name(handle, org.host.c_str()) &&
             SSL_set1_host(handle, org.host.c_str());
    }
    if (!ok) {
        return error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category());
    }
    return {};
}

// Lets OpenSSL process what arrived on an idle TLS connection without blocking: true if it then
// waits for more (records without data only).
bool only_tls_housekeeping(ssl::stream<tcp::socket>& s) {
    error_code ec;
    s.next_layer().non_blocking(true, ec);
    if (ec) {
        return false;
    }
    char byte;
    s.read_some(asio::buffer(&byte, 1), ec);
    error_code ignored;
    s.next_layer().non_blocking(false, ignored);
    return ec == asio::error::would_block;
}

peek_result peek(tcp::socket& s) {
    char byte;
    const auto n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0) {
        return errno == EAGAIN || errno == EWOULDBLOCK ? peek_result::nothing : peek_result::error;
    }
    return n == 0 ? peek_result::eof : peek_result::bytes;
}

} // namespace

std::unique_ptr<ssl::context> make_tls_context(const transport_options& opts) {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    ctx->set_verify_mode(ssl::verify_peer);
    error_code ec;
    if (opts.ca_file.empty() && opts.ca_pem.empty()) {
        ctx->set_default_verify_paths(ec);
    }
    if (!ec && !opts.ca_file.empty()) {
        ctx->load_verify_file(opts.ca_file, ec);
    }
    if (!ec && !opts.ca_pem.empty()) {
        ctx->add_certificate_authority(asio::buffer(opts.ca_pem), ec);
    }
    if (ec) {
        throw to_error(
            make_failure(errc::invalid_argument, "the trusted CA certificates could not be loaded"),
            "client");
    }
    if (opts.http2 != http2_mode::off) {
        // ALPN (RFC 7301): "h2" first, "http/1.1" for a server without HTTP/2.
        static constexpr unsigned char protocols[] = {2,   'h', '2', 8,   'h', 't',
                                                      't', 'p', '/', '1', '.', '1'};
        if (SSL_CTX_set_alpn_protos(ctx->native_handle(), protocols, sizeof protocols) != 0) {
            throw std::bad_alloc();
        }
    }
    return ctx;
}

connection::connection(const asio::any_io_executor& ex, ssl::context* tls_ctx,
                       std::size_t buffer_limit)
    : buffer(buffer_limit) {
    if (tls_ctx) {
        tls.emplace(ex, *tls_ctx);
    } else {
        plain.emplace(ex);
    }
}

connection::~connection() {
    OPENSSL_cleanse(out.data(), out.size());
}

asio::awaitable<error_code> connection::open(const std::vector<tcp::endpoint>& endpoints,
                                             const origin& org, const tunnel_request* tunnel) {
    auto& s = socket();
    // Each step's duration, for the request event of the exchange that first uses it.
    auto step_start = std::chrono::steady_clock::now();
    auto took = [&step_start](std::chrono::nanoseconds& into) {
        const auto now = std::chrono::steady_clock::now();
        into = saturating_sub(now, step_start);
        step_start = now;
    };
    error_code ec = co_await connect_first(endpoints, s);
    took(times.tcp);
    if (ec) {
        co_return ec;
    }
    s.set_option(tcp::no_delay(true), ec);
    if (tunnel) {
        auto e = co_await open_tunnel(*this, org, *tunnel);
        took(times.tunnel);
        if (e) {
            co_return e;
        }
    }
    if (tls) {
        if (auto e = prepare_tls(*tls, org)) {
            co_return e;
        }
        std::tie(ec) = co_await tls->async_handshake(ssl::stream_base::client,
                                                     asio::as_tuple(asio::use_awaitable));
        took(times.tls);
    }
    co_return ec;
}

bool connection::negotiated_h2() const {
    if (!tls) {
        return false;
    }
    const unsigned char* p = nullptr;
    unsigned int n = 0;
    SSL_get0_alpn_selected(const_cast<ssl::stream<tcp::socket>&>(*tls).native_handle(), &p, &n);
    return n == 2 && p[0] == 'h' && p[1] == '2';
}

void connection::abort() {
    ::shutdown(socket().native_handle(), SHUT_RDWR);
}

bool connection::stale() {
    auto next = check_idle(buffer.size());
    if (next == idle_check::peek) {
        next = after_peek(peek(socket()), tls.has_value());
    }
    if (next == idle_check::read_tls_records) {
        next = after_tls_records(only_tls_housekeeping(*tls));
    }
    return next == idle_check::stale;
}

void connection::wipe_request() {
    OPENSSL_cleanse(out.data(), out.size());
    if (out.capacity() > 64 * 1024) {
        std::string().swap(out); // don't keep a large body's buffer for every connection
    }
}

} // namespace glue::detail
