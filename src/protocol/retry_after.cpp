// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "protocol/retry_after.hpp"

#include "protocol/ascii.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <vector>

namespace glue::detail {

namespace {

// HTTP-date (RFC 9110 §5.6.7) in any of its three forms, without the C locale or time zone:
//   IMF-fixdate  Sun, 06 Nov 1994 08:49:37 GMT
//   RFC 850      Sunday, 06-Nov-94 08:49:37 GMT
//   asctime      Sun Nov  6 08:49:37 1994
std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view s) {
    std::vector<std::string_view> words;
    for (std::size_t i = 0; i < s.size();) {
        const auto is_sep = [](char c) { return c == ' ' || c == ',' || c == '-'; };
        while (i < s.size() && is_sep(s[i])) {
            ++i;
        }
        const auto start = i;
        while (i < s.size() && !is_sep(s[i])) {
            ++i;
        }
        if (i > start) {
            words.push_back(s.substr(start, i - start));
        }
    }
    auto number = [](std::string_view w, int& out) {
        const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), out);
        return ec == std::errc() && end == w.data() + w.size();
    };
    auto month = [](std::string_view w, unsigned& out) {
        constexpr std::string_view names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                              "jul", "aug", "sep", "oct", "nov", "dec"};
        for (unsigned m = 0; m < 12; ++m) {
            if (iequals(w, names[m])) {
                out = m + 1;
                return true;
            }
        }
        return false;
    };
    int day = 0, year = 0, hh = 0, mm = 0, ss = 0;
    unsigned mon = 0;
    std::string_view time;
    if (words.size() == 6 && iequals(words[5], "GMT")) { // IMF-fixdate or RFC 850
        if (!number(words[1], day) || !month(words[2], mon) || !number(words[3], year)) {
            return std::nullopt;
        }
        if (words[3].size() == 2) {
            year += year < 70 ? 2000 : 1900;
        }
        time = words[4];
    } else if (words.size() == 5) { // asctime
        if (!month(words[1], mon) || !number(words[2], day) || !number(words[4], year)) {
            return std::nullopt;
        }
        time = words[3];
    } else {
        return std::nullopt;
    }
    if (time.size() != 8 || time[2] != ':' || time[5] != ':' || !number(time.substr(0, 2), hh) ||
        !number(time.substr(3, 2), mm) || !number(time.substr(6, 2), ss) || hh > 23 || mm > 59 ||
        ss > 60) {
        return std::nullopt;
    }
    const std::chrono::year_month_day date{std::chrono::year(year), std::chrono::month(mon),
                                           std::chrono::day(static_cast<unsigned>(day))};
    if (!date.ok()) {
        return std::nullopt;
    }
    return std::chrono::sys_days(date) + std::chrono::hours(hh) + std::chrono::minutes(mm) +
           std::chrono::seconds(ss);
}

} // namespace

std::chrono::seconds parse_retry_after(std::string_view value) noexcept {
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
        value.remove_suffix(1);
    }
    if (value.empty()) {
        return std::chrono::seconds(-1);
    }
    // delta-seconds is 1*DIGIT: from_chars would take a sign too, and "-99999999999999999999"
    // (out of range) for a year.
    if (value.front() >= '0' && value.front() <= '9') {
        std::int64_t seconds = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
        if (end == value.data() + value.size() && ec == std::errc::result_out_of_range) {
            return max_retry_after;
        }
        if (ec == std::errc() && end == value.data() + value.size()) {
            return std::min(std::chrono::seconds(seconds), max_retry_after);
        }
    }
    try {
        const auto when = parse_http_date(value);
        if (!when) {
            return std::chrono::seconds(-1);
        }
        const auto now =
            std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
        return std::clamp(*when - now, std::chrono::seconds(0), max_retry_after);
    } catch (...) { // allocation failure
        return std::chrono::seconds(-1);
    }
}

} // namespace glue::detail
