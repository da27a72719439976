#pragma once

// Raw RESP over a plain TCP socket, for tests that must control the exact bytes on the wire (one
// big pipeline in a single buffer, a malformed request, a client that stops reading) where
// hiredis's request/response API would get in the way. Replies are parsed with hiredis's
// redisReader, so they compare with the fixture's helpers (describe, replyIs).
//
// The key hashing tests use to pick keys of given slots (slotOf, keyInSlot) is in the fixture's
// helpers.h.

#include <hiredis/hiredis.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/integration/fixture/helpers.h"

namespace slotproxy::testing {

// `argv` as a RESP multibulk request.
std::string encodeCommand(const std::vector<std::string>& argv);

// GET `path` over HTTP/1.0 from "ip:port"; the body, or nullopt on any failure or non-200.
std::optional<std::string> httpGet(const std::string& host_port, const std::string& path,
                                   int timeout_ms = 5000);
// The same with another method (POST /refresh...).
std::optional<std::string> httpRequest(const std::string& host_port, const std::string& method,
                                       const std::string& path, int timeout_ms = 5000);

// The value of one series (e.g. `slotproxy_redirects_total{kind="ask"}`, written exactly as
// the exposition shows it) in slotproxy's /metrics at `admin`; nullopt if the scrape fails or the
// series is absent.
std::optional<double> scrapeMetric(const std::string& admin, const std::string& series);

// One client socket. Not thread-safe; every call has a deadline and never blocks past it.
class RespClient {
 public:
  // Connects to "ip:port" (blocking, with `timeout_ms`). nullptr with `error` on failure.
  static std::unique_ptr<RespClient> connect(const std::string& host_port, std::string* error,
                                             int timeout_ms = 2000);
  ~RespClient();
  RespClient(const RespClient&) = delete;
  RespClient& operator=(const RespClient&) = delete;

  int fd() const { return fd_; }

  // Writes all of `data`, waiting for the socket at most `timeout_ms` in total. Does not read.
  bool sendAll(std::string_view data, int timeout_ms, std::string* error);
  // Writes as much of `data` as the socket takes right now (non-blocking); the count written,
  // -1 on an error other than EAGAIN.
  ssize_t sendSome(std::string_view data);

  // Reads until `n` more replies are parsed, appending them to `out`. False with `error` on
  // timeout, EOF or a protocol error (the replies parsed so far are in `out`).
  bool readReplies(size_t n, std::vector<ReplyPtr>* out, int timeout_ms, std::string* error);
  // Sends `data` while reading, so that a pipeline bigger than the socket buffers cannot
  // deadlock, until `n` replies arrived.
  bool exchange(std::string_view data, size_t n, std::vector<ReplyPtr>* out, int timeout_ms,
                std::string* error);
  // One command, one reply (nullptr with `error` on failure).
  ReplyPtr call(const std::vector<std::string>& argv, std::string* error, int timeout_ms = 5000);

  // Raw bytes until the peer closes. False if it did not close within `timeout_ms` (then `out`
  // has what arrived). Bytes already buffered for the reply parser come first.
  bool readUntilEof(std::string* out, int timeout_ms);
  // Exactly `n` raw bytes (for replies hiredis's parser cannot hold, e.g. nested deeper than 7).
  // False on timeout or EOF (then `out` has what arrived).
  bool readBytes(size_t n, std::string* out, int timeout_ms);
  // True if the peer has closed the connection within `timeout_ms` (bytes are discarded).
  bool closedWithin(int timeout_ms);
  // True if at least one byte arrives within `timeout_ms` (it is kept for the reply parser).
  bool readableWithin(int timeout_ms);

  // RESP3 replies (after HELLO 3), which hiredis 0.14's parser does not know: from now on each
  // reply is split off as one frame, by a splitter of this file's own, and returned as a string
  // reply holding the frame's bytes, to be compared byte for byte.
  void setRawFrames(bool raw) { raw_frames_ = raw; }

  // Closes with RST instead of FIN (SO_LINGER 0): an abrupt client death.
  void abort();

 private:
  RespClient(int fd);
  // One read into the reply parser; 1 data, 0 EOF, -1 error, -2 timeout.
  int readOnce(int timeout_ms);

  int fd_;
  redisReader* reader_;
  std::string raw_;  // bytes read but not given to the reply parser (readUntilEof)
  bool raw_frames_ = false;
  std::string frames_;  // raw_frames_: bytes read, not yet split into frames
};

}  // namespace slotproxy::testing
