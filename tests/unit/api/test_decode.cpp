// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// glue::decode and glue::try_decode: every supported kind of type, and failures that name the
// JSON Pointer of the value that did not fit without quoting any string from the response.

#include <glue/decode.hpp>
#include <glue/error.hpp>

#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>
#include <boost/json/error.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>
#include <boost/system/system_error.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace decode_test {

enum class role { owner, member, guest };
BOOST_DESCRIBE_ENUM(role, owner, member, guest)

struct user {
    std::string name;
    role access = role::guest;
    std::optional<std::string> email;
};
BOOST_DESCRIBE_STRUCT(user, (), (name, access, email))

struct group {
    std::int64_t id = 0;
    std::string name;
    std::vector<user> members;
};
BOOST_DESCRIBE_STRUCT(group, (), (id, name, members))

struct group_page {
    std::vector<group> nodes;
    bool has_next_page = false;
};
BOOST_DESCRIBE_STRUCT(group_page, (), (nodes, has_next_page))

struct query_data {
    group_page groups;
};
BOOST_DESCRIBE_STRUCT(query_data, (), (groups))

struct entity {
    std::string id;
};
BOOST_DESCRIBE_STRUCT(entity, (), (id))

// A described class with a described base and a private member that decode must leave alone.
class workspace : public entity {
public:
    std::string title;
    std::vector<int> tags = {7, 8}; // decode replaces these, it does not append
    int hidden() const { return hidden_; }

private:
    int hidden_ = 42;
    BOOST_DESCRIBE_CLASS(workspace, (entity), (title, tags), (), (hidden_))
};

// A user type with Boost.JSON's throwing conversion: "#rrggbb". Deliberately not
// default-constructible, so it can only be built from the conversion's result.
struct rgb {
    int r, g, b;
    rgb(int r_, int g_, int b_) : r(r_), g(g_), b(b_) {}
};

rgb tag_invoke(boost::json::value_to_tag<rgb>, const boost::json::value& v) {
    // A system_error for a non-string (as_string() would throw std::invalid_argument).
    if (!v.is_string()) {
        throw boost::system::system_error(boost::json::error::not_string);
    }
    const auto& s = v.get_string();
    if (s.size() != 7 || s[0] != '#') {
        // Quotes the input, as real conversions often do; decode must not pass this on.
        throw std::invalid_argument("not a colour: " + std::string(s.data(), s.size()));
    }
    const auto hex = [&](std::size_t i) {
        return std::stoi(std::string(s.data() + i, 2), nullptr, 16);
    };
    return rgb(hex(1), hex(3), hex(5));
}

// A user type with Boost.JSON's non-throwing conversion.
struct percent {
    int value = 0;
};

boost::system::result<percent> tag_invoke(boost::json::try_value_to_tag<percent>,
                                          const boost::json::value& v) {
    const auto* i = v.if_int64();
    if (!i || *i < 0 || *i > 100) {
        return boost::system::error_code(boost::json::error::not_exact);
    }
    return percent{static_cast<int>(*i)};
}

// A user conversion for a type decode would otherwise handle itself takes precedence.
struct shouting {
    std::string text;
};
BOOST_DESCRIBE_STRUCT(shouting, (), (text))

shouting tag_invoke(boost::json::value_to_tag<shouting>, const boost::json::value& v) {
    return shouting{std::string(v.as_string().c_str()) + "!"};
}

// rgb members are in containers and optionals: a described class must be default-constructible.
struct theme {
    std::optional<rgb> background;
    std::optional<rgb> accent;
    std::vector<rgb> palette;
    std::map<std::string, rgb> named;
    percent opacity;
};
BOOST_DESCRIBE_STRUCT(theme, (), (background, accent, palette, named, opacity))

} // namespace decode_test

namespace {

using namespace decode_test;
using boost::json::parse;
using glue::errc;

constexpr std::string_view secret = "sk_live_Zq8vXw41KpRmS3CR3T";

bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

/// The glue::error that decode<T>(v) throws; fails the test if it throws none.
template <class T>
glue::error decode_error(const boost::json::value& v) {
    try {
        (void)glue::decode<T>(v);
    } catch (const glue::error& e) {
        return e;
    }
    FAIL("decode did not throw");
    throw std::logic_error("unreachable");
}

/// Checks the code, the path in details() and the beginning of what().
template <class T>
void check_failure(const boost::json::value& v, std::string_view path, std::string_view what) {
    const auto e = decode_error<T>(v);
    CHECK(e.code() == errc::decode_error);
    CHECK(e.details()->json_path == path);
    CHECK_MESSAGE(std::string_view(e.what()).starts_with(what), std::string(e.what()));
}

} // namespace

TEST_SUITE("decode") {

    TEST_CASE("scalars") {
        CHECK(glue::decode<bool>(parse("true")) == true);
        CHECK(glue::decode<int>(parse("-12")) == -12);
        CHECK(glue::decode<int>(parse("3.0")) == 3);
        CHECK(glue::decode<std::uint8_t>(parse("255")) == 255);
        CHECK(glue::decode<std::int8_t>(parse("-128")) == -128);
        CHECK(glue::decode<std::int64_t>(parse("-9223372036854775808")) ==
              std::numeric_limits<std::int64_t>::min());
        CHECK(glue::decode<std::uint64_t>(parse("18446744073709551615")) ==
              std::numeric_limits<std::uint64_t>::max());
        CHECK(glue::decode<unsigned>(parse("4294967295")) == 4294967295u);
        CHECK(glue::decode<double>(parse("2.5")) == 2.5);
        CHECK(glue::decode<double>(parse("-7")) == -7.0);
        CHECK(glue::decode<double>(parse("18446744073709551615")) == 18446744073709551615.0);
        CHECK(glue::decode<float>(parse("0.5")) == 0.5f);
        CHECK(glue::decode<std::string>(parse(R"("héllo")")) == "héllo");
        CHECK(glue::decode<role>(parse(R"("member")")) == role::member);
    }

    TEST_CASE("optional: null and absent are nullopt, anything else is decoded") {
        CHECK(glue::decode<std::optional<int>>(parse("null")) == std::nullopt);
        CHECK(glue::decode<std::optional<int>>(parse("5")) == 5);

        const auto with = glue::decode<user>(parse(R"({"name":"a","access":"owner","email":"e"})"));
        CHECK(with.email == "e");
        const auto null =
            glue::decode<user>(parse(R"({"name":"a","access":"owner","email":null})"));
        CHECK(null.email == std::nullopt);
        const auto absent = glue::decode<user>(parse(R"({"name":"a","access":"owner"})"));
        CHECK(absent.email == std::nullopt);
    }

    TEST_CASE("optional: its value is decoded by decode's rules, with described bases and paths") {
        // Boost.JSON's own std::optional conversion (found by the same lookup as a user's) once
        // took over: a described class with a base did not compile, and a failure inside lost
        // its path and reason.
        const auto w = glue::decode<std::optional<workspace>>(
            parse(R"({"id":"ws_1","title":"Main","tags":[1]})"));
        REQUIRE(w);
        CHECK(w->id == "ws_1");
        CHECK(glue::decode<std::optional<workspace>>(parse("null")) == std::nullopt);
        check_failure<std::optional<group>>(
            parse(R"({"id":1,"name":"g","members":[{"name":5,"access":"owner"}]})"),
            "/members/0/name", "glue::decode: /members/0/name: expected a string, got an integer");
        check_failure<std::optional<int>>(
            parse("2.5"), "",
            "glue::decode: expected an integer, got a number with a fractional part");
        check_failure<std::vector<std::optional<role>>>(parse(R"(["owner","boss"])"), "/1",
                                                        "glue::decode: /1: expected one of");
    }

    TEST_CASE("containers") {
        CHECK(glue::decode<std::vector<int>>(parse("[1,2,3]")) == std::vector<int>{1, 2, 3});
        CHECK(glue::decode<std::vector<int>>(parse("[]")).empty());
        CHECK(glue::decode<std::vector<bool>>(parse("[true,false]")) ==
              std::vector<bool>{true, false});
        CHECK(
            glue::decode<std::vector<std::vector<std::string>>>(parse(R"([["a"],[],["b","c"]])")) ==
            std::vector<std::vector<std::string>>{{"a"}, {}, {"b", "c"}});
        CHECK(glue::decode<std::map<std::string, int>>(parse(R"({"b":2,"a":1})")) ==
              std::map<std::string, int>{{"a", 1}, {"b", 2}});
        CHECK(glue::decode<std::unordered_map<std::string, std::optional<double>>>(
                  parse(R"({"x":1.5,"y":null})")) ==
              std::unordered_map<std::string, std::optional<double>>{{"x", 1.5},
                                                                     {"y", std::nullopt}});
    }

    TEST_CASE("Boost.JSON types are copied and type-checked") {
        const auto v = parse(R"({"a":[1,{"b":null}],"s":"t"})");
        CHECK(glue::decode<boost::json::value>(v) == v);
        CHECK(glue::decode<boost::json::object>(v) == v.as_object());
        CHECK(glue::decode<boost::json::array>(v.at("a")) == v.at("a").as_array());
        CHECK(glue::decode<boost::json::string>(v.at("s")) == "t");
        CHECK(glue::decode<std::map<std::string, boost::json::value>>(v).size() == 2);
        check_failure<boost::json::object>(v.at("a"), "",
                                           "glue::decode: expected an object, got an array");
        check_failure<boost::json::array>(v, "", "glue::decode: expected an array, got an object");
        check_failure<boost::json::string>(parse("1"), "",
                                           "glue::decode: expected a string, got an integer");
    }

    TEST_CASE("described structs, nested, with extra keys ignored") {
        const auto data = glue::decode<query_data>(parse(R"({
            "groups": {
                "nodes": [
                    {"id": 1, "name": "core", "unknown": [1, 2], "members": [
                        {"name": "ada", "access": "owner"},
                        {"name": "bob", "access": "guest", "email": "bob@example.com"}]},
                    {"id": 2, "name": "ops", "members": []}],
                "has_next_page": true,
                "cursor": "abc"
            }})"));
        REQUIRE(data.groups.nodes.size() == 2);
        CHECK(data.groups.has_next_page);
        CHECK(data.groups.nodes[0].id == 1);
        CHECK(data.groups.nodes[0].name == "core");
        REQUIRE(data.groups.nodes[0].members.size() == 2);
        CHECK(data.groups.nodes[0].members[0].access == role::owner);
        CHECK(data.groups.nodes[0].members[1].email == "bob@example.com");
        CHECK(data.groups.nodes[1].members.empty());
    }

    TEST_CASE("described classes: public members, described bases included") {
        const auto w = glue::decode<workspace>(
            parse(R"({"id":"ws_1","title":"Main","tags":[1],"hidden_":5})"));
        CHECK(w.id == "ws_1");
        CHECK(w.title == "Main");
        CHECK(w.tags == std::vector<int>{1});
        CHECK(w.hidden() == 42);
        // The base's member is required like any other.
        check_failure<workspace>(parse(R"({"title":"Main","tags":[]})"), "/id",
                                 "glue::decode: /id: expected a member with this name");
    }

    TEST_CASE("user conversions: value_to and try_value_to, also for types decode knows") {
        const auto t = glue::decode<theme>(parse(R"({
            "background": "#102030", "palette": ["#000000", "#ffffff"], "named": {"red": "#ff0000"},
            "opacity": 80})"));
        REQUIRE(t.background.has_value());
        CHECK(t.background->r == 0x10);
        CHECK(t.background->b == 0x30);
        CHECK(t.named.at("red").r == 0xff);
        CHECK_FALSE(t.accent.has_value());
        REQUIRE(t.palette.size() == 2);
        CHECK(t.palette[1].g == 0xff);
        CHECK(t.opacity.value == 80);

        CHECK(glue::decode<std::optional<rgb>>(parse(R"("#010203")"))->g == 2);
        CHECK(glue::decode<rgb>(parse(R"("#0a0b0c")")).b == 12);
        // tag_invoke wins over BOOST_DESCRIBE_STRUCT: a string, not an object, is expected.
        CHECK(glue::decode<shouting>(parse(R"("hey")")).text == "hey!");
    }

    TEST_CASE("a wrong type deep inside an array of described structs") {
        const auto v = parse(R"({"groups":{"has_next_page":false,"nodes":[
            {"id":1,"name":"a","members":[]},{"id":2,"name":"b","members":[]},
            {"id":3,"name":"c","members":[]},{"id":4,"name":null,"members":[]}]}})");
        check_failure<query_data>(
            v, "/groups/nodes/3/name",
            "glue::decode: /groups/nodes/3/name: expected a string, got null");
    }

    TEST_CASE("a missing member names the missing key") {
        const auto v = parse(R"({"groups":{"has_next_page":false,"nodes":[
            {"id":1,"name":"a","members":[{"name":"x","access":"owner"},{"access":"owner"}]}]}})");
        check_failure<query_data>(
            v, "/groups/nodes/0/members/1/name",
            "glue::decode: /groups/nodes/0/members/1/name: expected a member");
    }

    TEST_CASE("integers must fit and must be integral") {
        check_failure<std::int8_t>(parse("128"), "",
                                   "glue::decode: expected an integer in [-128, 127], got one out");
        check_failure<unsigned>(parse("-1"), "",
                                "glue::decode: expected an integer in [0, 4294967295]");
        check_failure<std::int64_t>(parse("18446744073709551615"), "",
                                    "glue::decode: expected an integer in [-9223372036854775808, "
                                    "9223372036854775807]");
        check_failure<std::uint64_t>(
            parse("18446744073709551616.0"), "",
            "glue::decode: expected an integer in [0, 18446744073709551615]");
        check_failure<int>(parse("1e300"), "", "glue::decode: expected an integer in [");
        check_failure<std::map<std::string, int>>(parse(R"({"n":2.5})"), "/n",
                                                  "glue::decode: /n: expected an integer, got a "
                                                  "number with a fractional part");
        check_failure<std::vector<int>>(parse(R"([1,"2"])"), "/1",
                                        "glue::decode: /1: expected an integer, got a string");
        check_failure<float>(parse("1e300"), "",
                             "glue::decode: expected a number within the range of float");
        check_failure<bool>(parse("0"), "", "glue::decode: expected a boolean, got an integer");
    }

    TEST_CASE("an unknown enumerator name") {
        check_failure<user>(parse(R"({"name":"a","access":"admin"})"), "/access",
                            R"(glue::decode: /access: expected one of "owner", "member", "guest", )"
                            "got another string");
        check_failure<role>(parse("1"), "",
                            R"(glue::decode: expected one of "owner", "member", "guest", got an )"
                            "integer");
        // Matching compares whole strings: an embedded NUL doesn't make a prefix match.
        check_failure<role>(boost::json::value(boost::json::string("owner\0x", 7)), "",
                            "glue::decode: expected one of");
    }

    TEST_CASE("keys with '/' and '~' are escaped in the JSON Pointer") {
        const auto v = parse(R"({"a/b~c":{"~":[0,{"x":true}]}})");
        check_failure<std::map<std::string, std::map<std::string, std::vector<int>>>>(
            v, "/a~1b~0c/~0/1", "glue::decode: /a~1b~0c/~0/1: expected an integer, got an object");
    }

    TEST_CASE("a failing user conversion fails at that value's path") {
        // Thrown exception (its message quotes the input).
        check_failure<theme>(
            parse(R"({"background":"#000000","palette":["#000000","oops"],"opacity":1})"),
            "/palette/1", "glue::decode: /palette/1: the type's tag_invoke conversion threw");
        // Thrown system_error: its code's message is client text.
        check_failure<theme>(
            parse(R"({"background":7,"palette":[],"opacity":1})"), "/background",
            "glue::decode: /background: the type's tag_invoke conversion failed: ");
        // Returned error.
        check_failure<theme>(
            parse(R"({"background":"#000000","palette":[],"named":{},"opacity":101})"), "/opacity",
            "glue::decode: /opacity: the type's tag_invoke conversion failed: ");
        check_failure<std::optional<percent>>(parse("-1"), "",
                                              "glue::decode: the type's tag_invoke conversion");
    }

    TEST_CASE("what() never quotes a string value from the response") {
        const std::string s(secret);
        const auto check_absent = [&]<class T>(const boost::json::value& v) {
            const auto e = decode_error<T>(v);
            CHECK_MESSAGE(!contains(e.what(), secret), std::string(e.what()));
            CHECK(!contains(e.details()->json_path, secret));
        };
        check_absent.operator()<int>(boost::json::value(s));
        check_absent.operator()<std::vector<bool>>(boost::json::array{true, boost::json::value(s)});
        check_absent.operator()<role>(boost::json::value(s));
        check_absent.operator()<rgb>(boost::json::value(s));
        check_absent.operator()<user>(boost::json::object{{"name", s}, {"access", s}});
        check_absent.operator()<group>(boost::json::object{{"id", s}, {"name", s}});
    }

    TEST_CASE("try_decode returns errc::decode_error and where and why") {
        const auto v = parse(R"({"groups":{"has_next_page":false,"nodes":[{"id":"1"}]}})");
        glue::decode_failure failure;
        const auto r = glue::try_decode<query_data>(v, &failure);
        REQUIRE(r.has_error());
        CHECK(r.error() == errc::decode_error);
        CHECK(failure.json_path == "/groups/nodes/0/id");
        CHECK(failure.reason == "expected an integer, got a string");

        CHECK(glue::try_decode<int>(parse("true")).error() == errc::decode_error);
        const auto ok = glue::try_decode<std::vector<role>>(parse(R"(["guest","owner"])"));
        REQUIRE(ok.has_value());
        CHECK(*ok == std::vector<role>{role::guest, role::owner});
    }

    TEST_CASE("the root's path is empty") {
        const auto e = decode_error<query_data>(parse("[]"));
        CHECK(e.details()->json_path.empty());
        CHECK(std::string_view(e.what()).starts_with(
            "glue::decode: expected an object, got an array"));
    }
}
