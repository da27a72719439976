// ClientConn's reply FIFO, driven by hand without a socket: the handler hears when the client
// has requests in flight and when it has none, whatever order the replies complete in, and a
// blocked client counts as idle (the worker's write coalescing asks whether other clients are
// busy).

#include "proxy/client/client_conn.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/client/client_handler.h"

namespace slotproxy::client {
namespace {

class FakeHandler : public ClientHandler {
 public:
  const config::Config& config() const override { return config_; }
  const resp::Limits& respLimits() const override { return limits_; }
  void handleCommand(ClientConn&, std::span<const std::string_view>, std::string_view) override {}
  void scheduleFlush(ClientConn*) override {}
  void onClientBusy(bool busy) override { events.push_back(busy); }
  void onClientClosed(ClientConn*) override {}
  void countBytesOut(size_t) override {}

  std::vector<bool> events;  // onClientBusy calls, in order

 private:
  config::Config config_;
  resp::Limits limits_;
};

TEST(ClientConnTest, BusyWhileRequestsAreInFlight) {
  FakeHandler h;
  ClientConn c(h, 1);
  auto* a = backend::Request::make();
  auto* b = backend::Request::make();
  c.enqueue(a);
  EXPECT_EQ(h.events, std::vector<bool>{true});
  c.enqueue(b);
  EXPECT_EQ(c.pending(), 2u);
  c.complete(b, "+B\r\n");  // answered first, but waits for a's reply: still in flight
  EXPECT_EQ(h.events, std::vector<bool>{true});
  EXPECT_EQ(c.pending(), 2u);
  c.complete(a, "+A\r\n");  // both leave, in order
  EXPECT_EQ(c.pending(), 0u);
  EXPECT_EQ(c.outputBytes(), 8u);
  EXPECT_EQ(h.events, (std::vector<bool>{true, false}));

  // A local reply is enqueued and answered at once: busy for that moment only.
  c.enqueueReply("+PONG\r\n");
  EXPECT_EQ(h.events, (std::vector<bool>{true, false, true, false}));
  EXPECT_EQ(c.pending(), 0u);
}

// A client blocked by a blocking command (BLPOP...) sends nothing until it is answered: idle for
// the handler while blocked, busy again once unblocked with requests still in flight.
TEST(ClientConnTest, BlockedClientsCountAsIdle) {
  FakeHandler h;
  ClientConn c(h, 1);
  auto* get = backend::Request::make();
  auto* blpop = backend::Request::make();
  c.enqueue(get);
  c.enqueue(blpop);
  c.block();
  EXPECT_EQ(h.events, (std::vector<bool>{true, false}));
  c.complete(get, "$1\r\nv\r\n");  // the blocking command is still in flight
  c.unblock();
  EXPECT_EQ(h.events, (std::vector<bool>{true, false, true}));
  c.block();
  c.complete(blpop, "*-1\r\n");  // answered while blocked: no call, it was idle already
  EXPECT_EQ(h.events, (std::vector<bool>{true, false, true, false}));
  c.unblock();  // nothing in flight: still idle
  EXPECT_EQ(h.events, (std::vector<bool>{true, false, true, false}));
  EXPECT_EQ(c.pending(), 0u);
}

}  // namespace
}  // namespace slotproxy::client
