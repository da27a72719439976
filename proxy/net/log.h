#pragma once

#include <string_view>

namespace slotproxy::log {

enum class Level : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void setLevel(std::string_view name);
bool enabled(Level level);
// One line to stderr: "2026-11-29T00:00:00.000Z info <message>". Thread-safe.
void write(Level level, std::string_view message);

inline void debug(std::string_view m) {
  if (enabled(Level::kDebug)) write(Level::kDebug, m);
}
inline void info(std::string_view m) {
  if (enabled(Level::kInfo)) write(Level::kInfo, m);
}
inline void warn(std::string_view m) {
  if (enabled(Level::kWarn)) write(Level::kWarn, m);
}
inline void error(std::string_view m) { write(Level::kError, m); }

}  // namespace slotproxy::log
