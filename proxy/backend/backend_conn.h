#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "proxy/backend/request.h"
#include "proxy/net/io_buf.h"
#include "proxy/resp/decoder.h"

namespace slotproxy::backend {

class BackendConn;

// What a connection reports to its owner. Callbacks may destroy nothing: the connection stays
// valid while any of them runs.
class BackendEvents {
 public:
  virtual ~BackendEvents() = default;
  // One reply frame for `request` (popped from the FIFO before the call).
  virtual void onReply(BackendConn& conn, Request* request, std::string_view frame,
                       resp::Type type) = 0;
  // The connection failed or was closed by fail(). `unsent` were never handed to the kernel and
  // can go anywhere; `sent` may have reached Redis: their outcome is unknown.
  virtual void onFailed(BackendConn& conn, std::deque<Request*> unsent, std::deque<Request*> sent,
                        std::string_view reason) = 0;
  // A frame read on a subscriber connection (setSubscriber): a reply to SUBSCRIBE and friends,
  // or a published message. In order.
  virtual void onPush(BackendConn& conn, std::string_view frame) = 0;
  // Bytes are queued: call flush() soon (at the latest after the next non-blocking poll).
  virtual void wantFlush(BackendConn& conn) = 0;
  // `conn` is being destroyed: forget any wantFlush() not yet served.
  virtual void cancelFlush(BackendConn& conn) = 0;
  // A connection attempt starts (connecting); then it is established (connected true) or,
  // having been established, is gone (connected false).
  virtual void onConnecting(BackendConn& conn) = 0;
  virtual void onConnectedChanged(BackendConn& conn, bool connected) = 0;
};

// The command that authenticates a connection to a node: AUTH password, or AUTH username
// password (an ACL user); "" when `password` is empty (the nodes want no AUTH).
std::string authCommand(std::string_view username, std::string_view password);

// One pipelined TCP connection to a Redis node. Requests are written in order and answered in
// order (a FIFO of in-flight requests); writes queued during a loop turn leave in one write
// (the owner may let them wait one more turn to gather more: Worker::onCheck), or in several
// of a few kilobytes each when the turn queues more (kEarlyWriteBytes).
class BackendConn {
 public:
  // `auth`: the AUTH command every new connection starts with (authCommand), "" for none.
  // `resp3`: the connection speaks RESP3 (HELLO 3 after AUTH), for clients that chose it.
  BackendConn(uv_loop_t* loop, BackendEvents& events, BackendNode* node, const resp::Limits& limits,
              uint32_t connect_timeout_ms, std::string_view auth = {}, bool resp3 = false);
  ~BackendConn();
  BackendConn(const BackendConn&) = delete;
  BackendConn& operator=(const BackendConn&) = delete;

  BackendNode* node() const { return node_; }
  bool resp3() const { return resp3_; }
  // A connection for one blocking command: no request timeout (BLPOP 0 blocks for ever).
  void setBlocking(bool blocking = true) { blocking_ = blocking; }
  // Counts the connection in its node's ownConns() (one client's own) while set.
  void setOwn(bool own);
  // False once the connection holds state in Redis that outlives its requests (a WATCH given
  // up without EXEC): it is closed, never kept as a spare (BackendNode::keepSpare).
  void setReusable(bool reusable) { reusable_ = reusable; }
  bool reusable() const { return reusable_; }
  bool blocking() const { return blocking_; }
  // A subscribed client's connection (SUBSCRIBE, PSUBSCRIBE): its commands are written as they
  // come (sendRaw) and every frame read goes to onPush; there is no request FIFO and no timeout.
  void setSubscriber() { subscriber_ = blocking_ = true; }
  bool subscriber() const { return subscriber_; }
  void sendRaw(std::string_view bytes);
  // Queues `replies` commands of the proxy's own (`bytes`) ahead of later requests; their
  // replies are dropped.
  void sendUnanswered(std::string_view bytes, size_t replies);
  // True when every request in the FIFO has lost its client (or there is none).
  bool abandoned() const;
  // Takes every request out of the FIFO (for a connection about to be destroyed).
  void takeAll(std::deque<Request*>* out);
  bool connected() const { return state_ == State::kConnected; }
  // Whether it was ever established (false in onFailed: the node could not be reached).
  bool reached() const { return reached_; }
  bool idle() const { return state_ == State::kIdle; }
  size_t inFlight() const { return fifo_.size(); }

  // Queues `request` (its prelude, then ASKING when `asking`, then its payload), connecting
  // first if needed.
  void send(Request* request, bool asking);
  // Hands the queued bytes to the kernel.
  void flush();
  // Fails the connection now: in-flight requests go to onFailed, then the connection is idle and
  // reconnects on the next send().
  void fail(std::string_view reason);
  // The node is no longer a primary in the map. Requests already written are marked suspect: a
  // demoted master may still acknowledge writes it will lose when it rejoins as a replica, while
  // its MOVED answers (a graceful failover) are still good; the request timeout bounds the wait
  // for a hung one. Requests not written yet are taken back and appended to `unsent`.
  void distrust(std::deque<Request*>* unsent);
  // Called by the owner's timer: fails the connection if it is connecting for longer than the
  // connect timeout, or if the oldest request written has waited longer than `request_timeout_ms`.
  void checkTimeouts(uint64_t now_ms, uint32_t request_timeout_ms);
  // Connects to ip:port (the node's current address) now, without a request.
  void connect(const std::string& ip, uint16_t port);

 private:
  enum class State : uint8_t { kIdle, kConnecting, kConnected };
  struct Handle;

  void onConnect(int status);
  void onRead(ssize_t nread, const uv_buf_t* buf);
  void onWrite(int status);
  // Hands the queued bytes to the kernel; `early`: from send(), where an error is left for the
  // next flush() to report.
  void write(bool early);
  void startWrite();
  void processInput(std::string_view data, bool from_shared);

  uv_loop_t* loop_;
  BackendEvents& events_;
  BackendNode* node_;
  uint32_t connect_timeout_ms_;
  std::string auth_;
  bool resp3_;
  uint8_t setup_replies_ = 0;  // replies to AUTH and HELLO 3 still to come (not in the FIFO)
  State state_ = State::kIdle;
  bool blocking_ = false;
  bool subscriber_ = false;
  bool reusable_ = true;
  bool own_ = false;
  bool reached_ = false;
  Handle* handle_ = nullptr;  // the live socket; freed in its close callback
  uint64_t connect_started_ = 0;

  std::deque<Request*> fifo_;  // awaiting a reply, in write order; nullptr = an ASKING reply
  size_t unsent_ = 0;          // entries at the back of fifo_ whose bytes are still in out_
  std::string out_;            // queued bytes not yet handed to the kernel
  std::string writing_;        // bytes of the write in progress
  bool write_active_ = false;

  net::IoBuf in_;  // a reply not yet complete
  resp::ReplyDecoder decoder_;
};

}  // namespace slotproxy::backend
