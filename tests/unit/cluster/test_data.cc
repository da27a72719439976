#include "tests/unit/cluster/test_data.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <utility>

#include "proxy/resp/decoder.h"

namespace slotproxy::cluster::testing {

std::string readData(std::string_view name) {
  const std::string path = std::string(SLOTPROXY_CLUSTER_TEST_DATA) + "/" + std::string(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return {};
  }
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Frame::Frame(std::string bytes) : bytes_(std::move(bytes)) {
  ok_ = resp::parseValue(bytes_, &value_);
}

std::string bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

std::string simple(std::string_view s) { return "+" + std::string(s) + "\r\n"; }

std::string integer(int64_t n) { return ":" + std::to_string(n) + "\r\n"; }

std::string array(std::initializer_list<std::string> items) {
  std::string out = "*" + std::to_string(items.size()) + "\r\n";
  for (const std::string& item : items) out += item;
  return out;
}

std::string map(std::initializer_list<std::string> items) {
  std::string out = "%" + std::to_string(items.size() / 2) + "\r\n";
  for (const std::string& item : items) out += item;
  return out;
}

}  // namespace slotproxy::cluster::testing
