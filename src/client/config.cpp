// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/config.hpp>

#include "protocol/url_redaction.hpp"

#include <chrono>
#include <cstdlib>
#include <ostream>
#include <string>

namespace glue {

client_config client_config::from_env() {
    client_config cfg;
    auto read = [](std::string& field, const char* name) {
        if (const char* v = std::getenv(name)) {
            field = v;
        }
    };
    read(cfg.api_url, "GLUE_API_URL");
    read(cfg.client_id, "GLUE_CLIENT_ID");
    read(cfg.client_secret, "GLUE_CLIENT_SECRET");
    read(cfg.redirect_uri, "GLUE_REDIRECT_URI");
    read(cfg.ca_file, "GLUE_CA_FILE");
    read(cfg.shared_cache_url, "GLUE_SHARED_CACHE_URL");
    read(cfg.shared_cache_key, "GLUE_SHARED_CACHE_KEY");
    read(cfg.proxy, "GLUE_PROXY");
    read(cfg.no_proxy, "GLUE_NO_PROXY");
    return cfg;
}

std::ostream& operator<<(std::ostream& os, const client_config& cfg) {
    // The default headers by name only: a value may be a secret (an API key).
    std::string header_names;
    for (const auto& h : cfg.default_headers) {
        header_names += (header_names.empty() ? "" : ", ") + h.name;
    }
    return os << "client_config{api_url=" << cfg.api_url << ", client_id=" << cfg.client_id
              << ", client_secret=" << (cfg.client_secret.empty() ? "(empty)" : "(redacted)")
              << ", redirect_uri=" << cfg.redirect_uri << ", ca_file=" << cfg.ca_file
              << ", ca_pem=" << (cfg.ca_pem.empty() ? "(empty)" : "(set)")
              << ", request_timeout=" << cfg.request_timeout.count() << "ms"
              << ", token_request_timeout=" << cfg.token_request_timeout.count() << "ms"
              << ", connect_timeout=" << cfg.connect_timeout.count() << "ms"
              << ", max_connections=" << cfg.max_connections << ", http2="
              << (cfg.http2 == http2_mode::automatic ? "automatic"
                  : cfg.http2 == http2_mode::off     ? "off"
                                                     : "required")
              << ", accept_compressed_responses=" << std::boolalpha
              << cfg.accept_compressed_responses << std::noboolalpha
              << ", connection_idle_timeout=" << cfg.connection_idle_timeout.count() << "ms"
              << ", connection_max_lifetime=" << cfg.connection_max_lifetime.count() << "ms"
              << ", shared_cache_url=" << detail::redact_url_password(cfg.shared_cache_url)
              << ", shared_cache_key=" << (cfg.shared_cache_key.empty() ? "(empty)" : "(redacted)")
              << ", proxy=" << detail::redact_proxy_url(cfg.proxy) << ", no_proxy=" << cfg.no_proxy
              << ", proxy_from_env=" << (cfg.proxy_from_env ? "true" : "false")
              << ", default_headers=[" << header_names << "]}";
}

} // namespace glue
