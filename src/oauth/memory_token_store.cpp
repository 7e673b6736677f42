// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/oauth.hpp>

// Coroutines of their own: the rest of the OAuth code is pure and also goes into the fuzzers.

namespace glue::oauth {

boost::asio::awaitable<void> memory_token_store::save(std::string key, token_set tokens) {
    std::lock_guard lock(mtx_);
    sets_.insert_or_assign(std::move(key), std::move(tokens));
    co_return;
}

boost::asio::awaitable<std::optional<token_set>> memory_token_store::load(std::string key) {
    std::lock_guard lock(mtx_);
    auto it = sets_.find(key);
    co_return it == sets_.end() ? std::nullopt : std::optional<token_set>(it->second);
}

boost::asio::awaitable<void> memory_token_store::erase(std::string key) {
    std::lock_guard lock(mtx_);
    sets_.erase(key);
    co_return;
}

std::size_t memory_token_store::size() const {
    std::lock_guard lock(mtx_);
    return sets_.size();
}

} // namespace glue::oauth
