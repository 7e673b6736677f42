// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTS_PROMETHEUS_TEXT_HPP
#define GLUE_TESTS_PROMETHEUS_TEXT_HPP

// A strict reader of the Prometheus text exposition format (0.0.4), for the tests of
// glue::write_prometheus: it takes the text apart and lists every rule the text breaks, stricter
// than Prometheus itself (no comment but HELP and TYPE, no blank line, both before every sample,
// each family's samples together, histograms whole and cumulative), and finds a sample's value.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace glue::test {

struct prometheus_sample {
    std::string name;
    std::map<std::string, std::string> labels; // values unescaped
    double value = 0;
};

struct prometheus_family {
    std::string help, type;
    std::vector<prometheus_sample> samples;
};

struct prometheus_text {
    std::map<std::string, prometheus_family> families;
    std::vector<std::string> problems; // empty: the text keeps every rule

    /// The value of the sample `name` with exactly `labels`; NaN (equal to nothing) if there is
    /// no such sample.
    double value(std::string_view name,
                 const std::map<std::string, std::string>& labels = {}) const {
        for (const auto& [_, f] : families) {
            for (const auto& s : f.samples) {
                if (s.name == name && s.labels == labels) {
                    return s.value;
                }
            }
        }
        return std::numeric_limits<double>::quiet_NaN();
    }
};

namespace prometheus_detail {

inline bool is_metric_name(std::string_view s) {
    auto first = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    };
    if (s.empty() || !first(s[0])) {
        return false;
    }
    for (char c : s) {
        if (!first(c) && !(c >= '0' && c <= '9')) {
            return false;
        }
    }
    return true;
}

inline bool is_label_name(std::string_view s) {
    return is_metric_name(s) && s.find(':') == std::string_view::npos && !s.starts_with("__");
}

// A float as Go's ParseFloat takes it, without hex and underscores; the specials only as
// Prometheus writes them.
inline std::optional<double> parse_float(std::string_view s) {
    if (s == "+Inf") {
        return std::numeric_limits<double>::infinity();
    }
    if (s == "-Inf") {
        return -std::numeric_limits<double>::infinity();
    }
    if (s == "NaN") {
        return std::numeric_limits<double>::quiet_NaN();
    }
    if (s.starts_with('+')) {
        s.remove_prefix(1);
    }
    if (s.empty() || !((s[0] >= '0' && s[0] <= '9') || s[0] == '-' || s[0] == '.')) {
        return std::nullopt; // no "inf", "nan", nor anything from_chars skips
    }
    double v = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) {
        return std::nullopt;
    }
    return v;
}

// Takes an escaped label value off the front of `s` (after its opening quote) up to its
// closing quote; none if an escape is not \\, \" or \n, or the quote never comes.
inline std::optional<std::string> take_label_value(std::string_view& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '"') {
            s.remove_prefix(i + 1);
            return out;
        }
        if (c == '\\') {
            if (++i == s.size()) {
                return std::nullopt;
            }
            const char e = s[i];
            if (e == '\\' || e == '"') {
                out += e;
            } else if (e == 'n') {
                out += '\n';
            } else {
                return std::nullopt;
            }
        } else {
            out += c;
        }
    }
    return std::nullopt;
}

// HELP text: the escapes \\ and \n only.
inline bool help_escapes_valid(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\') {
            if (i + 1 == s.size() || (s[i + 1] != '\\' && s[i + 1] != 'n')) {
                return false;
            }
            ++i;
        }
    }
    return true;
}

// The family a sample named `name` belongs to: itself, or for a histogram's _bucket, _sum and
// _count (and a summary's _sum and _count) the name without the suffix.
inline std::string family_of(const std::map<std::string, prometheus_family>& families,
                             const std::string& name) {
    for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
        if (name.size() > suffix.size() && name.ends_with(suffix)) {
            const std::string base = name.substr(0, name.size() - suffix.size());
            const auto it = families.find(base);
            if (it != families.end() && (it->second.type == "histogram" ||
                                         (it->second.type == "summary" && suffix != "_bucket"))) {
                return base;
            }
        }
    }
    return name;
}

// A histogram's rules, for each of its series (the labels but `le`).
inline void check_histogram(const std::string& name, const prometheus_family& f,
                            std::vector<std::string>& problems) {
    struct series {
        std::vector<std::pair<double, double>> buckets; // le, count, in the order written
        std::optional<double> sum, count;
    };
    std::map<std::map<std::string, std::string>, series> all;
    for (const auto& s : f.samples) {
        auto labels = s.labels;
        const auto le = labels.find("le");
        std::optional<double> bound;
        if (le != labels.end()) {
            bound = parse_float(le->second);
            labels.erase(le);
        }
        auto& one = all[labels];
        if (s.name == name + "_bucket") {
            if (!bound) {
                problems.push_back(name + ": a bucket without a valid le");
                continue;
            }
            one.buckets.emplace_back(*bound, s.value);
        } else if (bound) {
            problems.push_back(name + ": le on " + s.name);
        } else if (s.name == name + "_sum") {
            one.sum = s.value;
        } else if (s.name == name + "_count") {
            one.count = s.value;
        } else {
            problems.push_back(name + ": a histogram has no sample named " + s.name);
        }
    }
    for (const auto& [labels, one] : all) {
        if (one.buckets.empty() || !std::isinf(one.buckets.back().first) ||
            one.buckets.back().first < 0) {
            problems.push_back(name + ": the buckets don't end with le=\"+Inf\"");
        }
        for (std::size_t i = 1; i < one.buckets.size(); ++i) {
            if (!(one.buckets[i].first > one.buckets[i - 1].first)) {
                problems.push_back(name + ": the le bounds don't increase");
            }
            if (!(one.buckets[i].second >= one.buckets[i - 1].second)) {
                problems.push_back(name + ": the buckets are not cumulative");
            }
        }
        if (!one.sum || !one.count) {
            problems.push_back(name + ": no _sum or no _count");
        } else if (!one.buckets.empty() && one.buckets.back().second != *one.count) {
            problems.push_back(name + ": the +Inf bucket is not _count");
        }
    }
}

} // namespace prometheus_detail

/// Reads `text` strictly; every rule it breaks is in the result's `problems`.
inline prometheus_text parse_prometheus_text(std::string_view text) {
    using namespace prometheus_detail;
    prometheus_text out;
    auto& problems = out.problems;
    if (!text.empty() && !text.ends_with('\n')) {
        problems.push_back("the last line has no newline");
    }
    std::set<std::string> done; // families whose samples are over
    std::set<std::pair<std::string, std::map<std::string, std::string>>> seen_series;
    std::string current; // the family whose lines these are
    std::size_t line_no = 0;
    while (!text.empty()) {
        const std::size_t end = std::min(text.find('\n'), text.size());
        const std::string_view line = text.substr(0, end);
        text.remove_prefix(std::min(end + 1, text.size()));
        ++line_no;
        const std::string at = "line " + std::to_string(line_no) + " (" + std::string(line) + ")";
        auto problem = [&](const std::string& what) { problems.push_back(at + ": " + what); };
        if (line.empty()) {
            problem("a blank line");
            continue;
        }
        if (line.starts_with('#')) {
            const bool help = line.starts_with("# HELP ");
            if (!help && !line.starts_with("# TYPE ")) {
                problem("a comment other than HELP and TYPE");
                continue;
            }
            std::string_view rest = line.substr(7);
            const std::string name(rest.substr(0, rest.find(' ')));
            rest.remove_prefix(std::min(name.size() + 1, rest.size()));
            if (!is_metric_name(name)) {
                problem("not a metric name");
                continue;
            }
            if (name != current && done.count(name) != 0) {
                problem("the family's lines are not together");
            }
            if (name != current && !current.empty()) {
                done.insert(current);
            }
            current = name;
            auto& f = out.families[name];
            if (!f.samples.empty()) {
                problem("HELP or TYPE after the family's samples");
            }
            if (help) {
                if (!f.help.empty() || !f.type.empty()) {
                    problem("a second HELP, or HELP after TYPE");
                }
                if (rest.empty() || !help_escapes_valid(rest)) {
                    problem("an empty HELP, or a bad escape in it");
                }
                f.help = std::string(rest);
            } else {
                if (!f.type.empty()) {
                    problem("a second TYPE");
                }
                static const std::set<std::string_view> types = {"counter", "gauge", "histogram",
                                                                 "summary", "untyped"};
                if (types.count(rest) == 0) {
                    problem("not a metric type");
                }
                f.type = std::string(rest);
                if (f.type == "counter" && !name.ends_with("_total")) {
                    problem("a counter's name doesn't end in _total");
                }
            }
            continue;
        }

        prometheus_sample s;
        std::string_view rest = line;
        const std::size_t name_end = std::min(rest.find_first_of("{ "), rest.size());
        s.name = std::string(rest.substr(0, name_end));
        rest.remove_prefix(name_end);
        if (!is_metric_name(s.name)) {
            problem("not a metric name");
            continue;
        }
        if (rest.starts_with('{')) {
            rest.remove_prefix(1);
            bool ok = true;
            while (ok && !rest.starts_with('}')) {
                const std::size_t eq = rest.find('=');
                const std::string label(rest.substr(0, eq));
                if (eq == std::string_view::npos || !is_label_name(label) ||
                    rest.substr(eq + 1, 1) != "\"") {
                    ok = false;
                    break;
                }
                rest.remove_prefix(eq + 2);
                const auto value = take_label_value(rest);
                if (!value || !s.labels.emplace(label, *value).second) {
                    ok = false;
                    break;
                }
                if (rest.starts_with(',') && !rest.starts_with(",}")) {
                    rest.remove_prefix(1);
                } else if (!rest.starts_with('}')) {
                    ok = false;
                }
            }
            if (!ok) {
                problem("bad label syntax");
                continue;
            }
            rest.remove_prefix(1);
        }
        if (!rest.starts_with(' ') || rest.starts_with("  ")) {
            problem("no single space before the value");
            continue;
        }
        rest.remove_prefix(1);
        const std::string_view value_text = rest.substr(0, rest.find(' '));
        const auto value = parse_float(value_text);
        if (!value) {
            problem("not a value");
            continue;
        }
        s.value = *value;
        if (value_text.size() != rest.size()) {
            problem("a timestamp or something after the value"); // write_prometheus writes none
        }
        const std::string family = family_of(out.families, s.name);
        const auto f = out.families.find(family);
        if (family != current || f == out.families.end() || f->second.help.empty() ||
            f->second.type.empty()) {
            problem("a sample without its family's HELP and TYPE just before it");
            continue;
        }
        if (!seen_series.emplace(s.name, s.labels).second) {
            problem("the same series twice");
        }
        if (f->second.type == "counter" && !(s.value >= 0)) {
            problem("a counter that is negative or NaN");
        }
        if (f->second.type != "histogram" && s.labels.count("le") != 0) {
            problem("le on a metric that is not a histogram");
        }
        f->second.samples.push_back(std::move(s));
    }
    for (const auto& [name, f] : out.families) {
        if (f.samples.empty()) {
            problems.push_back(name + ": a family without samples");
        }
        if (f.type == "histogram") {
            check_histogram(name, f, problems);
        }
    }
    return out;
}

} // namespace glue::test

#endif
