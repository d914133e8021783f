// SextantService: text collections (RAG): create, IngestDocuments, DeleteDocuments, Embed, Ask, Retrieve.
#include <algorithm>
#include <chrono>
#include <utility>

#include "server/service.h"
#include "server/service_internal.h"

namespace sextant::server {

using service_internal::AnswerWriter;
using service_internal::Clock;
using service_internal::Describe;
using service_internal::DimensionMismatch;
using service_internal::Error;
using service_internal::RetrieveAndPromptFromProto;
using service_internal::ToGrpc;
using service_internal::ToolsFromProto;
using service_internal::ToProto;
using service_internal::TooManyPoints;

// ---------------------------------------------------------------- text (RAG)

Status SextantService::CheckEmbedderAllowed(const rag::EmbedderConfig& config,
                                            std::string_view what) const {
  if (config.kind != "openai" || options_.allow_remote_embedders) return Status::OK();
  return Status::PermissionDenied(
      std::string(what) + ": an \"openai\" embedder makes the server call a URL chosen by a client (" +
      config.openai_base_url +
      "), and this server does not allow that (start sextantd with --allow-remote-embedders)");
}

StatusOr<std::shared_ptr<rag::TextCollection>> SextantService::OpenText(std::string_view name,
                                                                        std::string_view field) {
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<Collection> c, Open(name, field));
  // `name` may be an alias: the text collection (and its embedder) is the collection's own,
  // cached under its own name.
  const std::string real = c->name();
  {
    internal::MutexLock lock(text_mu_);
    auto it = texts_.find(real);
    if (it != texts_.end() && &it->second->collection() == c.get()) return it->second;
  }
  SEXTANT_ASSIGN_OR_RETURN(CollectionInfo info, c->Describe());
  SEXTANT_ASSIGN_OR_RETURN(std::optional<rag::TextCollectionOptions> config,
                           rag::TextCollection::ConfigOf(info));
  if (!config) {
    return Status::FailedPrecondition(
        "collection \"" + std::string(name) +
        "\" is a plain vector collection, not a text collection (text RPCs need one made with "
        "CreateCollectionRequest.text; use Upsert and Search on this one)");
  }
  SEXTANT_RETURN_IF_ERROR(CheckEmbedderAllowed(config->embedder, "collection \"" + std::string(name) + "\""));
  // Opening may load a model: done without the lock, so other collections are not held up.
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<rag::TextCollection> opened,
                           rag::TextCollection::Open(*db_, real, embedders_));
  std::shared_ptr<rag::TextCollection> text = std::move(opened);
  internal::MutexLock lock(text_mu_);
  auto& slot = texts_[real];
  if (slot && &slot->collection() == &text->collection()) return slot;  // another call was first
  slot = text;
  return text;
}

void SextantService::ForgetText(std::string_view name) {
  internal::MutexLock lock(text_mu_);
  if (auto it = texts_.find(name); it != texts_.end()) texts_.erase(it);
}

grpc::Status SextantService::CreateTextCollection(const v1::CreateCollectionRequest& req,
                                                  v1::CollectionInfo* resp) {
  if (req.metric() != v1::METRIC_UNSPECIFIED && req.metric() != v1::METRIC_COSINE) {
    return Error(grpc::StatusCode::INVALID_ARGUMENT,
                 "metric: a text collection always uses METRIC_COSINE (leave metric unset)");
  }
  if (req.payload_indexes_size() > 0) {
    return Error(grpc::StatusCode::INVALID_ARGUMENT,
                 "payload_indexes: not available for a text collection (it indexes document_id "
                 "itself; filters on metadata are answered by scanning)");
  }
  if (!req.properties().empty()) {
    return Error(grpc::StatusCode::INVALID_ARGUMENT,
                 "properties: a text collection records its own (its embedder and chunking); "
                 "leave properties empty");
  }
  auto options = convert::FromProto(req.text(), "text");
  if (!options.ok()) return ToGrpc(options.status());
  if (req.has_index()) {
    auto index = convert::FromProto(req.index(), "index");
    if (!index.ok()) return ToGrpc(index.status());
    options->index = *index;
  }
  if (Status s = CheckEmbedderAllowed(options->embedder, "text.embedder"); !s.ok()) return ToGrpc(s);
  // A client names a model under the server's model directory; a path would let it probe (and
  // load from) anywhere on the server's file system.
  if (options->embedder.kind == "local" &&
      options->embedder.local_model.find('/') != std::string::npos) {
    return Error(grpc::StatusCode::INVALID_ARGUMENT,
                 "text.embedder.local_model: \"" + options->embedder.local_model +
                     "\" is a path; name a model directory under the server's model directory "
                     "(--model-dir), e.g. all-MiniLM-L6-v2");
  }
  // The embedder decides the dimension: check the request against it before creating anything.
  auto embedder = embedders_.Get(options->embedder);
  if (!embedder.ok()) return ToGrpc(embedder.status().WithPrefix("text.embedder"));
  const uint32_t dim = (*embedder)->dimension();  // 0: an endpoint not asked yet
  if (dim != 0) {
    if (req.dimension() != 0 && req.dimension() != dim) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   "dimension: " + std::to_string(req.dimension()) + ", but embedder " +
                       (*embedder)->spec() + " makes vectors of " + std::to_string(dim) +
                       " (leave dimension 0 for a text collection)");
    }
    if (options->embedder.kind == "local" && options->embedder.dimension != 0 &&
        options->embedder.dimension != dim) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   "text.embedder.dimension: " + std::to_string(options->embedder.dimension) +
                       ", but model " + (*embedder)->spec() + " makes vectors of " +
                       std::to_string(dim) + " (leave it 0)");
    }
    if (dim > options_.max_dimension) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   "text.embedder: its dimension " + std::to_string(dim) +
                       " exceeds the server's max-dimension limit of " +
                       std::to_string(options_.max_dimension));
    }
  }
  auto created = rag::TextCollection::Create(*db_, req.name(), *options, embedders_);
  if (!created.ok()) return ToGrpc(created.status());
  std::shared_ptr<rag::TextCollection> text = std::move(created).value();
  const uint32_t made = text->collection().dimension();
  if ((req.dimension() != 0 && made != req.dimension()) || made > options_.max_dimension) {
    // An endpoint that reported its dimension only now: undo the create.
    const std::string spec = text->embedder().spec();
    text.reset();
    (void)db_->DropCollection(req.name());
    return Error(grpc::StatusCode::INVALID_ARGUMENT,
                 made > options_.max_dimension
                     ? "text.embedder: its dimension " + std::to_string(made) +
                           " exceeds the server's max-dimension limit of " +
                           std::to_string(options_.max_dimension)
                     : "dimension: " + std::to_string(req.dimension()) + ", but embedder " + spec +
                           " makes vectors of " + std::to_string(made) +
                           " (leave dimension 0 for a text collection)");
  }
  {
    internal::MutexLock lock(text_mu_);
    texts_[req.name()] = text;
  }
  return Describe(text->collection(), resp);
}

grpc::Status SextantService::IngestDocuments(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<v1::IngestProgress, v1::IngestDocumentsRequest>* stream) {
  return Run(ctx, "IngestDocuments", true, "", [&](Call& call) {
    std::shared_ptr<rag::TextCollection> text;
    v1::IngestProgress progress;
    uint64_t messages = 0;
    v1::IngestDocumentsRequest req;
    auto note = [&] {
      call.extra = {{"messages", std::to_string(messages)},
                    {"documents", std::to_string(progress.documents())},
                    {"chunks", std::to_string(progress.chunks())}};
    };
    auto gone = [&] {
      note();
      return Error(grpc::StatusCode::CANCELLED,
                   "the client went away after " + std::to_string(messages) +
                       " acknowledged messages");
    };
    while (true) {
      if (ctx->IsCancelled()) return gone();
      if (!stream->Read(&req)) {
        if (ctx->IsCancelled()) return gone();
        break;  // the client closed its side: done
      }
      const std::string where = "message " + std::to_string(messages + 1);
      if (!text) {
        call.collection = req.collection();
        auto t = OpenText(req.collection(), "collection");
        if (!t.ok()) {
          note();
          return ToGrpc(t.status().WithPrefix(where));
        }
        text = std::move(t).value();
      } else if (!req.collection().empty() && req.collection() != call.collection &&
                 req.collection() != text->name()) {
        note();
        return Error(grpc::StatusCode::INVALID_ARGUMENT,
                     where + ": collection: \"" + req.collection() +
                         "\", but this stream writes to \"" + text->name() +
                         "\" (leave it empty after the first message)");
      }
      const size_t n = static_cast<size_t>(req.documents_size());
      if (n == 0) {
        note();
        return Error(grpc::StatusCode::INVALID_ARGUMENT,
                     where + ": documents: empty (send 1.." +
                         std::to_string(options_.max_batch_points) + " documents)");
      }
      if (n > options_.max_batch_points) {
        note();
        grpc::Status s = TooManyPoints("documents", n, options_.max_batch_points, "documents");
        return grpc::Status(s.error_code(), where + ": " + s.error_message());
      }
      std::vector<rag::Document> documents;
      documents.reserve(n);
      for (const v1::Document& d : req.documents()) documents.push_back(convert::FromProto(d));
      rag::IngestOptions options;
      options.write.sync = req.sync();
      // The whole message is one engine batch.
      options.batch_documents = static_cast<uint32_t>(n);
      if (ctx->IsCancelled()) return gone();  // nothing of this message is written
      auto result = text->Ingest(documents, options);
      if (!result.ok()) {
        note();
        return ToGrpc(result.status().WithPrefix(where));
      }
      ++messages;
      progress.set_documents(progress.documents() + result->documents);
      progress.set_chunks(progress.chunks() + result->chunks);
      progress.set_replaced_chunks(progress.replaced_chunks() + result->replaced_chunks);
      if (!stream->Write(progress)) return gone();
    }
    note();
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::DeleteDocuments(grpc::ServerContext* ctx,
                                             const v1::DeleteDocumentsRequest* req,
                                             v1::DeleteDocumentsResponse* resp) {
  return Run(ctx, "DeleteDocuments", true, req->collection(), [&](Call& call) {
    const size_t n = static_cast<size_t>(req->document_ids_size());
    call.extra.emplace_back("documents", std::to_string(n));
    if (n == 0) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   "document_ids: empty (name the documents to delete)");
    }
    if (n > options_.max_batch_points) {
      return TooManyPoints("document_ids", n, options_.max_batch_points, "ids");
    }
    std::vector<std::string> ids;
    ids.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const std::string& id = req->document_ids(static_cast<int>(i));
      if (id.empty()) {
        return Error(grpc::StatusCode::INVALID_ARGUMENT,
                     "document_ids[" + std::to_string(i) + "]: empty");
      }
      ids.push_back(id);
    }
    auto text = OpenText(req->collection(), "collection");
    if (!text.ok()) return ToGrpc(text.status());
    auto deleted = (*text)->DeleteDocuments(ids);
    if (!deleted.ok()) return ToGrpc(deleted.status());
    resp->set_deleted_chunks(*deleted);
    call.extra.emplace_back("chunks", std::to_string(*deleted));
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::Embed(grpc::ServerContext* ctx, const v1::EmbedRequest* req,
                                   v1::EmbedResponse* resp) {
  return Run(ctx, "Embed", false, req->collection(), [&](Call& call) {
    const size_t n = static_cast<size_t>(req->texts_size());
    call.extra.emplace_back("texts", std::to_string(n));
    if (n == 0) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT, "texts: empty (send 1.." +
                                                           std::to_string(options_.max_batch_points) +
                                                           " texts)");
    }
    if (n > options_.max_batch_points) {
      return TooManyPoints("texts", n, options_.max_batch_points, "texts");
    }
    auto text = OpenText(req->collection(), "collection");
    if (!text.ok()) return ToGrpc(text.status());
    const std::vector<std::string> texts(req->texts().begin(), req->texts().end());
    auto vectors = (*text)->Embed(texts);
    if (!vectors.ok()) return ToGrpc(vectors.status());
    if (ctx->IsCancelled()) return Error(grpc::StatusCode::CANCELLED, "the call was cancelled");
    resp->set_dimension((*text)->embedder().dimension());
    resp->mutable_vectors()->Assign(vectors->begin(), vectors->end());
    resp->set_embedder_spec((*text)->embedder().spec());
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::Ask(grpc::ServerContext* ctx, const v1::AskRequest* req,
                                 grpc::ServerWriter<v1::AskResponse>* writer) {
  return Run(ctx, "Ask", false, req->collection(), [&](Call& call) {
    const std::string& question = req->question();
    if (std::all_of(question.begin(), question.end(),
                    [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; })) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT, "question: empty (ask something)");
    }
    if (req->k() > kMaxAskK) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   "k: " + std::to_string(req->k()) + " exceeds the limit of " +
                       std::to_string(kMaxAskK) + " chunks per question");
    }
    const std::string& name = req->generator().empty() ? options_.default_generator : req->generator();
    auto chosen = ChooseGenerator(req->generator());
    if (!chosen.ok()) return ToGrpc(chosen.status());
    rag::Generator* generator = *chosen;
    const rag::GenerationSettings settings = convert::FromProto(req->generation());
    if (Status s = options_.generation_limits.Check(settings); !s.ok()) return ToGrpc(s);
    if (req->tools() == v1::TOOL_MODE_AUTO || req->functions_size() > 0) {
      // Tool mode: an Ask is a Chat of one user message.
      rag::ChatOptions options;
      if (Status s = RetrieveAndPromptFromProto(*req, &options); !s.ok()) return ToGrpc(s);
      options.generation = settings;
      ToolsFromProto(*req, &options);
      std::vector<rag::ChatMessage> messages = {{"user", question, {}, {}}};
      return RunChat(call, req->collection(), messages, options, name, req->stream(), writer);
    }
    call.extra.emplace_back("generator", name);
    auto text = OpenText(req->collection(), "collection");
    if (!text.ok()) return ToGrpc(text.status());

    rag::AskOptions options;
    if (Status s = RetrieveAndPromptFromProto(*req, &options); !s.ok()) return ToGrpc(s);
    options.generation = settings;
    call.extra.emplace_back("k", std::to_string(options.retrieve.k));

    AnswerWriter out(ctx, writer, req->stream());
    auto answer = (*text)->Ask(question, options, *generator, out.OnToken());
    return out.Finish(answer, &call.extra);
  });
}

grpc::Status SextantService::Retrieve(grpc::ServerContext* ctx, const v1::RetrieveRequest* req,
                                      v1::RetrieveResponse* resp) {
  return Run(ctx, "Retrieve", false, req->collection(), [&](Call& call) {
    const std::string& query = req->query();
    if (std::all_of(query.begin(), query.end(),
                    [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; })) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT, "query: empty (send the text to retrieve with)");
    }
    const auto start = std::chrono::steady_clock::now();
    rag::RetrieveOptions options;
    if (req->k() != 0) options.k = req->k();
    options.filter = req->filter();
    options.ef_search = req->ef_search();
    auto mode = rag::ParseRetrievalMode(req->retrieval());
    if (!mode.ok()) return ToGrpc(mode.status());
    options.retrieval = *mode;
    options.group_by = req->group_by();
    if (req->group_size() != 0) options.group_size = req->group_size();
    if (req->has_score_threshold()) options.score_threshold = req->score_threshold();
    call.extra.emplace_back("k", std::to_string(options.k));
    auto text = OpenText(req->collection(), "collection");
    if (!text.ok()) return ToGrpc(text.status());
    const rag::RetrievalMode used = (*text)->EffectiveRetrieval(options.retrieval);
    call.extra.emplace_back("retrieval", std::string(rag::RetrievalModeName(used)));
    rag::AskTimings timings;
    auto found = (*text)->Retrieve(query, options, &timings);
    if (!found.ok()) return ToGrpc(found.status());
    for (const rag::Citation& c : *found) convert::ToProto(c, resp->add_chunks());
    resp->set_retrieval(std::string(rag::RetrievalModeName(used)));
    resp->set_embedder_spec((*text)->embedder().spec());
    timings.total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    convert::ToProto(timings, resp->mutable_timings());
    call.extra.emplace_back("chunks", std::to_string(found->size()));
    return grpc::Status::OK;
  });
}

}  // namespace sextant::server
