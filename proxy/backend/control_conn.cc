#include "proxy/backend/control_conn.h"

#include "proxy/net/uv_util.h"
#include "proxy/resp/decoder.h"

namespace slotproxy::backend {

void ControlConn::start(uv_loop_t* loop, const std::string& ip, uint16_t port,
                        std::string_view auth, std::string commands, size_t replies,
                        uint32_t timeout_ms, Callback done) {
  auto* c = new ControlConn();
  c->address_ = ip + ":" + std::to_string(port);
  c->auth_ = !auth.empty();
  c->commands_ = c->auth_ ? std::string(auth) + commands : std::move(commands);
  c->replies_ = replies + (c->auth_ ? 1 : 0);
  c->done_ = std::move(done);
  uv_tcp_init(loop, &c->tcp_);
  uv_timer_init(loop, &c->timer_);
  c->open_handles_ = 2;
  c->tcp_.data = c;
  c->timer_.data = c;
  c->connect_req_.data = c;
  c->write_req_.data = c;
  uv_timer_start(
      &c->timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<ControlConn*>(t->data);
        self->finish(false, "no answer from " + self->address_ + " within timeout");
      },
      timeout_ms, 0);
  sockaddr_storage addr;
  int rc = net::makeSockaddr(ip, port, &addr) ? 0 : UV_EINVAL;
  if (rc == 0) {
    rc = uv_tcp_connect(
        &c->connect_req_, &c->tcp_, reinterpret_cast<sockaddr*>(&addr),
        [](uv_connect_t* req, int status) {
          auto* self = static_cast<ControlConn*>(req->data);
          if (self->finished_) return;
          if (status != 0) {
            self->finish(false, "connect to " + self->address_ + ": " + net::uvError(status));
            return;
          }
          uv_buf_t buf =
              uv_buf_init(self->commands_.data(), static_cast<unsigned>(self->commands_.size()));
          uv_write(&self->write_req_, reinterpret_cast<uv_stream_t*>(&self->tcp_), &buf, 1,
                   [](uv_write_t*, int) {});
          uv_read_start(
              reinterpret_cast<uv_stream_t*>(&self->tcp_),
              [](uv_handle_t* h, size_t, uv_buf_t* out) {
                auto* me = static_cast<ControlConn*>(h->data);
                const size_t old = me->input_.size();
                me->input_.resize(old + 65536);
                *out = uv_buf_init(me->input_.data() + old, 65536);
              },
              [](uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
                auto* me = static_cast<ControlConn*>(s->data);
                me->input_.resize(me->input_.size() - 65536 +
                                  (nread > 0 ? static_cast<size_t>(nread) : 0));
                if (me->finished_) return;
                if (nread < 0) {
                  me->finish(false, "connection to " + me->address_ +
                                        " closed: " + net::uvError(static_cast<int>(nread)));
                  return;
                }
                resp::ReplyDecoder decoder;
                std::string_view data = me->input_;
                me->frames_.clear();
                while (me->frames_.size() < me->replies_) {
                  size_t consumed = 0;
                  const resp::Status st = decoder.decode(data, &consumed);
                  if (st == resp::Status::kIncomplete) return;
                  if (st == resp::Status::kError) {
                    me->finish(false, "protocol error from " + me->address_);
                    return;
                  }
                  me->frames_.emplace_back(data.substr(0, consumed));
                  data.remove_prefix(consumed);
                  decoder.reset();
                }
                if (me->auth_) {
                  const std::string auth_reply = std::move(me->frames_.front());
                  me->frames_.erase(me->frames_.begin());
                  if (auth_reply.starts_with('-') || auth_reply.starts_with('!')) {
                    me->finish(false, "authentication to " + me->address_ +
                                          " failed: " + std::string(resp::errorText(auth_reply)));
                    return;
                  }
                }
                me->finish(true, "");
              });
        });
  }
  if (rc != 0) {
    // Report on the next loop turn, never from inside start().
    c->address_ += ": " + net::uvError(rc);
    uv_timer_start(
        &c->timer_,
        [](uv_timer_t* t) {
          auto* self = static_cast<ControlConn*>(t->data);
          self->finish(false, "cannot connect to " + self->address_);
        },
        0, 0);
  }
}

void ControlConn::finish(bool ok, std::string error) {
  if (finished_) return;
  finished_ = true;
  Callback done = std::move(done_);
  std::vector<std::string> frames = std::move(frames_);
  const auto on_close = [](uv_handle_t* h) {
    auto* self = static_cast<ControlConn*>(h->data);
    if (--self->open_handles_ == 0) delete self;
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_close);
  done(ok, std::move(frames), std::move(error));
}

}  // namespace slotproxy::backend
