#include "proxy/resp/encoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace slotproxy::resp {
namespace {

TEST(Encoder, HeadersAndScalarsHaveExactBytes) {
  std::string out;
  appendArrayHeader(out, 3);
  EXPECT_EQ(out, "*3\r\n");
  out.clear();
  appendArrayHeader(out, 0);
  EXPECT_EQ(out, "*0\r\n");
  out.clear();
  appendBulkHeader(out, 1234567);
  EXPECT_EQ(out, "$1234567\r\n");
  out.clear();
  appendNullBulk(out);
  appendNullArray(out);
  EXPECT_EQ(out, "$-1\r\n*-1\r\n");
}

TEST(Encoder, IntegersIncludingExtremes) {
  std::string out;
  appendInteger(out, 0);
  appendInteger(out, -1);
  appendInteger(out, INT64_MAX);
  appendInteger(out, INT64_MIN);
  EXPECT_EQ(out, ":0\r\n:-1\r\n:9223372036854775807\r\n:-9223372036854775808\r\n");
}

TEST(Encoder, BulkStringsAreBinarySafe) {
  std::string out;
  appendBulk(out, "hello");
  appendBulk(out, "");
  appendBulk(out, std::string("a\r\n\0b", 5));
  EXPECT_EQ(out, std::string("$5\r\nhello\r\n$0\r\n\r\n$5\r\na\r\n\0b\r\n", 28));
}

TEST(Encoder, SimpleAndErrorReplaceCrLfBySpaces) {
  std::string out;
  appendSimple(out, "OK");
  appendSimple(out, "");
  appendSimple(out, "a\r\nb\nc\rd");
  appendError(out, "ERR bad\r\nthing");
  appendError(out, "CROSSSLOT Keys in request don't hash to the same slot");
  EXPECT_EQ(out,
            "+OK\r\n+\r\n+a  b c d\r\n-ERR bad  thing\r\n"
            "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
}

TEST(Encoder, AppendsToExistingContent) {
  std::string out = "prefix";
  appendInteger(out, 7);
  EXPECT_EQ(out, "prefix:7\r\n");
}

TEST(Encoder, CommandIsMultibulkOfBulks) {
  std::string out;
  const std::vector<std::string_view> args = {"SET", "key", "", "value"};
  appendCommand(out, args);
  EXPECT_EQ(out, "*4\r\n$3\r\nSET\r\n$3\r\nkey\r\n$0\r\n\r\n$5\r\nvalue\r\n");
  out.clear();
  appendCommand(out, {});
  EXPECT_EQ(out, "*0\r\n");
  out.clear();
  const std::string big(12345, 'x');
  const std::vector<std::string_view> one = {big};
  appendCommand(out, one);
  EXPECT_EQ(out, "*1\r\n$12345\r\n" + big + "\r\n");
}

TEST(Encoder, Resp3NullMapAndPushHeaders) {
  std::string out;
  appendNull(out);
  appendMapHeader(out, 7);
  appendPushHeader(out, 3);
  EXPECT_EQ(out, "_\r\n%7\r\n>3\r\n");
}

}  // namespace
}  // namespace slotproxy::resp
