#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/backend/request.h"
#include "proxy/client/client_handler.h"
#include "proxy/net/io_buf.h"
#include "proxy/resp/decoder.h"

namespace slotproxy::client {

// One downstream connection. Commands are parsed from the socket and handed to the handler; their
// replies leave strictly in request order, whatever order the nodes answer in: a FIFO of requests
// is flushed from the front, each reply appended once everything before it has left. Writes are
// gathered per loop turn (flush() runs from the handler's check handle), and the handler may
// hold them back briefly for the rest of a pipeline's replies (mayWithhold()).
//
// Backpressure: reading stops while the output not yet taken by the client is above the high
// watermark or too many requests are in flight, and resumes below the low watermark.
class ClientConn {
 public:
  ClientConn(ClientHandler& handler, uint64_t id);
  ~ClientConn();
  ClientConn(const ClientConn&) = delete;
  ClientConn& operator=(const ClientConn&) = delete;

  // Accepts from `server` and starts reading; false (and the caller deletes this) on failure.
  bool accept(uv_stream_t* server);

  uint64_t id() const { return id_; }
  const std::string& name() const { return name_; }
  void setName(std::string_view name) { name_.assign(name); }
  // The client chose RESP3 (HELLO 3): its commands go over RESP3 node connections, and the
  // replies slotproxy makes itself use RESP3 types.
  bool resp3() const { return resp3_; }
  void setResp3(bool resp3) { resp3_ = resp3; }
  // Whether the client may run commands: it logged in with client-password, or none is set.
  bool authenticated() const { return authenticated_; }
  // Logs the client in or out (RESET); until it is in, Redis's caps on unauthenticated input
  // apply (RequestDecoder::setUnauthenticated). Without client-password it stays in.
  void setAuthenticated(bool yes);

  // Adds a request at the back of the reply FIFO (ownership passes to the FIFO).
  void enqueue(backend::Request* r);
  // Adds an already answered request (a local reply or an error).
  void enqueueReply(std::string_view reply, bool close_after = false);
  // `r` (in this client's FIFO) is answered with `frame`. Replies are appended to the output as
  // soon as everything before them has been.
  void complete(backend::Request* r, std::string_view frame);

  // A blocking command (BLPOP...) is in flight: like Redis, run nothing more from this client
  // until it is answered (input is still read and kept); unblock() resumes with it. A blocked
  // client counts as idle for the handler (onClientBusy): it sends nothing meanwhile.
  void block();
  void unblock();

  // Writes the gathered output (one write per loop turn).
  void flush();
  // Closes the connection; in-flight requests are orphaned and freed by whoever completes them.
  void close();
  size_t pending() const { return pending_; }
  // Reply bytes not yet taken by the client.
  size_t outputBytes() const { return out_.size() + writing_.size(); }
  // Replies are gathered while requests sent with them are still unanswered, and nothing calls
  // for the write now (not blocked, not paused by backpressure, not closing, under max_bytes):
  // the handler may hold the write back for the rest of the replies.
  bool mayWithhold(size_t max_bytes) const {
    return pending_ > 0 && !out_.empty() && out_.size() < max_bytes && !blocked_ && !paused_ &&
           !close_after_ && !closing_;
  }

 private:
  void onRead(ssize_t nread, const uv_buf_t* buf);
  void onWrite(int status);
  // Parses and dispatches as many commands as limits allow; returns bytes consumed.
  size_t process(std::string_view data);
  void popDone();
  void popped();      // a reply left the FIFO
  void updateBusy();  // tells the handler when busy (requests in flight, not blocked) changes
  void wantFlush();
  void updateReading();

  ClientHandler& handler_;
  uint64_t id_;
  uv_tcp_t tcp_{};  // (zeroed: a connection never accepted, as in tests, reads nothing)
  uv_write_t write_req_;
  std::string name_;  // CLIENT SETNAME

  net::IoBuf in_;  // unparsed input (only a command not yet complete, or input paused by limits)
  resp::RequestDecoder decoder_;
  bool authenticated_ = true;
  bool resp3_ = false;

  backend::Request* head_ = nullptr;  // reply FIFO
  backend::Request* tail_ = nullptr;
  size_t pending_ = 0;

  std::string out_;      // replies gathered this turn
  std::string writing_;  // bytes of the write in progress
  bool write_active_ = false;
  bool reading_ = false;
  bool paused_ = false;       // reading stopped by backpressure
  bool blocked_ = false;      // a blocking command is in flight
  bool busy_ = false;         // as last told to the handler
  bool close_after_ = false;  // QUIT or protocol error: close once the output is flushed
  bool input_done_ = false;   // a protocol error was answered: read nothing more
  bool closing_ = false;
  bool processing_ = false;

 public:
  bool in_flush_list = false;  // owned by the handler's flush list
  bool withheld = false;       // owned by the handler: its output is held back
};

}  // namespace slotproxy::client
