#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace slotproxy::backend {

// A one-shot control connection: connects, sends a few commands, collects exactly `replies`
// reply frames, then reports and closes. Used for topology refreshes and health probes, apart
// from the pipelined data connections. The callback runs exactly once (success, error or
// timeout); the object deletes itself after it.
class ControlConn {
 public:
  using Callback = std::function<void(bool ok, std::vector<std::string> frames, std::string error)>;

  // Starts the exchange; `commands` is raw RESP. `auth` (authCommand, "" for none) goes first:
  // its reply is checked and left out of `frames`, and a refusal fails the exchange. Never calls
  // `done` synchronously.
  static void start(uv_loop_t* loop, const std::string& ip, uint16_t port, std::string_view auth,
                    std::string commands, size_t replies, uint32_t timeout_ms, Callback done);

 private:
  ControlConn() = default;
  void finish(bool ok, std::string error);

  uv_tcp_t tcp_;
  uv_connect_t connect_req_;
  uv_write_t write_req_;
  uv_timer_t timer_;
  std::string address_;
  std::string commands_;
  std::string input_;
  std::vector<std::string> frames_;
  size_t replies_ = 0;
  bool auth_ = false;  // the first reply is AUTH's
  Callback done_;
  int open_handles_ = 0;
  bool finished_ = false;
};

}  // namespace slotproxy::backend
