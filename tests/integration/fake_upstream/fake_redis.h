#pragma once

// Scripted fake Redis Cluster nodes for slotproxy's integration tests (Envoy's
// `simpleRedirection` style): each FakeRedis listens on its own loopback address, answers the
// topology queries (CLUSTER INFO / SHARDS / SLOTS / NODES) from a FakeTopology shared by all fake
// nodes of a test, hands every other command to a handler the test scripts, and records the
// exact bytes of each command it received.
//
// Replies leave each connection in command order, as from Redis: a reply the script holds back
// (FakeReply::held) also holds back every later reply on that connection until release().
// A reply can be written in pieces with pauses between them (a node that writes half a reply).
//
// Each FakeRedis runs one thread (poll loop); the handler runs on it. Every public method is
// thread-safe.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace slotproxy::testing {

// What a fake node writes in answer to one command.
struct FakeReply {
  std::vector<std::string> pieces;  // written in order; none at all is allowed (a silent node)
  int gap_ms = 0;                   // pause before each piece after the first
  bool held = false;                // written only after FakeRedis::release()
  bool close = false;               // then the node closes the connection (a node dying)

  static FakeReply of(std::string bytes) { return {{std::move(bytes)}, 0, false, false}; }
  static FakeReply inPieces(std::vector<std::string> pieces, int gap_ms) {
    return {std::move(pieces), gap_ms, false, false};
  }
  static FakeReply heldBack(std::string bytes) { return {{std::move(bytes)}, 0, true, false}; }
  // No reply: the connection is closed with the command in flight.
  static FakeReply hangUp() { return {{}, 0, false, true}; }
};

// The cluster the fake nodes describe: node ids and addresses, and which node owns which slots
// (every node is a primary). Shared by the fake nodes of a test; thread-safe.
class FakeTopology {
 public:
  struct Node {
    std::string id;  // 40 characters, like Redis's
    std::string ip;
    int port;
  };

  // Adds a node; returns its index.
  int addNode(const std::string& id, const std::string& ip, int port);
  // Gives slots [first, last] to node `index`.
  void assign(int first, int last, int index);
  int ownerOf(int slot) const;

  // false: CLUSTER SHARDS is an unknown subcommand, as on Redis 6.
  void setShardsSupported(bool supported);

  // The replies of a Redis 7.0 primary, as RESP2 bytes (CLUSTER SHARDS: Redis 6's error when
  // unsupported).
  std::string clusterShards() const;
  std::string clusterSlots() const;
  std::string clusterNodes() const;
  std::string clusterInfo() const;

 private:
  // Slot ranges of node `index`, ascending.
  std::vector<std::pair<int, int>> rangesOf(int index) const;

  mutable std::mutex mu_;
  std::vector<Node> nodes_;
  std::vector<int> owner_ = std::vector<int>(16384, -1);
  bool shards_supported_ = true;
};

class FakeRedis {
 public:
  struct Command {
    uint64_t conn;                  // connection number on this node, from 1
    std::vector<std::string> args;  // as received
    std::string raw;                // its exact bytes
  };
  // Runs on the fake node's thread for every command that is not a topology query.
  using Handler = std::function<FakeReply(const Command&)>;

  // `name` tags the default replies (GET k answers "<name>:k").
  FakeRedis(std::string name, std::string ip, int port, std::shared_ptr<FakeTopology> topology);
  ~FakeRedis();  // stops the thread and closes every socket
  FakeRedis(const FakeRedis&) = delete;
  FakeRedis& operator=(const FakeRedis&) = delete;

  bool start(std::string* error);
  std::string address() const { return ip_ + ":" + std::to_string(port_); }
  const std::string& name() const { return name_; }

  // Replaces the script; nullptr restores the default (defaultReply).
  void setHandler(Handler handler);
  // The default script: PING +PONG (PING x: x), ASKING +OK, SET +OK, GET k "<name>:k", MGET one
  // such value per key, anything else -ERR.
  FakeReply defaultReply(const Command& c) const;

  // Data commands received (topology queries excluded), in arrival order, and their raw bytes
  // concatenated.
  std::vector<Command> commands() const;
  std::string bytes() const;
  size_t commandCount() const;
  // Polls until at least `n` data commands arrived.
  bool waitForCommands(size_t n, int timeout_ms) const;
  // Forgets the recorded commands.
  void clearRecorded();

  // Releases every held reply (they then go out in order).
  void release();
  // Closes every connection accepted so far (a node restarting between requests); returns once
  // they are closed. New connections are accepted as before.
  void hangUpAll();
  // Replies (to data commands) completely written to the socket so far.
  size_t repliesWritten() const;
  // Topology queries answered so far.
  size_t topologyQueries() const;

 private:
  struct Pending {
    FakeReply reply;
    size_t next_piece = 0;
    int64_t due_ms = 0;  // when the next piece may go (steady clock)
    bool data = true;    // counts in repliesWritten
  };
  struct Conn {
    int fd;
    uint64_t number;
    std::string in;
    std::vector<Pending> out;  // FIFO
    std::string writing;       // bytes of the current piece not yet taken by the socket
    bool closed;               // the peer closed it: dropped by run()
  };

  void run();
  void onReadable(Conn& c);
  // Parses complete commands from c.in; false on a protocol error.
  bool parse(Conn& c);
  void answer(Conn& c, Command cmd);
  // Writes what is due on `c`; returns the next due time (or INT64_MAX).
  int64_t pump(Conn& c, bool* failed);
  void wake();

  const std::string name_;
  const std::string ip_;
  const int port_;
  std::shared_ptr<FakeTopology> topology_;

  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: release(), setHandler(), stop
  std::thread thread_;
  std::atomic<bool> stop_{false};
  uint64_t next_conn_ = 1;
  std::map<int, Conn> conns_;  // thread-owned

  mutable std::mutex mu_;
  Handler handler_;
  std::vector<Command> recorded_;
  size_t replies_written_ = 0;
  size_t topology_queries_ = 0;
  bool release_requested_ = false;
  bool hang_up_requested_ = false;
  uint64_t hang_ups_done_ = 0;
};

}  // namespace slotproxy::testing
