// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_SHARED_CACHE_REDIS_SHARED_CACHE_HPP
#define GLUE_SHARED_CACHE_REDIS_SHARED_CACHE_HPP

// The shared cache on Redis: claims, leases, publishing and releasing as Lua scripts
// (lua_scripts.hpp) over two connections (redis_link.hpp), one for the scripts and one
// subscribed to the notifications that end a claim's wait.

#include <glue/metrics.hpp>

#include "shared_cache/redis_url.hpp"
#include "shared_cache/sealing.hpp"
#include "shared_cache/shared_cache.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace glue::detail {

struct redis_shared_cache_options {
    redis_address address;
    shared_cache_key key{};
    std::string client_id;                        ///< names the keys: glue:<client_id>:tok:<ws>
    std::chrono::milliseconds timeout{500};       ///< per command, and for connecting
    std::chrono::milliseconds lease_time{10'000}; ///< PX of a lease: a whole token flight
    token_event_hook on_event;                    ///< shared_cache_down / shared_cache_up
};

/// Starts connecting at once; claims made before the first connection settles wait for it
/// (at most `timeout`).
std::shared_ptr<shared_cache> make_redis_shared_cache(boost::asio::any_io_executor ex,
                                                      redis_shared_cache_options opts);

} // namespace glue::detail

#endif
