// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTS_README_SCENE_HPP
#define GLUE_TESTS_README_SCENE_HPP

// The names the README's fragments use without declaring them: what the code around a fragment
// would have (a client, a workspace id, an HTTP request being handled, ...). Declared only: the
// fragments are compiled, never run (check_readme.py). A fragment may use any of these; a new
// name goes here.

#include <glue/glue.hpp>
#include <glue/testing/mock_server.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace readme_scene {

/// An HTTP request being handled, as a web framework gives it: header values by name.
struct http_request {
    std::string_view operator[](std::string_view field) const;
};

/// A handler's answer, made with reply().
struct response {};

extern boost::asio::io_context& ioc;
extern glue::client& client;
extern const glue::client_config& cfg;
extern const std::string ws;        ///< a workspace id
extern const std::string workspace; ///< a workspace id
extern glue::oauth::token_store& store;

// The install flow's callback: its request target, and the state kept in the browser's cookie.
extern const std::string request_target;
extern const std::string state_from_cookie;
/// Sends the browser to `url` (a 302 in a real handler).
void redirect_to(const std::string& url);

// A webhook delivery: its raw body, its request, and the app's webhook secret.
extern const std::string body;
extern const http_request& req;
extern const std::string webhook_secret;
/// An answer with `status` and no body.
response reply(int status);

} // namespace readme_scene

#endif
