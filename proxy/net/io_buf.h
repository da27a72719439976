#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace slotproxy::net {

// A growable byte buffer with a read and a write position: data() .. data()+size() is unread input,
// writable() is free space after it. Used for the bytes of a connection that did not yet form a
// complete message; empty connections hold no memory (release()).
class IoBuf {
 public:
  char* data() { return buf_.get() + start_; }
  const char* data() const { return buf_.get() + start_; }
  size_t size() const { return end_ - start_; }
  bool empty() const { return end_ == start_; }
  std::string_view view() const { return {data(), size()}; }
  size_t capacity() const { return cap_; }

  // Ensures at least `n` free bytes after the unread data (compacting or growing).
  char* writable(size_t n) {
    if (cap_ - end_ < n) grow(n);
    return buf_.get() + end_;
  }
  size_t writableSize() const { return cap_ - end_; }
  void commit(size_t n) { end_ += n; }
  void append(std::string_view s) {
    std::memcpy(writable(s.size()), s.data(), s.size());
    end_ += s.size();
  }
  void consume(size_t n) {
    start_ += n;
    if (start_ == end_) start_ = end_ = 0;
  }
  void release() {
    buf_.reset();
    cap_ = start_ = end_ = 0;
  }

 private:
  void grow(size_t n) {
    const size_t used = size();
    if (start_ > 0 && cap_ - used >= n && used <= cap_ / 2) {
      std::memmove(buf_.get(), data(), used);
    } else {
      size_t cap = cap_ == 0 ? 4096 : cap_;
      while (cap - used < n) cap *= 2;
      auto next = std::make_unique_for_overwrite<char[]>(cap);
      if (used > 0) std::memcpy(next.get(), data(), used);
      buf_ = std::move(next);
      cap_ = cap;
    }
    start_ = 0;
    end_ = used;
  }

  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;
  size_t start_ = 0;
  size_t end_ = 0;
};

}  // namespace slotproxy::net
