// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The `glue` command: tokens, queries and bulk jobs against Glue's API from a terminal, and the
// mock server and a demo to try it all without an account.
//
// Configuration: GLUE_API_URL, GLUE_CLIENT_ID, GLUE_CLIENT_SECRET, GLUE_REDIRECT_URI and
// GLUE_CA_FILE (and GLUE_RATE, GLUE_RATE_PER_WORKSPACE for bulk), or the flags of the same names;
// GLUE_DEBUG=1 or -v prints a line per request on stderr.
// Errors go to stderr as one line; the client secret and tokens are never printed (a token only
// with `token --show-token`).

#include <glue/glue.hpp>
#include <glue/testing/mock_server.hpp>
#include <glue/testing/serve.hpp>

#include "bulk.hpp"
#include "bulk_input.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <unistd.h>

namespace {

namespace asio = boost::asio;
namespace json = boost::json;

// The exit status of a command line, or an input, refused before anything was sent.
constexpr int usage_error = 2;

// The settings every command that talks to Glue shares: flags over GLUE_* variables.
struct connection_flags {
    std::string api_url, client_id, client_secret, redirect_uri, ca_file, shared_cache;
    std::string proxy, no_proxy;
    unsigned timeout_s = 0;
    std::size_t connections = 0;
    bool no_compression = false;
    bool verbose = false; // -v, GLUE_DEBUG: a line per request on stderr

    void add_to(CLI::App& cmd) {
        cmd.add_option("--api-url", api_url, "API base URL [GLUE_API_URL]");
        cmd.add_option("--client-id", client_id, "OAuth client id [GLUE_CLIENT_ID]");
        cmd.add_option("--client-secret", client_secret,
                       "OAuth client secret [GLUE_CLIENT_SECRET]; prefer the variable, flags show "
                       "in process listings");
        cmd.add_option("--redirect-uri", redirect_uri,
                       "registered redirect URI [GLUE_REDIRECT_URI]");
        cmd.add_option("--ca-file", ca_file, "PEM file of trusted CAs [GLUE_CA_FILE]");
        cmd.add_option("--proxy", proxy,
                       "HTTP proxy, http://[user:password@]host[:port] [GLUE_PROXY; else "
                       "https_proxy, HTTPS_PROXY, ALL_PROXY]; prefer a variable for credentials");
        cmd.add_option("--no-proxy", no_proxy,
                       "hosts reached without the proxy: names, .suffixes, IPs, CIDR ranges, "
                       "host:port, * [GLUE_NO_PROXY; else no_proxy, NO_PROXY]");
        cmd.add_option("--timeout", timeout_s, "overall deadline of one call, seconds (default 30)")
            ->check(CLI::Range(1u, 3600u));
        cmd.add_option("--connections", connections, "keep-alive connections (default 64)")
            ->check(CLI::Range(std::size_t{1}, std::size_t{4096}));
        cmd.add_flag("--no-compression", no_compression,
                     "send no Accept-Encoding (answers are gzip or deflate otherwise)");
    }

    glue::client_config config() const {
        auto cfg = glue::client_config::from_env();
        auto set = [](std::string& field, const std::string& flag) {
            if (!flag.empty()) {
                field = flag;
            }
        };
        set(cfg.api_url, api_url);
        set(cfg.client_id, client_id);
        set(cfg.client_secret, client_secret);
        set(cfg.redirect_uri, redirect_uri);
        set(cfg.ca_file, ca_file);
        set(cfg.shared_cache_url, shared_cache);
        set(cfg.proxy, proxy);
        set(cfg.no_proxy, no_proxy);
        if (!cfg.shared_cache_url.empty()) {
            // The library says when the shared cache goes and comes back; the CLI logs it.
            cfg.on_token_event = [](const glue::token_event& e) {
                if (e.what == glue::token_event::kind::shared_cache_down) {
                    std::fprintf(stderr,
                                 "glue: shared cache unavailable (%.*s); tokens are requested "
                                 "in-process until it is back\n",
                                 static_cast<int>(e.reason.size()), e.reason.data());
                } else if (e.what == glue::token_event::kind::shared_cache_up) {
                    std::fprintf(stderr, "glue: shared cache connected\n");
                }
            };
        }
        if (verbose) {
            // One redacted line per request's attempt (request_event's operator<<: no token,
            // secret, variable or query text), written whole so lines from threads don't mix.
            cfg.on_request_event = [](const glue::request_event& e) {
                std::ostringstream line;
                line << "glue: " << e << '\n';
                const auto text = line.str();
                std::fwrite(text.data(), 1, text.size(), stderr);
            };
        }
        if (timeout_s != 0) {
            cfg.request_timeout = std::chrono::seconds(timeout_s);
        }
        if (connections != 0) {
            cfg.max_connections = connections;
        }
        if (no_compression) {
            cfg.accept_compressed_responses = false;
        }
        return cfg;
    }
};

// The query from the positional argument or --file, with --variables and --operation-name.
struct query_flags {
    std::string query, file, variables, operation_name;

    void add_to(CLI::App& cmd) {
        auto* q = cmd.add_option("query", query, "the GraphQL document");
        auto* f = cmd.add_option("--file", file, "read the GraphQL document from this file")
                      ->check(CLI::ExistingFile);
        q->excludes(f);
        cmd.add_option("--variables", variables, "variables as a JSON object");
        cmd.add_option("--operation-name", operation_name, "the operation to run");
    }

    glue::graphql_request request() const {
        std::string doc = query;
        if (!file.empty()) {
            std::ifstream in(file, std::ios::binary);
            std::ostringstream text;
            text << in.rdbuf();
            doc = text.str();
        }
        if (doc.empty()) {
            throw CLI::ValidationError("query", "give a GraphQL document or --file");
        }
        return glue::graphql_request(std::move(doc), glue::parse_variables(variables),
                                     operation_name);
    }
};

// A failure as one line: what() (client text, never a secret), then what the server said,
// apart and with any control characters blanked so it stays one line.
std::string one_line(const glue::error& e) {
    std::string line = e.what();
    std::string said;
    if (!e.oauth_error().empty()) {
        said = "oauth error " + e.oauth_error();
    }
    for (const auto& g : e.graphql_errors()) {
        said += said.empty() ? "graphql errors: " : "; ";
        said += g.message;
    }
    if (!said.empty()) {
        for (char& c : said) {
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
                c = ' ';
            }
        }
        line += " [server: " + said + "]";
    }
    return line;
}

// Runs `op` on a fresh io_context to completion, rethrowing what it throws.
template <class F>
void run(F op) {
    asio::io_context ioc;
    std::exception_ptr failure;
    asio::co_spawn(ioc, op(ioc), [&](std::exception_ptr e) { failure = e; });
    ioc.run();
    if (failure) {
        std::rethrow_exception(failure);
    }
}

int cmd_token(const connection_flags& conn, const std::string& ws, bool show_token) {
    run([&](asio::io_context& ioc) -> asio::awaitable<void> {
        glue::client c(ioc.get_executor(), conn.config());
        glue::access_token t = co_await c.fetch_token(ws);
        const auto left = std::chrono::duration_cast<std::chrono::seconds>(
            t.expires_at - std::chrono::steady_clock::now());
        std::cout << "workspace   " << ws << "\n"
                  << "user_id     " << t.user_id << "\n"
                  << "token_type  " << t.token_type << "\n"
                  << "expires_in  " << left.count() << " s\n";
        if (show_token) {
            std::cout << "token       " << t.value << "\n";
        } else {
            std::cout << "token       (hidden; --show-token prints it)\n";
        }
    });
    return 0;
}

int cmd_query(const connection_flags& conn, const std::string& ws, const query_flags& q) {
    glue::graphql_request req = q.request();
    run([&](asio::io_context& ioc) -> asio::awaitable<void> {
        glue::client c(ioc.get_executor(), conn.config());
        glue::graphql_response r = co_await c.graphql(ws, req);
        std::cout << json::serialize(r.data) << "\n";
    });
    return 0;
}

// A rate in requests per second, from the flag or the variable `env`: a finite number, 0 or
// more (0: no limit). CLI11's own NonNegativeNumber would let "nan" through.
CLI::Validator rate_check(const char* env) {
    return CLI::Validator(
        [env](std::string& text) -> std::string {
            char* end = nullptr;
            const double v = std::strtod(text.c_str(), &end);
            if (text.empty() || *end != '\0' || !std::isfinite(v) || v < 0) {
                return std::string("must be a number of requests per second, 0 or more (0: no "
                                   "limit), as the flag or ") +
                       env;
            }
            return {};
        },
        "RATE");
}

// `glue bulk`'s own flags.
struct bulk_flags {
    std::string workspaces_from, out_path, resume_path, metrics_path;
    std::size_t concurrency = 64;
    std::optional<double> rate, rate_per_workspace; // unset: the configuration's
    unsigned grace_period_s = 5;
    bool allow_duplicates = false;

    void add_to(CLI::App& cmd) {
        cmd.add_option("--workspaces", workspaces_from,
                       "file of workspace ids, one per line, or - for stdin; each is called once")
            ->required();
        cmd.add_option("-c,--concurrency", concurrency, "calls in flight at once")
            ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}));
        cmd.add_option("-o,--out", out_path, "write the JSON lines here instead of stdout");
        cmd.add_option("--resume", resume_path,
                       "continue the job whose JSON lines are in this file: call only the "
                       "workspaces it has no \"ok\": true line for, and append to it (it need "
                       "not exist yet)");
        cmd.add_option("--rate", rate, "GraphQL requests per second at most; 0: no limit")
            ->check(rate_check("GLUE_RATE"))
            ->envname("GLUE_RATE");
        cmd.add_option("--rate-per-workspace", rate_per_workspace,
                       "GraphQL requests per second per workspace at most; 0: no limit")
            ->check(rate_check("GLUE_RATE_PER_WORKSPACE"))
            ->envname("GLUE_RATE_PER_WORKSPACE");
        cmd.add_option("--grace-period", grace_period_s,
                       "seconds the calls in flight have to finish after SIGINT or SIGTERM "
                       "(default 5); a second signal cancels them at once")
            ->check(CLI::Range(0u, 3600u));
        cmd.add_option("--metrics", metrics_path,
                       "at the end of the job (an interrupted one too), write the client's "
                       "figures in Prometheus' text format to this file (whole: written to "
                       "<file>.tmp, then renamed)");
        cmd.add_flag("--allow-duplicates", allow_duplicates,
                     "run a mutation that is not safe to send twice (a sendMessage without "
                     "uniqueBy): a retried call or a resumed job may then do it twice");
    }

    void apply(glue::client_config& cfg) const {
        cfg.max_requests_per_second = rate.value_or(cfg.max_requests_per_second);
        cfg.max_requests_per_second_per_workspace =
            rate_per_workspace.value_or(cfg.max_requests_per_second_per_workspace);
    }
};

// The ids to call, each line that can't be one said by its number (at most a few of them).
glue::cli::workspace_list read_workspaces(const std::string& from) {
    std::ifstream file;
    std::istream* in = &std::cin;
    if (from != "-") {
        file.open(from, std::ios::binary);
        if (!file) {
            throw CLI::ValidationError("--workspaces", "cannot read " + from);
        }
        in = &file;
    }
    auto list = glue::cli::read_workspace_list(*in);
    constexpr std::size_t shown = 10;
    const auto& bad = list.invalid_lines;
    for (std::size_t i = 0; i < std::min(bad.size(), shown); ++i) {
        std::fprintf(stderr,
                     "glue: %s line %zu: not a workspace id (not UTF-8, or a control "
                     "character); skipped\n",
                     from == "-" ? "stdin" : from.c_str(), bad[i]);
    }
    if (bad.size() > shown) {
        std::fprintf(stderr, "glue: ... and %zu more such lines, skipped\n", bad.size() - shown);
    }
    return list;
}

// The same file, whether or not it exists yet.
bool same_file(const std::string& a, const std::string& b) {
    std::error_code ec_a, ec_b;
    const auto ca = std::filesystem::weakly_canonical(a, ec_a);
    const auto cb = std::filesystem::weakly_canonical(b, ec_b);
    return !ec_a && !ec_b && ca == cb;
}

int cmd_bulk(const connection_flags& conn, const bulk_flags& flags, const query_flags& q) {
    // Everything is checked before the first byte is written or sent.
    glue::cli::bulk_job job;
    job.request = q.request();
    if (!flags.allow_duplicates && !glue::safe_to_repeat(job.request)) {
        throw CLI::ValidationError(
            "bulk", "the operation is a mutation that may do twice what it does if sent twice "
                    "(only a sendMessage with input.message.uniqueBy, and thread.threadBy for a "
                    "new thread, is safe): a retried call or a resumed job could post twice. Add "
                    "uniqueBy, or pass --allow-duplicates");
    }
    const bool resuming = !flags.resume_path.empty();
    if (flags.resume_path == "-") {
        throw CLI::ValidationError("--resume", "needs a file: it reads it, then appends to it");
    }
    const std::string& out_path = resuming ? flags.resume_path : flags.out_path;
    if (resuming && !flags.out_path.empty() &&
        (flags.out_path == "-" || !same_file(flags.out_path, flags.resume_path))) {
        throw CLI::ValidationError("--resume", "appends to its own file; --out names another");
    }
    if (flags.metrics_path == "-") {
        throw CLI::ValidationError("--metrics", "needs a file: it is written whole, then renamed");
    }
    if (!flags.metrics_path.empty() && !out_path.empty() &&
        same_file(flags.metrics_path, out_path)) {
        throw CLI::ValidationError("--metrics", "names the file the results go to");
    }
    auto cfg = conn.config();
    flags.apply(cfg);
    auto list = read_workspaces(flags.workspaces_from);
    glue::cli::bulk_skipped skipped;
    skipped.resuming = resuming;
    skipped.duplicates = list.duplicates;
    skipped.invalid = list.invalid_lines.size();
    glue::cli::previous_results previous;
    if (resuming) {
        try {
            previous = glue::cli::read_previous_results(flags.resume_path);
        } catch (const std::runtime_error& e) {
            throw CLI::ValidationError("--resume", e.what());
        }
    }
    for (auto& ws : list.ids) {
        if (previous.succeeded.count(ws) != 0) {
            ++skipped.already_done;
        } else {
            job.workspaces.push_back(std::move(ws));
        }
    }
    job.concurrency = flags.concurrency;
    job.grace_period = std::chrono::seconds(flags.grace_period_s);
    asio::io_context ioc;
    glue::client c(ioc.get_executor(), cfg);

    std::unique_ptr<std::FILE, int (*)(std::FILE*)> out(nullptr, &std::fclose);
    if (out_path.empty() || out_path == "-") {
        job.out = stdout;
    } else {
        if (resuming && std::filesystem::exists(out_path)) {
            // A line a killed run left cut off goes, so that the file stays JSON lines.
            std::error_code ec;
            std::filesystem::resize_file(out_path, previous.whole_lines_bytes, ec);
            if (ec) {
                throw CLI::ValidationError("--resume", "cannot write " + out_path);
            }
        }
        out.reset(std::fopen(out_path.c_str(), resuming ? "ab" : "wb"));
        if (!out) {
            throw CLI::ValidationError(resuming ? "--resume" : "--out", "cannot write " + out_path);
        }
        if (previous.needs_newline) {
            std::fputc('\n', out.get());
        }
        job.out = out.get();
    }
    job.progress = ::isatty(STDERR_FILENO) ? stderr : nullptr;
    const auto report = glue::cli::run_bulk(ioc, c, job);
    const bool written = std::fflush(job.out) == 0 && !std::ferror(job.out);
    glue::cli::print_summary(stderr, report, job.workspaces.size(), skipped);
    if (!written) {
        std::fprintf(stderr, "glue: writing the results to %s failed\n",
                     job.out == stdout ? "stdout" : out_path.c_str());
    }
    const bool metrics_written =
        flags.metrics_path.empty() || glue::cli::write_metrics_file(flags.metrics_path, c);
    if (!metrics_written) {
        std::fprintf(stderr, "glue: writing the metrics to %s failed\n",
                     flags.metrics_path.c_str());
    }
    if (report.signal != 0) {
        return 128 + report.signal;
    }
    return written && metrics_written && report.failed == 0 && skipped.invalid == 0 ? 0 : 1;
}

int cmd_mock_server(const glue::testing::mock_server_options& opts) {
    return glue::testing::serve_until_signalled(opts, std::cout);
}

// 500 workspace ids of the real form, the same every run.
std::vector<std::string> demo_workspaces(std::size_t n) {
    constexpr std::string_view base62 =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::vector<std::string> out;
    std::uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (std::size_t i = 0; i < n; ++i) {
        std::string id = "wks_";
        for (int k = 0; k < 27; ++k) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            id += base62[x % base62.size()];
        }
        out.push_back(std::move(id));
    }
    return out;
}

int cmd_demo(std::size_t calls, std::size_t workspaces, std::size_t concurrency) {
    glue::testing::mock_server server;
    std::cerr << "glue demo: a mock Glue API at " << server.url() << " (in this process); " << calls
              << " GraphQL queries over " << workspaces << " workspaces, " << concurrency
              << " at a time, through glue::client.\n";
    const auto ids = demo_workspaces(workspaces);
    glue::cli::bulk_job job;
    job.workspaces.reserve(calls);
    for (std::size_t i = 0; i < calls; ++i) {
        job.workspaces.push_back(ids[i % ids.size()]);
    }
    job.request = glue::graphql_request("query Me { me { id name } }");
    job.concurrency = concurrency;
    job.progress = ::isatty(STDERR_FILENO) ? stderr : nullptr;
    asio::io_context ioc;
    glue::client c(ioc.get_executor(), server.client_config());
    const auto report = glue::cli::run_bulk(ioc, c, job);
    glue::cli::print_summary(stderr, report, workspaces);
    if (report.signal != 0) {
        return 128 + report.signal;
    }
    std::cerr << "  the server saw  " << server.token_requests()
              << " token requests: one per workspace, however many calls share it\n";
    const bool ok = report.failed == 0 && server.token_requests() == workspaces &&
                    report.token_requests == workspaces;
    if (!ok) {
        std::cerr << "glue demo: expected every call to succeed with exactly " << workspaces
                  << " token requests\n";
    }
    return ok ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app("glue: Glue's API from a terminal (tokens, GraphQL, bulk jobs), and a mock "
                 "server to try it");
    app.require_subcommand(1);
    app.set_version_flag("--version", GLUE_VERSION_STRING);
    // Accepted before the command or after it (glue -v query ..., glue query -v ...).
    app.fallthrough();

    connection_flags conn;
    app.add_flag("-v,--verbose", conn.verbose,
                 "a line per request on stderr: endpoint, workspace, status, retry, time split, "
                 "the server's request id; never a secret [GLUE_DEBUG=1]")
        ->envname("GLUE_DEBUG");
    std::string workspace;
    auto add_workspace = [&](CLI::App& cmd) {
        cmd.add_option("-w,--workspace", workspace, "the workspace id (wks_…)")
            ->required()
            ->envname("GLUE_WORKSPACE");
    };

    auto* token = app.add_subcommand("token", "fetch the workspace's access token");
    bool show_token = false;
    add_workspace(*token);
    conn.add_to(*token);
    token->add_flag("--show-token", show_token, "print the token itself (a secret)");

    auto* query = app.add_subcommand("query", "run a GraphQL operation; the data goes to stdout");
    query_flags q;
    add_workspace(*query);
    q.add_to(*query);
    conn.add_to(*query);

    auto* bulk = app.add_subcommand(
        "bulk", "run one GraphQL operation in many workspaces; a JSON line per workspace");
    bulk_flags bulk_opts;
    bulk_opts.add_to(*bulk);
    q.add_to(*bulk);
    bulk->add_option("--shared-cache", conn.shared_cache,
                     "share tokens with other workers through Redis: redis://host:port/db "
                     "[GLUE_SHARED_CACHE_URL]; the AES-256 key (64 hex digits) comes from "
                     "GLUE_SHARED_CACHE_KEY");
    conn.add_to(*bulk);

    auto* mock = app.add_subcommand("mock-server", "run the mock Glue API until interrupted");
    glue::testing::mock_server_options mock_opts;
    mock->add_option("--port", mock_opts.port, "port on 127.0.0.1 (default: any free one)");
    mock->add_flag("--tls", mock_opts.tls, "serve HTTPS with a generated test CA");
    mock->add_option("--rate-limit", mock_opts.graphql_rate_limit,
                     "GraphQL requests a second admitted across the app (N at once after an "
                     "idle second); beyond it 429 with Retry-After (default: no limit)")
        ->check(CLI::Range(0.0, 1e9));
    mock->add_option("--rate-limit-per-workspace", mock_opts.graphql_rate_limit_per_workspace,
                     "the same for each workspace")
        ->check(CLI::Range(0.0, 1e9));

    auto* demo = app.add_subcommand(
        "demo", "a bulk job through the real client against an embedded mock server");
    std::size_t demo_calls = 20'000, demo_workspaces_n = 500, demo_concurrency = 256;
    demo->add_option("--calls", demo_calls, "GraphQL calls")
        ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}));
    demo->add_option("--workspaces", demo_workspaces_n, "distinct workspaces")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
    demo->add_option("-c,--concurrency", demo_concurrency, "calls in flight at once")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}));

    try {
        app.parse(argc, argv);
        if (token->parsed()) {
            return cmd_token(conn, workspace, show_token);
        }
        if (query->parsed()) {
            return cmd_query(conn, workspace, q);
        }
        if (bulk->parsed()) {
            return cmd_bulk(conn, bulk_opts, q);
        }
        if (mock->parsed()) {
            return cmd_mock_server(mock_opts);
        }
        return cmd_demo(demo_calls, demo_workspaces_n, demo_concurrency);
    } catch (const CLI::ParseError& e) {
        // --help and --version exit 0; a command line or input refused before any call, 2.
        return app.exit(e) == 0 ? 0 : usage_error;
    } catch (const glue::error& e) {
        std::cerr << "glue: " << one_line(e) << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "glue: " << e.what() << "\n";
        return 1;
    }
}
