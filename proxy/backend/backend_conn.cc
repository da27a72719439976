#include "proxy/backend/backend_conn.h"

#include "proxy/backend/backend_node.h"
#include "proxy/net/event_clock.h"
#include "proxy/net/read_buffer.h"
#include "proxy/net/uv_util.h"
#include "proxy/resp/encoder.h"

namespace slotproxy::backend {
namespace {

constexpr size_t kReadChunk = net::kReadBufferSize;
constexpr std::string_view kAsking = "*1\r\n$6\r\nASKING\r\n";
// Queued bytes that leave at once rather than at the end of the loop turn. A turn that reads
// many pipelines would otherwise hold the first ones back while it parses the rest, the node
// idle meanwhile; past a few kilobytes the write costs little against the commands it carries.
// At -c 50 -P 16 over 4-5 interleaved rounds, 3-4 KB raised GET throughput 7-8% and SET 6-8%;
// 0.5-2 KB gained less (more writes and wakeups), 8 KB and more nothing (turns rarely gather that
// much for one node).
constexpr size_t kEarlyWriteBytes = 4096;

}  // namespace

struct BackendConn::Handle {
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  uv_write_t write_req;
  BackendConn* owner;  // null once the connection gave up this socket
};

std::string authCommand(std::string_view username, std::string_view password) {
  std::string out;
  if (password.empty()) return out;
  if (username.empty()) {
    const std::string_view args[] = {"AUTH", password};
    resp::appendCommand(out, args);
  } else {
    const std::string_view args[] = {"AUTH", username, password};
    resp::appendCommand(out, args);
  }
  return out;
}

BackendConn::BackendConn(uv_loop_t* loop, BackendEvents& events, BackendNode* node,
                         const resp::Limits& limits, uint32_t connect_timeout_ms,
                         std::string_view auth, bool resp3)
    : loop_(loop),
      events_(events),
      node_(node),
      connect_timeout_ms_(connect_timeout_ms),
      auth_(auth),
      resp3_(resp3),
      decoder_(limits) {}

BackendConn::~BackendConn() {
  setOwn(false);
  events_.cancelFlush(*this);
  if (state_ == State::kConnected) events_.onConnectedChanged(*this, false);
  if (handle_ != nullptr) {
    handle_->owner = nullptr;
    net::closeAndDelete(handle_);
  }
}

void BackendConn::connect(const std::string& ip, uint16_t port) {
  if (state_ != State::kIdle) return;
  sockaddr_storage addr;
  handle_ = new Handle{};
  handle_->owner = this;
  handle_->tcp.data = handle_;
  handle_->connect_req.data = handle_;
  handle_->write_req.data = handle_;
  uv_tcp_init(loop_, &handle_->tcp);
  state_ = State::kConnecting;
  connect_started_ = uv_now(loop_);
  events_.onConnecting(*this);
  int rc = net::makeSockaddr(ip, port, &addr) ? 0 : UV_EINVAL;
  if (rc == 0) {
    rc = uv_tcp_connect(&handle_->connect_req, &handle_->tcp, reinterpret_cast<sockaddr*>(&addr),
                        [](uv_connect_t* req, int status) {
                          auto* h = static_cast<Handle*>(req->data);
                          if (h->owner != nullptr) h->owner->onConnect(status);
                        });
  }
  if (rc != 0) fail("connect to " + ip + ":" + std::to_string(port) + ": " + net::uvError(rc));
}

void BackendConn::send(Request* request, bool asking) {
  if (state_ == State::kIdle) connect(node_->ip(), node_->port());
  request->sent_ms = 0;
  // Replies that come before the request's own: its prelude's, ASKING's (right before the
  // command it is for), and a transaction's MULTI and QUEUED.
  const size_t ahead = (request->prelude.empty() ? 0u : 1u) + (asking ? 1u : 0u) +
                       (request->tx ? request->tx_commands + 1u : 0u);
  if (ahead != 0) {
    out_.append(request->prelude);
    if (asking) out_.append(kAsking);
    fifo_.insert(fifo_.end(), ahead, nullptr);
  }
  out_.append(request->payload);
  fifo_.push_back(request);
  unsent_ += ahead + 1;
  if (state_ == State::kIdle) {
    fail("cannot connect to " + node_->address());  // hands the request back as unsent
  } else if (state_ == State::kConnected) {
    // The first bytes queued since the last write (a connection written early in the turn may
    // be listed twice: a second flush() finds nothing to do).
    if (unsent_ == ahead + 1) events_.wantFlush(*this);
    if (out_.size() >= kEarlyWriteBytes) write(/*early=*/true);
  }
}

void BackendConn::sendRaw(std::string_view bytes) { sendUnanswered(bytes, 0); }

void BackendConn::sendUnanswered(std::string_view bytes, size_t replies) {
  if (state_ == State::kIdle) connect(node_->ip(), node_->port());
  const bool first = out_.empty();
  out_.append(bytes);
  fifo_.insert(fifo_.end(), replies, nullptr);
  unsent_ += replies;
  if (state_ == State::kIdle) {
    fail("cannot connect to " + node_->address());
  } else if (state_ == State::kConnected && first) {
    events_.wantFlush(*this);
  }
}

void BackendConn::flush() { write(/*early=*/false); }

void BackendConn::write(bool early) {
  if (state_ != State::kConnected || write_active_ || out_.empty()) return;
  uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
  const int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&handle_->tcp), &buf, 1);
  if (n < 0 && n != UV_EAGAIN) {
    // From send(), failing would hand requests back to the owner while it is dispatching: the
    // bytes stay queued and the turn's flush() meets the error again.
    if (!early) fail("write to " + node_->address() + ": " + net::uvError(n));
    return;
  }
  const uint64_t now = uv_now(loop_);
  for (size_t i = fifo_.size() - unsent_; i < fifo_.size(); ++i) {
    if (fifo_[i] != nullptr) fifo_[i]->sent_ms = now;
  }
  unsent_ = 0;
  if (n == static_cast<int>(out_.size())) {
    out_.clear();
    return;
  }
  writing_.swap(out_);
  out_.clear();
  if (n > 0) writing_.erase(0, static_cast<size_t>(n));
  startWrite();
}

void BackendConn::startWrite() {
  write_active_ = true;
  uv_buf_t buf = uv_buf_init(writing_.data(), static_cast<unsigned>(writing_.size()));
  const int rc = uv_write(&handle_->write_req, reinterpret_cast<uv_stream_t*>(&handle_->tcp), &buf,
                          1, [](uv_write_t* req, int status) {
                            auto* h = static_cast<Handle*>(req->data);
                            if (h->owner != nullptr) h->owner->onWrite(status);
                          });
  if (rc != 0) {
    write_active_ = false;
    fail("write to " + node_->address() + ": " + net::uvError(rc));
  }
}

void BackendConn::onWrite(int status) {
  write_active_ = false;
  writing_.clear();
  if (status != 0) {
    fail("write to " + node_->address() + ": " + net::uvError(status));
    return;
  }
  if (!out_.empty()) flush();
}

void BackendConn::onConnect(int status) {
  if (status != 0) {
    fail("connect to " + node_->address() + ": " + net::uvError(status));
    return;
  }
  state_ = State::kConnected;
  reached_ = true;
  events_.onConnectedChanged(*this, true);
  // AUTH, then HELLO 3 for a RESP3 connection, go first, ahead of whatever was queued while
  // connecting; their replies are checked in processInput, before the FIFO's.
  if (resp3_) {
    out_.insert(0, "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n");
    ++setup_replies_;
  }
  if (!auth_.empty()) {
    out_.insert(0, auth_);
    ++setup_replies_;
  }
  uv_tcp_nodelay(&handle_->tcp, 1);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&handle_->tcp),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* self = static_cast<Handle*>(h->data)->owner;
        if (self == nullptr || self->in_.empty()) {
          *buf = uv_buf_init(net::loopReadBuffer(), kReadChunk);
        } else {
          char* p = self->in_.writable(kReadChunk);
          *buf = uv_buf_init(p, static_cast<unsigned>(self->in_.writableSize()));
        }
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        auto* h = static_cast<Handle*>(s->data);
        if (h->owner != nullptr) {
          h->owner->onRead(nread, buf);
        }
      });
  if (!out_.empty()) flush();
}

void BackendConn::onRead(ssize_t nread, const uv_buf_t* buf) {
  if (nread == 0) return;
  net::markEventTime();
  if (nread < 0) {
    fail(nread == UV_EOF
             ? "connection to " + node_->address() + " closed by the node"
             : "read from " + node_->address() + ": " + net::uvError(static_cast<int>(nread)));
    return;
  }
  const auto n = static_cast<size_t>(nread);
  if (buf->base == net::loopReadBuffer()) {
    processInput(std::string_view(buf->base, n), true);
  } else {
    in_.commit(n);
    processInput(in_.view(), false);
  }
}

void BackendConn::processInput(std::string_view data, bool from_shared) {
  Handle* const handle = handle_;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t consumed = 0;
    const resp::Status st = decoder_.decode(data.substr(pos), &consumed);
    if (st == resp::Status::kIncomplete) break;
    if (st == resp::Status::kError) {
      fail("protocol error from " + node_->address() + ": " + std::string(decoder_.error()));
      return;
    }
    const std::string_view frame = data.substr(pos, consumed);
    pos += consumed;
    if (setup_replies_ > 0) {
      --setup_replies_;
      if (decoder_.type() == resp::Type::kError) {
        // Redis refuses every command on a connection that failed AUTH: none of those written
        // ran, so all go back as unsent. (A failed HELLO 3 changed nothing either: the commands
        // after it would be answered in RESP2, which their clients do not expect.)
        unsent_ = fifo_.size();
        fail((setup_replies_ == 0 && resp3_ ? "HELLO 3 to " : "authentication to ") +
             node_->address() + " failed: " + std::string(resp::errorText(frame)));
        return;
      }
      continue;
    }
    if (subscriber_) {
      events_.onPush(*this, frame);
      if (handle_ != handle) return;  // the callback failed this connection
      continue;
    }
    if (fifo_.empty() || fifo_.size() == unsent_) {
      fail("unexpected reply from " + node_->address());
      return;
    }
    Request* r = fifo_.front();
    fifo_.pop_front();
    if (r != nullptr) {
      events_.onReply(*this, r, frame, decoder_.type());
      if (handle_ != handle) return;  // the callback failed this connection
    } else if (decoder_.type() == resp::Type::kError) {
      // A reply consumed here: the request it was sent ahead of is the next one in the FIFO.
      for (Request* next : fifo_) {
        if (next == nullptr) continue;
        if (next->ahead_error.empty()) next->ahead_error.assign(frame);
        break;
      }
    }
  }
  if (from_shared) {
    if (pos < data.size()) in_.append(data.substr(pos));
  } else {
    in_.consume(pos);
    if (in_.empty() && in_.capacity() > 4 * kReadChunk) in_.release();
  }
}

void BackendConn::fail(std::string_view reason) {
  if (state_ == State::kConnected) events_.onConnectedChanged(*this, false);
  if (handle_ != nullptr) {
    handle_->owner = nullptr;
    net::closeAndDelete(handle_);
    handle_ = nullptr;
  }
  state_ = State::kIdle;
  setup_replies_ = 0;
  write_active_ = false;
  std::string().swap(writing_);
  out_.clear();
  in_.release();
  decoder_.reset();
  std::deque<Request*> unsent;
  std::deque<Request*> sent;
  const size_t first_unsent = fifo_.size() - unsent_;
  for (size_t i = 0; i < fifo_.size(); ++i) {
    Request* r = fifo_[i];
    if (r == nullptr) continue;
    (i < first_unsent ? sent : unsent).push_back(r);
  }
  fifo_.clear();
  unsent_ = 0;
  events_.onFailed(*this, std::move(unsent), std::move(sent), reason);
}

void BackendConn::setOwn(bool own) {
  if (own == own_) return;
  own_ = own;
  if (own) {
    ++node_->own_conns_;
  } else {
    --node_->own_conns_;
  }
}

bool BackendConn::abandoned() const {
  for (const Request* r : fifo_) {
    if (r != nullptr && (r->client != nullptr || r->parent != nullptr)) return false;
  }
  return true;
}

void BackendConn::takeAll(std::deque<Request*>* out) {
  for (Request* r : fifo_) {
    if (r != nullptr) out->push_back(r);
  }
  fifo_.clear();
  unsent_ = 0;
  out_.clear();
}

void BackendConn::distrust(std::deque<Request*>* unsent) {
  const size_t first_unsent = fifo_.size() - unsent_;
  for (size_t i = first_unsent; i < fifo_.size(); ++i) {
    if (fifo_[i] != nullptr) unsent->push_back(fifo_[i]);
  }
  fifo_.resize(first_unsent);
  unsent_ = 0;
  out_.clear();
  for (Request* r : fifo_) {
    if (r != nullptr) r->suspect = true;
  }
}

void BackendConn::checkTimeouts(uint64_t now_ms, uint32_t request_timeout_ms) {
  if (state_ == State::kConnecting && now_ms - connect_started_ >= connect_timeout_ms_) {
    fail("connect to " + node_->address() + " timed out after " +
         std::to_string(connect_timeout_ms_) + " ms");
    return;
  }
  if (state_ != State::kConnected || request_timeout_ms == 0 || blocking_) return;
  for (Request* r : fifo_) {
    if (r == nullptr) continue;
    if (r->sent_ms != 0 && now_ms - r->sent_ms >= request_timeout_ms) {
      fail("no reply from " + node_->address() + " within " + std::to_string(request_timeout_ms) +
           " ms");
    }
    return;  // only the oldest request matters: replies come in order
  }
}

}  // namespace slotproxy::backend
