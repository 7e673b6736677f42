// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_SHARED_CACHE_SHARED_CACHE_HPP
#define GLUE_SHARED_CACHE_SHARED_CACHE_HPP

// The shared cache as the token cache sees it: an optional cache behind the in-process one,
// shared by the processes that use the same Redis (docs/design.md, "Token cache"). The
// in-process cache keeps every rule it has; when a flight starts, it first asks the shared
// cache, which either has a token another process stored, or gives this process the
// workspace's lease (it requests the token and publishes it), or is unavailable (the flight
// requests the token in-process, as without a shared cache).
//
// The implementation on Redis is in redis_shared_cache.hpp; what it stores is sealed
// (sealing.hpp).

#include "protocol/token_grant.hpp"
#include "support/clock.hpp"

#include <boost/asio/awaitable.hpp>

#include <string>

namespace glue::detail {

/// What the shared cache said when a flight started.
struct shared_claim {
    enum class kind {
        token,      ///< another process's token, in `grant` (its stamp set)
        lease,      ///< this process requests the token, then calls publish() or release()
        unavailable ///< down, slow, or no answer in time: request in-process
    };
    kind what = kind::unavailable;
    token_grant grant;
};

class shared_cache {
public:
    virtual ~shared_cache() = default;

    /// At the start of a flight for `workspace`. `replacing` is the stamp of the token the
    /// flight replaces (empty: none): a stored token with that stamp is not taken. With
    /// `rejected`, a 401 came back for it: it is dropped from the shared cache if still there
    /// (compare and invalidate). While another process holds the lease, waits for its token
    /// (notified, with a bounded poll as fallback) until `until`; a lease whose holder died
    /// expires and is taken over.
    virtual boost::asio::awaitable<shared_claim> claim(std::string workspace, std::string replacing,
                                                       bool rejected, steady_time until) = 0;

    /// With the lease, after the token request succeeded: stores the token until its hard
    /// margin, releases the lease and tells the waiting processes. Returns the stamp of the
    /// value sent, stored or not (a reply that times out may follow a store), or empty when
    /// none was sent (the token is used all the same).
    virtual boost::asio::awaitable<std::string> publish(std::string workspace,
                                                        const token_grant& grant) = 0;

    /// With the lease, after the token request failed: releases it, so that a waiting process
    /// tries next.
    virtual boost::asio::awaitable<void> release(std::string workspace) = 0;

    /// Ends every connection and wait; later calls answer `unavailable` at once.
    virtual void shutdown() = 0;
};

} // namespace glue::detail

#endif
