// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_SHARED_CACHE_SHARED_CACHE_HPP
#define GLUE_SHARED_CACHE_SHARED_CACHE_HPP

// The token cache's optional second level, shared by a fleet of processes (DESIGN.md, "Fleets";
// README, "Running a fleet"). The in-process cache keeps every rule it has; when a flight
// starts, it first asks the shared cache, which either has a token another process stored, or
// gives this process the workspace's lease (it requests the token and publishes it), or is
// unavailable (the flight requests the token in-process, as without a shared cache).
//
// What is stored is sealed: AES-256-GCM under the configured key, bound to its Redis key.

#include <glue/metrics.hpp>

#include "protocol/token_grant.hpp"
#include "support/outcome.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace glue::detail {

//------------------------------------------------------------------------------
// The interface the cache sees

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

//------------------------------------------------------------------------------
// Redis

/// redis://[[user]:password@]host[:port][/db]
struct redis_address {
    std::string host; ///< a name, an IPv4 address, or an IPv6 address without brackets
    std::uint16_t port = 6379;
    unsigned db = 0;
    std::string user, password; ///< both empty: no AUTH
};

/// The URL, or invalid_argument saying what is wrong with it (never repeating a password).
result<redis_address> parse_redis_url(std::string_view url);

/// The URL with any password replaced by "(redacted)", for printing.
std::string redact_redis_url(std::string_view url);

using shared_cache_key = std::array<unsigned char, 32>;

/// 64 hex digits, or invalid_argument.
result<shared_cache_key> parse_shared_cache_key(std::string_view hex);

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

//------------------------------------------------------------------------------
// Sealing (exposed for tests)

/// A stored value: version byte, 12-byte IV, AES-256-GCM ciphertext of the token's fields and
/// expiry, 16-byte tag. The Redis key is the associated data, so a value copied under another
/// workspace's key does not open. Its first stamp_size bytes are its stamp: unique per value.
inline constexpr std::size_t stamp_size = 13;

/// `expires_at_ms`: when the token expires, on Redis's clock (TIME, in milliseconds since the
/// epoch). Sealed with it, so that however long Redis keeps the value (a TTL set again, an old
/// value written back), no process uses it past that expiry's hard margin.
std::string seal_token(const shared_cache_key& key, std::string_view redis_key,
                       const token_grant& grant, std::int64_t expires_at_ms);

/// The envelope alone, around any plaintext: what seal_token() puts the token's fields in.
std::string seal(const shared_cache_key& key, std::string_view redis_key, std::string_view plain);

struct opened_token {
    token_grant grant; ///< its value, type, user and lifetime (not its times), and its stamp
    std::int64_t expires_at_ms = 0; ///< as sealed
};

/// What a stored value holds, or bad_response for a value that is not one we sealed under this
/// key and Redis key, or one sealed without an expiry (by an earlier version: refused, so the
/// process that reads it replaces it).
result<opened_token> open_token(const shared_cache_key& key, std::string_view redis_key,
                                std::string_view sealed);

} // namespace glue::detail

#endif
