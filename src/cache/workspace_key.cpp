// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "cache/workspace_key.hpp"

#include <algorithm>

namespace glue::detail {

workspace_key::workspace_key(std::string_view id) : size_(id.size()) {
    if (size_ > inline_size) {
        heap_ = std::make_unique<char[]>(size_);
    }
    std::copy(id.begin(), id.end(), data());
}

} // namespace glue::detail
