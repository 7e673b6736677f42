// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.

#include "transport/connect_schedule.hpp"

#include "support/saturating.hpp"

#include <boost/asio/error.hpp>

#include <algorithm>

namespace glue::detail {

using tcp = boost::asio::ip::tcp;

std::vector<tcp::endpoint> connect_order(const std::vector<tcp::endpoint>& endpoints) {
    std::vector<tcp::endpoint> v6, v4;
    for (const auto& ep : endpoints) {
        auto& family = ep.address().is_v6() ? v6 : v4;
        // A resolver answers a handful of addresses: a linear search costs nothing.
        if (std::find(family.begin(), family.end(), ep) == family.end()) {
            family.push_back(ep);
        }
    }
    std::vector<tcp::endpoint> order;
    order.reserve(v6.size() + v4.size());
    for (std::size_t i = 0; i < std::max(v6.size(), v4.size()); ++i) {
        if (i < v6.size()) {
            order.push_back(v6[i]);
        }
        if (i < v4.size()) {
            order.push_back(v4[i]);
        }
    }
    return order;
}

connect_race::connect_race(std::size_t attempts, std::chrono::nanoseconds delay) noexcept
    : attempts_(attempts)
    , delay_(delay) {
    if (attempts_ == 0) {
        state_ = state::lost;
        error_ = boost::asio::error::host_not_found;
    }
}

std::optional<std::size_t> connect_race::start_due(steady_time now) noexcept {
    if (state_ != state::racing || started_ == attempts_ || now < due_) {
        return std::nullopt;
    }
    due_ = saturating_add(now, delay_);
    return started_++;
}

steady_time connect_race::next_due() const noexcept {
    return state_ != state::racing || started_ == attempts_ ? steady_time::max() : due_;
}

void connect_race::connected(std::size_t i) noexcept {
    if (state_ == state::racing) {
        state_ = state::won;
        winner_ = i;
    }
}

void connect_race::failed(error_code ec) noexcept {
    if (state_ != state::racing) {
        return;
    }
    if (!error_) {
        error_ = ec;
    }
    due_ = steady_time::min();
    if (++failed_ == attempts_) {
        state_ = state::lost;
    }
}

} // namespace glue::detail
