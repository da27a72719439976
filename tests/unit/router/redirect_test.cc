#include "proxy/router/redirect.h"

#include <gtest/gtest.h>

#include <string_view>

namespace slotproxy::router {
namespace {

Redirect parsed(std::string_view error) {
  Redirect r;
  EXPECT_TRUE(parseRedirect(error, &r)) << error;
  return r;
}

void expectRedirect(std::string_view error, Redirect::Kind kind, uint16_t slot,
                    std::string_view host, uint16_t port) {
  const Redirect r = parsed(error);
  EXPECT_EQ(r.kind, kind) << error;
  EXPECT_EQ(r.slot, slot) << error;
  EXPECT_EQ(r.host, host) << error;
  EXPECT_EQ(r.port, port) << error;
}

TEST(ParseRedirect, MovedIpv4) {
  expectRedirect("MOVED 3999 127.0.0.1:6381", Redirect::Kind::kMoved, 3999, "127.0.0.1", 6381);
  expectRedirect("MOVED 0 10.1.2.3:1", Redirect::Kind::kMoved, 0, "10.1.2.3", 1);
  expectRedirect("MOVED 16383 10.1.2.3:65535", Redirect::Kind::kMoved, 16383, "10.1.2.3", 65535);
}

TEST(ParseRedirect, AskIpv4) {
  expectRedirect("ASK 3999 127.0.0.1:6381", Redirect::Kind::kAsk, 3999, "127.0.0.1", 6381);
}

TEST(ParseRedirect, Ipv6) {
  expectRedirect("ASK 3999 [::1]:6381", Redirect::Kind::kAsk, 3999, "::1", 6381);
  expectRedirect("MOVED 12 [2001:db8::7]:7000", Redirect::Kind::kMoved, 12, "2001:db8::7", 7000);
  // Redis 7.0 sends IPv6 without brackets: the port is after the last colon.
  expectRedirect("MOVED 12 2001:db8::7:7000", Redirect::Kind::kMoved, 12, "2001:db8::7", 7000);
}

TEST(ParseRedirect, Hostname) {
  expectRedirect("MOVED 866 redis-1.redis.svc:6379", Redirect::Kind::kMoved, 866,
                 "redis-1.redis.svc", 6379);
}

TEST(ParseRedirect, EmptyHostMeansTheNodeAnswering) {
  Redirect r;
  r.host = "stale";
  ASSERT_TRUE(parseRedirect("MOVED 3999 :6380", &r));
  EXPECT_EQ(r.kind, Redirect::Kind::kMoved);
  EXPECT_EQ(r.slot, 3999);
  EXPECT_EQ(r.host, "");
  EXPECT_EQ(r.port, 6380);
  expectRedirect("ASK 1 :7000\r\n", Redirect::Kind::kAsk, 1, "", 7000);
}

TEST(ParseRedirect, TrailingCrlfIsIgnored) {
  expectRedirect("MOVED 3999 127.0.0.1:6381\r\n", Redirect::Kind::kMoved, 3999, "127.0.0.1", 6381);
  expectRedirect("ASK 5 [::1]:6381\r\n", Redirect::Kind::kAsk, 5, "::1", 6381);
}

TEST(ParseRedirect, RejectsGarbage) {
  for (const std::string_view bad : {
           "",
           "MOVED",
           "MOVED ",
           "ASK",
           "MOVED 3999",
           "MOVED 3999 ",
           "MOVED 16384 127.0.0.1:6381",
           "MOVED 65536 127.0.0.1:6381",
           "MOVED -1 127.0.0.1:6381",
           "MOVED abc 127.0.0.1:6381",
           "MOVED 39x9 127.0.0.1:6381",
           "MOVED  3999 127.0.0.1:6381",
           "MOVED 3999 127.0.0.1",
           "MOVED 3999 127.0.0.1:",
           "MOVED 3999 127.0.0.1:abc",
           "MOVED 3999 127.0.0.1:0",
           "MOVED 3999 127.0.0.1:65536",
           "MOVED 3999 127.0.0.1:6381 extra",
           "MOVED 3999 :",
           "MOVED 3999 :abc",
           "MOVED 3999 :0",
           "MOVED 3999 :70000",
           "ASK 3999 [::1]",
           "moved 3999 127.0.0.1:6381",
           "-MOVED 3999 127.0.0.1:6381",
           "ASKING 3999 127.0.0.1:6381",
           "MOVEDX 3999 127.0.0.1:6381",
           "ERR unknown command",
           "TRYAGAIN Multiple keys request during rehashing of slot",
           "CLUSTERDOWN The cluster is down",
       }) {
    Redirect r;
    EXPECT_FALSE(parseRedirect(bad, &r)) << "'" << bad << "'";
  }
}

}  // namespace
}  // namespace slotproxy::router
