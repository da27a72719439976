// Pipelining through slotproxy on a real cluster (3 primaries + 3 replicas on 127.0.12.0/24):
// a 10,000-command pipeline in one buffer, 200 concurrent clients, a client that stops reading
// (backpressure) and clients that vanish with requests in flight. Replies must come back in
// request order and correct, and the cluster must end up exactly as the clients' ledgers say.

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/fake_upstream/direct_cluster.h"
#include "tests/integration/fake_upstream/resp_client.h"
#include "tests/integration/fixture/local_cluster.h"
#include "tests/integration/fixture/suite.h"

namespace slotproxy::testing {
namespace {

constexpr int kNet = kNetPipeline;
constexpr int kTimeoutMs = 30000;

// A reply as comparable text: nil is "(nil)", everything else as describe() shows it.
std::string text(const redisReply* r) {
  return r != nullptr && r->type == REDIS_REPLY_NIL ? "(nil)" : describe(r);
}

class PipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    suite_.start({.net = kNet}, "127.0." + std::to_string(kNet) + "." + std::to_string(kProxyHost));
    cluster_ = suite_.cluster;
    proxy_ = suite_.proxy;
  }
  static void TearDownTestSuite() {
    suite_.stop();
    cluster_ = nullptr;
    proxy_ = nullptr;
  }

  void SetUp() override {
    if (!ProxyProcess::available()) {
      GTEST_SKIP() << "slotproxy is not built (no SLOTPROXY_BIN)";
    }
    suite_.expectUp();
    if (HasFatalFailure()) return;
    direct_ = std::make_unique<DirectCluster>(*cluster_);
    ASSERT_TRUE(direct_->ok()) << "no complete slot map from the cluster";
  }
  void TearDown() override {
    if (proxy_ != nullptr) {
      EXPECT_TRUE(proxy_->running()) << "slotproxy died:\n" << tailFile(proxy_->log(), 30);
    }
  }

  std::unique_ptr<RespClient> rawClient() {
    std::string error;
    auto c = RespClient::connect(proxy_->address(), &error);
    EXPECT_NE(c, nullptr) << error;
    return c;
  }

  static SuiteCluster suite_;
  static LocalCluster* cluster_;
  static ProxyProcess* proxy_;
  std::unique_ptr<DirectCluster> direct_;
};
LocalCluster* PipelineTest::cluster_ = nullptr;
ProxyProcess* PipelineTest::proxy_ = nullptr;
SuiteCluster PipelineTest::suite_;

TEST_F(PipelineTest, TenThousandCommandsInOneBufferAreAnsweredInOrder) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const std::string prefix = "pipe:" + std::to_string(seed) + ":";
  constexpr int kCommands = 10000;
  // String keys (SET/GET) and counters (INCR/GET), spread over all slots.
  std::vector<std::string> strings;
  std::vector<std::string> counters;
  for (int i = 0; i < 300; ++i) {
    strings.push_back(prefix + "s" + std::to_string(i));
    counters.push_back(prefix + "c" + std::to_string(i));
  }
  std::map<std::string, std::string> model;
  std::string buffer;
  std::vector<std::string> expected;
  for (int i = 0; i < kCommands; ++i) {
    const uint32_t op = rng() % 4;
    if (op == 0) {
      const std::string& k = strings[rng() % strings.size()];
      const std::string v = "v" + std::to_string(i);
      buffer += encodeCommand({"SET", k, v});
      model[k] = v;
      expected.push_back("OK");
    } else if (op == 1) {
      const std::string& k = (rng() % 2 == 0 ? strings : counters)[rng() % strings.size()];
      buffer += encodeCommand({"GET", k});
      const auto it = model.find(k);
      expected.push_back(it == model.end() ? "(nil)" : it->second);
    } else {
      const std::string& k = counters[rng() % counters.size()];
      buffer += encodeCommand({"INCR", k});
      const long long n = model.count(k) != 0 ? std::stoll(model[k]) + 1 : 1;
      model[k] = std::to_string(n);
      expected.push_back("(integer) " + std::to_string(n));
    }
  }

  auto client = rawClient();
  ASSERT_NE(client, nullptr);
  std::vector<ReplyPtr> replies;
  std::string error;
  ASSERT_TRUE(client->exchange(buffer, kCommands, &replies, kTimeoutMs, &error)) << error;
  ASSERT_EQ(replies.size(), static_cast<size_t>(kCommands));
  int wrong = 0;
  for (int i = 0; i < kCommands && wrong < 10; ++i) {
    const std::string got = text(replies[static_cast<size_t>(i)].get());
    if (got != expected[static_cast<size_t>(i)]) {
      ADD_FAILURE() << "reply " << i << ": " << got << ", expected "
                    << expected[static_cast<size_t>(i)];
      ++wrong;
    }
  }
  EXPECT_FALSE(client->readableWithin(0)) << "more replies than commands";
  for (const auto& [k, v] : model) {
    EXPECT_TRUE(replyIs(direct_->onOwner(k, {"GET", k}).get(), v)) << k;
  }
}

TEST_F(PipelineTest, RequestsArrivingInFragmentsAreReassembled) {
  // A pipeline cut at random points (1 byte to 8 kB), with values bigger than the proxy's 64 kB
  // read chunk, inline commands among multibulk ones.
  std::mt19937 rng(11);
  std::string buffer;
  std::vector<std::string> expected;
  std::map<std::string, std::string> values;
  for (int i = 0; i < 300; ++i) {
    const std::string key = "frag:" + std::to_string(i % 40);
    if (i % 10 == 3) {
      std::string v(70000 + rng() % 70000, 'x');
      v.replace(0, 8, std::to_string(10000000 + i));
      buffer += encodeCommand({"SET", key, v});
      values[key] = v;
      expected.push_back("OK");
    } else if (i % 10 == 7) {
      buffer += "PING\r\n";
      expected.push_back("PONG");
    } else if (i % 2 == 0) {
      const std::string v = "small-" + std::to_string(i);
      buffer += encodeCommand({"SET", key, v});
      values[key] = v;
      expected.push_back("OK");
    } else {
      buffer += encodeCommand({"GET", key});
      expected.push_back(values.count(key) != 0 ? values[key] : "(nil)");
    }
  }
  auto client = rawClient();
  ASSERT_NE(client, nullptr);
  std::string error;
  size_t pos = 0;
  while (pos < buffer.size()) {
    const size_t n = std::min(buffer.size() - pos, static_cast<size_t>(1 + rng() % 8192));
    // Sends the fragment, reading what has arrived meanwhile (parsed at the end).
    std::vector<ReplyPtr> none;
    ASSERT_TRUE(
        client->exchange(std::string_view(buffer).substr(pos, n), 0, &none, kTimeoutMs, &error))
        << error;
    pos += n;
  }
  std::vector<ReplyPtr> replies;
  ASSERT_TRUE(client->readReplies(expected.size(), &replies, kTimeoutMs, &error)) << error;
  for (size_t i = 0; i < expected.size(); ++i) {
    const std::string got = text(replies[i].get());
    EXPECT_TRUE(got == expected[i])
        << "reply " << i << ": " << got.substr(0, 40) << " != " << expected[i].substr(0, 40);
  }
}

TEST_F(PipelineTest, TwoHundredConcurrentClientsGetTheirOwnRepliesAndExactCounters) {
  constexpr int kClients = 200;
  constexpr int kIncrs = 200;
  constexpr int kKeysPerClient = 4;
  std::mutex mu;
  std::condition_variable cv;
  int connected = 0;
  bool go = false;
  std::vector<std::string> failures(kClients);
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      ContextPtr c(proxy_->connect());
      {
        std::unique_lock<std::mutex> lock(mu);
        ++connected;
        cv.notify_all();
        cv.wait(lock, [&] { return go; });
      }
      std::string& failure = failures[static_cast<size_t>(t)];
      if (c == nullptr) {
        failure = "cannot connect";
        return;
      }
      const std::string mine = "conc:" + std::to_string(t) + ":";
      for (int i = 0; i < kIncrs && failure.empty(); ++i) {
        const std::string key = mine + std::to_string(i % kKeysPerClient);
        const long long want = i / kKeysPerClient + 1;
        ReplyPtr r = command(c.get(), {"INCR", key});
        if (r == nullptr || r->type != REDIS_REPLY_INTEGER || r->integer != want) {
          failure = "INCR " + key + ": " + describe(r.get(), c.get()) + ", expected " +
                    std::to_string(want);
        } else if (i % 10 == 0) {
          const std::string value = "client " + std::to_string(t) + " step " + std::to_string(i);
          ReplyPtr set = command(c.get(), {"SET", mine + "s", value});
          ReplyPtr get = command(c.get(), {"GET", mine + "s"});
          ReplyPtr counter = command(c.get(), {"GET", key});
          if (!replyIs(set.get(), "OK") || !replyIs(get.get(), value) ||
              !replyIs(counter.get(), std::to_string(want))) {
            failure = "step " + std::to_string(i) + ": SET " + describe(set.get(), c.get()) +
                      ", GET " + describe(get.get(), c.get()) + " (expected " + value +
                      "), GET counter " + describe(counter.get(), c.get());
          }
        }
      }
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return connected == kClients; }));
    go = true;
    cv.notify_all();
  }
  for (std::thread& th : threads) {
    th.join();
  }
  int failed = 0;
  for (int t = 0; t < kClients; ++t) {
    if (!failures[static_cast<size_t>(t)].empty() && ++failed <= 10) {
      ADD_FAILURE() << "client " << t << ": " << failures[static_cast<size_t>(t)];
    }
  }
  EXPECT_EQ(failed, 0);
  for (int t = 0; t < kClients; ++t) {
    for (int k = 0; k < kKeysPerClient; ++k) {
      const std::string key = "conc:" + std::to_string(t) + ":" + std::to_string(k);
      EXPECT_TRUE(replyIs(direct_->onOwner(key, {"GET", key}).get(),
                          std::to_string(kIncrs / kKeysPerClient)))
          << key;
    }
  }
}

TEST_F(PipelineTest, ClientThatStopsReadingIsPausedThenReadsEverything) {
  std::mt19937 rng(3);
  std::string big(1 << 20, '\0');
  for (char& ch : big) {
    ch = static_cast<char>(rng());
  }
  ASSERT_TRUE(replyIs(direct_->onOwner("bp:big", {"SET", "bp:big", big}).get(), "OK"));
  // 40 MB of replies, then 64 MB of requests: more than the kernel buffers between the client
  // and the proxy can hold, so once the proxy stops reading, the client's sends block.
  constexpr int kGets = 40;
  constexpr int kSets = 1000;
  std::string value(64 << 10, 'v');
  std::string gets;
  for (int i = 0; i < kGets; ++i) {
    gets += encodeCommand({"GET", "bp:big"});
  }
  std::string sets;
  for (int i = 0; i < kSets; ++i) {
    value.replace(0, 8, std::to_string(10000000 + i));
    sets += encodeCommand({"SET", "bp:set:" + std::to_string(i), value});
  }

  auto slow = rawClient();
  ASSERT_NE(slow, nullptr);
  // First the GETs, until their replies fill our receive buffer: from then on the proxy holds
  // more output for us than its high watermark.
  std::string error;
  ASSERT_TRUE(slow->sendAll(gets, kTimeoutMs, &error)) << error;
  int queued = -1;
  ASSERT_TRUE(waitFor(
      [&] {
        int now = 0;
        ioctl(slow->fd(), FIONREAD, &now);
        const bool full = now > 0 && now == queued;
        queued = now;
        return full;
      },
      kTimeoutMs, 300))
      << "replies stopped arriving at " << queued << " bytes";
  std::string_view unsent = sets;
  // Write without reading until the proxy stops taking our bytes: the socket stays unwritable
  // for a while with bytes left.
  bool stalled = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
  while (!unsent.empty() && !stalled && std::chrono::steady_clock::now() < deadline) {
    const ssize_t n = slow->sendSome(unsent);
    ASSERT_GE(n, 0) << std::strerror(errno);
    unsent.remove_prefix(static_cast<size_t>(n));
    pollfd p{slow->fd(), POLLOUT, 0};
    stalled = !unsent.empty() && poll(&p, 1, 500) == 0;
  }
  ASSERT_TRUE(stalled) << (unsent.empty()
                               ? "the proxy read the whole pipeline without the client reading"
                               : "the proxy kept reading slowly but never paused");
  RecordProperty("bytes_unsent_at_stall", std::to_string(unsent.size()));
  // ...while other clients are served normally.
  ContextPtr other(proxy_->connect());
  EXPECT_TRUE(replyIs(command(other.get(), {"PING"}).get(), "PONG"));
  EXPECT_TRUE(replyIs(command(other.get(), {"SET", "bp:other", "fine"}).get(), "OK"));
  EXPECT_TRUE(replyIs(command(other.get(), {"GET", "bp:other"}).get(), "fine"));
  pollfd still{slow->fd(), POLLOUT, 0};
  EXPECT_EQ(poll(&still, 1, 0), 0) << "the proxy resumed reading a client that does not read";

  // Now read everything (sending the rest as the proxy takes it).
  std::vector<ReplyPtr> replies;
  ASSERT_TRUE(slow->exchange(unsent, kGets + kSets, &replies, 60000, &error)) << error;
  for (int i = 0; i < kGets; ++i) {
    const redisReply* r = replies[static_cast<size_t>(i)].get();
    ASSERT_EQ(r->type, REDIS_REPLY_STRING) << i << ": " << describe(r).substr(0, 100);
    EXPECT_TRUE(std::string_view(r->str, r->len) == big) << "GET reply " << i << " differs";
  }
  for (int i = 0; i < kSets; ++i) {
    EXPECT_TRUE(replyIs(replies[static_cast<size_t>(kGets + i)].get(), "OK")) << i;
  }
  for (int i = 0; i < kSets; i += 37) {
    const std::string key = "bp:set:" + std::to_string(i);
    value.replace(0, 8, std::to_string(10000000 + i));
    EXPECT_TRUE(replyIs(direct_->onOwner(key, {"GET", key}).get(), value)) << key;
  }
}

TEST_F(PipelineTest, ClientsVanishingWithRequestsInFlightDoNotDisturbOthers) {
  ASSERT_TRUE(replyIs(
      direct_->onOwner("vanish:big", {"SET", "vanish:big", std::string(256 << 10, 'b')}).get(),
      "OK"));
  // A steady client with its own ledger, on the same backend connections as the vanishing ones.
  std::atomic<bool> stop{false};
  std::string steady_failure;
  std::map<std::string, long long> ledger;
  std::thread steady([&] {
    ContextPtr c(proxy_->connect());
    if (c == nullptr) {
      steady_failure = "cannot connect";
      return;
    }
    for (long long i = 0; !stop.load() && steady_failure.empty(); ++i) {
      const std::string key = "vanish:steady:" + std::to_string(i % 16);
      ReplyPtr r = command(c.get(), {"INCR", key});
      const long long want = ++ledger[key];
      if (r == nullptr || r->type != REDIS_REPLY_INTEGER || r->integer != want) {
        steady_failure = "INCR " + key + ": " + describe(r.get(), c.get()) + ", expected " +
                         std::to_string(want);
      }
    }
  });

  // Clients that pipeline reads and writes, then reset or close the connection mid-flight.
  std::string batch;
  for (int i = 0; i < 500; ++i) {
    batch += encodeCommand({"INCR", "vanish:gone:" + std::to_string(i % 50)});
    if (i % 25 == 0) {
      batch += encodeCommand({"GET", "vanish:big"});
      batch += encodeCommand({"MGET", "vanish:big", "vanish:gone:1", "vanish:gone:2"});
    }
  }
  for (int round = 0; round < 30; ++round) {
    auto gone = rawClient();
    ASSERT_NE(gone, nullptr);
    std::string error;
    ASSERT_TRUE(gone->sendAll(batch, kTimeoutMs, &error)) << error;
    if (round % 3 == 2) {
      // Reads a few replies first, then closes (FIN) with the rest in flight.
      std::vector<ReplyPtr> some;
      ASSERT_TRUE(gone->readReplies(5, &some, kTimeoutMs, &error)) << error;
      gone.reset();
    } else {
      gone->abort();  // RST
    }
  }
  stop.store(true);
  steady.join();
  EXPECT_EQ(steady_failure, "");
  EXPECT_TRUE(proxy_->running()) << "slotproxy died:\n" << tailFile(proxy_->log(), 30);
  for (const auto& [key, n] : ledger) {
    EXPECT_TRUE(replyIs(direct_->onOwner(key, {"GET", key}).get(), std::to_string(n))) << key;
  }
  // A new client is served, in order, on the same backend connections.
  auto fresh = rawClient();
  ASSERT_NE(fresh, nullptr);
  std::vector<ReplyPtr> replies;
  std::string error;
  ASSERT_TRUE(fresh->exchange(encodeCommand({"SET", "vanish:after", "1"}) +
                                  encodeCommand({"INCR", "vanish:after"}) +
                                  encodeCommand({"GET", "vanish:after"}),
                              3, &replies, kTimeoutMs, &error))
      << error;
  EXPECT_TRUE(replyIs(replies[0].get(), "OK")) << describe(replies[0].get());
  EXPECT_EQ(text(replies[1].get()), "(integer) 2");
  EXPECT_TRUE(replyIs(replies[2].get(), "2")) << describe(replies[2].get());
  // Every vanished connection is gone from the proxy's books; only `fresh` is left.
  EXPECT_TRUE(waitFor(
      [&] {
        return scrapeMetric(proxy_->adminAddress(), "slotproxy_client_connections").value_or(-1) ==
               1;
      },
      kTimeoutMs))
      << "slotproxy_client_connections = "
      << scrapeMetric(proxy_->adminAddress(), "slotproxy_client_connections").value_or(-1);
}

}  // namespace
}  // namespace slotproxy::testing
