// Chat over a text collection: conversation validation, the follow-up rewrite, the history budget,
// generation settings, and tool mode (the model searches through function calls). See docs/rag.md
// ("Chat", "Follow-up questions", "Tool mode").
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rag/text.h"
#include "sextant/rag.h"

namespace sextant::rag {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxStop = 4;
constexpr size_t kMaxStopBytes = 64;
constexpr uint32_t kMaxToolRounds = 16;
constexpr uint32_t kMaxSearchK = 20;
constexpr size_t kMaxFunctions = 64;
constexpr size_t kMaxChainedFollowUps = 3;

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

std::string At(size_t i) { return "messages[" + std::to_string(i) + "]"; }

bool Blank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

// Whether a model's rewrite can stand for the question: it holds a letter or digit (ASCII, or any
// byte of a multi-byte UTF-8 character). A weak model may answer '."' or "..." instead.
bool HasWord(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x80 || std::isalnum(u) != 0;
  });
}

bool IsFunctionName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// ---------------------------------------------------------------- follow-up heuristic

constexpr std::string_view kConnectives[] = {"and ", "or ", "but ", "also ", "so ", "then ",
                                             "what about ", "how about ", "what if ", "same "};
constexpr std::string_view kBackReferences[] = {"it",    "its",  "it's", "this", "that", "these", "those",
                                                "they",  "them", "their", "there", "he",  "she",   "him",
                                                "her",   "one",  "ones", "same", "former", "latter"};

// A question that leans on the conversation: three words or fewer, or it starts with a
// connective, or it refers back with a pronoun.
bool IsFollowUp(std::string_view question) {
  const std::string lower = text::AsciiLower(text::CollapseSpace(question));
  const std::vector<text::Span> words = text::Words(lower);
  if (words.size() <= 3) return true;
  for (std::string_view c : kConnectives) {
    if (std::string_view(lower).starts_with(c)) return true;
  }
  for (const text::Span& w : words) {
    const std::string_view word = std::string_view(lower).substr(w.begin, w.size());
    for (std::string_view r : kBackReferences) {
      if (word == r) return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------- history

size_t MessageTokens(const ChatMessage& m) {
  size_t n = text::CountWhitespaceTokens(m.content);
  for (const ToolCall& c : m.tool_calls) n += 1 + text::CountWhitespaceTokens(c.arguments);
  return n;
}

// The non-system messages of `history`, whole turns (a user message and what follows it up to the
// next one) from the newest back, within `budget` tokens.
std::vector<ChatMessage> BudgetedHistory(std::span<const ChatMessage> history, uint32_t budget) {
  std::vector<std::vector<const ChatMessage*>> turns;
  for (const ChatMessage& m : history) {
    if (m.role == "system") continue;
    if (turns.empty() || m.role == "user") turns.emplace_back();
    turns.back().push_back(&m);
  }
  size_t used = 0;
  size_t first = turns.size();
  while (first > 0) {
    size_t t = 0;
    for (const ChatMessage* m : turns[first - 1]) t += MessageTokens(*m);
    if (used + t > budget) break;
    used += t;
    --first;
  }
  std::vector<ChatMessage> out;
  for (size_t i = first; i < turns.size(); ++i) {
    for (const ChatMessage* m : turns[i]) out.push_back(*m);
  }
  return out;
}

std::string CallerSystem(std::span<const ChatMessage> messages) {
  std::string out;
  for (const ChatMessage& m : messages) {
    if (m.role != "system" || Blank(m.content)) continue;
    if (!out.empty()) out += "\n\n";
    out += m.content;
  }
  return out;
}

// ---------------------------------------------------------------- tool mode

constexpr std::string_view kSearchFunction = "search";

FunctionDefinition SearchFunction(const std::string& collection) {
  FunctionDefinition f;
  f.name = std::string(kSearchFunction);
  f.description = "Search the document collection \"" + collection +
                  "\" for passages relevant to a query. Returns numbered passages [n]; cite them as [n].";
  f.parameters = Json{{"type", "object"},
                      {"properties",
                       {{"query", {{"type", "string"}, {"description", "what to look for: a standalone question or keywords"}}},
                        {"filter", {{"type", "string"},
                                    {"description", "optional payload filter, e.g. metadata.lang = \"en\""}}},
                        {"k", {{"type", "integer"}, {"minimum", 1}, {"maximum", kMaxSearchK},
                               {"description", "how many passages (default 5)"}}}}},
                      {"required", {"query"}}}
                     .dump();
  return f;
}

std::string ToolSystem(const std::string& collection) {
  return "You are a careful assistant. You can call the function `search` to find passages in the document "
         "collection \"" +
         collection +
         "\"; search before answering a question about its content, and search again with other words when "
         "the passages do not answer it. Each passage is numbered [n]. Answer only from the passages and "
         "cite the ones that support each statement as [n]. If they do not contain the answer, say that "
         "you don't know.";
}

// The highest [n] of "[n] (" passages in earlier tool messages, so that new passages continue the
// numbering of a conversation.
uint32_t HighestPassage(std::span<const ChatMessage> messages) {
  uint32_t high = 0;
  for (const ChatMessage& m : messages) {
    if (m.role != "tool") continue;
    std::string_view s = m.content;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '[' || (i > 0 && s[i - 1] != '\n')) continue;
      uint32_t n = 0;
      size_t j = i + 1;
      while (j < s.size() && j < i + 8 && s[j] >= '0' && s[j] <= '9') n = n * 10 + static_cast<uint32_t>(s[j++] - '0');
      if (j + 1 < s.size() && s[j] == ']' && s[j + 1] == ' ') high = std::max(high, n);
    }
  }
  return high;
}

}  // namespace

// ---------------------------------------------------------------- settings

Status GenerationSettings::Validate() const {
  if (temperature && !(*temperature >= 0 && *temperature <= 2)) {
    return Status::InvalidArgument("generation.temperature: " + std::to_string(*temperature) +
                                   " is outside [0, 2]");
  }
  if (max_tokens && *max_tokens == 0) return Status::InvalidArgument("generation.max_tokens: must be > 0");
  if (stop.size() > kMaxStop) {
    return Status::InvalidArgument("generation.stop: " + std::to_string(stop.size()) + " sequences, at most " +
                                   std::to_string(kMaxStop));
  }
  for (size_t i = 0; i < stop.size(); ++i) {
    if (stop[i].empty() || stop[i].size() > kMaxStopBytes) {
      return Status::InvalidArgument("generation.stop[" + std::to_string(i) + "]: must be 1.." +
                                     std::to_string(kMaxStopBytes) + " bytes");
    }
  }
  if (model.size() > 256) return Status::InvalidArgument("generation.model: longer than 256 bytes");
  return Status::OK();
}

Status GenerationLimits::Check(const GenerationSettings& s) const {
  SEXTANT_RETURN_IF_ERROR(s.Validate());
  if (s.max_tokens && *s.max_tokens > max_tokens) {
    return Status::InvalidArgument("generation.max_tokens: " + std::to_string(*s.max_tokens) +
                                   " exceeds the server's limit of " + std::to_string(max_tokens));
  }
  if (!s.model.empty() && !models.empty() && std::find(models.begin(), models.end(), s.model) == models.end()) {
    std::string allowed;
    for (const std::string& m : models) allowed += (allowed.empty() ? "" : ", ") + m;
    return Status::PermissionDenied("generation.model: \"" + s.model + "\" is not one this server allows (" +
                                    allowed + ")");
  }
  return Status::OK();
}

StatusOr<Generation> Generator::Complete(const ChatCompletionRequest& request, const TokenCallback& on_token) {
  if (!request.tools.empty() && !request.tools_none) {
    return Status::FailedPrecondition("generator " + name() +
                                      " is not a language model and cannot call functions (tool mode needs an "
                                      "OpenAI-compatible generator)");
  }
  SEXTANT_RETURN_IF_ERROR(request.settings.Validate());
  SEXTANT_ASSIGN_OR_RETURN(Generation g, Generate(request.question, request.prompt, on_token));
  if (g.finish_reason.empty()) g.finish_reason = "stop";
  return g;
}

// ---------------------------------------------------------------- validation and rewrite

Status ValidateConversation(std::span<const ChatMessage> messages) {
  if (messages.empty()) {
    return Status::InvalidArgument("messages: empty (send at least one user message)");
  }
  std::set<std::string> calls;     // ids of calls made by earlier assistant messages
  std::set<std::string> answered;  // ... and answered by a tool message
  bool user = false;
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role == "system") {
      if (!m.tool_calls.empty() || !m.tool_call_id.empty()) {
        return Status::InvalidArgument(At(i) + ": a system message carries no tool calls");
      }
    } else if (m.role == "user") {
      if (Blank(m.content)) return Status::InvalidArgument(At(i) + ": a user message with no content");
      if (!m.tool_calls.empty() || !m.tool_call_id.empty()) {
        return Status::InvalidArgument(At(i) + ": a user message carries no tool calls");
      }
      user = true;
    } else if (m.role == "assistant") {
      for (size_t k = 0; k < m.tool_calls.size(); ++k) {
        const ToolCall& c = m.tool_calls[k];
        const std::string where = At(i) + ".tool_calls[" + std::to_string(k) + "]";
        if (c.id.empty()) return Status::InvalidArgument(where + ": id is empty");
        if (!IsFunctionName(c.name)) {
          return Status::InvalidArgument(where + ": \"" + c.name.substr(0, 80) + "\" is not a function name");
        }
        if (!calls.insert(c.id).second) {
          return Status::InvalidArgument(where + ": id \"" + c.id + "\" is used by an earlier call");
        }
      }
    } else if (m.role == "tool") {
      if (m.tool_call_id.empty()) {
        return Status::InvalidArgument(At(i) + ": a tool message needs tool_call_id (the call it answers)");
      }
      if (!calls.count(m.tool_call_id)) {
        return Status::InvalidArgument(At(i) + ": tool message answers tool_call_id \"" + m.tool_call_id +
                                       "\", which no earlier assistant message made");
      }
      if (!answered.insert(m.tool_call_id).second) {
        return Status::InvalidArgument(At(i) + ": tool_call_id \"" + m.tool_call_id + "\" is answered twice");
      }
    } else {
      return Status::InvalidArgument(At(i) + ": unknown role \"" + m.role.substr(0, 40) +
                                     "\" (use system, user, assistant or tool)");
    }
  }
  const ChatMessage& last = messages.back();
  if (last.role != "user" && last.role != "tool") {
    return Status::InvalidArgument(At(messages.size() - 1) + ": the last message must be from the user or a tool, not " +
                                   last.role);
  }
  if (!user) return Status::InvalidArgument("messages: no user message (there is nothing to answer)");
  return Status::OK();
}

std::string RewriteFollowUpHeuristic(std::span<const ChatMessage> history, std::string_view question) {
  std::vector<std::string_view> chain = {question};
  for (size_t i = history.size(); i-- > 0 && IsFollowUp(chain.back()) && chain.size() <= kMaxChainedFollowUps;) {
    if (history[i].role == "user") chain.push_back(history[i].content);
  }
  std::string out;
  for (size_t i = chain.size(); i-- > 0;) {
    if (!out.empty()) out += ' ';
    out += text::CollapseSpace(chain[i]);
  }
  return out;
}

// ---------------------------------------------------------------- Chat

namespace {

// The rewrite by the model: the transcript and the last question in, one standalone question out.
StatusOr<std::string> RewriteWithModel(std::span<const ChatMessage> history, std::string_view question,
                                       const GenerationSettings& settings, Generator& generator) {
  std::string transcript;
  for (const ChatMessage& m : history) {
    if ((m.role != "user" && m.role != "assistant") || Blank(m.content)) continue;
    transcript += m.role + ": " + text::CollapseSpace(m.content) + "\n";
  }
  ChatCompletionRequest r;
  r.messages.push_back({"system",
                        "Rewrite the user's last question as one standalone question that can be understood "
                        "without the conversation, in the same language. Answer with the question only.",
                        {},
                        {}});
  r.messages.push_back({"user", "Conversation:\n" + transcript + "\nLast question: " + std::string(question), {}, {}});
  r.settings.temperature = 0;
  r.settings.max_tokens = 96;
  r.settings.model = settings.model;
  r.settings.seed = settings.seed;
  r.question = std::string(question);
  SEXTANT_ASSIGN_OR_RETURN(Generation g, generator.Complete(r));
  std::string out = text::CollapseSpace(g.text.substr(0, g.text.find('\n')));
  if (out.starts_with("Question:")) out = text::CollapseSpace(out.substr(9));
  return out;
}

Status CheckFunctions(const ChatOptions& options) {
  if (options.functions.size() > kMaxFunctions) {
    return Status::InvalidArgument("functions: " + std::to_string(options.functions.size()) + ", at most " +
                                   std::to_string(kMaxFunctions));
  }
  std::set<std::string> names;
  for (size_t i = 0; i < options.functions.size(); ++i) {
    const FunctionDefinition& f = options.functions[i];
    const std::string where = "functions[" + std::to_string(i) + "]";
    if (!IsFunctionName(f.name)) {
      return Status::InvalidArgument(where + ".name: \"" + f.name.substr(0, 80) + "\" is not [A-Za-z0-9_-]{1,64}");
    }
    if (options.tools_auto && f.name == kSearchFunction) {
      return Status::InvalidArgument(where + ".name: \"search\" is the collection's own function in tool mode");
    }
    if (!names.insert(f.name).second) return Status::InvalidArgument(where + ".name: \"" + f.name + "\" twice");
    Json p = Json::parse(f.parameters, nullptr, /*allow_exceptions=*/false);
    if (!p.is_object()) return Status::InvalidArgument(where + ".parameters: not a JSON object (a JSON schema)");
  }
  if (options.max_tool_rounds == 0 || options.max_tool_rounds > kMaxToolRounds) {
    return Status::InvalidArgument("max_tool_rounds: must be 1.." + std::to_string(kMaxToolRounds) + ", got " +
                                   std::to_string(options.max_tool_rounds));
  }
  return Status::OK();
}

}  // namespace

StatusOr<Answer> TextCollection::Chat(std::span<const ChatMessage> messages, const ChatOptions& options,
                                      Generator& generator, const TokenCallback& on_token) const {
  const auto start = std::chrono::steady_clock::now();
  SEXTANT_RETURN_IF_ERROR(ValidateConversation(messages));
  SEXTANT_RETURN_IF_ERROR(options.generation.Validate());
  SEXTANT_RETURN_IF_ERROR(CheckFunctions(options));
  const bool with_tools = options.tools_auto || !options.functions.empty();
  if (with_tools && !generator.is_language_model()) {
    return Status::FailedPrecondition("tools: generator " + generator.name() +
                                      " is not a language model and cannot call functions (use an "
                                      "OpenAI-compatible generator, \"openai\")");
  }
  if (options.rewrite == RewriteMode::kModel && !generator.is_language_model()) {
    return Status::FailedPrecondition("rewrite: generator " + generator.name() +
                                      " is not a language model (use the heuristic rewrite)");
  }

  size_t last_user = messages.size();
  while (messages[last_user - 1].role != "user") --last_user;
  --last_user;
  const std::span<const ChatMessage> history = messages.subspan(0, last_user);
  const std::span<const ChatMessage> after = messages.subspan(last_user + 1);
  const std::string& question = messages[last_user].content;

  Answer answer;
  answer.embedder = embedder().spec();
  answer.generator = generator.name();
  ChatCompletionRequest request;
  request.settings = options.generation;
  std::vector<Citation> seen;  // every chunk handed to the model
  const std::string caller_system = CallerSystem(messages);

  answer.retrieval = std::string(RetrievalModeName(EffectiveRetrieval(options.retrieve.retrieval)));
  if (!options.tools_auto) {
    // Retrieval for the last user turn, rewritten into a standalone question when it is a follow-up.
    answer.standalone_question = text::CollapseSpace(question);
    const bool has_earlier_user =
        std::any_of(history.begin(), history.end(), [](const ChatMessage& m) { return m.role == "user"; });
    if (has_earlier_user && options.rewrite != RewriteMode::kOff) {
      const auto t0 = std::chrono::steady_clock::now();
      const bool model = options.rewrite == RewriteMode::kModel ||
                         (options.rewrite == RewriteMode::kAuto && generator.is_language_model());
      if (model) {
        SEXTANT_ASSIGN_OR_RETURN(std::string r, RewriteWithModel(history, question, options.generation, generator));
        answer.standalone_question = HasWord(r) ? r : RewriteFollowUpHeuristic(history, question);
      } else {
        answer.standalone_question = RewriteFollowUpHeuristic(history, question);
      }
      answer.timings.rewrite_ms = MsSince(t0);
    }
    SEXTANT_ASSIGN_OR_RETURN(seen, Retrieve(answer.standalone_question, options.retrieve, &answer.timings));
    if (seen.empty() && options.retrieve.score_threshold) {
      // Nothing relevant enough: say so rather than let a model answer from nothing.
      answer.text = text::NoPassageAnswer(*options.retrieve.score_threshold);
      if (on_token) on_token(answer.text);
      answer.finish_reason = "stop";
      answer.messages.push_back({"assistant", answer.text, {}, {}});
      answer.timings.total_ms = MsSince(start);
      return answer;
    }
    std::vector<ContextChunk> chunks;
    chunks.reserve(seen.size());
    for (const Citation& c : seen) chunks.push_back({c.document_id, c.chunk, c.score, c.text});
    request.prompt = BuildPrompt(answer.standalone_question, chunks, options.prompt);
    seen.resize(std::min(seen.size(), request.prompt.context.size()));
    request.question = answer.standalone_question;
    std::string system = request.prompt.system;
    if (!caller_system.empty()) system += (system.empty() ? "" : "\n\n") + caller_system;
    if (!system.empty()) request.messages.push_back({"system", system, {}, {}});
    for (ChatMessage& m : BudgetedHistory(history, options.max_history_tokens)) request.messages.push_back(std::move(m));
    request.messages.push_back({"user", request.prompt.user, {}, {}});
  } else {
    answer.standalone_question = text::CollapseSpace(question);
    request.question = answer.standalone_question;
    std::string system = ToolSystem(name());
    if (!caller_system.empty()) system += "\n\n" + caller_system;
    request.messages.push_back({"system", system, {}, {}});
    for (ChatMessage& m : BudgetedHistory(history, options.max_history_tokens)) request.messages.push_back(std::move(m));
    request.messages.push_back(messages[last_user]);
    request.tools.push_back(SearchFunction(name()));
  }
  for (const ChatMessage& m : after) request.messages.push_back(m);
  for (const FunctionDefinition& f : options.functions) request.tools.push_back(f);

  // Model rounds: each either answers or calls functions. Calls to `search` are executed here and
  // fed back; calls to the caller's functions end the call with finish_reason "tool_calls".
  uint32_t next_number = HighestPassage(messages);
  const uint32_t first_number = next_number;
  std::map<std::pair<std::string, uint32_t>, uint32_t> numbered;  // (document, chunk) -> [n]
  Generation g;
  for (uint32_t round = 0;; ++round) {
    if (options.deadline && std::chrono::steady_clock::now() >= *options.deadline) {
      return Status::DeadlineExceeded("chat: the deadline passed after " + std::to_string(round) +
                                      " model rounds (" + std::to_string(answer.tool_calls.size()) + " tool calls)");
    }
    request.tools_none = with_tools && round >= options.max_tool_rounds;
    if (options.tools_auto) {
      // Citations in tool mode are numbered by the passages the model saw.
      request.prompt.context.clear();
      for (const Citation& c : seen) request.prompt.context.push_back({c.document_id, c.chunk, c.score, c.text});
    }
    const auto t0 = std::chrono::steady_clock::now();
    SEXTANT_ASSIGN_OR_RETURN(g, generator.Complete(request, on_token));
    answer.timings.generate_ms += MsSince(t0);
    if (g.tool_calls.empty()) break;
    if (request.tools_none) {
      return Status::ResourceExhausted("chat: the model was still calling functions after max_tool_rounds = " +
                                       std::to_string(options.max_tool_rounds) + " rounds");
    }
    ++answer.tool_rounds;
    ChatMessage call_turn{"assistant", g.text, g.tool_calls, {}};
    answer.messages.push_back(call_turn);
    request.messages.push_back(call_turn);
    for (const ToolCall& c : g.tool_calls) answer.tool_calls.push_back(c);
    const auto t1 = std::chrono::steady_clock::now();
    for (const ToolCall& c : g.tool_calls) {
      const bool caller_function =
          std::any_of(options.functions.begin(), options.functions.end(),
                      [&](const FunctionDefinition& f) { return f.name == c.name; });
      if (caller_function) {
        answer.pending_calls.push_back(c);
        continue;
      }
      std::string result;
      if (!options.tools_auto || c.name != kSearchFunction) {
        std::string names = options.tools_auto ? "search" : "";
        for (const FunctionDefinition& f : options.functions) names += (names.empty() ? "" : ", ") + f.name;
        result = "error: there is no function \"" + c.name.substr(0, 80) + "\"; the functions are: " + names;
      } else {
        Json args = Json::parse(c.arguments.empty() ? "{}" : c.arguments, nullptr, /*allow_exceptions=*/false);
        RetrieveOptions ro = options.retrieve;
        if (!args.is_object()) {
          result = "error: the arguments are not a JSON object; call search with {\"query\": \"...\"}";
        } else if (!args.contains("query") || !args["query"].is_string() || Blank(args["query"].get<std::string>())) {
          result = "error: \"query\" (a non-empty string) is required";
        } else if (args.contains("k") && !(args["k"].is_number_integer() && args["k"].get<int64_t>() >= 1 &&
                                           args["k"].get<int64_t>() <= kMaxSearchK)) {
          result = "error: \"k\" must be an integer 1.." + std::to_string(kMaxSearchK);
        } else if (args.contains("filter") && !args["filter"].is_string() && !args["filter"].is_null()) {
          result = "error: \"filter\" must be a string";
        } else {
          if (args.contains("k")) ro.k = static_cast<uint32_t>(args["k"].get<int64_t>());
          if (args.contains("filter") && args["filter"].is_string() && !args["filter"].get<std::string>().empty()) {
            const std::string f = args["filter"].get<std::string>();
            ro.filter = ro.filter.empty() ? f : "(" + ro.filter + ") AND (" + f + ")";
          }
          auto found = Retrieve(args["query"].get<std::string>(), ro);
          if (!found.ok()) {
            if (found.status().code() != StatusCode::kInvalidArgument) return found.status().WithPrefix("chat: search");
            result = "error: " + std::string(found.status().message());
          } else if (found->empty()) {
            result = "no passages found";
          } else {
            for (Citation& hit : *found) {
              auto key = std::make_pair(hit.document_id, hit.chunk);
              auto it = numbered.find(key);
              if (it == numbered.end()) {
                it = numbered.emplace(key, ++next_number).first;
                hit.number = next_number;
                seen.push_back(hit);
              }
              if (!result.empty()) result += "\n";
              result += "[" + std::to_string(it->second) + "] (" + hit.document_id + ", chunk " +
                        std::to_string(hit.chunk) + ") " + hit.text;
            }
          }
        }
      }
      ChatMessage tool{"tool", result, {}, c.id};
      answer.messages.push_back(tool);
      request.messages.push_back(std::move(tool));
    }
    answer.timings.tools_ms += MsSince(t1);
    if (!answer.pending_calls.empty()) break;
  }

  answer.text = g.text;
  answer.generator = g.generator.empty() ? generator.name() : g.generator;
  if (answer.pending_calls.empty()) {
    answer.finish_reason = g.finish_reason.empty() ? "stop" : g.finish_reason;
    answer.messages.push_back({"assistant", g.text, {}, {}});
  } else {
    answer.finish_reason = "tool_calls";
  }
  if (options.tools_auto) {
    // [n] of this call's passages start after first_number; the answer cites them by those numbers.
    for (uint32_t n : text::CitedContext(g.text, next_number)) {
      if (n > first_number) seen[n - first_number - 1].cited = true;
    }
  } else {
    for (uint32_t n : g.cited) {
      if (n >= 1 && n <= seen.size()) seen[n - 1].cited = true;
    }
  }
  answer.citations = std::move(seen);
  answer.timings.total_ms = MsSince(start);
  return answer;
}

}  // namespace sextant::rag
