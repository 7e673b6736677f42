// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The `glue` command: tokens, queries and bulk jobs against Glue's API from a terminal, and the
// mock server and a demo to try it all without an account.
//
// Configuration: flags, else GLUE_* variables (README, "The glue command", has the table).
// GLUE_DEBUG=1 or -v prints a line per request on stderr.
// Errors go to stderr as one line saying what failed, against which host, and what to do
// (error_text.hpp); the client secret and tokens are never printed (a token only with
// `token --show-token`). Exit status: 0 done, 1 a call failed, 2 a command line or input refused
// before anything was sent, 128 + the signal for an interrupted bulk job.

#include <glue/glue.hpp>
#include <glue/testing/mock_server.hpp>
#include <glue/testing/serve.hpp>

#include "bulk.hpp"
#include "bulk_input.hpp"
#include "error_text.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
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
    std::string http2; // auto, off, required; empty: the library's default (auto)
    unsigned timeout_s = 0;
    std::size_t connections = 0;
    bool no_compression = false;
    bool verbose = false; // -v, GLUE_DEBUG: a line per request on stderr
    bool include = false; // query --include: each GraphQL answer's status and headers on stderr

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
        cmd.add_option("--http2", http2,
                       "HTTP/2 over TLS: auto (when the server selects it), off, required "
                       "[GLUE_HTTP2]");
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
        if (cfg.client_id.empty() || cfg.client_secret.empty()) {
            throw CLI::ValidationError("credentials",
                                       "no client credentials: set GLUE_CLIENT_ID and "
                                       "GLUE_CLIENT_SECRET (or --client-id, --client-secret)");
        }
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
        if (include) {
            // Beyond the request ids: what tells about the answer's body and the server's limits.
            for (const char* name :
                 {"content-type", "content-encoding", "date", "server", "via", "x-ratelimit-limit",
                  "x-ratelimit-remaining", "x-ratelimit-reset"}) {
                cfg.capture_response_headers.emplace_back(name);
            }
        }
        if (verbose || include) {
            cfg.on_request_event = [verbose = verbose,
                                    include = include](const glue::request_event& e) {
                std::ostringstream text;
                if (verbose) {
                    // One redacted line per request's attempt (request_event's operator<<: no
                    // token, secret, variable or query text).
                    text << "glue: " << e << '\n';
                }
                if (include && e.target == glue::request_event::endpoint::graphql &&
                    e.http_status != 0) {
                    text << "HTTP/1.1 " << e.http_status << ' '
                         << boost::beast::http::obsolete_reason(
                                static_cast<boost::beast::http::status>(e.http_status))
                         << '\n';
                    for (const auto& h : e.response_headers) {
                        text << h.name << ": " << h.value << '\n';
                    }
                    text << '\n';
                }
                // Written whole, so that lines from threads don't mix.
                const auto out = text.str();
                std::fwrite(out.data(), 1, out.size(), stderr);
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
        std::string mode = http2;
        if (const char* v = std::getenv("GLUE_HTTP2"); mode.empty() && v) {
            mode = v; // the flag wins over the variable
        }
        if (mode == "off") {
            cfg.http2 = glue::http2_mode::off;
        } else if (mode == "required") {
            cfg.http2 = glue::http2_mode::required;
        } else if (!mode.empty() && mode != "auto") {
            throw CLI::ValidationError("--http2", "must be auto, off or required");
        }
        return cfg;
    }

    // What an error line says about the call, from the flags and variables; never a password.
    glue::cli::error_context error_context(const std::string& workspace) const {
        glue::cli::error_context ctx;
        auto cfg = glue::client_config::from_env();
        ctx.host = glue::cli::authority_of(api_url.empty() ? cfg.api_url : api_url);
        const std::string& p = proxy.empty() ? cfg.proxy : proxy;
        if (!p.empty()) {
            ctx.proxy = glue::cli::authority_of(p);
        }
        ctx.workspace = workspace;
        ctx.timeout = timeout_s != 0
                          ? std::chrono::seconds(timeout_s)
                          : std::chrono::duration_cast<std::chrono::seconds>(cfg.request_timeout);
        ctx.ca_file = !ca_file.empty() || !cfg.ca_file.empty();
        return ctx;
    }
};

// The contents of a file ("-": stdin), as bytes.
std::string read_file(const std::string& path, const std::string& option) {
    std::ifstream file;
    if (path != "-") {
        file.open(path, std::ios::binary);
        if (!file) {
            throw CLI::ValidationError(option, "cannot read " + path);
        }
    }
    std::ostringstream text;
    text << (path == "-" ? std::cin.rdbuf() : file.rdbuf());
    return text.str();
}

// A GraphQL name ([_A-Za-z][_0-9A-Za-z]*), as a variable's must be.
bool is_name(std::string_view s) {
    auto letter = [](char c) {
        return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    };
    return !s.empty() && letter(s[0]) && std::all_of(s.begin(), s.end(), [&](char c) {
        return letter(c) || (c >= '0' && c <= '9');
    });
}

// -F's value as gh api reads it: true, false, null and JSON numbers are typed, @FILE is the
// file's contents (@-: stdin) as a string, anything else a string.
json::value typed_value(const std::string& text) {
    if (text == "true" || text == "false" || text == "null") {
        return json::parse(text);
    }
    if (text.starts_with('@')) {
        return json::string(read_file(text.substr(1), "-F"));
    }
    const bool numeric = !text.empty() && (text[0] == '-' || (text[0] >= '0' && text[0] <= '9'));
    if (numeric) {
        boost::system::error_code ec;
        auto v = json::parse(text, ec);
        if (!ec && v.is_number()) {
            return v;
        }
    }
    return json::string(text);
}

// The query from the positional argument or --file, with its variables: --variables, then -F
// and -f, which add to it or replace its members.
struct query_flags {
    std::string query, file, variables, operation_name;
    std::vector<std::string> typed_fields, raw_fields; // -F, -f: name=value

    void add_to(CLI::App& cmd) {
        auto* q = cmd.add_option("query", query, "the GraphQL document");
        auto* f = cmd.add_option("--file", file, "read the GraphQL document from this file")
                      ->check(CLI::ExistingFile);
        q->excludes(f);
        cmd.add_option("--variables", variables, "variables as a JSON object");
        cmd.add_option("-F,--field", typed_fields,
                       "a variable, name=value: true, false, null and numbers typed, @FILE the "
                       "file's contents (@-: stdin), else a string; repeatable");
        cmd.add_option("-f,--raw-field", raw_fields,
                       "a variable, name=value, the value a string as written; repeatable");
        cmd.add_option("--operation-name", operation_name, "the operation to run");
    }

    // --variables with -F and -f applied; a name given twice by -F and -f is refused.
    json::object variables_object() const {
        json::object vars = glue::parse_variables(variables);
        std::vector<std::string> named;
        auto apply = [&](const std::vector<std::string>& fields, const char* option, bool typed) {
            for (const auto& field : fields) {
                const auto eq = field.find('=');
                const std::string name = field.substr(0, eq);
                if (eq == std::string::npos || !is_name(name)) {
                    // The text itself is not repeated: it may be a secret given wrongly.
                    throw CLI::ValidationError(option, "takes name=value, the name a GraphQL "
                                                       "name ([_A-Za-z][_0-9A-Za-z]*)");
                }
                if (std::find(named.begin(), named.end(), name) != named.end()) {
                    throw CLI::ValidationError(option, "the variable " + name + " is given twice");
                }
                named.push_back(name);
                const std::string value = field.substr(eq + 1);
                vars[name] = typed ? typed_value(value) : json::value(json::string(value));
            }
        };
        apply(typed_fields, "-F", true);
        apply(raw_fields, "-f", false);
        return vars;
    }

    glue::graphql_request request() const {
        std::string doc = file.empty() ? query : read_file(file, "--file");
        if (doc.empty()) {
            throw CLI::ValidationError("query", "give a GraphQL document or --file");
        }
        return glue::graphql_request(std::move(doc), variables_object(), operation_name);
    }
};

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

// `glue query --paginate`'s flags.
struct paginate_flags {
    std::string path; // empty: one request
    std::size_t page_size = 50;
    std::size_t max_pages = 1000;

    void add_to(CLI::App& cmd) {
        cmd.add_option("--paginate", path,
                       "follow the Relay connection at this path of the answer (e.g. groups, "
                       "node.threads) page by page, printing each node as a JSON line; the "
                       "query declares $after: String (and $first: Int for --page-size) and "
                       "passes them to the connection, which selects pageInfo { hasNextPage "
                       "endCursor } and nodes or edges { node }");
        cmd.add_option("--page-size", page_size, "with --paginate: the $first variable")
            ->check(CLI::Range(std::size_t{1}, std::size_t{10'000}));
        cmd.add_option("--max-pages", max_pages,
                       "with --paginate: fail after this many pages (default 1000)")
            ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
    }
};

int cmd_query(const connection_flags& conn, const std::string& ws, const query_flags& q,
              const paginate_flags& paging) {
    glue::graphql_request req = q.request();
    if (!paging.path.empty() && req.query.find("$after") == std::string::npos) {
        throw CLI::ValidationError("--paginate",
                                   "the query must declare $after: String and pass it to the "
                                   "connection, e.g. groups(first: $first, after: $after)");
    }
    const auto cfg = conn.config();
    run([&](asio::io_context& ioc) -> asio::awaitable<void> {
        glue::client c(ioc.get_executor(), cfg);
        if (paging.path.empty()) {
            glue::graphql_response r = co_await c.graphql(ws, req);
            std::cout << json::serialize(r.data) << "\n";
            co_return;
        }
        glue::page_options opts;
        opts.page_size = paging.page_size;
        opts.max_pages = paging.max_pages;
        glue::pager pages(c, ws, req, paging.path, opts);
        while (auto p = co_await pages.next()) {
            for (const auto& node : p->nodes) {
                std::cout << json::serialize(node) << '\n';
            }
            std::cout.flush(); // a page at a time, as it comes
        }
    });
    return 0;
}

// A rate in requests per second, from the flag or the variable `env`: a finite number, 0 or
// more (0: no limit). CLI11's own NonNegativeNumber would let "nan" through.
std::string rate_refusal(const char* env) {
    return std::string("must be a number of requests per second, 0 or more (0: no limit), as "
                       "the flag or ") +
           env;
}
bool is_rate(double v) {
    return std::isfinite(v) && v >= 0;
}
// Empty when `text` is a rate, else why not.
std::string rate_problem(const std::string& text, const char* env) {
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    return text.empty() || *end != '\0' || !is_rate(v) ? rate_refusal(env) : "";
}
CLI::Validator rate_check(const char* env) {
    return CLI::Validator([env](std::string& text) { return rate_problem(text, env); }, "RATE");
}

// `glue bulk`'s own flags.
struct bulk_flags {
    std::string workspaces_from, out_path, resume_path, metrics_path;
    std::size_t concurrency = 64;
    std::optional<double> rate, rate_per_workspace; // unset: the configuration's
    unsigned grace_period_s = 5;
    bool allow_duplicates = false;

    /// The rates' variables checked again after parsing: when a value from an option's
    /// envname() fails its check(), CLI11 2.2 (Debian 12) refuses it, but CLI11 2.4 (Debian 13)
    /// silently leaves the option unset, which would run the job without the limit asked for.
    void check_rates() const {
        check_variable(rate, "--rate", "GLUE_RATE");
        check_variable(rate_per_workspace, "--rate-per-workspace", "GLUE_RATE_PER_WORKSPACE");
    }
    static void check_variable(const std::optional<double>& parsed, const char* flag,
                               const char* env) {
        const char* text = std::getenv(env);
        if (parsed || !text || !*text) { // taken, or not set (CLI11 ignores an empty variable)
            return;
        }
        if (auto why = rate_problem(text, env); !why.empty()) {
            throw CLI::ValidationError(flag, why);
        }
    }

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
    paginate_flags paging;
    paging.add_to(*query);
    query->add_flag("-i,--include", conn.include,
                    "print each GraphQL answer's status line and captured headers on stderr");
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
    mock->add_flag("--http2", mock_opts.http2,
                   "with --tls: HTTP/2 to clients that offer it by ALPN, HTTP/1.1 to the others");
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
    } catch (const CLI::ParseError& e) {
        // --help and --version exit 0; a command line CLI11 refuses, 2 (with its usage hint).
        return app.exit(e) == 0 ? 0 : usage_error;
    }
    try {
        if (token->parsed()) {
            return cmd_token(conn, workspace, show_token);
        }
        if (query->parsed()) {
            return cmd_query(conn, workspace, q, paging);
        }
        if (bulk->parsed()) {
            bulk_opts.check_rates();
            return cmd_bulk(conn, bulk_opts, q);
        }
        if (mock->parsed()) {
            return cmd_mock_server(mock_opts);
        }
        return cmd_demo(demo_calls, demo_workspaces_n, demo_concurrency);
    } catch (const CLI::ParseError& e) {
        // A value or an input the commands refuse before any call: one line, exit 2.
        std::cerr << "glue: " << e.what() << "\n";
        return usage_error;
    } catch (const glue::error& e) {
        auto ctx = conn.error_context(workspace);
        ctx.paginate = paging.path;
        std::cerr << glue::cli::error_line(e, ctx) << "\n";
        if (conn.verbose) {
            std::cerr << glue::cli::error_detail(e) << "\n";
        }
        // errc::invalid_argument: refused before anything was sent, as a bad flag is.
        return e.code() == glue::errc::invalid_argument ? usage_error : 1;
    } catch (const std::exception& e) {
        std::cerr << "glue: " << e.what() << "\n";
        return 1;
    }
}
