// `sextant` commands on text collections: ingest (files and folders) and ask.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/collection.h"
#include "sextant/database.h"
#include "sextant/options.h"
#include "sextant/rag.h"
#include "sextant/status.h"
#include "sextant/types.h"
#include "tools/cli_args.h"
#include "tools/cli_commands.h"
#include "tools/cli_common.h"
#include "tools/vector_file.h"

namespace sextant::cli {
namespace {

using Clock = std::chrono::steady_clock;

// ---- ingest / ask: text collections ----

namespace fs = std::filesystem;

// Extensions `ingest` takes from folders: plain text, Markdown and reStructuredText.
bool IsTextFileName(const fs::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".txt" || ext == ".text" || ext == ".md" || ext == ".markdown" || ext == ".rst";
}

// True when `text` is valid UTF-8 without NUL bytes (what a text file holds).
bool IsUtf8Text(std::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t j = 1; j < len; ++j) {
      const auto cc = static_cast<unsigned char>(text[i + j]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

// A file to ingest: where it is and the document id it gets.
struct SourceFile {
  std::string path;  // as found: the argument, or the folder argument joined with the relative path
  std::string id;    // the path relative to the folder argument ('/'-separated), or the file name
};

struct FileScan {
  std::vector<SourceFile> files;
  uint64_t skipped_kind = 0;  // files in folders whose extension is not text or Markdown
};

// Collects the files of `paths`: a file argument is taken whatever its extension (its id is its
// file name); a folder is walked recursively for text and Markdown files (ids relative to it),
// skipping names that start with '.'. NotFound for a path that does not exist; InvalidArgument
// when two files would get one id. Nothing is read yet.
Status ScanPaths(std::span<const std::string> paths, FileScan* scan) {
  std::map<std::string, std::string> seen;  // id -> path
  auto add = [&](std::string path, std::string id) -> Status {
    auto [it, inserted] = seen.emplace(id, path);
    if (!inserted) {
      return Status::InvalidArgument("files " + it->second + " and " + path +
                                     " would both be document " + id +
                                     " (a document id is the path below the folder given, or the "
                                     "file name of a file given); ingest them separately");
    }
    scan->files.push_back({std::move(path), std::move(id)});
    return Status::OK();
  };
  for (const std::string& arg : paths) {
    if (arg.empty()) return Status::InvalidArgument("a path is empty");
    std::error_code ec;
    const fs::file_status status = fs::status(arg, ec);
    if (!fs::exists(status)) {
      return Status::NotFound("path " + arg + ": " +
                              (ec ? ec.message() : std::string("no such file or directory")));
    }
    if (fs::is_regular_file(status)) {
      SEXTANT_RETURN_IF_ERROR(add(arg, fs::path(arg).filename().string()));
      continue;
    }
    if (!fs::is_directory(status)) {
      return Status::InvalidArgument("path " + arg + " is neither a file nor a folder");
    }
    const fs::path root(arg);
    std::vector<SourceFile> found;
    fs::recursive_directory_iterator it(root, ec);
    if (ec) return Status::Unavailable("folder " + arg + ": " + ec.message());
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) return Status::Unavailable("folder " + arg + ": " + ec.message());
      const fs::path& path = it->path();
      if (path.filename().string().starts_with(".")) {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file(ec)) continue;
      if (!IsTextFileName(path)) {
        ++scan->skipped_kind;
        continue;
      }
      found.push_back({path.lexically_normal().generic_string(),
                       path.lexically_relative(root).generic_string()});
    }
    if (ec) return Status::Unavailable("folder " + arg + ": " + ec.message());
    // Directory order is the file system's; sort for the same order on every run.
    std::sort(found.begin(), found.end(),
              [](const SourceFile& a, const SourceFile& b) { return a.id < b.id; });
    for (SourceFile& f : found) SEXTANT_RETURN_IF_ERROR(add(std::move(f.path), std::move(f.id)));
  }
  return Status::OK();
}

StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Unavailable("cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::Unavailable("cannot read " + path);
  return text.str();
}

// The options of ingest that apply when it creates the collection.
struct TextCreateFlags {
  std::optional<std::string> embedder;  // "hash" | "local"
  std::optional<uint32_t> chunk_tokens;
  std::optional<uint32_t> overlap;
  std::optional<IndexOptions> index;
};

std::string_view TokenKindName(rag::TokenKind kind) {
  return kind == rag::TokenKind::kWordPiece ? "WordPiece" : "whitespace";
}

// "embedder hash:384:v1, dimension 384, chunks of 256 whitespace tokens with 32 of overlap,
// index HNSW16".
std::string DescribeText(const rag::TextCollection& text) {
  const rag::TextCollectionOptions& o = text.options();
  return "embedder " + text.embedder().spec() + ", dimension " +
         std::to_string(text.embedder().dimension()) + ", chunks of " +
         std::to_string(o.chunker.chunk_tokens) + " " + std::string(TokenKindName(o.chunker.tokens)) +
         " tokens with " + std::to_string(o.chunker.overlap_tokens) + " of overlap, index " +
         o.index.ToString();
}

// A one-line description of a collection that is not a text collection, for ingest and ask.
Status NotText(const std::string& name) {
  return Status::FailedPrecondition(
      "collection " + name +
      " is a plain vector collection, not a text collection; ingest and ask need one made by "
      "ingest (give a new NAME)");
}

}  // namespace

StatusOr<std::unique_ptr<rag::TextCollection>> OpenText(Database& db, const std::string& name,
                                                        rag::EmbedderProvider& embedders) {
  SEXTANT_ASSIGN_OR_RETURN(auto collection, db.GetCollection(name));
  SEXTANT_ASSIGN_OR_RETURN(CollectionInfo info, collection->Describe());
  SEXTANT_ASSIGN_OR_RETURN(std::optional<rag::TextCollectionOptions> config,
                           rag::TextCollection::ConfigOf(info));
  if (!config) return NotText(name);
  return rag::TextCollection::Open(db, name, embedders);
}

namespace {

// For an existing collection: the creation options given must match what it records.
Status CheckCreateFlags(const rag::TextCollection& text, const TextCreateFlags& flags) {
  const rag::TextCollectionOptions& o = text.options();
  std::string differs;
  if (flags.embedder && *flags.embedder != o.embedder.kind) {
    differs = "--embedder " + *flags.embedder + " (it uses " + o.embedder.kind + ")";
  } else if (flags.chunk_tokens && *flags.chunk_tokens != o.chunker.chunk_tokens) {
    differs = "--chunk-tokens " + std::to_string(*flags.chunk_tokens) + " (it uses " +
              std::to_string(o.chunker.chunk_tokens) + ")";
  } else if (flags.overlap && *flags.overlap != o.chunker.overlap_tokens) {
    differs = "--overlap " + std::to_string(*flags.overlap) + " (it uses " +
              std::to_string(o.chunker.overlap_tokens) + ")";
  } else if (flags.index && flags.index->ToString() != o.index.ToString()) {
    differs = "--index " + flags.index->ToString() + " (it uses " + o.index.ToString() + ")";
  }
  if (differs.empty()) return Status::OK();
  return Status::FailedPrecondition(
      "text collection " + text.name() + " already exists and does not match " + differs +
      "; --embedder, --chunk-tokens, --overlap and --index apply only when ingest creates the "
      "collection (drop it first to change them)");
}

StatusOr<std::unique_ptr<rag::TextCollection>> CreateText(Database& db, const std::string& name,
                                                          const TextCreateFlags& flags,
                                                          rag::EmbedderProvider& embedders) {
  rag::TextCollectionOptions options;
  options.embedder.kind = flags.embedder.value_or("hash");
  if (flags.index) options.index = *flags.index;
  if (flags.chunk_tokens || flags.overlap) {
    // Start from the embedder's default chunking (rag.h) and change what was given.
    options.chunker_set = true;
    if (options.embedder.kind == "local") {
      options.chunker.tokens = rag::TokenKind::kWordPiece;
      options.chunker.chunk_tokens = 200;
    }
    if (flags.chunk_tokens) options.chunker.chunk_tokens = *flags.chunk_tokens;
    if (flags.overlap) options.chunker.overlap_tokens = *flags.overlap;
  }
  SEXTANT_ASSIGN_OR_RETURN(auto text, rag::TextCollection::Create(db, name, options, embedders));
  std::cout << "created text collection " << name << " (" << DescribeText(*text) << ")\n";
  // The (empty) index is built at once; wait for it so that it is saved when the database closes.
  SEXTANT_RETURN_IF_ERROR(text->collection().WaitForIndex(/*timeout_ms=*/60000));
  return text;
}

std::string Plural(uint64_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

Status WithIngestedCount(const Status& error, uint64_t documents) {
  return Status(error.code(), std::string(error.message()) + "; " +
                                  (documents == 0 ? std::string("no documents were ingested")
                                                  : Plural(documents, "document", "documents") +
                                                        " ingested before the error"));
}

Status IngestFiles(const std::string& db_path, const std::string& name,
                   std::span<const std::string> paths, const TextCreateFlags& flags, bool wait) {
  FileScan scan;
  SEXTANT_RETURN_IF_ERROR(ScanPaths(paths, &scan));
  if (scan.files.empty()) {
    return Status::NotFound("nothing to ingest: no text or Markdown files (.txt, .text, .md, "
                            ".markdown, .rst) in the paths given" +
                            (scan.skipped_kind > 0
                                 ? " (" + Plural(scan.skipped_kind, "other file", "other files") + ")"
                                 : std::string()));
  }

  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/true));
  rag::EmbedderProvider embedders;
  std::unique_ptr<rag::TextCollection> text;
  StatusOr<std::shared_ptr<Collection>> existing = db->GetCollection(name);
  if (existing.ok()) {
    SEXTANT_ASSIGN_OR_RETURN(text, OpenText(*db, name, embedders));
    SEXTANT_RETURN_IF_ERROR(CheckCreateFlags(*text, flags));
  } else if (existing.status().code() != StatusCode::kNotFound) {
    return existing.status();
  }
  // A new collection is created with the first batch, so that files which all turn out not to be
  // text leave nothing behind.

  // Timed from here: reading, chunking, embedding and writing (not opening or creating).
  auto start = Clock::now();
  ProgressBar progress("ingesting " + name);
  const uint64_t total = scan.files.size();
  uint64_t done = 0;        // documents ingested, as of the last committed batch
  uint64_t not_utf8 = 0;    // files skipped because they are not UTF-8 text
  rag::IngestResult sum;
  std::vector<rag::Document> batch;
  size_t batch_bytes = 0;
  constexpr size_t kBatchDocuments = 64;
  constexpr size_t kBatchBytes = size_t{8} << 20;

  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::OK();
    if (text == nullptr) {
      progress.Clear();
      const auto create_start = Clock::now();
      SEXTANT_ASSIGN_OR_RETURN(text, CreateText(*db, name, flags, embedders));
      start += Clock::now() - create_start;
    }
    rag::IngestOptions options;
    const uint64_t before = done;
    options.progress = [&](const rag::IngestProgress& p) {
      progress.Update(before + not_utf8 + p.documents, total, -1);
    };
    StatusOr<rag::IngestResult> result = text->Ingest(batch, options);
    if (!result.ok()) return result.status();
    done += result->documents;
    sum.chunks += result->chunks;
    sum.replaced_chunks += result->replaced_chunks;
    batch.clear();
    batch_bytes = 0;
    progress.Update(done + not_utf8, total, -1);
    return Status::OK();
  };

  for (const SourceFile& file : scan.files) {
    StatusOr<std::string> content = ReadWholeFile(file.path);
    if (!content.ok()) {
      Status flushed = flush();
      progress.Clear();
      return WithIngestedCount(flushed.ok() ? content.status() : flushed, done);
    }
    if (!IsUtf8Text(*content)) {
      ++not_utf8;
      continue;
    }
    OutJson metadata = OutJson::object();
    metadata["path"] = file.path;
    metadata["bytes"] = content->size();
    batch_bytes += content->size();
    batch.push_back({file.id, std::move(*content), Dump(metadata)});
    if (batch.size() >= kBatchDocuments || batch_bytes >= kBatchBytes) {
      Status flushed = flush();
      if (!flushed.ok()) {
        progress.Clear();
        return WithIngestedCount(flushed, done);
      }
    }
  }
  Status flushed = flush();
  progress.Clear();
  if (!flushed.ok()) return WithIngestedCount(flushed, done);
  if (done == 0) {  // every file was skipped as it was read
    return Status::NotFound("nothing to ingest: " +
                            Plural(not_utf8, "file is", "files are") + " not UTF-8 text" +
                            (scan.skipped_kind > 0
                                 ? " and " + Plural(scan.skipped_kind, "file is", "files are") +
                                       " not text or Markdown"
                                 : std::string()) +
                            (text == nullptr ? "; collection " + name + " was not created"
                                             : std::string()));
  }

  const auto elapsed = Clock::now() - start;
  const double seconds = std::chrono::duration<double>(elapsed).count();
  std::cout << "ingested " << Plural(done, "document", "documents") << " ("
            << Plural(sum.chunks, "chunk", "chunks") << ", " << sum.replaced_chunks
            << " replaced) into " << name << " in " << FormatDuration(elapsed);
  if (sum.chunks > 0 && seconds > 0) {
    std::cout << " (" << static_cast<uint64_t>(static_cast<double>(sum.chunks) / seconds)
              << " chunks/s)";
  }
  std::cout << "\n";
  if (scan.skipped_kind > 0 || not_utf8 > 0) {
    std::cout << "skipped ";
    if (scan.skipped_kind > 0) {
      std::cout << Plural(scan.skipped_kind, "file", "files") << " that "
                << (scan.skipped_kind == 1 ? "is" : "are") << " not text or Markdown (by extension)";
    }
    if (scan.skipped_kind > 0 && not_utf8 > 0) std::cout << " and ";
    if (not_utf8 > 0) {
      std::cout << Plural(not_utf8, "file", "files") << " that " << (not_utf8 == 1 ? "is" : "are")
                << " not UTF-8 text";
    }
    std::cout << "\n";
  }
  SEXTANT_ASSIGN_OR_RETURN(CollectionInfo info, text->collection().Describe());
  if (info.index_state != IndexState::kReady) {
    SEXTANT_RETURN_IF_ERROR(ReportIndexState(text->collection(), wait));
  }
  return Status::OK();
}

}  // namespace

int RunIngest(const Args& args, const std::string& db_path) {
  TextCreateFlags flags;
  if (std::optional<std::string> kind = args.Get("embedder")) {
    if (*kind != "hash" && *kind != "local") {
      return ReportUsage("--embedder must be hash or local, got '" + *kind + "'");
    }
    flags.embedder = *kind;
  }
  if (std::optional<std::string> text = args.Get("chunk-tokens")) {
    std::optional<uint64_t> n = ParseUint(*text, 8, 8192);
    if (!n) return ReportUsage("--chunk-tokens must be an integer in 8..8192, got '" + *text + "'");
    flags.chunk_tokens = static_cast<uint32_t>(*n);
  }
  if (std::optional<std::string> text = args.Get("overlap")) {
    std::optional<uint64_t> n = ParseUint(*text, 0, 4096);
    if (!n) return ReportUsage("--overlap must be an integer in 0..4095, got '" + *text + "'");
    flags.overlap = static_cast<uint32_t>(*n);
  }
  if (flags.overlap) {
    const uint32_t chunk = flags.chunk_tokens.value_or(flags.embedder == "local" ? 200 : 256);
    if (*flags.overlap >= chunk / 2) {
      return ReportUsage("--overlap must be less than half of the chunk size (" +
                         std::to_string(chunk) + " tokens), got " + std::to_string(*flags.overlap));
    }
  }
  std::string error;
  if (std::optional<std::string> spec = args.Get("index")) {
    std::optional<IndexOptions> index = ParseIndexArgs(*spec, args, &error);
    if (!index) return ReportUsage(error);
    flags.index = *index;
  } else if (args.Has("ef-construction")) {
    return ReportUsage("--ef-construction applies to HNSW indexes: give --index HNSW<m> too");
  }
  return Finish(IngestFiles(db_path, args.positional[0],
                            std::span<const std::string>(args.positional).subspan(1), flags,
                            args.Has("wait")));
}

namespace {

// The first `max_bytes` of `text` with runs of white space as one space, cut at a character
// boundary, with "..." when cut.
std::string Excerpt(std::string_view text, size_t max_bytes) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
    if (out.size() > max_bytes + 4) break;
  }
  if (out.size() <= max_bytes) return out;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
  out.resize(cut);
  return out + "...";
}

struct AskFlags {
  rag::AskOptions options;
  std::string generator = "extractive";
  std::string llm_url;
  std::string llm_model;
  bool json = false;
};

// `line` without the white space around it.
std::string CollapseLine(const std::string& line) {
  const size_t b = line.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const size_t e = line.find_last_not_of(" \t\r\n");
  return line.substr(b, e - b + 1);
}

// Rounds a millisecond figure to microseconds for output.
double Ms(double ms) { return std::round(ms * 1000.0) / 1000.0; }

OutJson AnswerToJson(std::string_view question, const rag::Answer& answer) {
  OutJson out = OutJson::object();
  out["question"] = std::string(question);
  out["answer"] = answer.text;
  out["generator"] = answer.generator;
  out["embedder"] = answer.embedder;
  OutJson citations = OutJson::array();
  for (const rag::Citation& c : answer.citations) {
    OutJson j = OutJson::object();
    j["number"] = c.number;
    j["document_id"] = c.document_id;
    j["chunk"] = c.chunk;
    j["score"] = ShortFloat(c.score);
    j["cited"] = c.cited;
    j["begin"] = c.begin;
    j["end"] = c.end;
    j["text"] = c.text;
    citations.push_back(std::move(j));
  }
  out["citations"] = std::move(citations);
  OutJson timings = OutJson::object();
  timings["embed_ms"] = Ms(answer.timings.embed_ms);
  timings["retrieve_ms"] = Ms(answer.timings.retrieve_ms);
  timings["generate_ms"] = Ms(answer.timings.generate_ms);
  timings["total_ms"] = Ms(answer.timings.total_ms);
  out["timings"] = std::move(timings);
  return out;
}

std::string FormatMs(double ms) {
  return FormatDuration(std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double, std::milli>(ms)));
}

// Prints the answer (streamed as it is generated unless --json), then its sources and timings.
// *mid_line is set while a streamed answer has printed text without a final newline.
Status AskQuestion(const std::string& db_path, const std::string& name, const std::string& question,
                   const AskFlags& flags, bool* mid_line) {
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
  rag::EmbedderProvider embedders;
  SEXTANT_ASSIGN_OR_RETURN(auto text, OpenText(*db, name, embedders));
  std::unique_ptr<rag::Generator> generator;
  if (flags.generator == "openai") {
    rag::OpenAIChatOptions chat;
    if (!flags.llm_url.empty()) chat.endpoint.base_url = flags.llm_url;
    chat.endpoint.model = flags.llm_model;
    chat.endpoint.api_key = embedders.environment().openai_api_key;
    chat.stream = !flags.json;
    SEXTANT_ASSIGN_OR_RETURN(generator, rag::MakeOpenAIGenerator(chat));
  } else {
    generator = rag::MakeExtractiveGenerator();
  }

  bool streamed = false;
  rag::TokenCallback on_token = nullptr;
  if (!flags.json) {
    on_token = [&](std::string_view piece) {
      if (piece.empty()) return true;
      std::cout << piece << std::flush;
      streamed = true;
      *mid_line = piece.back() != '\n';
      return static_cast<bool>(std::cout);
    };
  }
  SEXTANT_ASSIGN_OR_RETURN(rag::Answer answer,
                           text->Ask(question, flags.options, *generator, on_token));
  if (flags.json) {
    std::cout << Dump(AnswerToJson(question, answer)) << '\n';
    return Status::OK();
  }
  if (!streamed) {
    std::cout << answer.text;
    *mid_line = !answer.text.empty() && answer.text.back() != '\n';
  }
  if (*mid_line) std::cout << '\n';
  *mid_line = false;
  std::cout << '\n';
  if (answer.citations.empty()) {
    std::cout << "no sources: nothing in " << name << " matched\n";
  } else {
    std::cout << "sources:\n";
  }
  for (const rag::Citation& c : answer.citations) {
    char score[32];
    std::snprintf(score, sizeof(score), "%.4f", static_cast<double>(c.score));
    std::cout << "[" << c.number << "] " << c.document_id << " #" << c.chunk << "  score "
              << score << (c.cited ? "  (cited)" : "") << "\n    " << Excerpt(c.text, 160)
              << "\n";
  }
  std::cout << "timings: embed " << FormatMs(answer.timings.embed_ms) << ", retrieve "
            << FormatMs(answer.timings.retrieve_ms) << ", generate "
            << FormatMs(answer.timings.generate_ms) << ", total "
            << FormatMs(answer.timings.total_ms) << " (embedder " << answer.embedder
            << ", generator " << answer.generator << ")\n";
  return Status::OK();
}

}  // namespace

namespace {

// --temperature, --max-tokens, --stop, --seed and --model into flags.options.generation (the
// engine's GenerationSettings, which the OpenAI-compatible generator sends). nullopt when they
// are good, else the exit status of the usage error.
std::optional<int> ParseGenerationFlags(const Args& args, AskFlags& flags) {
  rag::GenerationSettings& g = flags.options.generation;
  if (std::optional<std::string> text = args.Get("temperature")) {
    std::string error;
    std::optional<std::vector<float>> v = ParseVectorText(*text, &error);
    if (!v || v->size() != 1 || !((*v)[0] >= 0.0f && (*v)[0] <= 2.0f)) {
      return ReportUsage("--temperature must be a number in [0, 2], got '" + *text + "'");
    }
    g.temperature = (*v)[0];
  }
  if (std::optional<std::string> text = args.Get("max-tokens")) {
    std::optional<uint64_t> n = ParseUint(*text, 1, std::numeric_limits<uint32_t>::max());
    if (!n) return ReportUsage("--max-tokens must be an integer in 1..4294967295, got '" + *text + "'");
    g.max_tokens = static_cast<uint32_t>(*n);
  }
  g.stop = args.GetAll("stop");
  if (g.stop.size() > 4) {
    return ReportUsage("--stop may be given at most 4 times, got " + std::to_string(g.stop.size()));
  }
  for (const std::string& stop : g.stop) {
    if (stop.empty() || stop.size() > 64) {
      return ReportUsage("--stop must be 1..64 bytes, got '" + Excerpt(stop, 80) + "' (" +
                         std::to_string(stop.size()) + " bytes)");
    }
  }
  if (std::optional<std::string> text = args.Get("seed")) {
    int64_t seed = 0;
    const char* end = text->data() + text->size();
    auto [ptr, ec] = std::from_chars(text->data(), end, seed);
    if (text->empty() || ec != std::errc() || ptr != end) {
      return ReportUsage("--seed must be a 64-bit integer, got '" + *text + "'");
    }
    g.seed = seed;
  }
  if (std::optional<std::string> model = args.Get("model")) {
    if (model->empty() || model->size() > 256) {
      return ReportUsage("--model must be 1..256 bytes, got '" + Excerpt(*model, 80) + "'");
    }
    g.model = *model;
  }
  const bool any = g.temperature || g.max_tokens || !g.stop.empty() || g.seed || !g.model.empty();
  if (any && flags.generator != "openai") {
    return ReportUsage("--temperature, --max-tokens, --stop, --seed and --model apply to --generator openai "
                       "(the extractive generator has no generation settings)");
  }
  if (Status s = g.Validate(); !s.ok()) return ReportUsage(std::string(s.message()));
  return std::nullopt;
}

// The flags ask and chat share. nullopt when they are good, else the exit status of the usage error.
std::optional<int> ParseAskFlags(const Args& args, AskFlags& flags) {
  if (std::optional<std::string> k_text = args.Get("k")) {
    std::optional<uint64_t> k = ParseUint(*k_text, 1, 1000);
    if (!k) return ReportUsage("-k must be an integer in 1..1000, got '" + *k_text + "'");
    flags.options.retrieve.k = static_cast<uint32_t>(*k);
  }
  if (std::optional<std::string> filter = args.Get("filter")) flags.options.retrieve.filter = *filter;
  if (std::optional<std::string> text = args.Get("ef-search")) {
    std::optional<uint64_t> n = ParseUint(*text, 1, 100000);
    if (!n) return ReportUsage("--ef-search must be an integer in 1..100000, got '" + *text + "'");
    flags.options.retrieve.ef_search = static_cast<uint32_t>(*n);
  }
  if (std::optional<std::string> generator = args.Get("generator")) {
    if (*generator != "extractive" && *generator != "openai") {
      return ReportUsage("--generator must be extractive or openai, got '" + *generator + "'");
    }
    flags.generator = *generator;
  }
  if (flags.generator == "openai") {
    std::optional<std::string> model = args.Get("llm-model");
    if (!model || model->empty()) {
      return ReportUsage("--generator openai needs --llm-model M (and --llm-url URL unless the "
                         "server is at http://127.0.0.1:8080/v1)");
    }
    flags.llm_model = *model;
    flags.llm_url = args.Get("llm-url").value_or("");
  } else if (args.Has("llm-url") || args.Has("llm-model")) {
    return ReportUsage("--llm-url and --llm-model apply to --generator openai");
  }
  if (std::optional<int> bad = ParseGenerationFlags(args, flags)) return *bad;
  flags.json = args.Has("json");
  return std::nullopt;
}

}  // namespace

int RunAsk(const Args& args, const std::string& db_path) {
  const std::string& question = args.positional[1];
  if (question.find_first_not_of(" \t\r\n") == std::string::npos) {
    return ReportUsage("the question is empty");
  }
  AskFlags flags;
  if (std::optional<int> bad = ParseAskFlags(args, flags)) return *bad;
  bool mid_line = false;
  Status status = AskQuestion(db_path, args.positional[0], question, flags, &mid_line);
  if (mid_line) std::cout << '\n';
  return Finish(status);
}

// An interactive conversation: each line of stdin is a user turn, answered from the collection
// with the earlier turns as history (TextCollection::Chat); the answer streams, then its sources.
// "/exit", "/quit" or the end of input ends it; "/reset" forgets the history.
int RunChat(const Args& args, const std::string& db_path) {
  AskFlags flags;
  if (std::optional<int> bad = ParseAskFlags(args, flags)) return *bad;
  const std::optional<std::string> conversation_flag = args.Get("conversation");
  if (conversation_flag) {
    if (Status s = rag::ConversationStore::ValidateId(*conversation_flag); !s.ok()) {
      return ReportUsage("--conversation: " + std::string(s.message()));
    }
  }
  auto db = OpenDatabase(db_path, /*create=*/false);
  if (!db.ok()) return Finish(db.status());
  rag::EmbedderProvider embedders;
  auto text = OpenText(**db, args.positional[0], embedders);
  if (!text.ok()) return Finish(text.status());
  std::unique_ptr<rag::Generator> generator;
  if (flags.generator == "openai") {
    rag::OpenAIChatOptions chat;
    if (!flags.llm_url.empty()) chat.endpoint.base_url = flags.llm_url;
    chat.endpoint.model = flags.llm_model;
    chat.endpoint.api_key = embedders.environment().openai_api_key;
    auto made = rag::MakeOpenAIGenerator(chat);
    if (!made.ok()) return Finish(made.status());
    generator = std::move(made).value();
  } else {
    generator = rag::MakeExtractiveGenerator();
  }
  rag::ChatOptions options;
  options.retrieve = flags.options.retrieve;
  options.generation = flags.options.generation;
  std::vector<rag::ChatMessage> messages;
  if (std::optional<std::string> system = args.Get("system")) messages.push_back({"system", *system, {}, {}});
  const size_t base = messages.size();
  // --conversation ID: the turns are kept in the database (rag::ConversationStore) and only each
  // new message is passed; an existing conversation is continued.
  std::unique_ptr<rag::ConversationStore> store;
  std::string conversation;
  if (conversation_flag) {
    conversation = *conversation_flag;
    auto opened = rag::ConversationStore::Open(**db);
    if (!opened.ok()) return Finish(opened.status());
    store = std::move(opened).value();
    auto existing = store->Get(conversation);
    if (existing.ok()) {
      if (existing->info.collection != args.positional[0]) {
        return Finish(Status::InvalidArgument("conversation " + conversation + " belongs to collection " +
                                              existing->info.collection + ", not " + args.positional[0]));
      }
      if (base != 0) {
        return Finish(Status::InvalidArgument("--system starts a conversation, and " + conversation +
                                              " exists (" + std::to_string(existing->info.messages) +
                                              " messages); leave --system out (/reset in the chat deletes it)"));
      }
      std::cout << "(continuing conversation " << conversation << ": " << existing->info.messages
                << " messages)\n";
    } else if (existing.status().code() != StatusCode::kNotFound) {
      return Finish(existing.status());
    }
  }
  const bool interactive = isatty(STDIN_FILENO) != 0;
  std::string line;
  while (true) {
    if (interactive) std::cout << "> " << std::flush;
    if (!std::getline(std::cin, line)) break;
    const std::string turn = CollapseLine(line);
    if (turn.empty()) continue;
    if (turn == "/exit" || turn == "/quit") break;
    if (turn == "/reset") {
      if (store) {
        Status deleted = store->Delete(conversation);
        if (!deleted.ok() && deleted.code() != StatusCode::kNotFound) {
          std::cerr << "sextant: " << deleted.ToString() << "\n";
          if (!interactive) return Finish(deleted);
          continue;
        }
        messages.clear();  // a new conversation under the same id: --system again
        if (const std::optional<std::string> system = args.Get("system")) {
          messages.push_back({"system", *system, {}, {}});
        }
        std::cout << "(conversation " << conversation << " deleted)\n";
        continue;
      }
      messages.resize(base);
      std::cout << "(history cleared)\n";
      continue;
    }
    messages.push_back({"user", turn, {}, {}});
    bool mid_line = false;
    const rag::TokenCallback on_token = [&](std::string_view piece) {
      std::cout << piece << std::flush;
      mid_line = !piece.empty() && piece.back() != '\n';
      return static_cast<bool>(std::cout);
    };
    auto answer = store ? store->Chat(**text, conversation, messages, options, *generator, on_token)
                        : (*text)->Chat(messages, options, *generator, on_token);
    if (mid_line) std::cout << '\n';
    if (!answer.ok()) {
      messages.pop_back();
      std::cerr << "sextant: " << answer.status().ToString() << "\n";
      if (!interactive) return Finish(answer.status());
      continue;
    }
    if (answer->standalone_question != turn) std::cout << "(searched for: " << answer->standalone_question << ")\n";
    for (const rag::Citation& c : answer->citations) {
      if (c.cited) std::cout << "  [" << c.number << "] " << c.document_id << " #" << c.chunk << "\n";
    }
    if (store) {
      messages.clear();  // stored: the next turn passes only its own message
      continue;
    }
    for (const rag::ChatMessage& m : answer->messages) messages.push_back(m);
  }
  if (interactive) std::cout << '\n';
  return Finish(Status::OK());
}

}  // namespace sextant::cli
