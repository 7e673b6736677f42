// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "error_text.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cctype>
#include <string_view>

namespace glue::cli {

namespace {

namespace asio = boost::asio;

// Server text on one line: control characters blanked, and at most 500 bytes of it.
std::string one_line(std::string_view text) {
    constexpr std::size_t most = 500;
    std::string out(text.substr(0, most));
    for (char& c : out) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            c = ' ';
        }
    }
    if (text.size() > most) {
        out += "...";
    }
    return out;
}

// "Connection refused" -> "connection refused", to go inside a sentence.
std::string lowered(std::string text) {
    if (text.size() > 1 && std::isupper(static_cast<unsigned char>(text[0])) &&
        !std::isupper(static_cast<unsigned char>(text[1]))) {
        text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
    }
    return text;
}

// " (HTTP 503, request id req_5)": what identifies the answer, when there was one.
std::string answer_of(const diagnostics& d, std::string_view more = {}) {
    std::string parts;
    auto add = [&parts](std::string_view p) {
        parts += parts.empty() ? "" : ", ";
        parts += p;
    };
    if (d.http_status != 0) {
        add("HTTP " + std::to_string(d.http_status));
    }
    if (!more.empty()) {
        add(more);
    }
    if (d.retry_after.count() >= 0) {
        add("retry after " + std::to_string(d.retry_after.count()) + " s");
    }
    if (!d.request_id.empty()) {
        add("request id " + d.request_id);
    }
    return parts.empty() ? std::string() : " (" + parts + ")";
}

// A GraphQL error's place: "at 1:8, path me.idx".
std::string place_of(const graphql_error& g) {
    std::string at;
    for (const auto& l : g.locations) {
        const auto* o = l.if_object();
        const auto* line = o ? o->if_contains("line") : nullptr;
        const auto* column = o ? o->if_contains("column") : nullptr;
        if (line && column && line->is_int64() && column->is_int64()) {
            at += at.empty() ? "at " : ", ";
            at += std::to_string(line->get_int64()) + ":" + std::to_string(column->get_int64());
        }
    }
    std::string path;
    for (const auto& p : g.path) {
        if (p.is_string()) {
            path += path.empty() ? "" : ".";
            path += one_line(p.get_string());
        } else if (p.is_int64()) {
            path += "[" + std::to_string(p.get_int64()) + "]";
        }
    }
    if (!path.empty()) {
        at += at.empty() ? "path " : ", path ";
        at += path;
    }
    return at.empty() ? "(GraphQL error)" : "(GraphQL error " + at + ")";
}

std::string graphql_errors_line(const diagnostics& d) {
    constexpr std::size_t shown = 3;
    std::string line = "glue: the query failed: ";
    for (std::size_t i = 0; i < d.graphql_errors.size() && i < shown; ++i) {
        const auto& g = d.graphql_errors[i];
        line += i == 0 ? "" : "; ";
        line += one_line(g.message) + " " + place_of(g);
    }
    if (d.graphql_errors.size() > shown) {
        line += "; and " + std::to_string(d.graphql_errors.size() - shown) + " more";
    }
    if (d.graphql_errors.empty()) {
        line += "the answer carried an empty error" + answer_of(d);
    }
    return line;
}

// The host the call went to, and through which proxy.
std::string to_host(const error_context& ctx) {
    return ctx.proxy.empty() ? ctx.host : ctx.host + " through the proxy " + ctx.proxy;
}

std::string check_url(const error_context& ctx) {
    return ctx.proxy.empty() ? "is GLUE_API_URL right?"
                             : "are GLUE_API_URL and the proxy (--proxy, GLUE_PROXY) right?";
}

std::string glue_line(errc e, const glue::error& err, const error_context& ctx) {
    const diagnostics& d = *err.details();
    const std::string& host = ctx.host;
    const std::string reason = err.reason().empty() ? err.code().message() : err.reason();
    switch (e) {
    case errc::invalid_argument:
        return "glue: " + reason + " (nothing was sent)";
    case errc::oauth_error:
        if (d.oauth_error == "invalid_client") {
            return "glue: " + host + " rejected the app's credentials (invalid_client" +
                   (d.http_status != 0 ? ", HTTP " + std::to_string(d.http_status) : "") +
                   "); check GLUE_CLIENT_ID and GLUE_CLIENT_SECRET";
        }
        if (d.oauth_error == "invalid_grant") {
            return "glue: " + host + " gave no token for workspace " + ctx.workspace +
                   " (invalid_grant); is the app installed in that workspace?";
        }
        return "glue: " + host + " refused the token request (" + one_line(d.oauth_error) +
               "); check GLUE_CLIENT_ID, GLUE_CLIENT_SECRET and GLUE_REDIRECT_URI (a redirect "
               "URI registered for the app)";
    case errc::unauthorized:
        return "glue: " + host + " refused the credentials" + answer_of(d) +
               "; check GLUE_CLIENT_ID and GLUE_CLIENT_SECRET, and that the app is installed in " +
               ctx.workspace;
    case errc::forbidden:
        if (d.proxy_status != 0) {
            return "glue: the proxy " + ctx.proxy + " refused the credentials (HTTP " +
                   std::to_string(d.proxy_status) +
                   "); check the user and password in --proxy or GLUE_PROXY";
        }
        return "glue: " + host + " refused the request" + answer_of(d, "forbidden") +
               "; does the app have the scopes this operation needs?";
    case errc::rate_limited:
        if (d.http_status == 0) {
            return "glue: the call's turn under the rate limit came too late" + answer_of(d) +
                   "; lower the request rate, or raise --timeout";
        }
        return "glue: " + host + " is rate limiting the app" + answer_of(d) +
               "; wait, and try again";
    case errc::server_error:
        return "glue: " + host + " failed" + answer_of(d, "server error") + "; try again later" +
               (d.request_id.empty() ? "" : ", and quote the request id if it persists");
    case errc::http_error:
        if (d.proxy_status != 0) {
            return "glue: the proxy " + ctx.proxy + " refused the tunnel to " + host + " (HTTP " +
                   std::to_string(d.proxy_status) +
                   "); check --proxy, GLUE_PROXY and GLUE_NO_PROXY";
        }
        if (d.http_status == 0 && !err.reason().empty()) {
            // No answer came: the connection was refused its protocol (--http2 required, and
            // the server did not select HTTP/2).
            return "glue: " + host + ": " + reason +
                   "; use --http2 auto (GLUE_HTTP2), or a server that speaks HTTP/2";
        }
        return "glue: " + host + " gave an unexpected answer" + answer_of(d) + "; " +
               check_url(ctx);
    case errc::bad_response:
        if (!ctx.paginate.empty() && d.http_status == 0) {
            // Not the answer's form, which was read, but the connection the walk looks for.
            return "glue: --paginate " + ctx.paginate + ": " + reason +
                   "; does the query select the connection at that path, with pageInfo { "
                   "hasNextPage endCursor } and nodes or edges { node }?";
        }
        return "glue: " + to_host(ctx) + " sent an answer glue can't read (" + reason + ")" +
               answer_of(d) + "; " + check_url(ctx);
    case errc::graphql_error:
        return graphql_errors_line(d);
    case errc::timeout:
        return "glue: " + to_host(ctx) + " did not answer in time (" + reason + "; --timeout is " +
               std::to_string(ctx.timeout.count()) + " s); try again, or raise --timeout";
    case errc::repeated_cursor:
        return "glue: pagination stopped: " + host +
               " handed out a cursor it had handed out before, so the walk would loop";
    case errc::too_many_pages:
        return "glue: pagination stopped: the connection has more pages than --max-pages; raise "
               "it to get the rest";
    default:
        return "glue: " + reason + answer_of(d);
    }
}

bool is_dns(const error_code& ec) {
    return ec.category() == asio::error::get_netdb_category() ||
           ec.category() == asio::error::get_addrinfo_category();
}

bool is_tls(const error_code& ec) {
    return ec.category() == asio::error::get_ssl_category() ||
           ec.category() == asio::ssl::error::get_stream_category();
}

} // namespace

std::string authority_of(const std::string& url) {
    // A bare host:port (as a proxy may be given) is read as if it were http://host:port.
    for (const std::string& text : {url, "http://" + url}) {
        const auto u = boost::urls::parse_uri(text);
        if (u && u->has_authority() && !u->encoded_host().empty()) {
            return std::string(u->encoded_host_and_port());
        }
    }
    return "(unparsable URL)"; // never the text itself: it may hold a password
}

std::string error_line(const glue::error& e, const error_context& ctx) {
    const error_code& ec = e.code();
    if (ec.category() == glue_category()) {
        return glue_line(static_cast<errc>(ec.value()), e, ctx);
    }
    const std::string what = lowered(ec.message());
    if (ec == asio::error::operation_aborted) {
        return "glue: the call was cancelled";
    }
    if (is_dns(ec)) {
        const auto host = boost::urls::parse_authority(ctx.host);
        return "glue: cannot find the address of " +
               (host ? std::string(host->encoded_host()) : ctx.host) + " (" + what + "); " +
               check_url(ctx);
    }
    if (is_tls(ec)) {
        if (ec.category() == asio::error::get_ssl_category() &&
            ERR_GET_REASON(static_cast<unsigned long>(ec.value())) ==
                SSL_R_CERTIFICATE_VERIFY_FAILED) {
            // Said here, not by OpenSSL's "certificate verify failed (SSL routines)".
            return "glue: cannot verify the TLS certificate of " + ctx.host +
                   " (certificate verify failed); " +
                   (ctx.ca_file ? "is the --ca-file (GLUE_CA_FILE) the CA that signed it?"
                                : "if a private CA signed it, pass that CA with --ca-file or "
                                  "GLUE_CA_FILE");
        }
        return "glue: TLS with " + to_host(ctx) + " failed (" + what +
               "); is it an https:// server, and GLUE_API_URL right?";
    }
    if (ec == asio::error::connection_refused || ec == asio::error::network_unreachable ||
        ec == asio::error::host_unreachable || ec == asio::error::timed_out) {
        return "glue: cannot connect to " + (ctx.proxy.empty() ? ctx.host : ctx.proxy) + " (" +
               what + "); " + check_url(ctx);
    }
    if (ec == boost::system::errc::not_enough_memory) {
        return "glue: out of memory";
    }
    return "glue: the connection to " + to_host(ctx) + " failed (" + what + "); try again";
}

std::string error_detail(const glue::error& e) {
    const error_code& ec = e.code();
    std::string line = "glue: detail: " + std::string(e.what()) + " [" + ec.to_string();
    if (ec.has_location()) {
        line += " at " + ec.location().to_string();
    }
    return line + "]";
}

} // namespace glue::cli
