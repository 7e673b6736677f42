// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_CACHE_WORKSPACE_KEY_HPP
#define GLUE_CACHE_WORKSPACE_KEY_HPP

// The key of the cache's maps: a workspace id that a lookup can compare without building a key.

#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>

namespace glue::detail {

/// A workspace id as a map key, stored inside the map's node when short (real ids are 31
/// characters): a lookup then reads no memory beyond the node it compares against.
class workspace_key {
public:
    explicit workspace_key(std::string_view id);

    std::string_view view() const noexcept { return {data(), size_}; }
    operator std::string_view() const noexcept { return view(); }

private:
    static constexpr std::size_t inline_size = 40;

    char* data() noexcept { return heap_ ? heap_.get() : inline_; }
    const char* data() const noexcept { return heap_ ? heap_.get() : inline_; }

    std::size_t size_;
    std::unique_ptr<char[]> heap_;
    char inline_[inline_size];
};

/// Hashing and comparison by string_view, so lookups don't build a key.
struct key_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};
struct key_equal {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
};

} // namespace glue::detail

#endif
