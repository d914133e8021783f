// The RAG building blocks: chunker, embedders, prompt and generators (engine/rag). They turn
// documents into chunks and vectors, and a question plus retrieved chunks into an answer.
// Usable from C++ without the server; sextantd exposes them over gRPC.
//
// Status: the interfaces of issue 5. What is implemented is listed in docs/rag.md.
#ifndef SEXTANT_RAG_H_
#define SEXTANT_RAG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/status.h"

namespace sextant::rag {

// ---------------------------------------------------------------- chunking

// How text is cut into tokens for sizing chunks.
enum class TokenKind {
  kWhitespace,  // words and punctuation runs separated by white space
  kWordPiece,   // the WordPiece tokens of a vocabulary (ChunkerOptions::vocabulary_path)
};

struct ChunkerOptions {
  uint32_t chunk_tokens = 256;   // target size of a chunk, in tokens (>= 8)
  uint32_t overlap_tokens = 32;  // tokens repeated from the end of the previous chunk (< chunk_tokens / 2)
  TokenKind tokens = TokenKind::kWhitespace;
  std::string vocabulary_path;   // vocab.txt, for kWordPiece
  bool markdown = false;         // treat headings, lists and code fences as boundaries
};

// One chunk of a document. Offsets are bytes into the source text; text == source.substr(begin,
// end - begin) (the chunker never rewrites text).
struct Chunk {
  uint32_t index = 0;  // position in the document, from 0
  size_t begin = 0;
  size_t end = 0;
  uint32_t tokens = 0;
  std::string text;
};

// Cuts `text` into chunks of about options.chunk_tokens tokens that end at paragraph, then
// sentence, then word boundaries where one is near, with options.overlap_tokens of overlap.
// InvalidArgument for bad options; an empty text gives no chunks.
StatusOr<std::vector<Chunk>> ChunkText(std::string_view text, const ChunkerOptions& options);

// ---------------------------------------------------------------- embedders

// Turns texts into unit-length float vectors of a fixed dimension. Thread-safe.
class Embedder {
 public:
  virtual ~Embedder() = default;
  virtual uint32_t dimension() const = 0;
  // What produced the vectors, recorded with a text collection: vectors from embedders with
  // different specs are not comparable ("hash:384:v1", "local:all-MiniLM-L6-v2",
  // "openai:text-embedding-3-small@https://api.openai.com/v1").
  virtual std::string spec() const = 0;
  // texts.size() vectors, row-major, each of dimension() floats and unit length.
  virtual StatusOr<std::vector<float>> Embed(std::span<const std::string> texts) = 0;
};

struct HashEmbedderOptions {
  uint32_t dimension = 384;
  uint32_t char_ngram_min = 3;  // character n-grams of each lower-cased word (with boundary marks)
  uint32_t char_ngram_max = 5;
  bool word_bigrams = true;     // also hash pairs of consecutive words
};
// Feature hashing of words, word bigrams and character n-grams into a dense normalised vector.
// Deterministic across runs and machines; needs no model.
StatusOr<std::unique_ptr<Embedder>> MakeHashEmbedder(const HashEmbedderOptions& options = {});

struct LocalEmbedderOptions {
  std::string model_dir;  // config.json, vocab.txt, model.safetensors (sentence-transformers layout)
  uint32_t threads = 0;   // 0 = hardware concurrency
  uint32_t batch = 32;
  uint32_t max_tokens = 256;  // longer inputs are truncated, as sentence-transformers does
};
// A BERT-style sentence encoder (WordPiece, encoder layers, mean pooling, normalisation) run on
// Eigen. NotFound naming the directory and how to fetch a model when it is missing.
StatusOr<std::unique_ptr<Embedder>> MakeLocalEmbedder(const LocalEmbedderOptions& options);

struct OpenAIOptions {
  std::string base_url = "http://127.0.0.1:8080/v1";  // ".../v1"
  std::string model;
  std::string api_key;           // sent as "Authorization: Bearer"; empty = none
  uint32_t timeout_ms = 30000;   // per HTTP request
  uint32_t retries = 2;          // on connection errors, 429 and 5xx, with backoff
  uint32_t batch = 64;           // texts per /embeddings request
};
// Any OpenAI-compatible /v1/embeddings endpoint. The dimension is learned from the first answer
// (or set with `dimension` when known); Unavailable when the endpoint is down.
StatusOr<std::unique_ptr<Embedder>> MakeOpenAIEmbedder(const OpenAIOptions& options, uint32_t dimension = 0);

// ---------------------------------------------------------------- prompt and generation

// A retrieved chunk handed to the generator, numbered [1], [2], ... in the prompt.
struct ContextChunk {
  std::string document_id;
  uint32_t chunk = 0;
  float score = 0;
  std::string text;
};

struct PromptOptions {
  // {context} and {question} are replaced. Empty = the built-in templates, which tell the model
  // to answer only from the numbered context and to cite it as [n].
  std::string system_template;
  std::string user_template;
  uint32_t max_prompt_tokens = 2048;  // whitespace tokens; the lowest-ranked chunks are dropped first
};

struct Prompt {
  std::string system;
  std::string user;
  std::vector<ContextChunk> context;  // the chunks that fit, in rank order ([1] first)
};

// `chunks` in rank order (best first).
Prompt BuildPrompt(std::string_view question, std::span<const ContextChunk> chunks,
                   const PromptOptions& options = {});

// Called with each piece of the answer as it is produced; return false to stop.
using TokenCallback = std::function<bool(std::string_view piece)>;

struct Generation {
  std::string text;
  std::vector<uint32_t> cited;  // context numbers ([n]) the answer cites, 1-based
  std::string generator;        // "extractive", "openai:<model>"
};

class Generator {
 public:
  virtual ~Generator() = default;
  virtual std::string name() const = 0;
  // Answers prompt (and, for the extractive generator, the question against prompt.context).
  // Streams through on_token when given.
  virtual StatusOr<Generation> Generate(std::string_view question, const Prompt& prompt,
                                        const TokenCallback& on_token = nullptr) = 0;
};

// Picks the context sentences that best match the question (no model), cites them as [n], and
// says that no language model was used.
std::unique_ptr<Generator> MakeExtractiveGenerator(uint32_t max_sentences = 3);

struct OpenAIChatOptions {
  OpenAIOptions endpoint;
  uint32_t max_tokens = 512;
  float temperature = 0;
  bool stream = true;  // use server-sent events and call on_token per delta
};
// Any OpenAI-compatible /v1/chat/completions endpoint (llama.cpp server, Ollama, vLLM, OpenAI).
StatusOr<std::unique_ptr<Generator>> MakeOpenAIGenerator(const OpenAIChatOptions& options);

}  // namespace sextant::rag

#endif  // SEXTANT_RAG_H_
