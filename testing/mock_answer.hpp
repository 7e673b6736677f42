// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_INTERNAL_MOCK_ANSWER_HPP
#define GLUE_TESTING_INTERNAL_MOCK_ANSWER_HPP

// What a request gets, whichever protocol carried it: the HTTP/1.1 sessions
// (mock_http_server.cpp) and the HTTP/2 streams (mock_http2.cpp) both ask answer() and then only
// put the result on the wire, acting out the fault in their own protocol's terms with the pieces
// below.

#include "testing/mock_state.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace glue::testing::detail {

/// An answer ready to be sent, and the fault to act out instead (nullopt: send it as it is).
struct prepared_answer {
    http_response res;
    std::optional<fault> f;
};

/// Routes `req` (counters, the endpoint's fault, the request id; mock_routes), gzips the answer
/// as the options and the request's Accept-Encoding say, and waits out the fault's delay. A token
/// request counts as being answered (max_concurrent_token_requests) until it returns.
boost::asio::awaitable<prepared_answer> answer(mock_state& state, http_request req);

/// The largest request body either protocol takes in.
inline constexpr std::size_t max_request_body = 16 * 1024 * 1024;
/// The largest request header block either protocol takes in: room for the most extra headers a
/// client sends (64 of up to 8 KiB).
inline constexpr std::size_t max_request_header = 1024 * 1024;

/// fault::kind::malformed_json's body: JSON cut short.
inline constexpr std::string_view malformed_json_body = R"({"data": {"me": {"id": "usr_1")";
/// fault::kind::truncated_body announces this many bytes of body, then sends only
/// truncated_body_part.
inline constexpr std::size_t truncated_body_length = 1000;
inline constexpr std::string_view truncated_body_part = R"({"data": {"me":)";
/// fault::kind::close_after_headers announces this many bytes of body and sends none.
inline constexpr std::size_t close_after_headers_length = 100;
/// fault::kind::oversized_headers' i-th filler field (name, value): about 1,000 bytes.
std::pair<std::string, std::string> filler_field(std::size_t i);

} // namespace glue::testing::detail

#endif
