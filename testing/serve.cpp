// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/testing/serve.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <csignal>
#include <ostream>

#include <pthread.h>

namespace glue::testing {

void print_settings(const mock_server& server, std::ostream& os) {
    const auto cfg = server.client_config();
    os << "mock Glue API at " << server.url() << "\n"
       << "  GLUE_API_URL=" << cfg.api_url << "\n"
       << "  GLUE_CLIENT_ID=" << cfg.client_id << "\n"
       << "  GLUE_CLIENT_SECRET=" << cfg.client_secret << "  (a test credential)\n"
       << "  GLUE_REDIRECT_URI=" << cfg.redirect_uri << "\n";
    if (!cfg.ca_pem.empty()) {
        os << "  GLUE_CA_FILE=" << server.ca_file() << "\n";
    }
}

void print_counters(const mock_server& server, std::ostream& os) {
    const auto limits = server.rate_limit_stats();
    const auto h2 = server.http2_stats();
    const boost::json::object counters{{"graphql_requests", server.graphql_requests()},
                                       {"admitted", limits.admitted},
                                       {"refused", limits.refused},
                                       {"refused_app", limits.refused_app},
                                       {"refused_workspace", limits.refused_workspace},
                                       {"token_requests", server.token_requests()},
                                       {"connections", server.connections_accepted()},
                                       {"tls_handshakes", server.tls_handshakes()},
                                       {"http2_connections", h2.connections},
                                       {"http2_streams", h2.streams_opened}};
    os << boost::json::serialize(counters) << std::endl;
}

int serve_until_signalled(const mock_server_options& opts, std::ostream& os,
                          std::ostream* counters) {
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    // Blocked before the server's threads start, so only sigwait() below sees them.
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    mock_server server(opts);
    print_settings(server, os);
    if (!opts.webhook_url.empty()) {
        os << "  webhooks to " << opts.webhook_url
           << ", signed with GLUE_WEBHOOK_SECRET=" << opts.webhook_secret << "\n";
    }
    os << "Ctrl-C stops it." << std::endl;
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (counters) {
        print_counters(server, *counters);
    }
    return 0;
}

} // namespace glue::testing
