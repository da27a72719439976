#include "proxy/client/client_conn.h"

#include "proxy/net/event_clock.h"
#include "proxy/net/read_buffer.h"
#include "proxy/resp/encoder.h"

namespace slotproxy::client {
namespace {

constexpr size_t kReadChunk = net::kReadBufferSize;
// Unread reply bytes past which a client that has not authenticated is closed, as redis-server
// closes one whose replies outgrow its 16 KB reply buffer (the fix of CVE-2025-21605): a client
// that sends commands without reading them must not make the proxy hold its errors.
constexpr size_t kUnauthenticatedOutputLimit = size_t{16} * 1024;

}  // namespace

ClientConn::ClientConn(ClientHandler& handler, uint64_t id)
    : handler_(handler), id_(id), decoder_(handler.respLimits()) {
  tcp_.data = this;
  write_req_.data = this;
  setAuthenticated(false);
}

void ClientConn::setAuthenticated(bool yes) {
  authenticated_ = yes || handler_.config().client_password.empty();
  decoder_.setUnauthenticated(!authenticated_);
}

ClientConn::~ClientConn() = default;

bool ClientConn::accept(uv_stream_t* server) {
  uv_tcp_init(server->loop, &tcp_);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&tcp_)) != 0) {
    closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_),
             [](uv_handle_t* h) { delete static_cast<ClientConn*>(h->data); });
    return false;
  }
  uv_tcp_nodelay(&tcp_, 1);
  updateReading();
  return true;
}

void ClientConn::updateReading() {
  if (closing_) return;
  const auto& cfg = handler_.config();
  if (paused_ && pending_ <= cfg.max_pipeline_depth / 2 &&
      outputBytes() <= cfg.client_output_low_watermark) {
    paused_ = false;
    if (!in_.empty() && !processing_) {
      const size_t n = process(in_.view());
      in_.consume(n);
      if (closing_) return;
    }
  }
  // A blocked client is still read (its input is kept, not run): its going away must be seen,
  // so that the backend connection blocking on its behalf is closed.
  const bool want = !paused_ && !input_done_ && !close_after_;
  if (want == reading_) return;
  reading_ = want;
  if (!want) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    return;
  }
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&tcp_),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* self = static_cast<ClientConn*>(h->data);
        if (self->in_.empty()) {
          *buf = uv_buf_init(net::loopReadBuffer(), kReadChunk);
        } else {
          char* p = self->in_.writable(kReadChunk);
          *buf = uv_buf_init(p, static_cast<unsigned>(self->in_.writableSize()));
        }
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        static_cast<ClientConn*>(s->data)->onRead(nread, buf);
      });
}

void ClientConn::onRead(ssize_t nread, const uv_buf_t* buf) {
  if (nread == 0) return;
  net::markEventTime();
  if (nread < 0) {
    close();
    return;
  }
  const auto n = static_cast<size_t>(nread);
  if (buf->base == net::loopReadBuffer()) {
    const std::string_view data(buf->base, n);
    const size_t used = process(data);
    if (closing_) return;
    if (used < n && !input_done_) in_.append(data.substr(used));
  } else {
    in_.commit(n);
    in_.consume(process(in_.view()));
    if (closing_) return;
    if (in_.empty() && in_.capacity() > 4 * kReadChunk) in_.release();
  }
  if (in_.size() > handler_.config().client_query_buffer_limit) {
    enqueueReply("-ERR Protocol error: client query buffer of " + std::to_string(in_.size()) +
                     " bytes exceeds client-query-buffer-limit\r\n",
                 true);
    input_done_ = true;
    in_.release();
  }
  updateReading();
}

size_t ClientConn::process(std::string_view data) {
  const auto& cfg = handler_.config();
  processing_ = true;
  size_t pos = 0;
  while (pos < data.size() && !paused_ && !blocked_ && !input_done_ && !closing_) {
    size_t consumed = 0;
    const resp::Status st = decoder_.decode(data.substr(pos), &consumed);
    if (st == resp::Status::kIncomplete) break;
    if (st == resp::Status::kError) {
      std::string reply = "-";
      reply.append(decoder_.error());
      reply.append("\r\n");
      enqueueReply(reply, true);
      input_done_ = true;
      pos = data.size();
      break;
    }
    const std::string_view raw = data.substr(pos, consumed);
    pos += consumed;
    if (decoder_.args().empty()) continue;
    handler_.handleCommand(*this, decoder_.args(), decoder_.isInline() ? std::string_view() : raw);
    if (!authenticated_ && outputBytes() > kUnauthenticatedOutputLimit) {
      input_done_ = true;
      close();
      break;
    }
    if (pending_ >= cfg.max_pipeline_depth || outputBytes() > cfg.client_output_high_watermark) {
      paused_ = true;
    }
  }
  processing_ = false;
  return pos;
}

void ClientConn::block() {
  blocked_ = true;
  updateBusy();
}

void ClientConn::unblock() {
  blocked_ = false;
  if (closing_) return;
  updateBusy();
  if (!in_.empty() && !processing_) in_.consume(process(in_.view()));
  updateReading();  // (returns at once if processing closed the connection)
}

void ClientConn::enqueue(backend::Request* r) {
  r->client = this;
  r->next = nullptr;
  if (tail_ == nullptr) {
    head_ = tail_ = r;
  } else {
    tail_->next = r;
    tail_ = r;
  }
  if (pending_++ == 0) updateBusy();
}

void ClientConn::enqueueReply(std::string_view reply, bool close_after) {
  auto* r = backend::Request::make();
  r->close_after = close_after;
  if (close_after) input_done_ = true;  // QUIT or an error that ends the connection
  enqueue(r);
  complete(r, reply);
}

void ClientConn::complete(backend::Request* r, std::string_view frame) {
  if (r != head_) {
    r->reply.assign(frame);
    r->done = true;
    return;
  }
  out_.append(frame);
  head_ = r->next;
  if (head_ == nullptr) tail_ = nullptr;
  popped();
  if (r->close_after) close_after_ = true;
  backend::Request::release(r);
  popDone();
  wantFlush();
}

void ClientConn::popDone() {
  while (head_ != nullptr && head_->done && !close_after_) {
    backend::Request* r = head_;
    out_.append(r->reply);
    head_ = r->next;
    if (head_ == nullptr) tail_ = nullptr;
    popped();
    if (r->close_after) close_after_ = true;
    backend::Request::release(r);
  }
}

void ClientConn::popped() {
  if (--pending_ == 0) updateBusy();
}

void ClientConn::updateBusy() {
  const bool busy = pending_ > 0 && !blocked_;
  if (busy == busy_) return;
  busy_ = busy;
  handler_.onClientBusy(busy);
}

void ClientConn::wantFlush() {
  if (!in_flush_list && !closing_) handler_.scheduleFlush(this);
}

void ClientConn::flush() {
  if (closing_) return;
  if (!write_active_ && !out_.empty()) {
    uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
    const int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1);
    if (n < 0 && n != UV_EAGAIN) {
      close();
      return;
    }
    const size_t written = n > 0 ? static_cast<size_t>(n) : 0;
    handler_.countBytesOut(written);
    if (written == out_.size()) {
      out_.clear();
    } else {
      writing_.swap(out_);
      out_.clear();
      writing_.erase(0, written);
      write_active_ = true;
      uv_buf_t rest = uv_buf_init(writing_.data(), static_cast<unsigned>(writing_.size()));
      const int rc = uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &rest, 1,
                              [](uv_write_t* req, int status) {
                                static_cast<ClientConn*>(req->data)->onWrite(status);
                              });
      if (rc != 0) {
        write_active_ = false;
        close();
        return;
      }
    }
    if (out_.capacity() > 4 * kReadChunk && out_.empty()) std::string().swap(out_);
  }
  if (close_after_ && !write_active_ && out_.empty()) {
    close();
    return;
  }
  updateReading();
}

void ClientConn::onWrite(int status) {
  write_active_ = false;
  if (closing_) return;
  handler_.countBytesOut(writing_.size());
  if (writing_.capacity() > 4 * kReadChunk) {
    std::string().swap(writing_);
  } else {
    writing_.clear();
  }
  if (status != 0) {
    close();
    return;
  }
  flush();
}

void ClientConn::close() {
  if (closing_) return;
  closing_ = true;
  // Requests still at a node (or held) are orphaned: whoever completes them frees them.
  for (backend::Request* r = head_; r != nullptr;) {
    backend::Request* next = r->next;
    if (r->done) {
      backend::Request::release(r);
    } else {
      r->client = nullptr;
      r->next = nullptr;
    }
    r = next;
  }
  head_ = tail_ = nullptr;
  pending_ = 0;
  updateBusy();
  handler_.onClientClosed(this);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_),
           [](uv_handle_t* h) { delete static_cast<ClientConn*>(h->data); });
}

}  // namespace slotproxy::client
