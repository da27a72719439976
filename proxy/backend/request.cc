#include "proxy/backend/request.h"

#include <vector>

namespace slotproxy::backend {
namespace {

constexpr size_t kMaxFree = 4096;
constexpr size_t kMaxKeptCapacity = size_t{16} * 1024;

struct FreeList {
  std::vector<Request*> items;
  ~FreeList() {
    for (Request* r : items) delete r;
  }
};

thread_local FreeList tls_free;

}  // namespace

Request* Request::make() {
  if (tls_free.items.empty()) return new Request();
  Request* r = tls_free.items.back();
  tls_free.items.pop_back();
  return r;
}

void Request::release(Request* r) {
  if (tls_free.items.size() >= kMaxFree || r->payload.capacity() > kMaxKeptCapacity ||
      r->reply.capacity() > kMaxKeptCapacity || r->prelude.capacity() > kMaxKeptCapacity) {
    delete r;
    return;
  }
  // Field by field: assigning a fresh Request would build and move two strings per request.
  r->client = nullptr;
  r->next = nullptr;
  r->parent = nullptr;
  r->split.reset();
  r->payload.clear();
  r->reply.clear();
  r->start_ns = 0;
  r->hold_until = 0;
  r->sent_ms = 0;
  r->conn_hint = 0;
  r->part_index = 0;
  r->slot = 0;
  r->cmd_id = 0;
  r->redirects = 0;
  r->readonly = false;
  r->retried = false;
  r->suspect = false;
  r->blocking = false;
  r->done = false;
  r->resp3 = false;
  r->close_after = false;
  r->error_kind = 0xFF;
  r->ask_target = nullptr;
  r->tx = false;
  r->tx_commands = 0;
  r->watched = false;
  r->ahead_error.clear();
  r->prelude.clear();
  tls_free.items.push_back(r);
}

}  // namespace slotproxy::backend
