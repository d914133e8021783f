// Server-sent events, as the WHATWG HTML standard's "event stream interpretation" describes.
#include "rag/sse.h"

namespace sextant::rag {

bool SseParser::Feed(std::string_view bytes) {
  for (char c : bytes) {
    if (stopped_) return false;
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;  // the "\n" of a "\r\n" whose "\r" ended the line
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      Line(line_);
      line_.clear();
    } else {
      line_.push_back(c);
    }
  }
  return !stopped_;
}

bool SseParser::Finish() {
  if (stopped_) return false;
  if (!line_.empty()) {
    Line(line_);
    line_.clear();
  }
  if (!stopped_ && has_data_) Dispatch();
  return !stopped_;
}

void SseParser::Line(std::string_view line) {
  if (stopped_) return;
  if (line.empty()) {  // a blank line ends the event
    if (has_data_) {
      Dispatch();
    } else {
      event_.event.clear();  // an event with no data is dropped
    }
    return;
  }
  if (line.front() == ':') return;  // a comment (servers send them as keep-alives)
  std::string_view field = line;
  std::string_view value;
  if (size_t colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) event_.data.push_back('\n');
    event_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    event_.event.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_id_.assign(value);
  }
  // "retry" and unknown fields are ignored, as the standard says.
}

void SseParser::Dispatch() {
  event_.id = last_id_;
  const bool go_on = on_event_(event_);
  event_ = SseEvent();
  has_data_ = false;
  if (!go_on) stopped_ = true;
}

}  // namespace sextant::rag
