// A parser for server-sent events (the text/event-stream format of the WHATWG HTML standard), as
// OpenAI-compatible servers stream chat completions: "data: {...}" lines, events ended by a blank
// line, several data lines joined with "\n", comment lines starting with ':', and lines ended by
// "\n", "\r\n" or "\r". Bytes may arrive split anywhere, even between a "\r" and its "\n".
#ifndef SEXTANT_RAG_SSE_H_
#define SEXTANT_RAG_SSE_H_

#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace sextant::rag {

struct SseEvent {
  std::string event;  // the "event:" field; empty means the default type, "message"
  std::string data;   // the "data:" lines joined with "\n"
  std::string id;     // the last "id:" field seen in the stream
};

// True for the data of the event that ends an OpenAI stream: "[DONE]".
inline bool IsSseDone(std::string_view data) { return data == "[DONE]"; }

class SseParser {
 public:
  // Called with each complete event; return false to stop (Feed then returns false and the parser
  // ignores further input).
  using EventCallback = std::function<bool(const SseEvent& event)>;

  explicit SseParser(EventCallback on_event) : on_event_(std::move(on_event)) {}

  // Parses the next bytes of the stream. False once the callback has asked to stop.
  bool Feed(std::string_view bytes);

  // The end of the stream. The standard drops an event that no blank line ended; this parser
  // delivers it when it has data (some servers close the stream right after the last data line).
  // False when the callback asked to stop.
  bool Finish();

  bool stopped() const { return stopped_; }

 private:
  void Line(std::string_view line);
  void Dispatch();

  EventCallback on_event_;
  std::string line_;           // the current, unfinished line
  bool after_cr_ = false;      // the last byte was "\r": a "\n" right after it ends nothing
  bool stopped_ = false;
  bool has_data_ = false;      // a "data:" field was seen in this event (even an empty one)
  SseEvent event_;
  std::string last_id_;
};

}  // namespace sextant::rag

#endif  // SEXTANT_RAG_SSE_H_
