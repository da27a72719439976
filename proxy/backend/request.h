#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace slotproxy::client {
class ClientConn;
}

namespace slotproxy::backend {

class BackendNode;
struct SplitState;

// One command on its way through the proxy: a client's command, or one part of a split or
// fanned-out command. Ownership: a top-level request belongs to its client's reply FIFO; when the
// client goes away with the request still at a node or held, the request is orphaned (`client`
// null) and whoever completes it frees it. A part belongs to its parent, which lives until its
// last part completes.
struct Request {
  // Requests are recycled through a per-thread free list (with their buffers' capacity): one
  // allocation per request is measurable at a few hundred thousand requests per second.
  static Request* make();
  static void release(Request* r);

  client::ClientConn* client = nullptr;  // top-level only; null once orphaned
  Request* next = nullptr;               // next in the client's reply FIFO
  Request* parent = nullptr;             // parts: the client-visible request
  std::unique_ptr<SplitState> split;     // parents: the parts' plan and replies

  std::string payload;  // the RESP command as sent to Redis
  std::string reply;    // the reply frame, once done and waiting for earlier replies to leave

  uint64_t start_ns = 0;      // uv_hrtime() when the client's command was parsed
  uint64_t hold_until = 0;    // loop time after which a held request is failed (0: not held)
  uint64_t sent_ms = 0;       // loop time when the bytes were handed to the kernel
  uint32_t conn_hint = 0;     // spreads clients over a node's connections
  uint32_t part_index = 0;    // parts: index into the parent's SplitState
  uint16_t slot = 0;          // the slot whose primary serves this request
  uint16_t cmd_id = 0;        // command table id (metrics)
  uint8_t redirects = 0;      // MOVED/ASK/TRYAGAIN followed so far
  bool readonly = false;      // may be retried on another connection if the outcome is unknown
  bool retried = false;       // a read already retried once after losing its connection
  bool blocking = false;      // BLPOP, XREAD BLOCK...: sent over a connection of its own
  bool suspect = false;       // in flight on a node the map no longer names primary: its
                              // success reply is not trusted (see BackendConn::distrust)
  bool done = false;          // `reply` holds the answer
  bool resp3 = false;         // its client spoke RESP3 when it sent the command
  bool close_after = false;   // QUIT / protocol error: close the client after this reply
  uint8_t error_kind = 0xFF;  // server::ErrorKind of an error the proxy answered with
  BackendNode* ask_target = nullptr;  // ASK redirect: send once, with ASKING, to this node
  // A transaction (`tx`: MULTI, tx_commands commands, EXEC in `payload`): the replies before
  // EXEC's are consumed by the connection; the first error among them is kept in `ahead_error`
  // (a MOVED there explains EXEC's EXECABORT).
  bool tx = false;
  uint32_t tx_commands = 0;
  std::string ahead_error;
  // Sent just before `payload`, its reply dropped: the SCRIPT LOAD of an EVALSHA that met a node
  // lacking its script (Worker::handleErrorReply), sent again with it if need be.
  std::string prelude;
  // Travels on its client's WATCH connection (Worker::dispatchWatched): a WATCH, or the EXEC
  // (`tx`) of a transaction that follows one.
  bool watched = false;
};

// The bookkeeping of a request split over several slots (MGET/MSET/DEL...) or fanned out to every
// primary (DBSIZE, KEYS, FLUSHALL...).
struct SplitState {
  std::vector<std::string> replies;  // by part index
  size_t remaining = 0;              // parts not yet answered
  // Merges the part replies into the parent's reply (set by whoever split the request).
  std::function<void(std::span<const std::string> replies, std::string* out)> merge;
};

}  // namespace slotproxy::backend
