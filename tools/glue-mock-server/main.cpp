// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// glue-mock-server: the mock Glue API on 127.0.0.1, stand-alone.
//
//   glue-mock-server [OPTIONS]                          serve until interrupted
//   glue-mock-server [OPTIONS] -- COMMAND [ARGS...]     run COMMAND against it
//
// OPTIONS: --tls, --http2 (with --tls: HTTP/2 for clients that offer it by ALPN),
// --http2-prior-knowledge (without --tls: HTTP/2 only), --port N, --threads N, --webhook-url URL
// (http://127.0.0.1:<port>/<path>, where events are POSTed), --webhook-secret S (the key of their
// signatures), --compress (gzip answers of 1 KiB or more to clients that accept it), --groups N
// (groups per workspace, all on one page if asked for), --rate-limit N and
// --rate-limit-per-workspace N (GraphQL requests a second admitted across the app and per
// workspace; beyond them 429 with Retry-After), --graphql-delay MS (with a command: every GraphQL
// answer that much later, e.g. to interrupt a job midway), --counters (when it stops, after the
// command or at the signal, one JSON line on stderr with its counters: GraphQL requests, admitted
// and refused by the rate limits, token requests, connections, TLS handshakes, HTTP/2 connections
// and streams).
//
// With a command, GLUE_API_URL, GLUE_CLIENT_ID, GLUE_CLIENT_SECRET, GLUE_REDIRECT_URI,
// GLUE_WEBHOOK_SECRET (and GLUE_CA_FILE with --tls) point the command at the server, and its
// exit status is returned.

#include <glue/testing/mock_server.hpp>
#include <glue/testing/serve.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

int usage(const char* why) {
    std::cerr
        << "glue-mock-server: " << why << "\n"
        << "usage: glue-mock-server [--tls] [--http2] [--http2-prior-knowledge] [--port N]\n"
        << "                        [--threads N] [--webhook-url URL]\n"
        << "                        [--webhook-secret S] [--compress] [--groups N]\n"
        << "                        [--rate-limit N] [--rate-limit-per-workspace N]\n"
        << "                        [--graphql-delay MS] [--counters]\n"
        << "                        [-- COMMAND ARGS...]\n"
        << "  --http2              with --tls: HTTP/2 to clients that offer it (ALPN h2),\n"
        << "                       HTTP/1.1 to the others\n"
        << "  --http2-prior-knowledge   without --tls: HTTP/2 only, no HTTP/1.1\n"
        << "  --webhook-url URL    POST events to URL (http://127.0.0.1:<port>/<path>)\n"
        << "  --webhook-secret S   sign them with S (set as GLUE_WEBHOOK_SECRET)\n"
        << "  --compress           gzip answers of 1 KiB or more when the client accepts it\n"
        << "  --groups N           groups in every workspace (default 5, at most 65535), and\n"
        << "                       a page size limit that lets one page hold them all\n"
        << "  --rate-limit N       admit N GraphQL requests a second across the app (N at\n"
        << "                       once after an idle second), 429 with Retry-After beyond\n"
        << "  --rate-limit-per-workspace N   the same for each workspace\n"
        << "  --graphql-delay MS   with a command: answer every GraphQL request MS\n"
        << "                       milliseconds late\n"
        << "  --counters           when it stops, print its counters (GraphQL requests,\n"
        << "                       admitted, refused, token requests, connections, TLS\n"
        << "                       handshakes, HTTP/2 connections and streams) as JSON on\n"
        << "                       stderr\n";
    return 2;
}

int run_command(const glue::testing::mock_server& server, const std::string& webhook_secret,
                char** argv) {
    const auto cfg = server.client_config();
    ::setenv("GLUE_API_URL", cfg.api_url.c_str(), 1);
    ::setenv("GLUE_CLIENT_ID", cfg.client_id.c_str(), 1);
    ::setenv("GLUE_CLIENT_SECRET", cfg.client_secret.c_str(), 1);
    ::setenv("GLUE_REDIRECT_URI", cfg.redirect_uri.c_str(), 1);
    ::setenv("GLUE_WEBHOOK_SECRET", webhook_secret.c_str(), 1);
    if (!cfg.ca_pem.empty()) {
        ::setenv("GLUE_CA_FILE", server.ca_file().c_str(), 1);
    }
    pid_t pid = 0;
    if (int err = ::posix_spawnp(&pid, argv[0], nullptr, nullptr, argv, environ); err != 0) {
        std::cerr << "glue-mock-server: cannot run " << argv[0] << ": " << std::strerror(err)
                  << "\n";
        return 127;
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return 127;
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

} // namespace

int main(int argc, char** argv) {
    glue::testing::mock_server_options opts;
    std::chrono::milliseconds graphql_delay{0};
    bool counters = false;
    int i = 1;
    for (; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--") {
            ++i;
            break;
        }
        if (arg == "--tls") {
            opts.tls = true;
        } else if (arg == "--http2") {
            opts.http2 = true;
        } else if (arg == "--http2-prior-knowledge") {
            opts.http2_prior_knowledge = true;
        } else if (arg == "--compress") {
            opts.compress = true;
        } else if (arg == "--counters") {
            counters = true;
        } else if ((arg == "--port" || arg == "--threads" || arg == "--groups" ||
                    arg == "--graphql-delay") &&
                   i + 1 < argc) {
            char* end = nullptr;
            const long v = std::strtol(argv[++i], &end, 10);
            if (*end != '\0' || v < 0 || v > 65535 || (arg == "--threads" && v == 0)) {
                return usage("bad number");
            }
            if (arg == "--port") {
                opts.port = static_cast<std::uint16_t>(v);
            } else if (arg == "--graphql-delay") {
                graphql_delay = std::chrono::milliseconds(v);
            } else if (arg == "--groups") {
                // All of them on one page, if asked for.
                opts.groups_per_workspace = static_cast<std::size_t>(v);
                opts.max_page_size = std::max(opts.max_page_size, opts.groups_per_workspace);
            } else {
                opts.threads = static_cast<unsigned>(v);
            }
        } else if ((arg == "--rate-limit" || arg == "--rate-limit-per-workspace") && i + 1 < argc) {
            const char* text = argv[++i];
            char* end = nullptr;
            const double v = std::strtod(text, &end);
            if (end == text || *end != '\0' || !(v >= 0 && v <= 1e9)) {
                return usage("bad rate");
            }
            (arg == "--rate-limit" ? opts.graphql_rate_limit
                                   : opts.graphql_rate_limit_per_workspace) = v;
        } else if (arg == "--webhook-url" && i + 1 < argc) {
            opts.webhook_url = argv[++i];
        } else if (arg == "--webhook-secret" && i + 1 < argc) {
            opts.webhook_secret = argv[++i];
        } else {
            return usage("unknown argument");
        }
    }
    try {
        if (i >= argc) {
            if (graphql_delay.count() != 0) {
                return usage("--graphql-delay needs a command");
            }
            return glue::testing::serve_until_signalled(opts, std::cout,
                                                        counters ? &std::cerr : nullptr);
        }
        glue::testing::mock_server server(opts);
        if (graphql_delay.count() != 0) {
            glue::testing::fault slow;
            slow.delay = graphql_delay;
            server.set_fault(glue::testing::endpoint::graphql, slow);
        }
        const int status = run_command(server, opts.webhook_secret, argv + i);
        if (counters) {
            glue::testing::print_counters(server, std::cerr);
        }
        return status;
    } catch (const std::exception& e) {
        std::cerr << "glue-mock-server: " << e.what() << "\n";
        return 1;
    }
}
