// Text collections: the RAG path on top of a Collection. Documents are chunked, embedded with the
// collection's recorded embedder and written as points; questions are embedded the same way,
// answered from the nearest chunks. See docs/rag.md ("Text collections").
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "rag/text.h"
#include "sextant/rag.h"
#include "sync/mutex.h"

namespace sextant::rag {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr std::string_view kPropertiesKey = "sextant.text";
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kMaxDocumentIdBytes = 256;
constexpr uint32_t kMaxK = 1000;
constexpr uint32_t kMaxGroupSize = 1000;
// The payload field of a chunk that holds its text, indexed for BM25.
constexpr std::string_view kTextField = "text";

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

bool IsPlainName(std::string_view name) {
  if (name.empty() || name.size() > 128 || name[0] == '.') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// Reads an unsigned 32-bit field when present.
Status ReadU32(const Json& j, const char* key, uint32_t* out, std::string_view where) {
  if (!j.contains(key)) return Status::OK();
  if (!j[key].is_number_unsigned() || j[key].get<uint64_t>() > UINT32_MAX) {
    return Status::InvalidArgument(std::string(where) + "." + key + ": must be a non-negative integer");
  }
  *out = j[key].get<uint32_t>();
  return Status::OK();
}

std::string ChunkId(std::string_view document_id, uint32_t chunk) {
  return std::string(document_id) + "#" + std::to_string(chunk);
}

Json ChunkerToJson(const ChunkerOptions& c) {
  return {{"chunk_tokens", c.chunk_tokens},
          {"overlap_tokens", c.overlap_tokens},
          {"tokens", c.tokens == TokenKind::kWordPiece ? "wordpiece" : "whitespace"},
          {"markdown", c.markdown}};
}

StatusOr<ChunkerOptions> ChunkerFromJson(const Json& j) {
  if (!j.is_object()) return Status::InvalidArgument("chunker: must be an object");
  ChunkerOptions c;
  SEXTANT_RETURN_IF_ERROR(ReadU32(j, "chunk_tokens", &c.chunk_tokens, "chunker"));
  SEXTANT_RETURN_IF_ERROR(ReadU32(j, "overlap_tokens", &c.overlap_tokens, "chunker"));
  const std::string tokens = j.value("tokens", "whitespace");
  if (tokens == "wordpiece") {
    c.tokens = TokenKind::kWordPiece;
  } else if (tokens != "whitespace") {
    return Status::InvalidArgument("chunker.tokens: '" + tokens + "' is not whitespace or wordpiece");
  }
  if (j.contains("markdown")) {
    if (!j["markdown"].is_boolean()) return Status::InvalidArgument("chunker.markdown: must be true or false");
    c.markdown = j["markdown"].get<bool>();
  }
  return c;
}

// The filter selecting every chunk of these documents.
std::string DocumentsFilter(std::span<const std::string> ids) {
  Json in = Json::array();
  for (const std::string& id : ids) in.push_back(id);
  return Json{{"document_id", {{"$in", in}}}}.dump();
}

}  // namespace

// ---------------------------------------------------------------- EmbedderConfig

std::string EmbedderConfig::ToJson() const {
  Json j = {{"kind", kind}};
  if (kind == "hash") {
    j["dimension"] = hash.dimension;
    j["char_ngram_min"] = hash.char_ngram_min;
    j["char_ngram_max"] = hash.char_ngram_max;
    j["word_bigrams"] = hash.word_bigrams;
  } else if (kind == "local") {
    j["model"] = local_model;
  } else if (kind == "openai") {
    j["base_url"] = openai_base_url;
    j["model"] = openai_model;
    j["dimension"] = dimension;
  }
  return j.dump();
}

StatusOr<EmbedderConfig> EmbedderConfig::FromJson(std::string_view text) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::InvalidArgument("embedder: must be a JSON object");
  EmbedderConfig c;
  if (j.contains("kind")) {
    if (!j["kind"].is_string()) return Status::InvalidArgument("embedder.kind: must be a string");
    c.kind = j["kind"].get<std::string>();
  }
  auto str = [&](const char* key, std::string* out) -> Status {
    if (!j.contains(key)) return Status::OK();
    if (!j[key].is_string()) return Status::InvalidArgument(std::string("embedder.") + key + ": must be a string");
    *out = j[key].get<std::string>();
    return Status::OK();
  };
  if (c.kind == "hash") {
    SEXTANT_RETURN_IF_ERROR(ReadU32(j, "dimension", &c.hash.dimension, "embedder"));
    SEXTANT_RETURN_IF_ERROR(ReadU32(j, "char_ngram_min", &c.hash.char_ngram_min, "embedder"));
    SEXTANT_RETURN_IF_ERROR(ReadU32(j, "char_ngram_max", &c.hash.char_ngram_max, "embedder"));
    if (j.contains("word_bigrams")) {
      if (!j["word_bigrams"].is_boolean()) return Status::InvalidArgument("embedder.word_bigrams: must be true or false");
      c.hash.word_bigrams = j["word_bigrams"].get<bool>();
    }
  } else if (c.kind == "local") {
    SEXTANT_RETURN_IF_ERROR(str("model", &c.local_model));
  } else if (c.kind == "openai") {
    SEXTANT_RETURN_IF_ERROR(str("base_url", &c.openai_base_url));
    SEXTANT_RETURN_IF_ERROR(str("model", &c.openai_model));
    SEXTANT_RETURN_IF_ERROR(ReadU32(j, "dimension", &c.dimension, "embedder"));
  }
  SEXTANT_RETURN_IF_ERROR(c.Validate());
  return c;
}

Status EmbedderConfig::Validate() const {
  if (kind == "hash") {
    if (hash.dimension < 8 || hash.dimension > CollectionOptions::kMaxDimension) {
      return Status::InvalidArgument("embedder.dimension: the hash embedder takes 8.." +
                                     std::to_string(CollectionOptions::kMaxDimension) + ", got " +
                                     std::to_string(hash.dimension));
    }
    if (hash.char_ngram_min == 0 || hash.char_ngram_min > hash.char_ngram_max || hash.char_ngram_max > 16) {
      return Status::InvalidArgument("embedder: character n-gram sizes must satisfy 1 <= min <= max <= 16");
    }
    return Status::OK();
  }
  if (kind == "local") {
    if (!IsPlainName(local_model) && !fs::path(local_model).is_absolute()) {
      return Status::InvalidArgument("embedder.model: '" + local_model +
                                     "' is neither a model name ([A-Za-z0-9._-], as in all-MiniLM-L6-v2) nor an "
                                     "absolute directory");
    }
    return Status::OK();
  }
  if (kind == "openai") {
    if (openai_base_url.rfind("http://", 0) != 0 && openai_base_url.rfind("https://", 0) != 0) {
      return Status::InvalidArgument("embedder.base_url: must start with http:// or https://, got '" +
                                     openai_base_url + "'");
    }
    if (openai_model.empty()) return Status::InvalidArgument("embedder.model: required for the openai embedder");
    if (dimension > CollectionOptions::kMaxDimension) {
      return Status::InvalidArgument("embedder.dimension: at most " + std::to_string(CollectionOptions::kMaxDimension));
    }
    return Status::OK();
  }
  return Status::InvalidArgument("embedder.kind: '" + kind + "' is not one of hash, local, openai");
}

// ---------------------------------------------------------------- EmbedderEnvironment, EmbedderProvider

EmbedderEnvironment EmbedderEnvironment::FromProcess() {
  EmbedderEnvironment env;
  if (const char* dir = std::getenv("SEXTANT_MODEL_DIR"); dir != nullptr && *dir) {
    env.model_root = dir;
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home) {
    env.model_root = std::string(home) + "/.cache/sextant/models";
  } else {
    env.model_root = ".cache/sextant/models";
  }
  if (const char* key = std::getenv("OPENAI_API_KEY"); key != nullptr) env.openai_api_key = key;
  return env;
}

struct EmbedderProvider::Rep {
  EmbedderEnvironment env;
  internal::Mutex mu;
  std::map<std::string, std::shared_ptr<Embedder>> loaded SEXTANT_GUARDED_BY(mu);  // by EmbedderConfig::ToJson()
};

EmbedderProvider::EmbedderProvider(EmbedderEnvironment env) : rep_(std::make_unique<Rep>()) {
  rep_->env = std::move(env);
}

EmbedderProvider::~EmbedderProvider() = default;

const EmbedderEnvironment& EmbedderProvider::environment() const { return rep_->env; }

std::string EmbedderProvider::LocalModelDir(const EmbedderConfig& config) const {
  if (fs::path(config.local_model).is_absolute()) return config.local_model;
  return (fs::path(rep_->env.model_root) / config.local_model).string();
}

StatusOr<std::shared_ptr<Embedder>> EmbedderProvider::Get(const EmbedderConfig& config) {
  SEXTANT_RETURN_IF_ERROR(config.Validate());
  const std::string key = config.ToJson();
  // Loading a model takes a while; hold the lock so two callers do not load it twice.
  internal::MutexLock lock(rep_->mu);
  if (auto it = rep_->loaded.find(key); it != rep_->loaded.end()) return it->second;
  std::unique_ptr<Embedder> made;
  if (config.kind == "hash") {
    SEXTANT_ASSIGN_OR_RETURN(made, MakeHashEmbedder(config.hash));
  } else if (config.kind == "local") {
    LocalEmbedderOptions o;
    o.model_dir = LocalModelDir(config);
    o.threads = rep_->env.threads;
    SEXTANT_ASSIGN_OR_RETURN(made, MakeLocalEmbedder(o));
  } else {
    OpenAIOptions o;
    o.base_url = config.openai_base_url;
    o.model = config.openai_model;
    o.api_key = rep_->env.openai_api_key;
    o.timeout_ms = rep_->env.timeout_ms;
    SEXTANT_ASSIGN_OR_RETURN(made, MakeOpenAIEmbedder(o, config.dimension));
  }
  std::shared_ptr<Embedder> shared(std::move(made));
  rep_->loaded.emplace(key, shared);
  return shared;
}

// ---------------------------------------------------------------- TextCollection

struct TextCollection::Rep {
  std::string name;
  std::shared_ptr<Collection> collection;
  std::shared_ptr<Embedder> embedder;
  TextCollectionOptions options;  // chunker.vocabulary_path resolved for WordPiece
  std::string spec;
  bool text_indexed = false;  // the chunk text has a BM25 index (options.text_language != "")
};

TextCollection::TextCollection(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
TextCollection::~TextCollection() = default;

const std::string& TextCollection::name() const { return rep_->name; }
Collection& TextCollection::collection() const { return *rep_->collection; }
Embedder& TextCollection::embedder() const { return *rep_->embedder; }
const TextCollectionOptions& TextCollection::options() const { return rep_->options; }
bool TextCollection::text_indexed() const { return rep_->text_indexed; }

RetrievalMode TextCollection::EffectiveRetrieval(RetrievalMode mode) const {
  return mode == RetrievalMode::kHybrid && !rep_->text_indexed ? RetrievalMode::kDense : mode;
}

namespace {

// The chunker options a collection gets when none are given.
ChunkerOptions DefaultChunker(const EmbedderConfig& embedder) {
  ChunkerOptions c;
  if (embedder.kind == "local") {
    c.tokens = TokenKind::kWordPiece;
    c.chunk_tokens = 200;  // all-MiniLM-L6-v2 reads 256 positions, [CLS] and [SEP] included
  }
  return c;
}

Status ResolveChunker(const EmbedderConfig& embedder, EmbedderProvider& provider, ChunkerOptions* c) {
  if (c->tokens != TokenKind::kWordPiece) return Status::OK();
  if (embedder.kind != "local") {
    return Status::InvalidArgument("chunker.tokens: wordpiece needs the local embedder's vocabulary (embedder is " +
                                   embedder.kind + ")");
  }
  c->vocabulary_path = (fs::path(provider.LocalModelDir(embedder)) / "vocab.txt").string();
  return Status::OK();
}

}  // namespace

StatusOr<std::optional<TextCollectionOptions>> TextCollection::ConfigOf(const CollectionInfo& info) {
  if (info.properties.empty()) return std::optional<TextCollectionOptions>();
  Json props = Json::parse(info.properties, nullptr, /*allow_exceptions=*/false);
  if (!props.is_object() || !props.contains(kPropertiesKey)) return std::optional<TextCollectionOptions>();
  const Json& t = props[std::string(kPropertiesKey)];
  auto corrupt = [&](const Status& why) {
    return Status::DataLoss("collection " + info.name + ": unreadable text configuration (" + why.ToString() + ")");
  };
  if (!t.is_object() || !t.contains("embedder") || !t.contains("chunker")) {
    return corrupt(Status::InvalidArgument("missing embedder or chunker"));
  }
  auto embedder = EmbedderConfig::FromJson(t["embedder"].dump());
  if (!embedder.ok()) return corrupt(embedder.status());
  auto chunker = ChunkerFromJson(t["chunker"]);
  if (!chunker.ok()) return corrupt(chunker.status());
  TextCollectionOptions o;
  o.embedder = *embedder;
  o.chunker = *chunker;
  o.chunker_set = true;
  o.text_language.clear();
  for (const TextFieldOptions& f : info.text_fields) {
    if (f.field == kTextField) o.text_language = f.language;
  }
  auto index = IndexOptions::Parse(info.index);
  if (index.ok()) o.index = *index;
  return std::optional<TextCollectionOptions>(std::move(o));
}

StatusOr<std::unique_ptr<TextCollection>> TextCollection::Create(Database& db, std::string_view name,
                                                                 const TextCollectionOptions& options,
                                                                 EmbedderProvider& embedders) {
  const std::string where = "create text collection " + std::string(name);
  SEXTANT_RETURN_IF_ERROR(options.embedder.Validate().WithPrefix(where));
  auto rep = std::make_unique<Rep>();
  rep->name = std::string(name);
  rep->options = options;
  if (!options.chunker_set) rep->options.chunker = DefaultChunker(options.embedder);
  rep->options.chunker_set = true;
  SEXTANT_RETURN_IF_ERROR(ResolveChunker(options.embedder, embedders, &rep->options.chunker).WithPrefix(where));
  SEXTANT_ASSIGN_OR_RETURN(rep->embedder, embedders.Get(options.embedder));
  // Check the chunker options now rather than at the first ingest.
  SEXTANT_RETURN_IF_ERROR(ChunkText("", rep->options.chunker).status().WithPrefix(where));
  rep->spec = rep->embedder->spec();
  // An openai embedder learns its dimension from the endpoint: record it, so that reopening
  // does not depend on asking again.
  if (rep->options.embedder.kind == "openai" && rep->options.embedder.dimension == 0) {
    std::vector<std::string> probe{"dimension probe"};
    SEXTANT_ASSIGN_OR_RETURN(std::vector<float> v, rep->embedder->Embed(probe));
    rep->options.embedder.dimension = static_cast<uint32_t>(v.size());
  }
  const uint32_t dimension = rep->embedder->dimension();
  if (dimension == 0) return Status::Internal(where + ": the embedder reports dimension 0");

  Json text = {{"version", kFormatVersion},
               {"embedder", Json::parse(rep->options.embedder.ToJson())},
               {"embedder_spec", rep->spec},
               {"chunker", ChunkerToJson(rep->options.chunker)}};
  CollectionOptions co;
  co.dimension = dimension;
  co.metric = Metric::kCosine;
  co.index = options.index;
  co.payload_indexes = {{"document_id", PayloadFieldType::kKeyword}};
  if (options.text_language.empty()) {
    return Status::InvalidArgument(where + ": text_language: must be a Snowball language (\"english\", ...) or \"none\"");
  }
  TextFieldOptions text_field;
  text_field.field = std::string(kTextField);
  text_field.language = options.text_language;
  if (options.text_language == "none") {
    text_field.stemming = false;
    text_field.stop_words = false;
  }
  co.text_fields = {text_field};
  rep->text_indexed = true;
  co.properties = Json{{std::string(kPropertiesKey), text}}.dump();
  SEXTANT_ASSIGN_OR_RETURN(rep->collection, db.CreateCollection(name, co));
  return std::unique_ptr<TextCollection>(new TextCollection(std::move(rep)));
}

StatusOr<std::unique_ptr<TextCollection>> TextCollection::Open(Database& db, std::string_view name,
                                                               EmbedderProvider& embedders) {
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<Collection> collection, db.GetCollection(name));
  SEXTANT_ASSIGN_OR_RETURN(CollectionInfo info, collection->Describe());
  SEXTANT_ASSIGN_OR_RETURN(std::optional<TextCollectionOptions> config, ConfigOf(info));
  if (!config) {
    return Status::FailedPrecondition("collection " + std::string(name) +
                                      " is a vector collection, not a text collection (it was created without an "
                                      "embedder)");
  }
  auto rep = std::make_unique<Rep>();
  rep->name = std::string(name);
  rep->collection = std::move(collection);
  rep->options = std::move(*config);
  rep->text_indexed = !rep->options.text_language.empty();
  SEXTANT_RETURN_IF_ERROR(ResolveChunker(rep->options.embedder, embedders, &rep->options.chunker));
  SEXTANT_ASSIGN_OR_RETURN(rep->embedder, embedders.Get(rep->options.embedder));
  rep->spec = rep->embedder->spec();
  Json props = Json::parse(info.properties);
  const std::string recorded = props[std::string(kPropertiesKey)].value("embedder_spec", "");
  if (recorded != rep->spec) {
    return Status::FailedPrecondition("collection " + std::string(name) + " was embedded with " + recorded +
                                      ", but its embedder now loads as " + rep->spec +
                                      "; vectors of different models are not comparable");
  }
  if (rep->embedder->dimension() != info.dimension) {
    return Status::FailedPrecondition("collection " + std::string(name) + " has dimension " +
                                      std::to_string(info.dimension) + ", but its embedder now gives " +
                                      std::to_string(rep->embedder->dimension()));
  }
  return std::unique_ptr<TextCollection>(new TextCollection(std::move(rep)));
}

StatusOr<IngestResult> TextCollection::Ingest(std::span<const Document> documents, const IngestOptions& options) {
  // Check every document before writing anything.
  std::vector<std::string> metadata(documents.size());
  {
    std::unordered_set<std::string_view> seen;
    for (size_t i = 0; i < documents.size(); ++i) {
      const Document& d = documents[i];
      const std::string label = "ingest: document " + std::to_string(i) + " ('" + d.id.substr(0, 64) + "')";
      if (d.id.empty() || d.id.size() > kMaxDocumentIdBytes) {
        return Status::InvalidArgument(label + ": id must be 1.." + std::to_string(kMaxDocumentIdBytes) +
                                       " bytes, got " + std::to_string(d.id.size()));
      }
      if (!seen.insert(d.id).second) {
        return Status::InvalidArgument(label + ": id appears twice in one call");
      }
      if (!d.metadata.empty()) {
        Json m = Json::parse(d.metadata, nullptr, /*allow_exceptions=*/false);
        if (!m.is_object()) return Status::InvalidArgument(label + ": metadata must be a JSON object");
        metadata[i] = m.dump();
      }
    }
  }
  if (options.batch_documents == 0) return Status::InvalidArgument("ingest: batch_documents must be >= 1");

  IngestResult result;
  const uint32_t dim = rep_->embedder->dimension();
  for (size_t first = 0; first < documents.size(); first += options.batch_documents) {
    const size_t last = std::min(documents.size(), first + options.batch_documents);
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::string> doc_ids, texts, payloads;
    std::vector<PointId> ids;
    for (size_t i = first; i < last; ++i) {
      const Document& d = documents[i];
      doc_ids.push_back(d.id);
      auto chunks = ChunkText(d.text, rep_->options.chunker);
      if (!chunks.ok()) {
        return chunks.status().WithPrefix("ingest: document " + std::to_string(i) + " ('" + d.id.substr(0, 64) + "')");
      }
      for (Chunk& c : *chunks) {
        ids.emplace_back(ChunkId(d.id, c.index));
        Json p = {{"document_id", d.id}, {"chunk", c.index}, {"text", c.text}, {"begin", c.begin}, {"end", c.end}};
        if (!metadata[i].empty()) p["metadata"] = Json::parse(metadata[i]);
        payloads.push_back(p.dump());
        texts.push_back(std::move(c.text));
      }
    }
    result.chunk_ms += MsSince(t0);

    t0 = std::chrono::steady_clock::now();
    std::vector<float> vectors;
    if (!texts.empty()) {
      SEXTANT_ASSIGN_OR_RETURN(vectors, rep_->embedder->Embed(texts));
      if (vectors.size() != texts.size() * dim) {
        return Status::Internal("ingest: the embedder returned " + std::to_string(vectors.size()) +
                                " floats for " + std::to_string(texts.size()) + " chunks of dimension " +
                                std::to_string(dim));
      }
    }
    result.embed_ms += MsSince(t0);

    // The batch's documents replace their earlier versions in one atomic write.
    t0 = std::chrono::steady_clock::now();
    const std::string filter = DocumentsFilter(doc_ids);
    uint64_t old_chunks = 0;
    if (ids.empty()) {
      SEXTANT_ASSIGN_OR_RETURN(old_chunks, rep_->collection->DeleteWhere(options.write, filter));
    } else {
      auto replaced = rep_->collection->Replace(options.write, filter, ids, vectors, payloads);
      if (!replaced.ok()) {
        return replaced.status().WithPrefix("ingest: documents " + std::to_string(first) + ".." +
                                            std::to_string(last - 1));
      }
      old_chunks = *replaced;
    }
    result.write_ms += MsSince(t0);
    result.documents += last - first;
    result.chunks += ids.size();
    result.replaced_chunks += old_chunks;
    if (options.progress) {
      options.progress(IngestProgress{result.documents, result.chunks, uint64_t{documents.size()}});
    }
  }
  return result;
}

StatusOr<uint64_t> TextCollection::DeleteDocuments(std::span<const std::string> document_ids,
                                                   const WriteOptions& options) {
  if (document_ids.empty()) return uint64_t{0};
  for (size_t i = 0; i < document_ids.size(); ++i) {
    if (document_ids[i].empty() || document_ids[i].size() > kMaxDocumentIdBytes) {
      return Status::InvalidArgument("delete documents: id " + std::to_string(i) + " must be 1.." +
                                     std::to_string(kMaxDocumentIdBytes) + " bytes");
    }
  }
  return rep_->collection->DeleteWhere(options, DocumentsFilter(document_ids));
}

StatusOr<std::vector<float>> TextCollection::Embed(std::span<const std::string> texts) const {
  if (texts.empty()) return std::vector<float>();
  return rep_->embedder->Embed(texts);
}

StatusOr<std::vector<Hit>> TextCollection::SearchEmbedded(std::span<const float> query,
                                                          std::string_view embedder_spec,
                                                          const SearchOptions& options) const {
  if (embedder_spec != rep_->spec) {
    return Status::FailedPrecondition("collection " + rep_->name + " holds vectors of " + rep_->spec +
                                      "; a query embedded with " + std::string(embedder_spec) +
                                      " is not comparable");
  }
  return rep_->collection->Search(options, query);
}

StatusOr<std::vector<Citation>> TextCollection::Retrieve(std::string_view question, const RetrieveOptions& options,
                                                         AskTimings* timings) const {
  if (question.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Status::InvalidArgument("question: is empty");
  }
  if (options.k == 0 || options.k > kMaxK) {
    return Status::InvalidArgument("k: must be 1.." + std::to_string(kMaxK) + ", got " + std::to_string(options.k));
  }
  if (!options.group_by.empty() && (options.group_size == 0 || options.group_size > kMaxGroupSize)) {
    return Status::InvalidArgument("group_size: must be 1.." + std::to_string(kMaxGroupSize) + ", got " +
                                   std::to_string(options.group_size));
  }
  const RetrievalMode mode = EffectiveRetrieval(options.retrieval);
  if (options.score_threshold) {
    const float t = *options.score_threshold;
    if (mode == RetrievalMode::kText) {
      if (!std::isfinite(t) || t < 0) {
        return Status::InvalidArgument("score_threshold: a BM25 score (retrieval \"text\") is >= 0 and finite, got " +
                                       std::to_string(t));
      }
    } else if (!(t >= -1 && t <= 1)) {
      return Status::InvalidArgument("score_threshold: retrieval \"" + std::string(RetrievalModeName(mode)) +
                                     "\" compares the cosine similarity, in [-1, 1]; got " + std::to_string(t));
    }
  }
  if (options.retrieval == RetrievalMode::kText && !rep_->text_indexed) {
    return Status::FailedPrecondition("collection " + rep_->name +
                                      " has no text index on its chunks (it was created before text collections "
                                      "indexed them); retrieval \"text\" needs one: re-create the collection and "
                                      "ingest again (\"hybrid\" falls back to \"dense\" meanwhile)");
  }
  auto t0 = std::chrono::steady_clock::now();
  std::vector<float> vector;
  if (mode != RetrievalMode::kText) {
    std::vector<std::string> q{std::string(question)};
    SEXTANT_ASSIGN_OR_RETURN(vector, rep_->embedder->Embed(q));
  }
  if (timings) timings->embed_ms = MsSince(t0);

  t0 = std::chrono::steady_clock::now();
  SearchOptions so;
  so.k = options.k;
  so.filter = options.filter;
  so.ef_search = options.ef_search;
  so.with_payload = true;
  if (mode != RetrievalMode::kDense) {
    so.text = std::string(question);
    so.text_fields = {std::string(kTextField)};
  }
  // Dense and text searches filter by their own score; a hybrid one by its dense part, below.
  if (mode != RetrievalMode::kHybrid) so.score_threshold = options.score_threshold;
  if (!options.group_by.empty()) {
    so.group_by = options.group_by;
    so.group_size = options.group_size;
  }
  SEXTANT_ASSIGN_OR_RETURN(std::vector<Hit> hits, rep_->collection->Search(so, vector));
  if (mode == RetrievalMode::kHybrid && options.score_threshold) {
    const float t = *options.score_threshold;
    std::erase_if(hits, [t](const Hit& h) { return !h.dense_score || *h.dense_score < t; });
  }
  if (!options.group_by.empty()) {
    // The search returns the k best groups with up to group_size hits each; the best k chunks under
    // the cap are among them (a chunk's group ranks at least as well as the chunk itself).
    std::stable_sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) { return a.score > b.score; });
    if (hits.size() > options.k) hits.resize(options.k);
  }
  std::vector<Citation> out;
  out.reserve(hits.size());
  for (const Hit& h : hits) {
    Json p = Json::parse(h.payload, nullptr, /*allow_exceptions=*/false);
    if (!p.is_object() || !p["document_id"].is_string() || !p["text"].is_string()) {
      return Status::DataLoss("collection " + rep_->name + ": point " + h.id.ToString() +
                              " is not a chunk (its payload lacks document_id or text)");
    }
    Citation c;
    c.number = static_cast<uint32_t>(out.size() + 1);
    c.document_id = p["document_id"].get<std::string>();
    c.chunk = p.value("chunk", 0u);
    c.score = h.score;
    c.dense_score = mode == RetrievalMode::kDense ? std::optional<float>(h.score) : h.dense_score;
    c.text_score = mode == RetrievalMode::kText ? std::optional<float>(h.score) : h.text_score;
    c.text = p["text"].get<std::string>();
    c.begin = p.value("begin", uint64_t{0});
    c.end = p.value("end", uint64_t{0});
    out.push_back(std::move(c));
  }
  if (timings) timings->retrieve_ms = MsSince(t0);
  return out;
}

StatusOr<Answer> TextCollection::Ask(std::string_view question, const AskOptions& options, Generator& generator,
                                     const TokenCallback& on_token) const {
  const auto start = std::chrono::steady_clock::now();
  Answer answer;
  SEXTANT_ASSIGN_OR_RETURN(std::vector<Citation> found, Retrieve(question, options.retrieve, &answer.timings));
  answer.embedder = rep_->spec;
  answer.retrieval = std::string(RetrievalModeName(EffectiveRetrieval(options.retrieve.retrieval)));
  if (found.empty() && options.retrieve.score_threshold) {
    // Nothing relevant enough: say so rather than let a model answer from nothing.
    answer.text = text::NoPassageAnswer(*options.retrieve.score_threshold);
    if (on_token) on_token(answer.text);
    answer.generator = generator.name();
    answer.finish_reason = "stop";
    answer.timings.total_ms = MsSince(start);
    return answer;
  }

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<ContextChunk> chunks;
  chunks.reserve(found.size());
  for (const Citation& c : found) chunks.push_back({c.document_id, c.chunk, c.score, c.text});
  Prompt prompt = BuildPrompt(question, chunks, options.prompt);
  ChatCompletionRequest request;
  if (!prompt.system.empty()) request.messages.push_back({"system", prompt.system, {}, {}});
  request.messages.push_back({"user", prompt.user, {}, {}});
  request.settings = options.generation;
  request.question = std::string(question);
  request.prompt = std::move(prompt);
  SEXTANT_ASSIGN_OR_RETURN(Generation g, generator.Complete(request, on_token));
  const Prompt& used = request.prompt;
  answer.timings.generate_ms = MsSince(t0);

  // The prompt keeps the best chunks that fit its budget, in rank order: they are found[0..n).
  found.resize(std::min(found.size(), used.context.size()));
  for (uint32_t n : g.cited) {
    if (n >= 1 && n <= found.size()) found[n - 1].cited = true;
  }
  answer.text = std::move(g.text);
  answer.citations = std::move(found);
  answer.generator = g.generator.empty() ? generator.name() : g.generator;
  answer.timings.total_ms = MsSince(start);
  return answer;
}

}  // namespace sextant::rag
