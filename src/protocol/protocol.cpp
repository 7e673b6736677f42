// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "protocol/protocol.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

namespace glue::detail {

namespace json = boost::json;

namespace {

bool is_control(unsigned char c) {
    return c < 0x20 || c == 0x7f;
}

bool is_base62(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) {
            return false;
        }
    }
    return true;
}

/// GraphQL responses nest deeper than Boost.JSON's default limit of 32 allows.
json::value parse_json(std::string_view body, json::error_code& ec) {
    json::parse_options opts;
    opts.max_depth = 256;
    return json::parse(body, ec, {}, opts);
}

std::string string_member(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

bool is_success(unsigned status) {
    return status >= 200 && status < 300;
}

/// The failure an unexpected status stands for, when nothing more specific applies.
errc status_errc(unsigned status) {
    if (status == 401) {
        return errc::unauthorized;
    }
    if (status == 403) {
        return errc::forbidden;
    }
    if (status == 429) {
        return errc::rate_limited;
    }
    if (status >= 500 && status < 600) {
        return errc::server_error;
    }
    return errc::http_error;
}

diagnostics response_diagnostics(const http_response& r) {
    diagnostics d;
    d.http_status = static_cast<int>(r.status);
    d.retry_after = parse_retry_after(r.retry_after);
    return d;
}

} // namespace

//------------------------------------------------------------------------------

bool is_plain_id(std::string_view id) noexcept {
    return std::all_of(id.begin(), id.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return !is_control(u) && c != ' ' && u < 0x80;
    });
}

result<void> check_workspace_id(std::string_view id, bool strict) {
    if (id.empty()) {
        return make_failure(errc::invalid_argument, "workspace id is empty");
    }
    if (id.size() > max_workspace_id_size) {
        return make_failure(errc::invalid_argument, "workspace id is too long");
    }
    if (!is_plain_id(id)) {
        return make_failure(errc::invalid_argument,
                            "workspace id contains a space, a control or a non-ASCII character");
    }
    if (strict) {
        constexpr std::string_view prefix = "wks_";
        bool ok = id.size() > prefix.size() && id.starts_with(prefix);
        for (std::size_t i = prefix.size(); ok && i < id.size(); ++i) {
            ok = is_base62(id[i]);
        }
        if (!ok) {
            return make_failure(errc::invalid_argument, "workspace id is not of the form wks_…");
        }
    }
    return {};
}

bool is_header_safe(std::string_view s) noexcept {
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (is_control(u) && c != '\t') {
            return false;
        }
    }
    return true;
}

result<void> check_grant_value(std::string_view value) {
    if (value.empty() || value.size() > max_grant_value_size || !is_plain_id(value)) {
        return make_failure(errc::invalid_argument,
                            "an authorization code or refresh token is empty, longer than 4096, "
                            "or has a space, control or non-ASCII character");
    }
    return {};
}

bool is_code_verifier(std::string_view verifier) noexcept {
    return verifier.size() >= 43 && verifier.size() <= 128 &&
           std::all_of(verifier.begin(), verifier.end(), [](char c) {
               return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
           });
}

//------------------------------------------------------------------------------
// Origin

namespace {

bool is_host_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

template <class Address>
void set_ip(origin& o, const Address& a) {
    o.host = a.to_string();
    o.host_is_ip = true;
    o.loopback = a.is_loopback();
}

} // namespace

int hex_digit_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = static_cast<char>(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

result<origin> parse_origin(std::string_view api_url, bool allow_insecure_http) {
    auto parsed = boost::urls::parse_uri(api_url);
    if (!parsed) {
        return make_failure(errc::invalid_argument, "api_url is not an absolute URL");
    }
    const auto& u = *parsed;
    origin o;
    if (u.scheme_id() == boost::urls::scheme::https) {
        o.tls = true;
    } else if (u.scheme_id() != boost::urls::scheme::http) {
        return make_failure(errc::invalid_argument, "api_url must be an http:// or https:// URL");
    }
    if (u.has_userinfo() || u.has_query() || u.has_fragment()) {
        return make_failure(errc::invalid_argument,
                            "api_url must not have user info, a query or a fragment");
    }
    switch (u.host_type()) {
    case boost::urls::host_type::name:
        o.host = u.host_name();
        for (char c : o.host) {
            if (!is_host_name_char(c)) {
                return make_failure(errc::invalid_argument, "api_url has an invalid host name");
            }
        }
        o.loopback = iequals(o.host, "localhost");
        break;
    case boost::urls::host_type::ipv4:
        set_ip(o, u.host_ipv4_address());
        break;
    case boost::urls::host_type::ipv6:
        set_ip(o, u.host_ipv6_address());
        break;
    default:
        return make_failure(errc::invalid_argument, "api_url has no usable host");
    }
    if (o.host.empty()) {
        return make_failure(errc::invalid_argument, "api_url has no host");
    }
    // After a host the path is empty or starts with '/' (RFC 3986 §3.3). Boost.URL 1.81 reads a
    // name that starts with an IPv4 address ("127.0.0.1.example.com") as that address followed
    // by a path (boostorg/url#755): we would connect to the wrong host, loopback even.
    if (!u.encoded_path().empty() && !u.encoded_path().starts_with('/')) {
        return make_failure(errc::invalid_argument,
                            "api_url's host can't be read (a name starting with an IPv4 address?)");
    }
    const std::uint16_t default_port = o.tls ? 443 : 80;
    o.port = default_port;
    if (u.has_port() && !u.port().empty()) {
        o.port = u.port_number();
        if (o.port == 0) {
            return make_failure(errc::invalid_argument, "api_url has an invalid port");
        }
    }
    o.host_header = u.host_type() == boost::urls::host_type::ipv6 ? "[" + o.host + "]" : o.host;
    if (o.port != default_port) {
        o.host_header += ":" + std::to_string(o.port);
    }
    o.base_path = u.encoded_path();
    while (!o.base_path.empty() && o.base_path.back() == '/') {
        o.base_path.pop_back();
    }
    if (!o.tls && !o.loopback && !allow_insecure_http) {
        // The token request carries the client secret: never in clear text over a network.
        return make_failure(errc::invalid_argument,
                            "http:// is only allowed for loopback hosts (see allow_insecure_http)");
    }
    // A name is only what DNS or /etc/hosts make of it: its addresses are checked too.
    o.loopback_addresses_only = !o.tls && !o.host_is_ip && !allow_insecure_http;
    return o;
}

//------------------------------------------------------------------------------

std::string form_encode(std::span<const form_field> fields) {
    boost::urls::encoding_opts opts;
    opts.space_as_plus = true;
    const auto& chars = boost::urls::unreserved_chars;
    // Sized first, then encoded in place: no temporary copy of a value (the client secret) and
    // no outgrown buffer is freed unwiped.
    std::size_t size = 0;
    for (const auto& [name, value] : fields) {
        size += boost::urls::encoded_size(name, chars, opts) +
                boost::urls::encoded_size(value, chars, opts) + 2; // '=' and '&'
    }
    std::string out(size, '\0');
    char* p = out.data();
    char* const end = p + size;
    for (const auto& [name, value] : fields) {
        if (p != out.data()) {
            *p++ = '&';
        }
        p += boost::urls::encode(p, static_cast<std::size_t>(end - p), name, chars, opts);
        *p++ = '=';
        p += boost::urls::encode(p, static_cast<std::size_t>(end - p), value, chars, opts);
    }
    out.resize(static_cast<std::size_t>(p - out.data())); // shorter: no reallocation
    return out;
}

result<std::vector<std::pair<std::string, std::string>>> form_decode(std::string_view body) {
    std::vector<std::pair<std::string, std::string>> fields;
    if (body.empty()) {
        return fields;
    }
    // Boost.URL 1.81's parse_query (under params_view too) checks the grammar on the view but
    // then takes the text to iterate from data() as a C string, measured with strlen: a view
    // with no NUL right after it is read past its end, or as more fields than it holds. A copy
    // ends with a NUL, and a NUL inside fails the grammar first.
    const std::string text(body);
    if (!boost::urls::parse_query(text)) { // checked first: the view below would throw
        return make_failure(errc::invalid_argument, "malformed form body");
    }
    boost::urls::encoding_opts opts;
    opts.space_as_plus = true;
    for (auto p : boost::urls::params_view(text, opts)) {
        fields.emplace_back(std::move(p.key), std::move(p.value));
    }
    return fields;
}

std::chrono::seconds token_lifetime(const json::value* expires_in,
                                    std::chrono::seconds fallback) noexcept {
    if (!expires_in) {
        return fallback;
    }
    double seconds = 0;
    switch (expires_in->kind()) {
    case json::kind::int64:
        seconds = static_cast<double>(expires_in->get_int64());
        break;
    case json::kind::uint64:
        seconds = static_cast<double>(expires_in->get_uint64());
        break;
    case json::kind::double_:
        seconds = expires_in->get_double();
        break;
    case json::kind::string: {
        // Some servers send "3600"; accept a number and nothing else.
        const auto& s = expires_in->get_string();
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), seconds);
        if (ec != std::errc() || end != s.data() + s.size()) {
            return fallback;
        }
        break;
    }
    default:
        return fallback;
    }
    if (!(seconds >= 1)) { // also NaN
        return fallback;
    }
    if (seconds >= static_cast<double>(max_token_lifetime.count())) {
        return max_token_lifetime;
    }
    return std::chrono::seconds(static_cast<std::int64_t>(seconds));
}

namespace {

// The JSON object of a successful token response (RFC 6749 §5.1) with a usable Bearer
// access_token, or the failure the response describes (§5.2 errors become oauth_error).
result<json::object> token_object(const http_response& r) {
    json::error_code jec;
    json::value v = parse_json(r.body, jec);
    json::object* obj = !jec ? v.if_object() : nullptr;

    if (!is_success(r.status)) {
        diagnostics d = response_diagnostics(r);
        if (obj) {
            d.oauth_error = string_member(*obj, "error");
            d.oauth_error_description = string_member(*obj, "error_description");
        }
        errc e = status_errc(r.status);
        // RFC 6749 §5.2: 400, or 401 for invalid_client; any 4xx naming an error counts.
        if (r.status >= 400 && r.status < 500 && r.status != 429 && !d.oauth_error.empty()) {
            e = errc::oauth_error;
        }
        if (e == errc::unauthorized) {
            e = errc::oauth_error; // the client's credentials, not a token, were refused
        }
        return make_failure(make_error_code(e), "the token request failed", std::move(d));
    }
    if (!obj) {
        return make_failure(make_error_code(errc::bad_response),
                            "the token response is not a JSON object", response_diagnostics(r));
    }
    const std::string value = string_member(*obj, "access_token");
    // The token goes into an Authorization header: visible ASCII only (RFC 6750 §2.1).
    const bool ok = !value.empty() && std::all_of(value.begin(), value.end(),
                                                  [](char c) { return c > 0x20 && c < 0x7f; });
    if (!ok) {
        return make_failure(make_error_code(errc::bad_response),
                            "the token response has no usable access_token",
                            response_diagnostics(r));
    }
    if (obj->contains("token_type") && !iequals(string_member(*obj, "token_type"), "bearer")) {
        return make_failure(make_error_code(errc::bad_response),
                            "the token response's token_type is not Bearer",
                            response_diagnostics(r));
    }
    return std::move(*obj);
}

std::string token_type_of(const json::object& o) {
    return o.contains("token_type") ? string_member(o, "token_type") : "Bearer";
}

} // namespace

result<token_grant> parse_token_response(const http_response& r,
                                         std::chrono::seconds default_lifetime,
                                         steady_time sent_at) {
    auto obj = token_object(r);
    if (!obj) {
        return obj.error();
    }
    token_grant g;
    g.value = string_member(*obj, "access_token");
    g.token_type = token_type_of(*obj);
    g.user_id = string_member(*obj, "user_id");
    g.lifetime = token_lifetime(obj->if_contains("expires_in"), default_lifetime);
    g.sent_at = sent_at;
    return g;
}

result<oauth::token_set> parse_token_set(const http_response& r,
                                         std::chrono::seconds default_lifetime,
                                         std::chrono::system_clock::time_point sent_at) {
    auto obj = token_object(r);
    if (!obj) {
        return obj.error();
    }
    oauth::token_set t;
    t.access_token = string_member(*obj, "access_token");
    t.token_type = token_type_of(*obj);
    t.refresh_token = string_member(*obj, "refresh_token");
    t.user_id = string_member(*obj, "user_id");
    t.expires_at = sent_at + token_lifetime(obj->if_contains("expires_in"), default_lifetime);
    // RFC 6749 says space-separated; Glue joins scopes with commas elsewhere, and Linear's
    // docs once showed an array. Each form is read; anything else is ignored.
    if (const json::value* scope = obj->if_contains("scope")) {
        auto add = [&t](std::string_view s) {
            while (!s.empty()) {
                const std::size_t end = std::min(s.find_first_of(" ,"), s.size());
                if (end > 0) {
                    t.scopes.emplace_back(s.substr(0, end));
                }
                s.remove_prefix(std::min(end + 1, s.size()));
            }
        };
        if (scope->is_string()) {
            add(scope->get_string());
        } else if (scope->is_array()) {
            for (const auto& s : scope->get_array()) {
                if (s.is_string()) {
                    add(s.get_string());
                }
            }
        }
    }
    return t;
}

//------------------------------------------------------------------------------

namespace {

// Just enough of the GraphQL lexer (spec §2.1) to find the top-level operation definitions.
class operation_scanner {
public:
    explicit operation_scanner(std::string_view doc) noexcept : doc_(doc) {}

    struct operation {
        operation_kind kind;
        std::string_view name;
        std::size_t body = 0; ///< where its selection set opens
    };

    /// A field of an operation's top-level selection set, with the variable passed as its
    /// `input` argument (empty when there is none, or the argument is a literal).
    struct root_field {
        std::string_view name;
        std::string_view input_variable;
    };

    // Returns false for a document it can't make sense of.
    bool scan(std::vector<operation>& ops) {
        int depth = 0;
        enum { none, operation_header, fragment_header } header = none;
        while (skip_ignored()) {
            const char c = doc_[pos_];
            if (c == '"') {
                if (!skip_string()) {
                    return false;
                }
                continue;
            }
            if (is_name_start(c)) {
                const auto name = read_name();
                if (depth != 0 || header != none) {
                    if (depth == 0 && header == operation_header && ops.back().name.empty()) {
                        ops.back().name = name;
                    }
                    continue;
                }
                if (name == "query" || name == "mutation" || name == "subscription") {
                    ops.push_back({name == "query"      ? operation_kind::query
                                   : name == "mutation" ? operation_kind::mutation
                                                        : operation_kind::subscription,
                                   {}});
                    header = operation_header;
                } else if (name == "fragment") {
                    header = fragment_header;
                } else {
                    return false;
                }
                continue;
            }
            ++pos_;
            if (c == '{' || c == '(' || c == '[') {
                if (c == '{' && depth == 0) {
                    if (header == none) {
                        ops.push_back({operation_kind::query, {}}); // shorthand query
                    }
                    if (header != fragment_header) {
                        ops.back().body = pos_ - 1;
                    }
                    header = none;
                }
                ++depth;
            } else if (c == '}' || c == ')' || c == ']') {
                if (--depth < 0) {
                    return false;
                }
            } else if (c == '$' || c == '@') {
                // A variable's or directive's name must not pass for the operation's name.
                if (pos_ < doc_.size() && is_name_start(doc_[pos_])) {
                    read_name();
                }
            }
        }
        return depth == 0;
    }

    // The fields of the selection set opening at `body`, as written (aliases resolved to the
    // field's name). False when it holds anything whose effect can't be told from the text: a
    // fragment, a directive (@include/@skip may drop a field), or malformed syntax.
    bool root_fields(std::size_t body, std::vector<root_field>& out) {
        pos_ = body + 1;
        token t = next();
        for (;;) {
            if (t.is("}")) {
                return true;
            }
            if (t.kind != token::name) {
                return false;
            }
            root_field f{t.text, {}};
            t = next();
            if (t.is(":")) { // alias: the field's name follows
                t = next();
                if (t.kind != token::name) {
                    return false;
                }
                f.name = t.text;
                t = next();
            }
            if (t.is("(")) {
                if (!arguments(f)) {
                    return false;
                }
                t = next();
            }
            if (t.is("{")) {
                if (!skip_nested(1)) {
                    return false;
                }
                t = next();
            }
            out.push_back(f);
        }
    }

private:
    struct token {
        enum kind_t { end, name, punctuator, value } kind = end;
        std::string_view text;
        bool is(std::string_view p) const { return kind == punctuator && text == p; }
    };

    token next() {
        if (!skip_ignored()) {
            return {};
        }
        const auto start = pos_;
        const char c = doc_[pos_];
        if (c == '"') {
            return skip_string() ? token{token::value, doc_.substr(start, pos_ - start)} : token{};
        }
        if (is_name_start(c)) {
            return {token::name, read_name()};
        }
        if (doc_.substr(pos_).starts_with("...")) {
            pos_ += 3;
            return {token::punctuator, doc_.substr(start, 3)};
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
            while (pos_ < doc_.size() && (is_name_char(doc_[pos_]) || doc_[pos_] == '.' ||
                                          doc_[pos_] == '-' || doc_[pos_] == '+')) {
                ++pos_;
            }
            return {token::value, doc_.substr(start, pos_ - start)};
        }
        ++pos_;
        return {token::punctuator, doc_.substr(start, 1)};
    }

    // After '(': `name: value` pairs up to ')'; notes `input: $var`.
    bool arguments(root_field& f) {
        for (;;) {
            token t = next();
            if (t.is(")")) {
                return true;
            }
            if (t.kind != token::name || !next().is(":")) {
                return false;
            }
            const auto arg = t.text;
            token v = next();
            if (v.is("$")) {
                token var = next();
                if (var.kind != token::name) {
                    return false;
                }
                if (arg == "input") {
                    f.input_variable = var.text;
                }
            } else if (v.is("{") || v.is("[")) {
                if (!skip_nested(1)) {
                    return false;
                }
            } else if (v.kind != token::name && v.kind != token::value) {
                return false;
            }
        }
    }

    // Skips to the bracket closing `depth` open ones.
    bool skip_nested(int depth) {
        while (depth > 0) {
            token t = next();
            if (t.kind == token::end) {
                return false;
            }
            if (t.is("{") || t.is("[") || t.is("(")) {
                ++depth;
            } else if (t.is("}") || t.is("]") || t.is(")")) {
                --depth;
            }
        }
        return true;
    }

    static bool is_name_start(char c) {
        return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }
    static bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

    // Skips white space, commas, comments and a BOM; false at the end.
    bool skip_ignored() {
        while (pos_ < doc_.size()) {
            const char c = doc_[pos_];
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
                ++pos_;
            } else if (c == '#') {
                while (pos_ < doc_.size() && doc_[pos_] != '\n' && doc_[pos_] != '\r') {
                    ++pos_;
                }
            } else if (doc_.substr(pos_).starts_with("\xEF\xBB\xBF")) {
                pos_ += 3;
            } else {
                return true;
            }
        }
        return false;
    }

    std::string_view read_name() {
        const auto start = pos_;
        while (pos_ < doc_.size() && is_name_char(doc_[pos_])) {
            ++pos_;
        }
        return doc_.substr(start, pos_ - start);
    }

    bool skip_string() {
        if (doc_.substr(pos_).starts_with(R"(""")")) {
            const auto end = find_block_end(pos_ + 3);
            if (end == std::string_view::npos) {
                return false;
            }
            pos_ = end + 3;
            return true;
        }
        for (++pos_; pos_ < doc_.size(); ++pos_) {
            if (doc_[pos_] == '\\') {
                ++pos_;
            } else if (doc_[pos_] == '"') {
                ++pos_;
                return true;
            } else if (doc_[pos_] == '\n' || doc_[pos_] == '\r') {
                return false;
            }
        }
        return false;
    }

    std::size_t find_block_end(std::size_t from) const {
        for (auto i = from; i + 2 < doc_.size(); ++i) {
            if (doc_[i] == '\\' && doc_.substr(i + 1).starts_with(R"(""")")) {
                i += 3;
            } else if (doc_.substr(i).starts_with(R"(""")")) {
                return i;
            }
        }
        return std::string_view::npos;
    }

    std::string_view doc_;
    std::size_t pos_ = 0;
};

std::vector<graphql_error> parse_errors(const json::array& errors) {
    std::vector<graphql_error> out;
    out.reserve(errors.size());
    for (const auto& e : errors) {
        graphql_error g;
        if (const auto* o = e.if_object()) {
            g.message = string_member(*o, "message");
            if (const auto* p = o->if_contains("path"); p && p->is_array()) {
                g.path = p->get_array();
            }
            if (const auto* l = o->if_contains("locations"); l && l->is_array()) {
                g.locations = l->get_array();
            }
            if (const auto* x = o->if_contains("extensions"); x && x->is_object()) {
                g.extensions = x->get_object();
            }
        }
        out.push_back(std::move(g));
    }
    return out;
}

} // namespace

bool is_graphql_name(std::string_view s) noexcept {
    if (s.empty()) {
        return false;
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        const bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (i > 0 && c >= '0' && c <= '9');
        if (!ok) {
            return false;
        }
    }
    return true;
}

namespace {

// The operation a request runs: the one named `operation_name`, or the only one.
std::optional<operation_scanner::operation> selected_operation(std::string_view document,
                                                               std::string_view operation_name) {
    std::vector<operation_scanner::operation> ops;
    if (!operation_scanner(document).scan(ops)) {
        return std::nullopt;
    }
    if (operation_name.empty()) {
        return ops.size() == 1 ? std::optional(ops.front()) : std::nullopt;
    }
    for (const auto& op : ops) {
        if (op.name == operation_name) {
            return op;
        }
    }
    return std::nullopt;
}

bool non_empty_string(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() && !v->get_string().empty();
}

// A SendMessageInput that Glue upserts rather than duplicates: message.uniqueBy, and
// thread.threadBy when it creates a thread (no threadID).
bool is_upsert(const json::value* input) {
    const auto* in = input ? input->if_object() : nullptr;
    const auto* message = in ? in->if_contains("message") : nullptr;
    if (!message || !message->is_object() || !non_empty_string(message->get_object(), "uniqueBy")) {
        return false;
    }
    if (in->contains("threadID") && !in->at("threadID").is_null()) {
        return true;
    }
    const auto* thread = in->if_contains("thread");
    return !thread || thread->is_null() ||
           (thread->is_object() && non_empty_string(thread->get_object(), "threadBy"));
}

} // namespace

operation_kind graphql_operation_kind(std::string_view document,
                                      std::string_view operation_name) noexcept {
    try {
        if (auto op = selected_operation(document, operation_name)) {
            return op->kind;
        }
    } catch (...) { // allocation failure: say nothing rather than guess
    }
    return operation_kind::unknown;
}

bool may_send_twice(const graphql_request& req) noexcept {
    // A document that never says `mutation` or `subscription` holds only queries (keywords are
    // case-sensitive): the common case, answered without parsing the document.
    const std::string_view q = req.query;
    if (q.find("mutation") == q.npos && q.find("subscription") == q.npos) {
        return true;
    }
    try {
        auto op = selected_operation(req.query, req.operation_name);
        if (!op) {
            return false;
        }
        if (op->kind == operation_kind::query) {
            return true;
        }
        if (op->kind != operation_kind::mutation) {
            return false;
        }
        std::vector<operation_scanner::root_field> fields;
        if (!operation_scanner(req.query).root_fields(op->body, fields) || fields.empty()) {
            return false;
        }
        return std::all_of(fields.begin(), fields.end(), [&](const auto& f) {
            return f.name == "sendMessage" && !f.input_variable.empty() &&
                   is_upsert(req.variables.if_contains(f.input_variable));
        });
    } catch (...) {
        return false;
    }
}

namespace {

// Appends `s` as a JSON string, escaped as RFC 8259 §7 requires (and no more).
void append_json_string(std::string& out, std::string_view s) {
    constexpr char hex[] = "0123456789abcdef";
    out += '"';
    std::size_t plain = 0; // start of the run not yet copied
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        out.append(s.substr(plain, i - plain));
        plain = i + 1;
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        }
    }
    out.append(s.substr(plain));
    out += '"';
}

} // namespace

bool all_finite(const json::value& v) noexcept {
    if (const auto* d = v.if_double()) {
        return std::isfinite(*d);
    }
    if (const auto* a = v.if_array()) {
        return std::all_of(a->begin(), a->end(), [](const auto& x) { return all_finite(x); });
    }
    if (const auto* o = v.if_object()) {
        return std::all_of(o->begin(), o->end(),
                           [](const auto& kv) { return all_finite(kv.value()); });
    }
    return true;
}

std::string graphql_body(const graphql_request& req) {
    std::string body;
    body.reserve(req.query.size() + req.operation_name.size() + 48);
    body += R"({"query":)";
    append_json_string(body, req.query);
    if (!req.variables.empty()) {
        body += R"(,"variables":)";
        body += json::serialize(req.variables);
    }
    if (!req.operation_name.empty()) {
        body += R"(,"operationName":)";
        append_json_string(body, req.operation_name);
    }
    body += '}';
    return body;
}

result<graphql_response> parse_graphql_response(http_response&& r) {
    json::error_code jec;
    json::value v = r.body.empty() ? json::value() : parse_json(r.body, jec);
    json::object* obj = !jec ? v.if_object() : nullptr;

    // The GraphQL errors envelope: a non-empty `errors` array (GraphQL spec §7.1.2).
    const json::array* errors = nullptr;
    if (obj) {
        if (const auto* e = obj->if_contains("errors")) {
            if (const auto* a = e->if_array(); a && !a->empty()) {
                errors = a;
            } else if (!e->is_null() && !(a && a->empty()) && is_success(r.status)) {
                return make_failure(make_error_code(errc::bad_response),
                                    "the GraphQL response's errors member is not a list",
                                    response_diagnostics(r));
            }
        }
    }
    if (is_success(r.status) && obj && !errors) {
        // The common case first, without building diagnostics it won't need.
        if (auto* data = obj->if_contains("data")) {
            graphql_response out;
            out.data = std::move(*data);
            if (auto* x = obj->if_contains("extensions"); x && x->is_object()) {
                out.extensions = std::move(x->get_object());
            }
            return out;
        }
        return make_failure(make_error_code(errc::bad_response),
                            "the GraphQL response has neither data nor errors",
                            response_diagnostics(r));
    }
    diagnostics d = response_diagnostics(r);
    if (errors) {
        d.graphql_errors = parse_errors(*errors);
        if (auto* data = obj->if_contains("data")) {
            d.partial_data = std::move(*data);
        }
    }
    if (!is_success(r.status)) {
        errc e = status_errc(r.status);
        if (e == errc::http_error && errors && r.status >= 400 && r.status < 500) {
            e = errc::graphql_error;
        }
        return make_failure(make_error_code(e), "the GraphQL request failed", std::move(d));
    }
    if (!obj) {
        return make_failure(make_error_code(errc::bad_response),
                            "the GraphQL response is not a JSON object", std::move(d));
    }
    return make_failure(make_error_code(errc::graphql_error), "the GraphQL response has errors",
                        std::move(d));
}

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
