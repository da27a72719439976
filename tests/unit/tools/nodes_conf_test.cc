#include "proxy/tools/nodes_conf.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slotproxy::tools {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

namespace fs = std::filesystem;

// Node ids as Redis writes them: 40 lower-case hex chars.
constexpr const char* kA = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca";
constexpr const char* kB = "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1";
constexpr const char* kC = "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f";

// Redis 5.0 (`redis-cli --cluster create` with 3 masters + 3 replicas).
constexpr std::string_view kRedis50 =
    "07c37dfeb235213a872192d90877d0cd55635b91 10.0.0.4:6379@16379 slave "
    "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected\n"
    "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 10.0.0.2:6379@16379 master - 0 1426238316232 2 "
    "connected 5461-10922\n"
    "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 10.0.0.3:6379@16379 master - 0 1426238318243 3 "
    "connected 10923-16383\n"
    "6ec23923021cf3ffec47632106199cb7f496ce01 10.0.0.5:6379@16379 slave "
    "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 0 1426238316232 5 connected\n"
    "824fe116063bc5fcf9f4ffd895bc17aee7731ac3 10.0.0.6:6379@16379 slave "
    "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 0 1426238317741 6 connected\n"
    "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 10.0.0.1:6379@16379 myself,master - 0 0 1 "
    "connected 0-5460\n"
    "vars currentEpoch 6 lastVoteEpoch 0\n";

// Redis 6.2: a failed master, a PFAIL node, nofailover, single slots and ranges.
constexpr std::string_view kRedis62 =
    "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 10.1.0.1:7000@17000 myself,master - 0 0 7 "
    "connected 0-100 200 300-16383\n"
    "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 10.1.0.2:7000@17000 master,fail - 1700000000000 "
    "1699999990000 2 disconnected 101-199\n"
    "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 10.1.0.3:7000@17000 slave,fail?,nofailover "
    "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 1700000000001 1700000000002 7 connected\n"
    "vars currentEpoch 7 lastVoteEpoch 7\n";

// Redis 7.0 with cluster-announce-hostname (StatefulSet names); one peer without a hostname yet.
constexpr std::string_view kRedis70 =
    "a850343b202c76030a94423fd35ee0879f9c04f8 10.2.0.3:6379@16379,"
    "redis-cluster-2.redis-cluster.ns.svc.cluster.local master - 0 1795911263000 0 connected\n"
    "6c59c4d77e0ef60aeedd948ea2c0194314016c20 10.2.0.1:6379@16379,"
    "redis-cluster-0.redis-cluster.ns.svc.cluster.local myself,master - 0 0 1 connected 0-5460\n"
    "435529d4169b93b7f6d7d3e3f9db178eaa124cff 10.2.0.2:6379@16379 master - 0 1795911263928 2 "
    "connected\n"
    "vars currentEpoch 2 lastVoteEpoch 0\n";

// Redis 7.0 CLUSTER NODES style: a ',' with an empty hostname.
constexpr std::string_view kRedis70EmptyHostname =
    "6c59c4d77e0ef60aeedd948ea2c0194314016c20 10.2.0.1:6379@16379, myself,master - 0 0 1 "
    "connected 0-16383\n"
    "435529d4169b93b7f6d7d3e3f9db178eaa124cff 10.2.0.2:6379@16379, slave "
    "6c59c4d77e0ef60aeedd948ea2c0194314016c20 0 1795911263928 1 connected\n"
    "vars currentEpoch 1 lastVoteEpoch 0\n";

// Redis 7.2: hostname then auxiliary key=value fields.
constexpr std::string_view kRedis72Aux =
    "6c59c4d77e0ef60aeedd948ea2c0194314016c20 10.2.0.1:6379@16379,,tls-port=0,"
    "shard-id=1b2c3d4e5f60718293a4b5c6d7e8f90011223344 myself,master - 0 0 1 connected 0-16383\n"
    "435529d4169b93b7f6d7d3e3f9db178eaa124cff 10.2.0.2:6379@16379,node-2,tls-port=0 slave "
    "6c59c4d77e0ef60aeedd948ea2c0194314016c20 0 1795911263928 1 connected\n"
    "vars currentEpoch 1 lastVoteEpoch 0\n";

constexpr std::string_view kIpv6 =
    "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 2001:db8::1:6379@16379,redis-0 myself,master - 0 "
    "0 1 connected 0-8191\n"
    "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 2001:db8::2:6379@16379,redis-1 master - 0 "
    "1700000000000 2 connected 8192-16383\n"
    "vars currentEpoch 2 lastVoteEpoch 0\n";

// Resharding in progress: slot 5460 migrating to B on A, importing from A on B.
constexpr std::string_view kMigrating =
    "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 10.0.0.1:6379@16379 myself,master - 0 0 1 "
    "connected 0-5460 [5460->-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]\n"
    "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 10.0.0.2:6379@16379 master - 0 1700000000000 2 "
    "connected 5461-16383 [5460-<-e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca]\n"
    "vars currentEpoch 2 lastVoteEpoch 2\n";

// A node that has not met anyone (first save), plus handshake and noaddr peers.
constexpr std::string_view kNoaddr =
    "6c59c4d77e0ef60aeedd948ea2c0194314016c20 :0@0 myself,master - 0 0 0 connected\n"
    "435529d4169b93b7f6d7d3e3f9db178eaa124cff 10.0.0.9:6379@16379 handshake - 1700000000000 0 0 "
    "disconnected\n"
    "a850343b202c76030a94423fd35ee0879f9c04f8 :6379@16379 master,noaddr - 1700000000000 "
    "1699999990000 3 disconnected 0-16383\n"
    "vars currentEpoch 3 lastVoteEpoch 0\n";

// Pre-4.0: no @cport; and padding newlines left after an interrupted in-place save.
constexpr std::string_view kOldNoBusPortWithPadding =
    "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 10.0.0.1:7000 myself,master - 0 0 1 connected "
    "0-16383\n"
    "\n"
    "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 10.0.0.2:7000 slave "
    "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1400000000000 1 connected\n"
    "vars currentEpoch 1 lastVoteEpoch 0\n"
    "\n\n\n";

NodesConf mustParse(std::string_view text) {
  NodesConf conf;
  std::string error;
  EXPECT_TRUE(parseNodesConf(text, &conf, &error)) << error;
  return conf;
}

std::string parseError(std::string_view text) {
  NodesConf conf;
  std::string error;
  EXPECT_FALSE(parseNodesConf(text, &conf, &error)) << "accepted:\n" << text;
  return error;
}

std::string replaceAll(std::string s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Parse + serialize

class RoundTripTest : public ::testing::TestWithParam<std::string_view> {};

TEST_P(RoundTripTest, SerializeOfUnmodifiedParseIsByteIdentical) {
  NodesConf conf = mustParse(GetParam());
  EXPECT_EQ(serialize(conf), GetParam());
}

INSTANTIATE_TEST_SUITE_P(AllFormats, RoundTripTest,
                         ::testing::Values(kRedis50, kRedis62, kRedis70, kRedis70EmptyHostname,
                                           kRedis72Aux, kIpv6, kMigrating, kNoaddr,
                                           kOldNoBusPortWithPadding));

TEST(ParseNodesConf, Redis50Fields) {
  NodesConf conf = mustParse(kRedis50);
  ASSERT_EQ(conf.nodes.size(), 6u);
  const NodesConfLine* me = conf.myself();
  ASSERT_NE(me, nullptr);
  EXPECT_EQ(me->id, kA);
  EXPECT_EQ(me->ip, "10.0.0.1");
  EXPECT_EQ(me->port, 6379);
  EXPECT_EQ(me->cport, 16379);
  EXPECT_TRUE(me->has_cport);
  EXPECT_FALSE(me->has_hostname_field);
  EXPECT_EQ(me->flags, "myself,master");
  EXPECT_EQ(me->rest, "- 0 0 1 connected 0-5460");
  EXPECT_EQ(me->line_no, 6u);
  EXPECT_EQ(conf.vars_line, "vars currentEpoch 6 lastVoteEpoch 0");
  EXPECT_FALSE(conf.nodes[0].myself);
}

TEST(ParseNodesConf, Redis70HostnameAndMissingHostname) {
  NodesConf conf = mustParse(kRedis70);
  ASSERT_EQ(conf.nodes.size(), 3u);
  EXPECT_TRUE(conf.nodes[0].has_hostname_field);
  EXPECT_EQ(conf.nodes[0].hostname, "redis-cluster-2.redis-cluster.ns.svc.cluster.local");
  EXPECT_EQ(conf.nodes[0].ip, "10.2.0.3");
  EXPECT_FALSE(conf.nodes[2].has_hostname_field);
  EXPECT_EQ(conf.nodes[2].hostname, "");
  EXPECT_EQ(conf.myself()->hostname, "redis-cluster-0.redis-cluster.ns.svc.cluster.local");
}

TEST(ParseNodesConf, EmptyHostnameKeepsTheComma) {
  NodesConf conf = mustParse(kRedis70EmptyHostname);
  EXPECT_TRUE(conf.nodes[0].has_hostname_field);
  EXPECT_EQ(conf.nodes[0].hostname, "");
  EXPECT_EQ(conf.nodes[0].address(), "10.2.0.1:6379@16379,");
}

TEST(ParseNodesConf, Redis72AuxFieldsAreKeptVerbatim) {
  NodesConf conf = mustParse(kRedis72Aux);
  EXPECT_EQ(conf.nodes[0].hostname, "");
  EXPECT_EQ(conf.nodes[0].aux, ",tls-port=0,shard-id=1b2c3d4e5f60718293a4b5c6d7e8f90011223344");
  EXPECT_EQ(conf.nodes[1].hostname, "node-2");
  EXPECT_EQ(conf.nodes[1].aux, ",tls-port=0");
}

TEST(ParseNodesConf, Ipv6PortIsAfterTheLastColon) {
  NodesConf conf = mustParse(kIpv6);
  EXPECT_EQ(conf.nodes[0].ip, "2001:db8::1");
  EXPECT_EQ(conf.nodes[0].port, 6379);
  EXPECT_EQ(conf.nodes[0].cport, 16379);
  EXPECT_EQ(conf.nodes[0].hostname, "redis-0");
}

TEST(ParseNodesConf, NoaddrAndHandshakeNodes) {
  NodesConf conf = mustParse(kNoaddr);
  EXPECT_EQ(conf.nodes[0].ip, "");
  EXPECT_EQ(conf.nodes[0].port, 0);
  EXPECT_EQ(conf.nodes[0].cport, 0);
  EXPECT_EQ(conf.nodes[1].flags, "handshake");
  EXPECT_EQ(conf.nodes[2].ip, "");
  EXPECT_EQ(conf.nodes[2].port, 6379);
}

TEST(ParseNodesConf, PreRedis4LineWithoutBusPort) {
  NodesConf conf = mustParse(kOldNoBusPortWithPadding);
  EXPECT_FALSE(conf.nodes[0].has_cport);
  EXPECT_EQ(conf.nodes[0].port, 7000);
  EXPECT_EQ(conf.nodes[1].blank_lines_before, 1u);
  EXPECT_EQ(conf.trailing_blank_lines, 3u);
}

// Each corrupt variant must be refused, and the error must name the line.
struct Corrupt {
  const char* name;
  std::string text;
  const char* expect;  // substring of the error
};

void PrintTo(const Corrupt& c, std::ostream* os) { *os << c.name; }

std::vector<Corrupt> corruptCases() {
  const std::string good(kRedis50);
  const std::string line6 = std::string(kA) + " 10.0.0.1:6379@16379 myself,master - 0 0 1 ";
  return {
      {"TruncatedLine", good.substr(0, good.find(" 2 connected 5461")) + "\n" + "vars a 1 b 2\n",
       "line 2: expected at least 8 fields, found 6"},
      {"TruncatedFileNoFinalNewline", good.substr(0, good.size() - 3), "no newline at end"},
      {"TruncatedMidVars", good.substr(0, good.size() - 15) + "\n", "line 7"},
      {"BadPort", replaceAll(good, "10.0.0.2:6379@", "10.0.0.2:63x9@"), "line 2: bad port"},
      {"PortTooLarge", replaceAll(good, "10.0.0.2:6379@", "10.0.0.2:65536@"), "bad port"},
      {"PortLeadingZero", replaceAll(good, "10.0.0.2:6379@", "10.0.0.2:06379@"), "bad port"},
      {"BadBusPort", replaceAll(good, "@16379 master", "@ master"), "bad cluster bus port"},
      {"MissingVarsLine", good.substr(0, good.find("vars")), "missing 'vars"},
      {"Garbage", "hello world\n", "line 1"},
      {"BinaryGarbage", std::string("\x01\x02\xff\n", 4), "line 1: unexpected byte"},
      {"NoMyself", replaceAll(good, "myself,master", "master"), "no node has the 'myself'"},
      {"UnknownFlag", replaceAll(good, "myself,master", "myself,boss"), "unknown flag 'boss'"},
      {"EmptyFlag", replaceAll(good, "myself,master", "myself,"), "unknown flag ''"},
      {"BadNodeId", replaceAll(good, "824fe116063bc5fcf9f4ffd895bc17aee7731ac3", "824fe11"),
       "line 5: bad node id"},
      {"BadMasterId", replaceAll(good, "slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca", "slave x"),
       "bad master id"},
      {"BadLinkState", replaceAll(good, "1 connected 0-5460", "1 linked 0-5460"),
       "line 6: bad link state"},
      {"SlotOutOfRange", replaceAll(good, "10923-16383", "10923-16384"), "bad slot range"},
      {"SlotRangeBackwards", replaceAll(good, "5461-10922", "10922-5461"), "bad slot range"},
      {"BadMigratingSlot", replaceAll(good, "0-5460\n", "0-5460 [5460->-abc]\n"),
       "bad migrating/importing slot"},
      {"BadIp", replaceAll(good, "10.0.0.3:6379", "10.0.0.300:6379"), "line 3: bad ip"},
      {"NoPort", replaceAll(good, "10.0.0.3:6379@16379", "10.0.0.3"), "has no ':port'"},
      {"DoubleSpace", replaceAll(good, "myself,master -", "myself,master  -"), "exactly one space"},
      {"TrailingSpace", replaceAll(good, "0-5460\n", "0-5460 \n"), "exactly one space"},
      {"Tab", replaceAll(good, "myself,master -", "myself,master\t-"), "unexpected byte 9"},
      {"Crlf", replaceAll(good, "\n", "\r\n"), "carriage return"},
      {"TextAfterVars", good + std::string(kRedis50.substr(0, 60)) + "\n", "after the vars line"},
      {"DuplicateNodeId", line6 + "connected\n" + good, "duplicate node id"},
      {"VarsOddFields", replaceAll(good, "lastVoteEpoch 0", "lastVoteEpoch"), "without a value"},
      {"VarsBadEpoch", replaceAll(good, "currentEpoch 6", "currentEpoch six"), "bad value"},
      {"BadHostname", replaceAll(good, "10.0.0.4:6379@16379", "10.0.0.4:6379@16379,a/b"),
       "bad hostname"},
      {"BadAux", replaceAll(good, "10.0.0.4:6379@16379", "10.0.0.4:6379@16379,h,noequals"),
       "bad auxiliary field"},
      {"BlankLineOfSpaces", replaceAll(good, "vars", " \nvars"), "exactly one space"},
      {"Empty", "", "empty file"},
  };
}

class CorruptTest : public ::testing::TestWithParam<Corrupt> {};

TEST_P(CorruptTest, IsRefusedWithALineNumber) {
  std::string error = parseError(GetParam().text);
  EXPECT_THAT(error, HasSubstr(GetParam().expect));
}

INSTANTIATE_TEST_SUITE_P(Cases, CorruptTest, ::testing::ValuesIn(corruptCases()),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(ParseNodesConf, SecondMyselfIsRefused) {
  std::string text = replaceAll(
      std::string(kRedis50), "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 10.0.0.2:6379@16379 master",
      "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 10.0.0.2:6379@16379 myself,master");
  EXPECT_THAT(parseError(text), HasSubstr("line 6: a second 'myself' node (first on line 2)"));
}

// ---------------------------------------------------------------------------------------------
// In-memory rewrite

TEST(RewriteNodesConf, MyselfLineGetsTheNewIpAndNothingElseChanges) {
  NodesConf conf = mustParse(kRedis50);
  std::vector<std::string> warnings;
  auto changes = rewriteNodesConf(&conf, "10.9.9.9", nullptr, &warnings);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].node_index, 5u);
  EXPECT_EQ(changes[0].old_ip, "10.0.0.1");
  EXPECT_EQ(changes[0].new_ip, "10.9.9.9");
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(serialize(conf), replaceAll(std::string(kRedis50), "10.0.0.1:6379@16379 myself",
                                        "10.9.9.9:6379@16379 myself"));
}

TEST(RewriteNodesConf, MyselfWithHostnameKeepsHostname) {
  NodesConf conf = mustParse(kRedis70);
  rewriteNodesConf(&conf, "10.3.0.1", nullptr, nullptr);
  EXPECT_EQ(conf.myself()->text(),
            "6c59c4d77e0ef60aeedd948ea2c0194314016c20 10.3.0.1:6379@16379,"
            "redis-cluster-0.redis-cluster.ns.svc.cluster.local myself,master - 0 0 1 connected "
            "0-5460");
}

TEST(RewriteNodesConf, Ipv6MyselfIsCanonicalised) {
  NodesConf conf = mustParse(kIpv6);
  auto changes = rewriteNodesConf(&conf, "2001:DB8:0::0:a", nullptr, nullptr);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(conf.myself()->address(), "2001:db8::a:6379@16379,redis-0");
}

TEST(RewriteNodesConf, SameAddressInAnotherSpellingIsNoChange) {
  NodesConf conf = mustParse(kIpv6);
  EXPECT_TRUE(rewriteNodesConf(&conf, "2001:db8:0:0::1", nullptr, nullptr).empty());
}

TEST(RewriteNodesConf, EmptyMyselfAddressIsFilledIn) {
  NodesConf conf = mustParse(kNoaddr);
  rewriteNodesConf(&conf, "10.0.0.7", nullptr, nullptr);
  EXPECT_EQ(conf.myself()->address(), "10.0.0.7:0@0");
}

TEST(RewriteNodesConf, PeersFollowTheirHostnames) {
  NodesConf conf = mustParse(kRedis70);
  ResolveFn resolve = [](const std::string& name) -> std::vector<std::string> {
    if (name == "redis-cluster-2.redis-cluster.ns.svc.cluster.local") return {"10.3.0.3"};
    if (name == "redis-cluster-0.redis-cluster.ns.svc.cluster.local") return {"10.3.0.99"};
    return {};
  };
  std::vector<std::string> warnings;
  auto changes = rewriteNodesConf(&conf, "10.3.0.1", &resolve, &warnings);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(conf.nodes[0].ip, "10.3.0.3");  // peer, by hostname
  EXPECT_EQ(conf.nodes[1].ip, "10.3.0.1");  // myself: --myself-ip wins over its own hostname
  EXPECT_EQ(conf.nodes[2].ip, "10.2.0.2");  // no hostname recorded: left alone, no warning
  EXPECT_TRUE(warnings.empty());
}

TEST(RewriteNodesConf, UnresolvablePeerIsLeftWithAWarning) {
  NodesConf conf = mustParse(kRedis70);
  ResolveFn resolve = [](const std::string&) { return std::vector<std::string>{}; };
  std::vector<std::string> warnings;
  auto changes = rewriteNodesConf(&conf, "10.2.0.1", &resolve, &warnings);
  EXPECT_TRUE(changes.empty());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("redis-cluster-2.redis-cluster.ns.svc.cluster.local"));
  EXPECT_THAT(warnings[0], HasSubstr("left at 10.2.0.3"));
}

TEST(RewriteNodesConf, PeerStillAmongItsAddressesIsKept) {
  NodesConf conf = mustParse(kRedis70);
  ResolveFn resolve = [](const std::string&) {
    return std::vector<std::string>{"10.9.0.1", "10.2.0.3"};
  };
  EXPECT_TRUE(rewriteNodesConf(&conf, "10.2.0.1", &resolve, nullptr).empty());
}

TEST(RewriteNodesConf, PeerPrefersTheFamilyItHad) {
  NodesConf conf = mustParse(kIpv6);
  ResolveFn resolve = [](const std::string&) {
    return std::vector<std::string>{"10.0.0.2", "2001:db8::22", "not-an-ip"};
  };
  rewriteNodesConf(&conf, "2001:db8::1", &resolve, nullptr);
  EXPECT_EQ(conf.nodes[1].address(), "2001:db8::22:6379@16379,redis-1");
}

TEST(CanonicalIp, AcceptsLiteralsOnly) {
  EXPECT_EQ(canonicalIp("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(canonicalIp("2001:DB8::0:1"), "2001:db8::1");
  EXPECT_FALSE(canonicalIp(""));
  EXPECT_FALSE(canonicalIp("10.0.0.256"));
  EXPECT_FALSE(canonicalIp("redis-0"));
  EXPECT_FALSE(canonicalIp("fe80::1%eth0"));
  EXPECT_FALSE(canonicalIp(" 10.0.0.1"));
}

TEST(HostsTable, ParsesCommentsAliasesAndCase) {
  HostsTable t;
  std::string error;
  ASSERT_TRUE(
      t.parse("# comment\n\n10.0.0.1 node-1 Alias-1 # trailing\n"
              "  2001:db8::1\tnode-1\n10.0.0.2 node-2\n",
              &error))
      << error;
  EXPECT_EQ(t.lookup("node-1"), (std::vector<std::string>{"10.0.0.1", "2001:db8::1"}));
  EXPECT_EQ(t.lookup("alias-1"), (std::vector<std::string>{"10.0.0.1"}));
  EXPECT_EQ(t.lookup("NODE-2"), (std::vector<std::string>{"10.0.0.2"}));
  EXPECT_TRUE(t.lookup("node-3").empty());
}

TEST(HostsTable, RefusesBadLines) {
  HostsTable t;
  std::string error;
  EXPECT_FALSE(t.parse("10.0.0.1 a\nnode-1 10.0.0.1\n", &error));
  EXPECT_EQ(error, "line 2: not an IP address: 'node-1'");
  EXPECT_FALSE(t.parse("10.0.0.1\n", &error));
  EXPECT_EQ(error, "line 1: no name after 10.0.0.1");
}

TEST(ResolveWithGetaddrinfo, NumericAndLocalhost) {
  EXPECT_EQ(resolveWithGetaddrinfo("127.0.0.1"), (std::vector<std::string>{"127.0.0.1"}));
  EXPECT_TRUE(resolveWithGetaddrinfo("no-such-host.invalid").empty());
}

// ---------------------------------------------------------------------------------------------
// runNodesConf on real files

// NodesConfOptions without designated initializers (GCC warns about the fields left out).
struct OptionsBuilder {
  NodesConfOptions o;
  OptionsBuilder& hosts(std::string path) {
    o.hosts_file = std::move(path);
    return *this;
  }
  OptionsBuilder& resolvePeers() {
    o.resolve_peers = true;
    return *this;
  }
  OptionsBuilder& dryRun() {
    o.dry_run = true;
    return *this;
  }
  operator NodesConfOptions() const { return o; }  // NOLINT: implicit by design
};

OptionsBuilder opts(std::string myself_ip) {
  OptionsBuilder b;
  b.o.myself_ip = std::move(myself_ip);
  return b;
}

class RunNodesConfTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "nodes_conf_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    file_ = (dir_ / "nodes.conf").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void writeFile(const std::string& path, std::string_view text) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
  }
  static std::string readFile(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
  }
  int run(NodesConfOptions opts) {
    out_.str("");
    err_.str("");
    if (opts.file.empty()) opts.file = file_;
    return runNodesConf(opts, out_, err_);
  }
  std::vector<std::string> dirEntries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }
  static ino_t inode(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    return st.st_ino;
  }

  fs::path dir_;
  std::string file_;
  std::ostringstream out_, err_;
};

TEST_F(RunNodesConfTest, RewritesMyselfWritesBackupAtomically) {
  writeFile(file_, kRedis50);
  ::chmod(file_.c_str(), 0640);
  const ino_t before = inode(file_);
  EXPECT_EQ(run(opts("10.0.0.99")), 0) << err_.str();
  const std::string expected = replaceAll(std::string(kRedis50), "10.0.0.1:6379@16379 myself",
                                          "10.0.0.99:6379@16379 myself");
  EXPECT_EQ(readFile(file_), expected);
  EXPECT_EQ(readFile(file_ + ".bak"), kRedis50);
  EXPECT_NE(inode(file_), before) << "replaced by rename, not rewritten in place";
  EXPECT_EQ(dirEntries(), (std::vector<std::string>{"nodes.conf", "nodes.conf.bak"}))
      << "no temp file left behind";
  struct stat st {};
  ASSERT_EQ(::stat(file_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u) << "mode kept";
  EXPECT_THAT(out_.str(), HasSubstr("-" + std::string(kA) + " 10.0.0.1:6379@16379 myself"));
  EXPECT_THAT(out_.str(), HasSubstr("+" + std::string(kA) + " 10.0.0.99:6379@16379 myself"));
  EXPECT_THAT(out_.str(), HasSubstr("@@ -6,1 +6,1 @@"));
  EXPECT_EQ(err_.str(), "");

  // A second run finds nothing to do and keeps the backup of the real previous contents.
  EXPECT_EQ(run(opts("10.0.0.99")), 0);
  EXPECT_EQ(out_.str(), "nodes.conf: up to date\n");
  EXPECT_EQ(readFile(file_), expected);
  EXPECT_EQ(readFile(file_ + ".bak"), kRedis50);
}

TEST_F(RunNodesConfTest, UpToDateWritesNothing) {
  writeFile(file_, kRedis50);
  const ino_t before = inode(file_);
  EXPECT_EQ(run(opts("10.0.0.1")), 0);
  EXPECT_EQ(out_.str(), "nodes.conf: up to date\n");
  EXPECT_EQ(inode(file_), before);
  EXPECT_EQ(dirEntries(), (std::vector<std::string>{"nodes.conf"}));
}

TEST_F(RunNodesConfTest, DryRunPrintsDiffAndLeavesFile) {
  writeFile(file_, kRedis70);
  const ino_t before = inode(file_);
  EXPECT_EQ(run(opts("10.3.0.1").dryRun()), 0);
  EXPECT_EQ(readFile(file_), kRedis70);
  EXPECT_EQ(inode(file_), before);
  EXPECT_EQ(dirEntries(), (std::vector<std::string>{"nodes.conf"}));
  EXPECT_THAT(out_.str(), HasSubstr("--- " + file_ + "\n+++ " + file_));
  EXPECT_THAT(out_.str(), HasSubstr("\n-6c59c4d77e0ef60aeedd948ea2c0194314016c20 10.2.0.1:6379"));
  EXPECT_THAT(out_.str(), HasSubstr("\n+6c59c4d77e0ef60aeedd948ea2c0194314016c20 10.3.0.1:6379"));
  EXPECT_THAT(out_.str(), HasSubstr("dry run"));
  // Unchanged lines are not in the diff.
  EXPECT_THAT(out_.str(), Not(HasSubstr("435529d4169b93b7f6d7d3e3f9db178eaa124cff")));
}

TEST_F(RunNodesConfTest, ResolvePeersWithHostsFile) {
  writeFile(file_, kRedis70);
  const std::string hosts = (dir_ / "hosts").string();
  writeFile(hosts,
            "# new pod IPs\n"
            "10.3.0.1 redis-cluster-0.redis-cluster.ns.svc.cluster.local\n"
            "10.3.0.3 redis-cluster-2.redis-cluster.ns.svc.cluster.local\n");
  EXPECT_EQ(run(opts("10.3.0.1").hosts(hosts).resolvePeers()), 0) << err_.str();
  NodesConf conf = mustParse(readFile(file_));
  EXPECT_EQ(conf.nodes[0].ip, "10.3.0.3");
  EXPECT_EQ(conf.nodes[1].ip, "10.3.0.1");
  EXPECT_EQ(conf.nodes[2].ip, "10.2.0.2");
  EXPECT_EQ(readFile(file_ + ".bak"), kRedis70);
  EXPECT_EQ(err_.str(), "");
}

TEST_F(RunNodesConfTest, ResolvePeersWarnsForUnknownNames) {
  writeFile(file_, kRedis70);
  const std::string hosts = (dir_ / "hosts").string();
  writeFile(hosts, "10.3.0.1 somebody-else\n");
  EXPECT_EQ(run(opts("10.3.0.1").hosts(hosts).resolvePeers()), 0);
  EXPECT_THAT(err_.str(), HasSubstr("warning: node a850343b202c76030a94423fd35ee0879f9c04f8 "
                                    "(redis-cluster-2.redis-cluster.ns.svc.cluster.local) does "
                                    "not resolve; left at 10.2.0.3"));
  EXPECT_EQ(mustParse(readFile(file_)).nodes[0].ip, "10.2.0.3");
}

TEST_F(RunNodesConfTest, InjectedResolverWithoutHostsFile) {
  writeFile(file_, kRedis70);
  ResolveFn resolve = [](const std::string& name) {
    return name.starts_with("redis-cluster-2.") ? std::vector<std::string>{"10.4.0.3"}
                                                : std::vector<std::string>{};
  };
  NodesConfOptions o = opts("10.2.0.1").resolvePeers();
  o.file = file_;
  EXPECT_EQ(runNodesConf(o, resolve, out_, err_), 0);
  EXPECT_EQ(mustParse(readFile(file_)).nodes[0].ip, "10.4.0.3");
}

TEST_F(RunNodesConfTest, NonexistentFileIsFirstBoot) {
  EXPECT_EQ(run(opts("10.0.0.1")), 0);
  EXPECT_THAT(out_.str(), HasSubstr("does not exist yet"));
  EXPECT_TRUE(dirEntries().empty());
}

TEST_F(RunNodesConfTest, EmptyFileIsFirstBoot) {
  writeFile(file_, "");
  EXPECT_EQ(run(opts("10.0.0.1")), 0);
  EXPECT_THAT(out_.str(), HasSubstr("empty"));
  EXPECT_EQ(dirEntries(), (std::vector<std::string>{"nodes.conf"}));
}

TEST_F(RunNodesConfTest, UsageErrorsExitTwo) {
  writeFile(file_, kRedis50);
  EXPECT_EQ(run(opts("10.0.0.256")), 2);
  EXPECT_THAT(err_.str(), HasSubstr("not an IPv4 or IPv6 address"));
  EXPECT_EQ(run(opts("redis-0")), 2);
  EXPECT_EQ(run(opts("")), 2);
  EXPECT_EQ(run(opts("10.0.0.9").hosts("/nonexistent")), 2);
  EXPECT_EQ(run(opts("10.0.0.9").hosts("/nonexistent").resolvePeers()), 2);
  const std::string hosts = (dir_ / "hosts").string();
  writeFile(hosts, "garbage here\n");
  EXPECT_EQ(run(opts("10.0.0.9").hosts(hosts).resolvePeers()), 2);
  EXPECT_THAT(err_.str(), HasSubstr("line 1"));
  EXPECT_EQ(readFile(file_), kRedis50);
  EXPECT_FALSE(fs::exists(file_ + ".bak"));
}

TEST_F(RunNodesConfTest, CorruptFilesAreLeftByteIdentical) {
  for (const Corrupt& c : corruptCases()) {
    if (c.text.empty()) continue;  // an empty file is "first boot", tested above
    SCOPED_TRACE(c.name);
    writeFile(file_, c.text);
    const ino_t before = inode(file_);
    EXPECT_EQ(run(opts("10.9.9.9").resolvePeers()), 1);
    EXPECT_EQ(readFile(file_), c.text);
    EXPECT_EQ(inode(file_), before);
    EXPECT_EQ(dirEntries(), (std::vector<std::string>{"nodes.conf"}));
    EXPECT_THAT(err_.str(), HasSubstr("file left unchanged"));
    EXPECT_THAT(err_.str(), HasSubstr(c.expect));
    EXPECT_EQ(out_.str(), "");
  }
}

TEST_F(RunNodesConfTest, FileLockedByRunningRedisIsRefused) {
  writeFile(file_, kRedis50);
  // Redis's clusterLockConfig: an exclusive flock held for the life of the process.
  int fd = ::open(file_.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  EXPECT_EQ(run(opts("10.0.0.99")), 1);
  EXPECT_THAT(err_.str(), HasSubstr("locked by a running Redis"));
  EXPECT_EQ(readFile(file_), kRedis50);
  // A dry run still shows what would change.
  EXPECT_EQ(run(opts("10.0.0.99").dryRun()), 0);
  EXPECT_THAT(out_.str(), HasSubstr("+" + std::string(kA) + " 10.0.0.99"));
  ::close(fd);
  EXPECT_EQ(run(opts("10.0.0.99")), 0);
}

TEST_F(RunNodesConfTest, SymlinkTargetIsRewritten) {
  const std::string real = (dir_ / "real.conf").string();
  writeFile(real, kRedis50);
  fs::create_symlink(real, file_);
  EXPECT_EQ(run(opts("10.0.0.99")), 0) << err_.str();
  EXPECT_TRUE(fs::is_symlink(file_));
  EXPECT_THAT(readFile(real), HasSubstr("10.0.0.99:6379@16379 myself"));
  EXPECT_EQ(readFile(real + ".bak"), kRedis50);
}

TEST_F(RunNodesConfTest, Ipv6MyselfRewrite) {
  writeFile(file_, kIpv6);
  EXPECT_EQ(run(opts("2001:db8::100")), 0) << err_.str();
  EXPECT_EQ(readFile(file_), replaceAll(std::string(kIpv6), "2001:db8::1:6379@16379,redis-0",
                                        "2001:db8::100:6379@16379,redis-0"));
}

}  // namespace
}  // namespace slotproxy::tools
