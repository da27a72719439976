#include "proxy/backend/request.h"

#include <vector>

namespace slotproxy::backend {
namespace {

constexpr size_t kMaxFree = 4096;
constexpr size_t kMaxKeptCapacity = 16 * 1024;

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
      r->reply.capacity() > kMaxKeptCapacity) {
    delete r;
    return;
  }
  std::string payload = std::move(r->payload);
  std::string reply = std::move(r->reply);
  payload.clear();
  reply.clear();
  *r = Request();
  r->payload = std::move(payload);
  r->reply = std::move(reply);
  tls_free.items.push_back(r);
}

}  // namespace slotproxy::backend
