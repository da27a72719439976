#pragma once

// Helpers for cluster_test: the captured replies in data/ and hand-built RESP frames.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "proxy/resp/value.h"

namespace slotproxy::cluster::testing {

// The bytes of data/<name>; fails the current test (and returns "") if it cannot be read.
std::string readData(std::string_view name);

// A reply frame and its parsed tree. The tree's views point into the frame, so a Frame is neither
// copied nor moved.
class Frame {
 public:
  explicit Frame(std::string bytes);
  Frame(const Frame&) = delete;
  Frame& operator=(const Frame&) = delete;

  bool ok() const { return ok_; }
  const resp::Value& value() const { return value_; }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
  resp::Value value_;
  bool ok_ = false;
};

// RESP builders for hand-made frames.
std::string bulk(std::string_view s);
std::string simple(std::string_view s);
std::string integer(int64_t n);
std::string array(std::initializer_list<std::string> items);
// RESP3 map: `items` alternate key, value.
std::string map(std::initializer_list<std::string> items);

// Node ids of the captured cluster (data/README.md).
inline constexpr std::string_view kN1 = "03dc9331b8299eb3bacac1adf13521be97f0d907";
inline constexpr std::string_view kN2 = "f207549645a4d2b363a55cd1c6f20342f35d00ce";
inline constexpr std::string_view kN3 = "4279951634aba49f350654f5d35db731008fa8f6";
inline constexpr std::string_view kN4 = "496cc9e110ac99a3dd3936a85215176ca012d013";
inline constexpr std::string_view kN5 = "662b2d4ca1b34fa16ffeed709a43b10725f024bf";
inline constexpr std::string_view kN6 = "7aec1f5fa3c4085708f7e3f6126fa5682a4e9e92";
inline constexpr std::string_view kN7 = "4fced86d37105174fa4742b356e3589cd814e205";

}  // namespace slotproxy::cluster::testing
