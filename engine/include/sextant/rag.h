// The RAG building blocks: chunker, embedders, prompt and generators (engine/rag). They turn
// documents into chunks and vectors, and a question plus retrieved chunks into an answer.
// Usable from C++ without the server; sextantd exposes them over gRPC.
//
#ifndef SEXTANT_RAG_H_
#define SEXTANT_RAG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/database.h"
#include "sextant/options.h"
#include "sextant/status.h"
#include "sextant/types.h"

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

// ---------------------------------------------------------------- conversations and tools

// A function call a model made (OpenAI's tool_calls[i]).
struct ToolCall {
  std::string id;         // chosen by the model (or the generator); tool messages answer it by id
  std::string name;       // the function
  std::string arguments;  // JSON text, as the model wrote it (it may be malformed)
};

// One message of a conversation (docs/rag.md, "Chat").
struct ChatMessage {
  std::string role;                  // "system", "user", "assistant" or "tool"
  std::string content;
  std::vector<ToolCall> tool_calls;  // assistant: the calls it made
  std::string tool_call_id;          // tool: the call this message answers
};

// A function offered to the model, in the OpenAI tools schema.
struct FunctionDefinition {
  std::string name;         // [A-Za-z0-9_-]{1,64}
  std::string description;
  std::string parameters = R"({"type":"object","properties":{}})";  // a JSON schema object
};

// Per-request generation settings passed to the generator; unset = the generator's own.
// The extractive generator has no use for them and ignores them.
struct GenerationSettings {
  std::optional<float> temperature;  // [0, 2]
  std::optional<uint32_t> max_tokens;
  std::vector<std::string> stop;     // at most 4, each 1..64 bytes
  std::string model;                 // "" = the generator's configured model
  std::optional<int64_t> seed;
  // InvalidArgument naming the setting ("generation.temperature: ...").
  Status Validate() const;
};

// What a server lets a request ask for (sextantd --llm-max-tokens, --llm-models).
struct GenerationLimits {
  uint32_t max_tokens = 4096;
  std::vector<std::string> models;  // models a request may name; empty = any
  // Validate(), then PermissionDenied/InvalidArgument for settings beyond the limits.
  Status Check(const GenerationSettings& settings) const;
};

// Everything a generator is given for one completion.
struct ChatCompletionRequest {
  std::vector<ChatMessage> messages;  // what a chat model reads, system first
  std::vector<FunctionDefinition> tools;  // offered to the model; empty = none
  bool tools_none = false;            // offer the tools but forbid calling them (tool_choice "none")
  GenerationSettings settings;
  std::string question;               // the standalone question (what the extractive generator answers)
  Prompt prompt;                      // its context, numbered [1].. (citations refer to it)
};

struct Generation {
  std::string text;
  std::vector<uint32_t> cited;  // context numbers ([n]) the answer cites, 1-based
  std::string generator;        // "extractive", "openai:<model>"
  std::vector<ToolCall> tool_calls;  // the model asked for these calls instead of (or with) an answer
  std::string finish_reason;    // "stop", "length", "tool_calls" ("" when the generator does not say)
};

class Generator {
 public:
  virtual ~Generator() = default;
  virtual std::string name() const = 0;
  // Answers prompt (and, for the extractive generator, the question against prompt.context).
  // Streams through on_token when given.
  virtual StatusOr<Generation> Generate(std::string_view question, const Prompt& prompt,
                                        const TokenCallback& on_token = nullptr) = 0;
  // A completion of a conversation. The default (generators without a language model) answers
  // request.question from request.prompt with Generate, and is FailedPrecondition when tools
  // are offered for calling.
  virtual StatusOr<Generation> Complete(const ChatCompletionRequest& request,
                                        const TokenCallback& on_token = nullptr);
  // True when the generator is a language model that follows instructions (it then rewrites
  // follow-up questions and can call tools).
  virtual bool is_language_model() const { return false; }
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

// ---------------------------------------------------------------- embedder configuration

// Which embedder a text collection uses. Recorded with the collection (as JSON in
// CollectionOptions::properties), so every later ingest and question uses the same one. Secrets
// (the OpenAI key) are never recorded: they come from the EmbedderEnvironment.
struct EmbedderConfig {
  std::string kind = "hash";          // "hash", "local" or "openai"
  HashEmbedderOptions hash;           // kind "hash"
  std::string local_model = "all-MiniLM-L6-v2";  // kind "local": a directory name under
                                                 // EmbedderEnvironment::model_root, or an absolute path
  std::string openai_base_url;        // kind "openai": ".../v1"
  std::string openai_model;           // kind "openai"
  uint32_t dimension = 0;             // kind "openai": 0 = learned by embedding a probe text at create

  // {"kind":"hash","dimension":384,...}. FromJson: InvalidArgument naming the bad field.
  std::string ToJson() const;
  static StatusOr<EmbedderConfig> FromJson(std::string_view json);
  // InvalidArgument for an unknown kind or out-of-range option.
  Status Validate() const;
};

// What the process supplies to embedders that the collection does not record.
struct EmbedderEnvironment {
  // Where "local" models live: $SEXTANT_MODEL_DIR, else ~/.cache/sextant/models.
  std::string model_root;
  std::string openai_api_key;  // sent to "openai" endpoints; default $OPENAI_API_KEY
  uint32_t threads = 0;        // local encoder threads; 0 = hardware concurrency
  uint32_t timeout_ms = 30000; // openai requests
  // The defaults above, read from the environment.
  static EmbedderEnvironment FromProcess();
};

// Builds embedders from configs and keeps them, so every collection using one model shares one
// loaded copy. Thread-safe.
class EmbedderProvider {
 public:
  explicit EmbedderProvider(EmbedderEnvironment env = EmbedderEnvironment::FromProcess());
  ~EmbedderProvider();
  // The embedder for `config`, built on first use. NotFound for a missing local model (the
  // message says how to fetch it), Unavailable for an unreachable endpoint.
  StatusOr<std::shared_ptr<Embedder>> Get(const EmbedderConfig& config);
  // The directory of a "local" config's model (model_root/local_model, or local_model when it
  // is an absolute path).
  std::string LocalModelDir(const EmbedderConfig& config) const;
  const EmbedderEnvironment& environment() const;

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// ---------------------------------------------------------------- text collections

// A document to ingest. Its chunks become points with ids "<id>#<chunk>" and payloads
// {"document_id", "chunk", "text", "begin", "end", "metadata"}.
struct Document {
  std::string id;        // 1..256 bytes
  std::string text;      // UTF-8; an empty text deletes the document's chunks
  std::string metadata;  // a JSON object (or empty), stored with every chunk under "metadata"
};

struct TextCollectionOptions {
  EmbedderConfig embedder;
  // The chunk text is indexed for BM25 (a text field "text" on every chunk, docs/text_search.md)
  // in this language: a Snowball stemmer language ("english", "french", ...) or "none" (no
  // stemming, no stop words). Collections created before text indexing existed report "" here:
  // they have no text index, retrieve dense only (docs/rag.md, "Retrieval modes").
  std::string text_language = "english";
  // Chunking. tokens = kWordPiece uses the local model's vocabulary (vocabulary_path is filled
  // in); the default for "local" is WordPiece windows of 200 tokens, for others whitespace 256.
  ChunkerOptions chunker;
  bool chunker_set = false;  // false = the default for the embedder, as above
  IndexOptions index = IndexOptions{.type = IndexType::kHnsw};
};

// Progress of an ingest, called after each committed batch of documents.
struct IngestProgress {
  uint64_t documents = 0;  // ingested so far in this call
  uint64_t chunks = 0;     // written so far in this call
  uint64_t total_documents = 0;
};
using IngestProgressCallback = std::function<void(const IngestProgress&)>;

struct IngestOptions {
  WriteOptions write;
  uint32_t batch_documents = 64;  // documents per atomic batch (each document is atomic on its own)
  IngestProgressCallback progress;
};

struct IngestResult {
  uint64_t documents = 0;
  uint64_t chunks = 0;           // chunks written
  uint64_t replaced_chunks = 0;  // older chunks of re-ingested documents removed
  double chunk_ms = 0, embed_ms = 0, write_ms = 0;
};

// Which candidate lists retrieval uses (docs/rag.md, "Retrieval modes").
enum class RetrievalMode {
  kHybrid,  // dense + BM25 over the chunk text, fused by reciprocal rank fusion (the default)
  kDense,   // the embedder's vectors alone
  kText,    // BM25 over the chunk text alone
};
// "hybrid", "dense", "text". (Inline: the wire conversion uses them without linking the engine.)
inline std::string_view RetrievalModeName(RetrievalMode mode) {
  switch (mode) {
    case RetrievalMode::kDense: return "dense";
    case RetrievalMode::kText: return "text";
    case RetrievalMode::kHybrid: break;
  }
  return "hybrid";
}
// "hybrid", "dense" or "text" ("" = hybrid); InvalidArgument naming the modes otherwise.
inline StatusOr<RetrievalMode> ParseRetrievalMode(std::string_view name) {
  if (name.empty() || name == "hybrid") return RetrievalMode::kHybrid;
  if (name == "dense") return RetrievalMode::kDense;
  if (name == "text") return RetrievalMode::kText;
  return Status::InvalidArgument("retrieval: '" + std::string(name.substr(0, 64)) +
                                 "' is not one of hybrid, dense, text");
}

struct RetrieveOptions {
  uint32_t k = 5;          // chunks, 1..1000
  std::string filter;      // payload filter (docs/filters.md); metadata fields are "metadata.<field>"
  uint32_t ef_search = 0;  // 0 = the index default
  RetrievalMode retrieval = RetrievalMode::kHybrid;
  // At most group_size chunks per value of this payload field ("document_id", or a
  // "metadata.<field>"); the k chunks are the best under that cap. Empty = no cap.
  std::string group_by;
  uint32_t group_size = 1;  // 1..1000, with group_by
  // Keep only chunks at least this relevant. The scale is the retrieval mode's: dense and hybrid
  // compare the chunk's cosine similarity to the question (Citation::dense_score, in [-1, 1]),
  // text its BM25 score (>= 0). Ask and Chat answer that they do not know, without calling the
  // generator, when no chunk passes. InvalidArgument outside that range.
  std::optional<float> score_threshold;
};

struct AskOptions {
  RetrieveOptions retrieve;
  PromptOptions prompt;
  GenerationSettings generation;
};

// How Chat turns a follow-up ("and on Windows?") into a standalone question to retrieve with.
enum class RewriteMode {
  kAuto,       // the language model when the generator is one, else the heuristic
  kModel,      // the language model (FailedPrecondition with a generator that is none)
  kHeuristic,  // the documented heuristic (docs/rag.md, "Follow-up questions")
  kOff,        // retrieve with the last user message as it is
};

struct ChatOptions {
  RetrieveOptions retrieve;
  PromptOptions prompt;               // system_template and user_template as for Ask
  uint32_t max_history_tokens = 2048; // earlier turns kept (whitespace tokens); oldest dropped first
  GenerationSettings generation;
  RewriteMode rewrite = RewriteMode::kAuto;
  // Tool mode: the model is offered a `search` function over this collection and decides itself
  // when to search; the calls are executed here, up to max_tool_rounds rounds.
  bool tools_auto = false;
  uint32_t max_tool_rounds = 4;       // 1..16
  // The caller's own functions, offered to the model; calls to them are returned (Answer::
  // finish_reason "tool_calls") for the caller to execute and answer with tool messages.
  std::vector<FunctionDefinition> functions;
  // No model round starts after this (DeadlineExceeded).
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

// InvalidArgument naming the message ("messages[2]: ...") for an empty list, an unknown role, a
// last message that is not from the user or a tool, a tool message that answers no earlier call.
Status ValidateConversation(std::span<const ChatMessage> messages);

// The documented follow-up heuristic: `question` alone when it reads as standalone, else the
// previous user question followed by it. `history` is every earlier message.
std::string RewriteFollowUpHeuristic(std::span<const ChatMessage> history, std::string_view question);

// A chunk handed to the generator as [number].
struct Citation {
  uint32_t number = 0;  // [n] in the prompt, 1-based, in rank order
  std::string document_id;
  uint32_t chunk = 0;
  // The retrieval score: the cosine similarity (dense), the BM25 score (text) or the fused RRF
  // score (hybrid), and its parts when the mode had them.
  float score = 0;
  std::optional<float> dense_score;
  std::optional<float> text_score;
  std::string text;
  uint64_t begin = 0, end = 0;  // byte span of text in the document
  bool cited = false;           // the answer refers to [number]
};

struct AskTimings {
  double embed_ms = 0, retrieve_ms = 0, generate_ms = 0, total_ms = 0;
  double rewrite_ms = 0;  // Chat: the follow-up rewrite
  double tools_ms = 0;    // tool mode: executing the model's search calls
};

struct Answer {
  std::string text;
  std::vector<Citation> citations;  // every chunk in the prompt (tool mode: every chunk the model saw), [1] first
  AskTimings timings;
  std::string generator;  // Generator::name()
  std::string embedder;   // Embedder::spec()
  std::string retrieval;  // the retrieval mode used ("hybrid", "dense", "text")
  // Chat only.
  std::string standalone_question;   // what was retrieved with (after the follow-up rewrite)
  std::vector<ToolCall> tool_calls;  // every call the model made, in order
  // finish_reason "tool_calls": the caller's functions to call; answer each with a tool message.
  std::vector<ToolCall> pending_calls;
  // The messages this call added to the conversation (assistant turns with their tool calls, the
  // tool results of executed calls, and the final assistant answer): append them to continue.
  std::vector<ChatMessage> messages;
  std::string finish_reason;  // "stop", "length" or "tool_calls"
  uint32_t tool_rounds = 0;
};

// A collection of text chunks with the embedder recorded at creation. Thread-safe.
class TextCollection {
 public:
  // Creates collection `name` with the embedder's dimension, cosine metric, a keyword index on
  // "document_id", and the configuration recorded. AlreadyExists, InvalidArgument, or the
  // embedder's error (a missing model is NotFound).
  static StatusOr<std::unique_ptr<TextCollection>> Create(Database& db, std::string_view name,
                                                          const TextCollectionOptions& options,
                                                          EmbedderProvider& embedders);
  // Opens an existing text collection. NotFound; FailedPrecondition when `name` is a plain vector
  // collection.
  static StatusOr<std::unique_ptr<TextCollection>> Open(Database& db, std::string_view name,
                                                        EmbedderProvider& embedders);
  // The recorded configuration of a collection, or nullopt when it is not a text collection.
  static StatusOr<std::optional<TextCollectionOptions>> ConfigOf(const CollectionInfo& info);

  ~TextCollection();

  const std::string& name() const;
  Collection& collection() const;
  Embedder& embedder() const;
  const TextCollectionOptions& options() const;

  // Chunks, embeds and writes the documents. Each document is replaced atomically: its new chunks
  // and the removal of its old ones commit in one batch, so a search sees the old version or the
  // new one. InvalidArgument naming the document for a bad id, metadata or duplicate id in the
  // call; nothing of that document or later ones is written.
  StatusOr<IngestResult> Ingest(std::span<const Document> documents, const IngestOptions& options = {});

  // Deletes every chunk of these documents atomically; returns the number of chunks deleted.
  StatusOr<uint64_t> DeleteDocuments(std::span<const std::string> document_ids, const WriteOptions& options = {});

  // Embeds texts with the collection's embedder.
  StatusOr<std::vector<float>> Embed(std::span<const std::string> texts) const;

  // Searches with a vector made elsewhere: FailedPrecondition unless `embedder_spec` is this
  // collection's Embedder::spec() (vectors of different models are not comparable).
  StatusOr<std::vector<Hit>> SearchEmbedded(std::span<const float> query, std::string_view embedder_spec,
                                            const SearchOptions& options) const;

  // Whether the chunk text has a BM25 index (false for collections created before text indexing
  // existed: retrieval "hybrid" then falls back to "dense", and "text" is FailedPrecondition).
  bool text_indexed() const;
  // The mode a retrieval asking for `mode` runs with (see text_indexed()).
  RetrievalMode EffectiveRetrieval(RetrievalMode mode) const;

  // The chunks best matching the question, best first (options.retrieval). InvalidArgument for an
  // empty question, k outside 1..1000, a bad group_by/group_size or a threshold out of range.
  StatusOr<std::vector<Citation>> Retrieve(std::string_view question, const RetrieveOptions& options,
                                           AskTimings* timings = nullptr) const;

  // embed -> retrieve -> prompt -> generate. Streams the answer through on_token when given.
  StatusOr<Answer> Ask(std::string_view question, const AskOptions& options, Generator& generator,
                       const TokenCallback& on_token = nullptr) const;

  // A turn of a conversation: validate -> rewrite the last user message into a standalone
  // question -> retrieve -> prompt (the history within max_history_tokens) -> generate; or, in
  // tool mode, let the model search through function calls. Streams through on_token.
  StatusOr<Answer> Chat(std::span<const ChatMessage> messages, const ChatOptions& options,
                        Generator& generator, const TokenCallback& on_token = nullptr) const;

 private:
  struct Rep;
  explicit TextCollection(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

// ---------------------------------------------------------------- server-side conversations

// What a conversation store keeps (docs/rag.md, "Server-side conversations").
struct ConversationLimits {
  // Messages kept per conversation: beyond it the oldest are dropped (a leading system message
  // is kept), so a long conversation goes on within a rolling window.
  uint32_t max_messages = 200;
  // Bytes of message text (content, tool call arguments) a conversation may hold. A turn that
  // would pass it is ResourceExhausted before anything is generated or stored.
  uint64_t max_bytes = 1 << 20;
  // Bytes of one message (a stored message is one point: below DatabaseOptions::max_payload_bytes).
  uint32_t max_message_bytes = 48 * 1024;
};

struct ConversationInfo {
  std::string id;
  std::string collection;   // the text collection it talks to
  uint32_t messages = 0;    // messages kept
  uint64_t bytes = 0;       // their text
  int64_t created_ms = 0;   // Unix time of the first turn, milliseconds
  int64_t updated_ms = 0;   // of the last
};

struct Conversation {
  ConversationInfo info;
  std::vector<ChatMessage> messages;  // oldest first
};

// Conversations stored in the database itself, so a client continues one by id and they survive
// a restart. They live in the reserved collection kConversationCollection (one point per message,
// through the public Collection API), created by the first turn. `db` must outlive the store.
// Thread-safe: turns of one conversation run one after the other (Chat holds the conversation's
// lock from load to store); use one store per database.
class ConversationStore {
 public:
  static constexpr std::string_view kConversationCollection = "sextant.conversations";

  static StatusOr<std::unique_ptr<ConversationStore>> Open(Database& db, ConversationLimits limits = {});
  ~ConversationStore();

  // InvalidArgument unless `id` is 1..128 letters, digits, '_', '-', '.' or ':'.
  static Status ValidateId(std::string_view id);

  // One turn of conversation `id` on `collection`: the stored messages followed by `messages`
  // (the new ones only: the user's question, or tool results) go to TextCollection::Chat; then
  // `messages` and the answer's messages are appended. The conversation is created on its first
  // turn. InvalidArgument for a bad id, a conversation of another collection, or a message over
  // max_message_bytes; ResourceExhausted past max_bytes. Nothing is stored when the turn fails.
  StatusOr<Answer> Chat(const TextCollection& collection, std::string_view id, std::span<const ChatMessage> messages,
                        const ChatOptions& options, Generator& generator, const TokenCallback& on_token = nullptr);

  // NotFound for an unknown id, InvalidArgument for a bad one.
  StatusOr<Conversation> Get(std::string_view id) const;
  // Every conversation (of `collection` when not empty), by id.
  StatusOr<std::vector<ConversationInfo>> List(std::string_view collection = {}) const;
  // NotFound for an unknown id, InvalidArgument for a bad one.
  Status Delete(std::string_view id);

  const ConversationLimits& limits() const;

 private:
  struct Rep;
  explicit ConversationStore(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace sextant::rag

#endif  // SEXTANT_RAG_H_
