// The admin server over real sockets on 127.0.40.1 (port 0): keep-alive, pipelining, errors,
// limits. The server runs on its own loop thread; the client is a plain blocking socket.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/admin/http_client.h"
#include "tests/unit/admin/test_maps.h"

namespace slotproxy::admin {
namespace {

using testing::closedByPeer;
using testing::connectTo;
using ::testing::HasSubstr;
using testing::readResponse;
using testing::Reply;
using testing::sendAll;
using testing::ServerThread;

constexpr const char* kHost = "127.0.40.1";

std::string get(std::string_view path, std::string_view extra = "") {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: admin\r\n" + std::string(extra) + "\r\n";
}

// One connection to the server, closed on destruction.
struct Client {
  explicit Client(uint16_t port) : fd(connectTo(kHost, port)) {}
  ~Client() {
    if (fd >= 0) ::close(fd);
  }
  Reply roundTrip(const std::string& request) {
    Reply r;
    EXPECT_TRUE(sendAll(fd, request));
    EXPECT_TRUE(readResponse(fd, &buffer, &r));
    return r;
  }
  int fd;
  std::string buffer;
};

class AdminHttpTest : public ::testing::Test {
 protected:
  void startServer(AdminLimits limits = {}) {
    server_ = std::make_unique<ServerThread>(stats_, kHost, limits);
    ASSERT_NE(server_->port(), 0) << server_->error();
  }
  uint16_t port() const { return server_->port(); }

  server::Stats stats_;
  std::unique_ptr<ServerThread> server_;
};

TEST_F(AdminHttpTest, KeepAliveServesManyRequestsOnOneConnection) {
  startServer();
  Client c(port());
  ASSERT_GE(c.fd, 0);
  for (int i = 0; i < 20; ++i) {
    Reply r = c.roundTrip(get("/healthz"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "ok\n");
    EXPECT_EQ(r.headers.count("connection"), 0u);  // HTTP/1.1: keep-alive by default
  }
  Reply r = c.roundTrip(get("/metrics"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(r.body, HasSubstr("slotproxy_slots{state=\"unassigned\"} 16384\n"));
}

TEST_F(AdminHttpTest, PipelinedRequestsAreAnsweredInOrder) {
  startServer();
  Client c(port());
  ASSERT_TRUE(sendAll(c.fd, get("/healthz") + get("/readyz") + get("/nope") + get("/topology")));
  Reply r;
  ASSERT_TRUE(readResponse(c.fd, &c.buffer, &r));
  EXPECT_EQ(r.status, 200);
  ASSERT_TRUE(readResponse(c.fd, &c.buffer, &r));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "no topology yet\n");
  ASSERT_TRUE(readResponse(c.fd, &c.buffer, &r));
  EXPECT_EQ(r.status, 404);
  ASSERT_TRUE(readResponse(c.fd, &c.buffer, &r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "application/json");
}

TEST_F(AdminHttpTest, ReadyzFollowsTheCurrentMap) {
  startServer();
  Client c(port());
  EXPECT_EQ(c.roundTrip(get("/readyz")).status, 503);
  {
    std::lock_guard<std::mutex> lock(stats_.mu);
    stats_.map = testing::threeShards(/*failed_b=*/true);
  }
  Reply r = c.roundTrip(get("/readyz"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "5462 slots without a live primary (first: 5461): owner marked failed\n");
  {
    std::lock_guard<std::mutex> lock(stats_.mu);
    stats_.map = testing::threeShards();
  }
  r = c.roundTrip(get("/readyz"));
  EXPECT_EQ(r.status, 200);
  r = c.roundTrip(get("/topology"));
  EXPECT_THAT(r.body, HasSubstr("\"id\": \"bbbb\""));
  r = c.roundTrip(get("/"));
  EXPECT_EQ(r.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_THAT(r.body, HasSubstr("10.0.0.3:6379"));
}

TEST_F(AdminHttpTest, UnknownPathIs404AndTheConnectionStaysOpen) {
  startServer();
  Client c(port());
  EXPECT_EQ(c.roundTrip(get("/admin")).status, 404);
  EXPECT_EQ(c.roundTrip(get("/healthz")).status, 200);
}

TEST_F(AdminHttpTest, PostIs405WithAllow) {
  startServer();
  Client c(port());
  Reply r = c.roundTrip("POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "GET");
  EXPECT_EQ(c.roundTrip(get("/healthz")).status, 200);  // the body was skipped cleanly
}

TEST_F(AdminHttpTest, GarbageIs400AndCloses) {
  startServer();
  Client c(port());
  Reply r = c.roundTrip("\x16\x03\x01 this is not http\r\n\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_TRUE(closedByPeer(c.fd));
}

TEST_F(AdminHttpTest, OversizedHeadIs431AndCloses) {
  startServer();
  Client c(port());
  Reply r = c.roundTrip(get("/healthz", "X-Big: " + std::string(10000, 'x') + "\r\n"));
  EXPECT_EQ(r.status, 431);
  EXPECT_TRUE(closedByPeer(c.fd));
}

TEST_F(AdminHttpTest, ConnectionCloseIsHonoured) {
  startServer();
  Client c(port());
  Reply r = c.roundTrip(get("/healthz", "Connection: close\r\n"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_TRUE(closedByPeer(c.fd));
}

TEST_F(AdminHttpTest, HalfClosedClientStillGetsEveryAnswer) {
  AdminLimits limits;
  limits.max_output_bytes = 8 * 1024;  // some requests wait in pending input at EOF
  startServer(limits);
  Client c(port());
  std::string batch;
  for (int i = 0; i < 10; ++i) batch += get("/metrics");
  ASSERT_TRUE(sendAll(c.fd, batch));
  ::shutdown(c.fd, SHUT_WR);
  for (int i = 0; i < 10; ++i) {
    Reply r;
    ASSERT_TRUE(readResponse(c.fd, &c.buffer, &r)) << i;
    EXPECT_EQ(r.status, 200);
  }
  EXPECT_TRUE(closedByPeer(c.fd));
}

TEST_F(AdminHttpTest, Http10GetsOneAnswerThenClose) {
  startServer();
  int status = 0;
  EXPECT_EQ(testing::httpGet10(kHost, port(), "/healthz", &status), "ok\n");
  EXPECT_EQ(status, 200);
}

TEST_F(AdminHttpTest, ConnectionLimitRejectsTheExtraOneWith503) {
  AdminLimits limits;
  limits.max_connections = 4;
  startServer(limits);
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<Client>(port()));
    EXPECT_EQ(clients.back()->roundTrip(get("/healthz")).status, 200);
  }
  {
    Client extra(port());
    Reply r;
    ASSERT_TRUE(readResponse(extra.fd, &extra.buffer, &r));  // answered without a request
    EXPECT_EQ(r.status, 503);
    EXPECT_THAT(r.body, HasSubstr("max 4"));
    EXPECT_TRUE(closedByPeer(extra.fd));
  }
  // The admitted ones still work; once one leaves, a newcomer is admitted.
  EXPECT_EQ(clients[0]->roundTrip(get("/healthz")).status, 200);
  clients.pop_back();
  bool admitted = false;
  for (int attempt = 0; attempt < 50 && !admitted; ++attempt) {
    Client again(port());
    if (sendAll(again.fd, get("/healthz"))) {
      Reply r;
      admitted = readResponse(again.fd, &again.buffer, &r) && r.status == 200;
    }
    if (!admitted) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(admitted);
}

TEST_F(AdminHttpTest, IdleConnectionsAreClosed) {
  AdminLimits limits;
  limits.idle_timeout_ms = 200;
  startServer(limits);
  Client c(port());
  EXPECT_EQ(c.roundTrip(get("/healthz")).status, 200);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(closedByPeer(c.fd));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  // A client that trickles a request head never completes one: closed as well.
  Client slow(port());
  const std::string req = get("/healthz");
  bool closed = false;
  for (size_t i = 0; i < req.size() - 1 && !closed; ++i) {
    closed = !sendAll(slow.fd, req.substr(i, 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  EXPECT_TRUE(closed || closedByPeer(slow.fd));
}

TEST_F(AdminHttpTest, ManyPipelinedScrapesWithASmallOutputLimit) {
  AdminLimits limits;
  limits.max_output_bytes = 16 * 1024;  // a few /metrics answers: reading pauses in between
  startServer(limits);
  {
    std::lock_guard<std::mutex> lock(stats_.mu);
    stats_.map = testing::threeShards();
  }
  Client c(port());
  std::string batch;
  constexpr int kRequests = 200;
  for (int i = 0; i < kRequests; ++i) batch += get(i % 2 ? "/metrics" : "/topology");
  std::thread writer([&] { EXPECT_TRUE(sendAll(c.fd, batch)); });
  int answered = 0;
  for (int i = 0; i < kRequests; ++i) {
    Reply r;
    if (!readResponse(c.fd, &c.buffer, &r)) break;
    EXPECT_EQ(r.status, 200);
    EXPECT_THAT(r.body,
                HasSubstr(i % 2 ? "slotproxy_slots{state=\"ok\"} 16384" : "\"version\": 7"));
    ++answered;
  }
  writer.join();
  EXPECT_EQ(answered, kRequests);
}

TEST_F(AdminHttpTest, ClientsVanishingMidAnswerAreHarmless) {
  startServer();
  for (int i = 0; i < 20; ++i) {
    const int fd = connectTo(kHost, port());
    ASSERT_GE(fd, 0);
    std::string many;
    for (int j = 0; j < 50; ++j) many += get("/metrics");
    sendAll(fd, many);
    ::close(fd);  // unread answers: the server sees a reset or EOF
  }
  Client c(port());
  EXPECT_EQ(c.roundTrip(get("/healthz")).status, 200);
}

TEST_F(AdminHttpTest, AddressInUseFailsStart) {
  startServer();
  uv_loop_t loop;
  uv_loop_init(&loop);
  config::Config cfg;
  cfg.admin = {kHost, port()};
  std::string error;
  {
    AdminServer second(&loop, stats_, cfg);
    EXPECT_FALSE(second.start(&error));
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&loop), 0);
  EXPECT_THAT(error, HasSubstr("127.0.40.1:"));
  EXPECT_THAT(error, HasSubstr("address already in use"));
}

}  // namespace
}  // namespace slotproxy::admin
