// BuildPrompt: the system and user messages for a question and its retrieved chunks, within a
// budget of white-space tokens. See docs/rag.md ("Prompt templates").
#include <string>
#include <string_view>
#include <vector>

#include "rag/text.h"
#include "sextant/rag.h"

namespace sextant::rag {
namespace {

constexpr std::string_view kDefaultSystem =
    "You are a careful assistant that answers questions using only the numbered context passages "
    "given with the question. Do not use any other knowledge. Cite the passages that support each "
    "statement as [n], where n is the passage number, for example [1] or [2][3]. If the context "
    "does not contain the answer, say that you don't know.";

constexpr std::string_view kDefaultUser = "Context:\n{context}\n\nQuestion: {question}";

// Replaces {context} and {question} in one left-to-right pass: substituted text is never scanned
// again (a question that contains "{context}" stays as typed), and any other {name} is kept as is.
std::string Substitute(std::string_view tmpl, std::string_view context, std::string_view question) {
  std::string out;
  out.reserve(tmpl.size() + context.size() + question.size());
  size_t i = 0;
  while (i < tmpl.size()) {
    std::string_view rest = tmpl.substr(i);
    if (rest.starts_with("{context}")) {
      out.append(context);
      i += 9;
    } else if (rest.starts_with("{question}")) {
      out.append(question);
      i += 10;
    } else {
      out.push_back(tmpl[i++]);
    }
  }
  return out;
}

// "[1] (doc-id, chunk c) text" lines for the first `count` chunks, or "(none)".
std::string RenderContext(std::span<const ContextChunk> chunks, size_t count) {
  if (count == 0) return "(none)";
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) out += "\n";
    out += "[" + std::to_string(i + 1) + "] (" + chunks[i].document_id + ", chunk " +
           std::to_string(chunks[i].chunk) + ") " + chunks[i].text;
  }
  return out;
}

}  // namespace

Prompt BuildPrompt(std::string_view question, std::span<const ContextChunk> chunks,
                   const PromptOptions& options) {
  const std::string_view system_tmpl =
      options.system_template.empty() ? kDefaultSystem : std::string_view(options.system_template);
  const std::string_view user_tmpl =
      options.user_template.empty() ? kDefaultUser : std::string_view(options.user_template);
  // Drop the lowest-ranked chunks until the prompt fits. With none left the prompt is returned
  // even when it is over the budget: the question is never cut.
  for (size_t count = chunks.size();; --count) {
    const std::string context = RenderContext(chunks, count);
    Prompt p;
    p.system = Substitute(system_tmpl, context, question);
    p.user = Substitute(user_tmpl, context, question);
    size_t tokens = text::CountWhitespaceTokens(p.system) + text::CountWhitespaceTokens(p.user);
    if (tokens <= options.max_prompt_tokens || count == 0) {
      p.context.assign(chunks.begin(), chunks.begin() + static_cast<ptrdiff_t>(count));
      return p;
    }
  }
}

}  // namespace sextant::rag
