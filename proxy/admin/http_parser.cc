#include "proxy/admin/http_parser.h"

#include <llhttp.h>

namespace slotproxy::admin {

// llhttp's parser plus the callbacks that fill the owning HttpRequestParser. Callbacks pause the
// parser (HPE_PAUSED) at the end of the headers, to account the raw head bytes exactly, and at the
// end of each message, so that parse() returns one request at a time with a consumed count.
struct HttpRequestParser::Llhttp {
  llhttp_t parser;
  llhttp_settings_t settings;

  static HttpRequestParser& owner(llhttp_t* p) { return *static_cast<HttpRequestParser*>(p->data); }

  static int userError(llhttp_t* p, int status, std::string reason) {
    HttpRequestParser& self = owner(p);
    self.error_status_ = status;
    self.error_ = std::move(reason);
    return HPE_USER;
  }

  static int onMessageBegin(llhttp_t* p) {
    HttpRequestParser& self = owner(p);
    self.request_ = HttpRequest{};
    self.header_count_ = 0;
    self.body_bytes_ = 0;
    self.in_target_ = true;
    return 0;
  }

  static int onUrlComplete(llhttp_t* p) {
    owner(p).in_target_ = false;
    return 0;
  }

  static int onUrl(llhttp_t* p, const char* at, size_t length) {
    HttpRequestParser& self = owner(p);
    if (self.request_.target.size() + length > self.limits_.max_url_bytes) {
      return userError(
          p, 414, "request target over " + std::to_string(self.limits_.max_url_bytes) + " bytes");
    }
    self.request_.target.append(at, length);
    return 0;
  }

  static int onHeaderFieldComplete(llhttp_t* p) {
    HttpRequestParser& self = owner(p);
    if (++self.header_count_ > self.limits_.max_headers) {
      return userError(p, 431,
                       "more than " + std::to_string(self.limits_.max_headers) + " headers");
    }
    return 0;
  }

  static int onHeadersComplete(llhttp_t* p) {
    owner(p).event_ = Event::kHeadersComplete;
    return HPE_PAUSED;
  }

  static int onBody(llhttp_t* p, const char* /*at*/, size_t length) {
    HttpRequestParser& self = owner(p);
    self.body_bytes_ += length;
    if (self.body_bytes_ > self.limits_.max_body_bytes) {
      return userError(
          p, 413, "request body over " + std::to_string(self.limits_.max_body_bytes) + " bytes");
    }
    return 0;
  }

  static int onMessageComplete(llhttp_t* p) {
    HttpRequestParser& self = owner(p);
    HttpRequest& r = self.request_;
    r.method = llhttp_method_name(static_cast<llhttp_method_t>(llhttp_get_method(p)));
    r.http_major = llhttp_get_http_major(p);
    r.http_minor = llhttp_get_http_minor(p);
    r.keep_alive = llhttp_should_keep_alive(p) != 0 && llhttp_get_upgrade(p) == 0;
    std::string_view path = r.target;
    // Absolute form ("http://host/metrics", RFC 9112 3.2.2): keep the path only.
    if (const size_t scheme = path.find("://");
        scheme != std::string_view::npos && path.find('/') > scheme) {
      const size_t slash = path.find('/', scheme + 3);
      path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
    }
    path = path.substr(0, path.find_first_of("?#"));
    r.path = path;
    self.event_ = Event::kMessageComplete;
    return HPE_PAUSED;
  }
};

HttpRequestParser::HttpRequestParser(HttpLimits limits)
    : limits_(limits), llhttp_(std::make_unique<Llhttp>()) {
  llhttp_settings_t& s = llhttp_->settings;
  llhttp_settings_init(&s);
  s.on_message_begin = &Llhttp::onMessageBegin;
  s.on_url = &Llhttp::onUrl;
  s.on_url_complete = &Llhttp::onUrlComplete;
  s.on_header_field_complete = &Llhttp::onHeaderFieldComplete;
  s.on_headers_complete = &Llhttp::onHeadersComplete;
  s.on_body = &Llhttp::onBody;
  s.on_message_complete = &Llhttp::onMessageComplete;
  llhttp_init(&llhttp_->parser, HTTP_REQUEST, &s);
  llhttp_->parser.data = this;
}

HttpRequestParser::~HttpRequestParser() = default;

HttpRequestParser::Status HttpRequestParser::fail(int status, std::string reason) {
  if (error_status_ == 0) {
    error_status_ = status;
    error_ = std::move(reason);
  }
  return Status::kError;
}

HttpRequestParser::Status HttpRequestParser::parse(std::string_view data, size_t* consumed) {
  *consumed = 0;
  if (error_status_ != 0) return Status::kError;
  if (finished_) return fail(400, "data after a request that closes the connection");
  llhttp_t* p = &llhttp_->parser;
  size_t off = 0;
  // One llhttp_execute per pause. After the pause at the end of the headers, execute runs again
  // even on zero remaining bytes: that is when llhttp completes a message without a body.
  for (;;) {
    const char* begin = data.data() + off;
    const size_t n = data.size() - off;
    event_ = Event::kNone;
    const llhttp_errno_t err = llhttp_execute(p, begin, n);
    const size_t used = err == HPE_OK ? n : static_cast<size_t>(llhttp_get_error_pos(p) - begin);
    off += used;
    *consumed = off;
    if (in_head_) {
      head_bytes_ += used;
      if (head_bytes_ > limits_.max_head_bytes) {
        // Still in the request target: the same answer as when on_url sees the whole target.
        if (in_target_ && !request_.target.empty()) {
          return fail(414,
                      "request target over " + std::to_string(limits_.max_url_bytes) + " bytes");
        }
        return fail(431, "request head over " + std::to_string(limits_.max_head_bytes) + " bytes");
      }
    }
    if (err == HPE_OK) return Status::kNeedMore;
    if (err != HPE_PAUSED) {
      if (err == HPE_USER) return Status::kError;  // the callback set status and reason
      const char* reason = llhttp_get_error_reason(p);
      return fail(400, std::string(llhttp_errno_name(err)) + ": " +
                           (reason != nullptr ? reason : "malformed request"));
    }
    llhttp_resume(p);
    if (event_ == Event::kHeadersComplete) {
      in_head_ = false;
      continue;
    }
    // kMessageComplete: the next request's head starts here.
    in_head_ = true;
    head_bytes_ = 0;
    if (!request_.keep_alive) finished_ = true;
    return Status::kRequest;
  }
}

std::string_view statusText(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

std::string serializeResponse(const HttpResponse& response, bool keep_alive, bool http10) {
  std::string out;
  out.reserve(response.body.size() + 256);
  out += http10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(response.status);
  out += ' ';
  out += statusText(response.status);
  out += "\r\nContent-Type: ";
  out += response.content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(response.body.size());
  out += "\r\nCache-Control: no-store\r\n";
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (http10) {
    out += "Connection: keep-alive\r\n";
  }
  for (const auto& [name, value] : response.headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "\r\n";
  out += response.body;
  return out;
}

}  // namespace slotproxy::admin
