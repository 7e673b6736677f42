// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The mock server's HTTP/2 (mock_server_options::http2), seen by clients that share no code with
// it: Debian's curl (built with nghttp2) and nghttp (nghttp2-client), which print the protocol
// they negotiated and the frames they exchanged. ALPN picks h2 or http/1.1 as the client offers;
// the token and GraphQL endpoints answer over HTTP/2; the stream limit is advertised and kept;
// GOAWAY after N streams, REFUSED_STREAM, a fault on one stream, stalled flow control and a
// stalled answer act as documented; the counters count it all.

#include <glue/testing/mock_server.hpp>

#include "support/child_process.hpp"
#include "support/test_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using glue::test::child_process;
using glue::testing::endpoint;
using glue::testing::fault;
using glue::testing::mock_server;
using glue::testing::mock_server_options;
using namespace std::chrono_literals;

constexpr std::string_view h2m_ws = "wks_H2MockTestWorkspace0000000001";

// The tool's path, or nullopt: then the test fails under CI (scripts/setup installs it) and is
// skipped elsewhere.
std::optional<std::string> h2m_tool(const char* name, const char* package) {
    for (const char* dir : {"/usr/bin/", "/usr/local/bin/"}) {
        if (std::filesystem::exists(std::string(dir) + name)) {
            return std::string(dir) + name;
        }
    }
    const char* ci = std::getenv("CI");
    if (ci != nullptr && *ci != '\0') {
        FAIL_CHECK(name << " is not installed: scripts/setup installs it (Debian's " << package
                        << ")");
    } else {
        MESSAGE(name << " is not installed (scripts/setup installs Debian's " << package
                     << "): skipped");
    }
    return std::nullopt;
}

struct h2m_run {
    int status = -1;    // the wait status; -1: it didn't end in time
    std::string output; // standard output and error
    int exit_code() const { return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
};

h2m_run h2m_exec(const std::string& tool, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", tool};
    argv.insert(argv.end(), args.begin(), args.end());
    h2m_run r;
    child_process p(argv);
    r.output = p.read_all(30s);
    r.status = p.wait(30s);
    return r;
}

// A file holding `text`, removed when it goes.
struct h2m_file {
    explicit h2m_file(const std::string& text) {
        path = (std::filesystem::temp_directory_path() / "glue-h2-XXXXXX").string();
        const int fd = ::mkstemp(path.data());
        REQUIRE(fd >= 0);
        ::close(fd);
        std::ofstream(path, std::ios::binary) << text;
    }
    ~h2m_file() { std::filesystem::remove(path); }
    h2m_file(const h2m_file&) = delete;
    h2m_file& operator=(const h2m_file&) = delete;
    std::string path;
};

// curl's arguments for a client-credentials token request for `ws`.
std::vector<std::string> h2m_token_args(const mock_server& server, std::string_view ws) {
    const auto cfg = server.client_config();
    return {"-d",
            "grant_type=client_credentials",
            "-d",
            "client_id=" + cfg.client_id,
            "-d",
            "client_secret=" + cfg.client_secret,
            "-d",
            "subject=" + std::string(ws),
            "--data-urlencode",
            "redirect_uri=" + cfg.redirect_uri,
            server.url() + "/oauth/token"};
}

// curl with `protocol` (--http2, --http1.1, --http2-prior-knowledge) against the server,
// printing "http_version=…" last.
h2m_run h2m_curl(const std::string& curl, const mock_server& server, const char* protocol,
                 std::vector<std::string> args) {
    std::vector<std::string> all = {"-sS", protocol, "-w", "\nhttp_version=%{http_version}\n"};
    if (!server.ca_pem().empty()) {
        all.insert(all.end(), {"--cacert", server.ca_file()});
    }
    all.insert(all.end(), args.begin(), args.end());
    return h2m_exec(curl, all);
}

// The access token of a token response that curl printed first.
std::string h2m_access_token(const h2m_run& r) {
    const std::string body = r.output.substr(0, r.output.find('\n'));
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(body, ec);
    REQUIRE_MESSAGE(!ec, r.output);
    const auto* token = v.as_object().if_contains("access_token");
    REQUIRE_MESSAGE((token && token->is_string()), r.output);
    return std::string(token->get_string());
}

// nghttp's arguments for `n` token requests on one connection (-m repeats the URI).
std::vector<std::string> h2m_nghttp_token_args(const mock_server& server, const h2m_file& form,
                                               int n) {
    return {"-nv",
            "-m",
            std::to_string(n),
            "-d",
            form.path,
            "-H",
            "content-type: application/x-www-form-urlencoded",
            server.url() + "/oauth/token"};
}

std::string h2m_form(const mock_server& server) {
    const auto cfg = server.client_config();
    return "grant_type=client_credentials&client_id=" + cfg.client_id +
           "&client_secret=" + cfg.client_secret + "&subject=" + std::string(h2m_ws) +
           "&redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Foauth%2Fcallback";
}

mock_server_options h2m_options() {
    mock_server_options o;
    o.tls = true;
    o.http2 = true;
    return o;
}

// Bytes a raw TCP client gets from 127.0.0.1:`port` after sending `hello`, until the server
// closes the connection (or `limit` passes: then `closed` is false).
struct h2m_raw_result {
    std::string bytes;
    bool closed = false;
};

h2m_raw_result h2m_raw_exchange(std::uint16_t port, const std::string& hello,
                                std::chrono::milliseconds limit) {
    h2m_raw_result out;
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(hello.size()));
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        pollfd p{fd, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
            break;
        }
        char buf[4096];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            out.closed = true;
            break;
        }
        out.bytes.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

// The frame types in `bytes`, in order, and the error code of the first GOAWAY (-1: none).
struct h2m_frames {
    std::vector<int> types;
    long goaway_error = -1;
};

h2m_frames h2m_parse_frames(const std::string& bytes) {
    h2m_frames out;
    const auto byte = [&](std::size_t i) {
        return static_cast<std::size_t>(static_cast<unsigned char>(bytes[i]));
    };
    for (std::size_t at = 0; at + 9 <= bytes.size();) {
        const std::size_t length = (byte(at) << 16) | (byte(at + 1) << 8) | byte(at + 2);
        const int type = static_cast<int>(byte(at + 3));
        if (at + 9 + length > bytes.size()) {
            break;
        }
        out.types.push_back(type);
        if (type == 7 && out.goaway_error == -1 && length >= 8) {
            const std::size_t e = at + 9 + 4;
            out.goaway_error = static_cast<long>((byte(e) << 24) | (byte(e + 1) << 16) |
                                                 (byte(e + 2) << 8) | byte(e + 3));
        }
        at += 9 + length;
    }
    return out;
}

std::size_t h2m_count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
        ++n;
    }
    return n;
}

} // namespace

TEST_SUITE("mock http2") {
    TEST_CASE("ALPN h2: a token call and a GraphQL call answered over HTTP/2, and counted") {
        const auto curl = h2m_tool("curl", "curl");
        if (!curl) {
            return;
        }
        mock_server server(h2m_options());
        const auto token = h2m_curl(*curl, server, "--http2", h2m_token_args(server, h2m_ws));
        REQUIRE_MESSAGE(token.exit_code() == 0, token.output);
        CHECK_MESSAGE(token.output.find("http_version=2\n") != std::string::npos, token.output);
        const std::string access_token = h2m_access_token(token);

        const auto gql =
            h2m_curl(*curl, server, "--http2",
                     {"-i", "-H", "authorization: Bearer " + access_token, "-H",
                      "content-type: application/json", "-d",
                      R"({"query": "query Me { me { id } }"})", server.url() + "/public/graphql"});
        REQUIRE_MESSAGE(gql.exit_code() == 0, gql.output);
        CAPTURE(gql.output);
        CHECK(gql.output.starts_with("HTTP/2 200"));
        CHECK(gql.output.find("http_version=2\n") != std::string::npos);
        CHECK(gql.output.find(R"({"data":{"me":{"id":"usr_)") != std::string::npos);
        // The same request ids as over HTTP/1.1, in lower case as HTTP/2 wants.
        CHECK(gql.output.find("x-request-id: req_2") != std::string::npos);
        CHECK(server.last_request(endpoint::graphql).headers.at("authorization") ==
              "Bearer " + access_token);

        const auto s = server.http2_stats();
        CHECK(s.connections == 2);
        CHECK(s.tls_handshakes_h2 == 2);
        CHECK(s.tls_handshakes_http1 == 0);
        CHECK(s.streams_opened == 2);
        CHECK(s.streams_refused == 0);
        CHECK(s.goaways_sent_with_error == 0);
        CHECK(server.token_requests(h2m_ws) == 1);
        CHECK(server.graphql_requests() == 1);
        CHECK(server.graphql_executions("Me") == 1);
        CHECK(server.mutations_executed() == 0);
    }

    TEST_CASE("ALPN: HTTP/1.1 to a client that offers only it, and from a server without http2") {
        const auto curl = h2m_tool("curl", "curl");
        if (!curl) {
            return;
        }
        {
            mock_server server(h2m_options());
            const auto r = h2m_curl(*curl, server, "--http1.1", h2m_token_args(server, h2m_ws));
            REQUIRE_MESSAGE(r.exit_code() == 0, r.output);
            CHECK_MESSAGE(r.output.find("http_version=1.1\n") != std::string::npos, r.output);
            h2m_access_token(r);
            const auto s = server.http2_stats();
            CHECK(s.tls_handshakes_http1 == 1);
            CHECK(s.tls_handshakes_h2 == 0);
            CHECK(s.connections == 0);
            CHECK(server.token_requests(h2m_ws) == 1);
        }
        {
            mock_server_options o;
            o.tls = true; // http2 left off, as by default
            mock_server server(o);
            const auto r = h2m_curl(*curl, server, "--http2", h2m_token_args(server, h2m_ws));
            REQUIRE_MESSAGE(r.exit_code() == 0, r.output);
            CHECK_MESSAGE(r.output.find("http_version=1.1\n") != std::string::npos, r.output);
            CHECK(server.http2_stats().tls_handshakes_h2 == 0);
            CHECK(server.http2_stats().tls_handshakes_http1 == 1);
        }
    }

    TEST_CASE("prior knowledge: plain HTTP speaks HTTP/2") {
        const auto curl = h2m_tool("curl", "curl");
        if (!curl) {
            return;
        }
        mock_server_options o;
        o.http2_prior_knowledge = true;
        mock_server server(o);
        const auto r =
            h2m_curl(*curl, server, "--http2-prior-knowledge", h2m_token_args(server, h2m_ws));
        REQUIRE_MESSAGE(r.exit_code() == 0, r.output);
        CHECK_MESSAGE(r.output.find("http_version=2\n") != std::string::npos, r.output);
        h2m_access_token(r);
        CHECK(server.http2_stats().connections == 1);
        CHECK(server.tls_handshakes() == 0);
    }

    TEST_CASE("an idle HTTP/2 connection: the server's SETTINGS, then at idle_timeout a GOAWAY "
              "(NO_ERROR) and the close") {
        mock_server_options o;
        o.http2_prior_knowledge = true;
        o.idle_timeout = 300ms;
        mock_server server(o);
        // The client preface and an empty SETTINGS frame, then nothing.
        const std::string hello =
            std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + std::string("\0\0\0\4\0\0\0\0\0", 9);
        const auto r = h2m_raw_exchange(server.port(), hello, 10s);
        CHECK(r.closed);
        const auto frames = h2m_parse_frames(r.bytes);
        REQUIRE_FALSE(frames.types.empty());
        CHECK(frames.types.front() == 4); // SETTINGS
        CHECK(frames.types.back() == 7);  // GOAWAY, last
        CHECK(frames.goaway_error == 0);  // NO_ERROR
        CHECK(server.http2_stats().goaways_sent == 1);
        CHECK(glue::test::eventually([&] { return server.open_connections() == 0; }));
    }

    TEST_CASE(
        "SETTINGS_MAX_CONCURRENT_STREAMS: advertised, and no more streams processed at once") {
        const auto nghttp = h2m_tool("nghttp", "nghttp2-client");
        if (!nghttp) {
            return;
        }
        auto o = h2m_options();
        o.http2_max_concurrent_streams = 10;
        mock_server server(o);
        // Each token request held 300 ms, so that the streams overlap.
        fault slow;
        slow.delay = 300ms;
        server.set_fault(endpoint::token, slow);
        const h2m_file form(h2m_form(server));
        const auto r = h2m_exec(*nghttp, h2m_nghttp_token_args(server, form, 14));
        CAPTURE(r.output);
        CHECK(r.output.find("SETTINGS_MAX_CONCURRENT_STREAMS(0x03):10") != std::string::npos);
        const auto s = server.http2_stats();
        CHECK(s.connections == 1);
        CHECK(s.max_concurrent_streams == 10);
        CHECK(server.max_concurrent_token_requests() == 10);
        // nghttp may send all 14 before it has the setting: nghttp2 refuses those beyond it
        // (REFUSED_STREAM, not a connection error), and answers every other.
        CHECK(server.token_requests() + s.streams_refused == 14);
        CHECK(s.goaways_sent_with_error == 0);
        CHECK(h2m_count(r.output, ":status: 200") == server.token_requests());
    }

    TEST_CASE("GOAWAY after the second stream: later streams go unprocessed, the connection "
              "drains and closes") {
        const auto nghttp = h2m_tool("nghttp", "nghttp2-client");
        if (!nghttp) {
            return;
        }
        auto o = h2m_options();
        o.http2_goaway_after_streams = 2;
        mock_server server(o);
        fault slow; // the second stream still being answered when the GOAWAY goes
        slow.delay = 200ms;
        server.set_fault(endpoint::token, slow);
        const h2m_file form(h2m_form(server));
        const auto r = h2m_exec(*nghttp, h2m_nghttp_token_args(server, form, 4));
        CAPTURE(r.output);
        // The last stream id the GOAWAY names is that of the second HEADERS nghttp sent.
        std::vector<std::string> sent;
        const std::regex headers_sent(R"(send HEADERS frame <[^>]*stream_id=(\d+)>)");
        for (std::sregex_iterator it(r.output.begin(), r.output.end(), headers_sent), end;
             it != end; ++it) {
            sent.push_back((*it)[1]);
        }
        REQUIRE(sent.size() >= 2);
        std::smatch goaway;
        REQUIRE(
            std::regex_search(r.output, goaway,
                              std::regex(R"(recv GOAWAY frame <[^>]*>\s*\(last_stream_id=(\d+), )"
                                         R"(error_code=NO_ERROR)")));
        CHECK(goaway[1] == sent[1]);
        CHECK(h2m_count(r.output, ":status: 200") == 2);
        CHECK(server.token_requests() == 2);
        const auto s = server.http2_stats();
        CHECK(s.goaways_sent == 1);
        CHECK(s.goaways_sent_with_error == 0);
        CHECK(s.streams_opened >= 2);
        CHECK(s.connections == 1);
        // Drained, the connection closes.
        CHECK(glue::test::eventually([&] { return server.open_connections() == 0; }));
    }

    TEST_CASE("REFUSED_STREAM: the first stream, then every second, left unprocessed") {
        const auto nghttp = h2m_tool("nghttp", "nghttp2-client");
        if (!nghttp) {
            return;
        }
        {
            auto o = h2m_options();
            o.http2_refuse_first_streams = 1;
            mock_server server(o);
            const h2m_file form(h2m_form(server));
            const auto r = h2m_exec(*nghttp, h2m_nghttp_token_args(server, form, 3));
            CAPTURE(r.output);
            CHECK(h2m_count(r.output, "recv RST_STREAM frame") == 1);
            CHECK(h2m_count(r.output, "error_code=REFUSED_STREAM(0x07)") == 1);
            CHECK(h2m_count(r.output, ":status: 200") == 2);
            CHECK(server.token_requests() == 2);
            const auto s = server.http2_stats();
            CHECK(s.streams_opened == 3);
            CHECK(s.streams_refused == 1);
            CHECK(s.resets_sent.at(7) == 1);
        }
        {
            auto o = h2m_options();
            o.http2_refuse_every = 2;
            mock_server server(o);
            const h2m_file form(h2m_form(server));
            const auto r = h2m_exec(*nghttp, h2m_nghttp_token_args(server, form, 4));
            CAPTURE(r.output);
            CHECK(h2m_count(r.output, "error_code=REFUSED_STREAM(0x07)") == 2);
            CHECK(server.token_requests() == 2);
            CHECK(server.http2_stats().streams_refused == 2);
        }
    }

    TEST_CASE("a fault over HTTP/2 resets its own stream only") {
        const auto nghttp = h2m_tool("nghttp", "nghttp2-client");
        if (!nghttp) {
            return;
        }
        mock_server server(h2m_options());
        fault drop;
        drop.what = fault::kind::close_without_response;
        drop.times = 1;
        server.set_fault(endpoint::token, drop);
        const h2m_file form(h2m_form(server));
        const auto r = h2m_exec(*nghttp, h2m_nghttp_token_args(server, form, 2));
        CAPTURE(r.output);
        CHECK(h2m_count(r.output, "error_code=INTERNAL_ERROR(0x02)") == 1);
        CHECK(h2m_count(r.output, ":status: 200") == 1);
        CHECK(server.token_requests() == 2); // both reached the endpoint
        const auto s = server.http2_stats();
        CHECK(s.connections == 1);
        CHECK(s.resets_sent.at(2) == 1);
        CHECK(s.goaways_sent_with_error == 0);
    }

    TEST_CASE("a stalled answer: the headers, then nothing until the client resets the stream") {
        const auto curl = h2m_tool("curl", "curl");
        if (!curl) {
            return;
        }
        mock_server server(h2m_options());
        fault stall;
        stall.what = fault::kind::stall_after_headers;
        stall.times = 1;
        server.set_fault(endpoint::token, stall);
        // The first transfer gives up after 1 s; the second, on the same connection, goes
        // through, which also makes curl send its RST_STREAM for the first before closing.
        const auto token = h2m_token_args(server, h2m_ws);
        std::vector<std::string> args = {"-sS", "--http2",    "--cacert", server.ca_file(),
                                         "-i",  "--max-time", "1"};
        args.insert(args.end(), token.begin(), token.end());
        args.insert(args.end(), {"--next", "-sS", "--http2", "--cacert", server.ca_file()});
        args.insert(args.end(), token.begin(), token.end());
        const auto r = h2m_exec(*curl, args);
        CAPTURE(r.output);
        // (curl's error comes first: its standard output is buffered)
        CHECK(r.output.find("HTTP/2 200") != std::string::npos);
        CHECK(r.output.find("Operation timed out") != std::string::npos);
        CHECK(r.output.find("\"access_token\"") != std::string::npos);
        CHECK(server.token_requests() == 2);
        const auto s = server.http2_stats();
        CHECK(s.connections == 1);
        REQUIRE(s.resets_received.size() == 1);
        CHECK(s.resets_received.begin()->second == 1);

        // Over HTTP/1.1 the same: the headers, then nothing.
        server.set_fault(endpoint::token, stall);
        auto h1 = h2m_token_args(server, h2m_ws);
        h1.insert(h1.begin(), {"-i", "--max-time", "1"});
        const auto r1 = h2m_curl(*curl, server, "--http1.1", h1);
        CAPTURE(r1.output);
        CHECK(r1.exit_code() == 28);
        CHECK(r1.output.find("HTTP/1.1 200") != std::string::npos);
        CHECK(r1.output.find("\"access_token\"") == std::string::npos);
    }

    TEST_CASE("compression and rate limits over HTTP/2, as over HTTP/1.1") {
        const auto curl = h2m_tool("curl", "curl");
        if (!curl) {
            return;
        }
        auto o = h2m_options();
        o.compress = true;
        o.compress_min_bytes = 1;
        o.graphql_rate_limit = 1;
        o.rate_limit_burst = 1;
        o.rate_limit_clock = [] { return std::chrono::steady_clock::time_point(); }; // still
        mock_server server(o);
        const std::string token =
            h2m_access_token(h2m_curl(*curl, server, "--http2", h2m_token_args(server, h2m_ws)));
        const std::vector<std::string> call = {"--compressed",
                                               "-i",
                                               "-H",
                                               "authorization: Bearer " + token,
                                               "-H",
                                               "content-type: application/json",
                                               "-d",
                                               R"({"query": "{ me { id } }"})",
                                               server.url() + "/public/graphql"};
        const auto first = h2m_curl(*curl, server, "--http2", call);
        CAPTURE(first.output);
        CHECK(first.output.starts_with("HTTP/2 200"));
        CHECK(first.output.find("content-encoding: gzip") != std::string::npos);
        CHECK(first.output.find(R"({"data":{"me":{"id":"usr_)") != std::string::npos);
        const auto second = h2m_curl(*curl, server, "--http2", call);
        CAPTURE(second.output);
        CHECK(second.output.starts_with("HTTP/2 429"));
        CHECK(second.output.find("retry-after: ") != std::string::npos);
        CHECK(server.rate_limit_stats().admitted == 1);
        CHECK(server.rate_limit_stats().refused == 1);
    }

    TEST_CASE("stalled flow control: a request body is never granted window, never processed") {
        const auto curl = h2m_tool("curl", "curl");
        const auto nghttp = h2m_tool("nghttp", "nghttp2-client");
        if (!curl || !nghttp) {
            return;
        }
        auto o = h2m_options();
        o.http2_stall_request_bodies = true;
        mock_server server(o);
        const auto settings = h2m_exec(*nghttp, {"-nv", server.url() + "/"});
        CHECK_MESSAGE(settings.output.find("SETTINGS_INITIAL_WINDOW_SIZE(0x04):0") !=
                          std::string::npos,
                      settings.output);
        // More than the 65,535 bytes a client may send before it has the server's SETTINGS.
        const h2m_file body(R"({"query": "{ me { id } }", "pad": ")" + std::string(100'000, 'x') +
                            "\"}");
        const auto r =
            h2m_curl(*curl, server, "--http2",
                     {"--max-time", "2", "-H", "content-type: application/json", "--data-binary",
                      "@" + body.path, server.url() + "/public/graphql"});
        CAPTURE(r.output);
        CHECK(r.exit_code() == 28); // curl's "operation timed out"
        CHECK(server.graphql_requests() == 0);
        CHECK(server.http2_stats().streams_opened == 2);
    }

    TEST_CASE("GraphQL executions by operation name; a mutation executed twice is a repeat") {
        const auto curl = h2m_tool("curl", "curl");
        if (!curl) {
            return;
        }
        mock_server server(h2m_options());
        const std::string token =
            h2m_access_token(h2m_curl(*curl, server, "--http2", h2m_token_args(server, h2m_ws)));
        const auto send = [&](const std::string& text) {
            const std::string body =
                R"({"query": "mutation Send($t: String!) { sendMessage(input: {threadID: )"
                R"(\"thr_H2Mock\", message: {text: $t}}) { message { id } } }", )"
                R"("variables": {"t": ")" +
                text + R"("}})";
            const auto r = h2m_curl(*curl, server, "--http2",
                                    {"-H", "authorization: Bearer " + token, "-H",
                                     "content-type: application/json", "-d", body,
                                     server.url() + "/public/graphql"});
            CHECK_MESSAGE(r.output.find(R"("sendMessage":{"message":{"id":"msg_)") !=
                              std::string::npos,
                          r.output);
        };
        send("one");
        send("two");
        CHECK(server.mutations_executed() == 2);
        CHECK(server.mutation_repeats() == 0);
        send("one");
        CHECK(server.graphql_executions("Send") == 3);
        CHECK(server.graphql_executions("") == 0);
        CHECK(server.mutations_executed() == 3);
        CHECK(server.mutation_repeats() == 1);
        server.reset_counters();
        CHECK(server.mutation_repeats() == 0);
        CHECK(server.graphql_executions("Send") == 0);
        CHECK(server.http2_stats().streams_opened == 0);
    }
}
