// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_SUPPORT_WIPE_HPP
#define GLUE_SUPPORT_WIPE_HPP

#include <openssl/crypto.h>

#include <string>

namespace glue::detail {

/// Overwrites a string that holds a secret when the scope ends, however it ends (a coroutine
/// frame destroyed without being resumed included), before its memory is freed.
class wipe_at_exit {
public:
    explicit wipe_at_exit(std::string& s) noexcept : s_(s) {}
    ~wipe_at_exit() { OPENSSL_cleanse(s_.data(), s_.size()); }
    wipe_at_exit(const wipe_at_exit&) = delete;
    wipe_at_exit& operator=(const wipe_at_exit&) = delete;

private:
    std::string& s_;
};

} // namespace glue::detail

#endif
