#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace slotproxy::resp {

// RESP encoders: each appends one element to `out` (hot path: no iostreams, std::to_chars).

void appendArrayHeader(std::string& out, size_t n);     // *n\r\n
void appendBulkHeader(std::string& out, size_t len);    // $len\r\n (payload and CRLF follow)
void appendBulk(std::string& out, std::string_view s);  // $len\r\ns\r\n
void appendNullBulk(std::string& out);                  // $-1\r\n
void appendNullArray(std::string& out);                 // *-1\r\n
// RESP3 (to clients that chose it with HELLO 3).
void appendNull(std::string& out);                        // _\r\n
void appendMapHeader(std::string& out, size_t n);         // %n\r\n: n key-value pairs follow
void appendPushHeader(std::string& out, size_t n);        // >n\r\n
void appendInteger(std::string& out, int64_t v);          // :v\r\n
void appendSimple(std::string& out, std::string_view s);  // +s\r\n (CR/LF in s become spaces)
// -msg\r\n; msg includes the prefix, e.g. "ERR bad"; CR/LF in msg become spaces.
void appendError(std::string& out, std::string_view msg);
// A command as a multibulk of bulk strings: *N\r\n then $len\r\narg\r\n per argument.
void appendCommand(std::string& out, std::span<const std::string_view> args);
// A client's command in RESP: `raw` as the client sent it, or for an inline command (raw empty)
// its arguments encoded into *storage.
std::string_view commandBytes(std::span<const std::string_view> args, std::string_view raw,
                              std::string* storage);

}  // namespace slotproxy::resp
