// The local embedder: a BERT encoder (sentence-transformers layout) run on Eigen.
//
// Per text: WordPiece ids, truncated to max_tokens with [CLS] and [SEP]; embeddings (word +
// absolute position + token type 0) and LayerNorm; N encoder layers (self-attention, GELU feed
// forward, post-LayerNorm); mean pooling over the tokens; L2 normalisation.
//
// Batching packs the texts of a batch back to back with no padding: every linear layer runs as
// one product over all their tokens, and attention is computed per text over its own rows, which
// is what an attention mask over padded rows computes, without the padded work.
//
// Speed: the linear layers (nearly all the work), attention's two products, softmax, GELU (folded
// into the first feed-forward product) and LayerNorm (with the residual add folded in) run on the
// dense kernels of engine/simd (simd/dense.h), at the level the process's one CPU detection chose
// (AVX-512, AVX2 + FMA, or plain C++; SEXTANT_SIMD caps it). Weights are packed for that table's
// product once, when the model is loaded. Texts of one Embed call are split across `threads`
// workers by batch.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "rag/safetensors.h"
#include "rag/wordpiece.h"
#include "sextant/rag.h"
#include "simd/dense.h"

namespace sextant::rag {
namespace {

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowVector = Eigen::Matrix<float, 1, Eigen::Dynamic>;

struct BertConfig {
  int hidden = 0;
  int layers = 0;
  int heads = 0;
  int intermediate = 0;
  int vocab = 0;
  int max_positions = 0;
  int type_vocab = 0;
  float eps = 1e-12f;
};

// A linear layer y = x W^T + b. W^T (in x out) is read as `wt`, then packed for the dense
// product (simd::ActiveDense()) and dropped.
struct Linear {
  Matrix wt;
  std::vector<float> packed;
  RowVector b;
  Eigen::Index in = 0, out = 0;

  void Prepare() {
    in = wt.rows();
    out = wt.cols();
    const simd::DenseKernels& dense = simd::ActiveDense();
    packed.resize(dense.PackedSize(static_cast<size_t>(in), static_cast<size_t>(out)));
    dense.PackB(wt.data(), static_cast<size_t>(in), static_cast<size_t>(out), static_cast<size_t>(out),
                packed.data());
    wt = Matrix();
  }
};

struct LayerNormWeights {
  RowVector gamma, beta;
};

struct EncoderLayer {
  Linear qkv;  // query, key and value side by side: hidden x 3*hidden
  Linear attn_out;
  LayerNormWeights attn_norm;
  Linear ffn_in;
  Linear ffn_out;
  LayerNormWeights ffn_norm;
};

struct BertWeights {
  Matrix word, position;
  RowVector token_type0;
  LayerNormWeights embed_norm;
  std::vector<EncoderLayer> layers;
};

StatusOr<BertConfig> ReadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read " + path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
    BertConfig c;
    c.hidden = j.at("hidden_size").get<int>();
    c.layers = j.at("num_hidden_layers").get<int>();
    c.heads = j.at("num_attention_heads").get<int>();
    c.intermediate = j.at("intermediate_size").get<int>();
    c.vocab = j.at("vocab_size").get<int>();
    c.max_positions = j.at("max_position_embeddings").get<int>();
    c.type_vocab = j.value("type_vocab_size", 2);
    c.eps = j.value("layer_norm_eps", 1e-12f);
    std::string act = j.value("hidden_act", "gelu");
    if (act != "gelu") {
      return Status::InvalidArgument(path + ": hidden_act \"" + act + "\" is not supported (only \"gelu\")");
    }
    std::string pos = j.value("position_embedding_type", "absolute");
    if (pos != "absolute") {
      return Status::InvalidArgument(path + ": position_embedding_type \"" + pos + "\" is not supported");
    }
    if (c.hidden <= 0 || c.layers <= 0 || c.heads <= 0 || c.hidden % c.heads != 0 || c.intermediate <= 0 ||
        c.vocab <= 0 || c.max_positions < 2 || c.type_vocab <= 0 || !(c.eps > 0)) {
      return Status::InvalidArgument(path + ": inconsistent sizes (hidden_size must be a multiple of "
                                            "num_attention_heads, all sizes positive)");
    }
    return c;
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(path + ": " + e.what());
  }
}

class WeightReader {
 public:
  WeightReader(const SafeTensorsFile& file, std::string prefix) : file_(file), prefix_(std::move(prefix)) {}

  Status Read(const std::string& name, int rows, int cols, Matrix* out) const {
    SEXTANT_ASSIGN_OR_RETURN(std::vector<float> v, file_.ReadF32(prefix_ + name, {rows, cols}));
    *out = Eigen::Map<Matrix>(v.data(), rows, cols);
    return Status::OK();
  }
  Status Read(const std::string& name, int size, RowVector* out) const {
    SEXTANT_ASSIGN_OR_RETURN(std::vector<float> v, file_.ReadF32(prefix_ + name, {size}));
    *out = Eigen::Map<RowVector>(v.data(), size);
    return Status::OK();
  }
  // A torch Linear: weight [out, in], bias [out].
  Status Read(const std::string& name, int in, int out, Linear* linear) const {
    Matrix w;
    SEXTANT_RETURN_IF_ERROR(Read(name + ".weight", out, in, &w));
    linear->wt = w.transpose();
    return Read(name + ".bias", out, &linear->b);
  }
  Status Read(const std::string& name, int size, LayerNormWeights* norm) const {
    SEXTANT_RETURN_IF_ERROR(Read(name + ".weight", size, &norm->gamma));
    return Read(name + ".bias", size, &norm->beta);
  }

 private:
  const SafeTensorsFile& file_;
  std::string prefix_;
};

StatusOr<BertWeights> ReadWeights(const SafeTensorsFile& file, const BertConfig& c) {
  // Models saved from a task head (BertForX) name their encoder "bert.".
  std::string prefix = file.Find("embeddings.word_embeddings.weight") == nullptr &&
                               file.Find("bert.embeddings.word_embeddings.weight") != nullptr
                           ? "bert."
                           : "";
  WeightReader r(file, prefix);
  const int h = c.hidden;
  BertWeights w;
  SEXTANT_RETURN_IF_ERROR(r.Read("embeddings.word_embeddings.weight", c.vocab, h, &w.word));
  SEXTANT_RETURN_IF_ERROR(r.Read("embeddings.position_embeddings.weight", c.max_positions, h, &w.position));
  Matrix types;
  SEXTANT_RETURN_IF_ERROR(r.Read("embeddings.token_type_embeddings.weight", c.type_vocab, h, &types));
  w.token_type0 = types.row(0);
  SEXTANT_RETURN_IF_ERROR(r.Read("embeddings.LayerNorm", h, &w.embed_norm));
  w.layers.resize(static_cast<size_t>(c.layers));
  for (int l = 0; l < c.layers; ++l) {
    EncoderLayer& layer = w.layers[static_cast<size_t>(l)];
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    Linear q, k, v;
    SEXTANT_RETURN_IF_ERROR(r.Read(p + "attention.self.query", h, h, &q));
    SEXTANT_RETURN_IF_ERROR(r.Read(p + "attention.self.key", h, h, &k));
    SEXTANT_RETURN_IF_ERROR(r.Read(p + "attention.self.value", h, h, &v));
    layer.qkv.wt.resize(h, 3 * h);
    layer.qkv.wt << q.wt, k.wt, v.wt;
    layer.qkv.b.resize(3 * h);
    layer.qkv.b << q.b, k.b, v.b;
    SEXTANT_RETURN_IF_ERROR(r.Read(p + "attention.output.dense", h, h, &layer.attn_out));
    SEXTANT_RETURN_IF_ERROR(r.Read(p + "attention.output.LayerNorm", h, &layer.attn_norm));
    SEXTANT_RETURN_IF_ERROR(r.Read(p + "intermediate.dense", h, c.intermediate, &layer.ffn_in));
    SEXTANT_RETURN_IF_ERROR(r.Read(p + "output.dense", c.intermediate, h, &layer.ffn_out));
    SEXTANT_RETURN_IF_ERROR(r.Read(p + "output.LayerNorm", h, &layer.ffn_norm));
    for (Linear* linear : {&layer.qkv, &layer.attn_out, &layer.ffn_in, &layer.ffn_out}) linear->Prepare();
  }
  return w;
}

// x = LayerNorm(x + add) row by row; add may be null.
void LayerNorm(const LayerNormWeights& norm, float eps, Matrix& x, const Matrix* add = nullptr) {
  simd::ActiveDense().layernorm_rows(x.data(), add != nullptr ? add->data() : nullptr, static_cast<size_t>(x.rows()),
                                     static_cast<size_t>(x.cols()), norm.gamma.data(), norm.beta.data(), eps);
}

// y = act(x W^T + b).
void Apply(const Linear& linear, const Matrix& x, Matrix& y, simd::Epilogue epilogue = simd::Epilogue::kNone) {
  y.resize(x.rows(), linear.out);
  simd::ActiveDense().gemm(x.data(), static_cast<size_t>(x.cols()), linear.packed.data(), linear.b.data(), y.data(),
                           static_cast<size_t>(linear.out), static_cast<size_t>(x.rows()),
                           static_cast<size_t>(linear.in), static_cast<size_t>(linear.out), epilogue);
}

class LocalEmbedder final : public Embedder {
 public:
  LocalEmbedder(std::string name, BertConfig config, BertWeights weights,
                std::unique_ptr<WordPieceTokenizer> tokenizer, const LocalEmbedderOptions& options)
      : name_(std::move(name)),
        config_(config),
        weights_(std::move(weights)),
        tokenizer_(std::move(tokenizer)),
        options_(options) {}

  uint32_t dimension() const override { return static_cast<uint32_t>(config_.hidden); }
  std::string spec() const override { return "local:" + name_; }

  StatusOr<std::vector<float>> Embed(std::span<const std::string> texts) override {
    const size_t n = texts.size();
    const size_t dim = static_cast<size_t>(config_.hidden);
    std::vector<float> out(n * dim);
    if (n == 0) return out;
    // Smaller batches when there are too few texts to give every thread one.
    const size_t threads = options_.threads;
    const size_t batch = std::min<size_t>(options_.batch, (n + threads - 1) / threads);
    const size_t batches = (n + batch - 1) / batch;
    const size_t workers = std::min(threads, batches);
    // Worker w takes every workers-th batch, so long and short texts spread evenly enough.
    auto work = [&](size_t w) {
      for (size_t b = w; b < batches; b += workers) {
        const size_t begin = b * batch;
        EncodeBatch(texts.subspan(begin, std::min(batch, n - begin)), out.data() + begin * dim);
      }
    };
    if (workers <= 1) {
      work(0);
    } else {
      std::vector<std::thread> threads;
      threads.reserve(workers - 1);
      for (size_t w = 1; w < workers; ++w) threads.emplace_back(work, w);
      work(0);
      for (auto& t : threads) t.join();
    }
    return out;
  }

 private:
  // [CLS] + the text's first max_tokens - 2 pieces + [SEP].
  std::vector<int32_t> Ids(const std::string& text) const {
    std::vector<int32_t> pieces = tokenizer_->Encode(text);
    const size_t keep = std::min(pieces.size(), static_cast<size_t>(options_.max_tokens) - 2);
    std::vector<int32_t> ids;
    ids.reserve(keep + 2);
    ids.push_back(tokenizer_->cls_id());
    ids.insert(ids.end(), pieces.begin(), pieces.begin() + static_cast<std::ptrdiff_t>(keep));
    ids.push_back(tokenizer_->sep_id());
    return ids;
  }

  // Writes texts.size() unit vectors to out.
  void EncodeBatch(std::span<const std::string> texts, float* out) const {
    const int h = config_.hidden;
    const int heads = config_.heads;
    const int head_dim = h / heads;
    const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));

    std::vector<Eigen::Index> starts{0};  // rows of text i: starts[i] .. starts[i+1]
    std::vector<int32_t> all;
    for (const std::string& text : texts) {
      std::vector<int32_t> ids = Ids(text);
      all.insert(all.end(), ids.begin(), ids.end());
      starts.push_back(static_cast<Eigen::Index>(all.size()));
    }
    const Eigen::Index rows = static_cast<Eigen::Index>(all.size());

    Matrix x(rows, h);
    for (size_t i = 0; i + 1 < starts.size(); ++i) {
      for (Eigen::Index r = starts[i]; r < starts[i + 1]; ++r) {
        int32_t id = all[static_cast<size_t>(r)];
        if (id < 0 || id >= config_.vocab) id = tokenizer_->unk_id();
        x.row(r) = weights_.word.row(id) + weights_.position.row(r - starts[i]) + weights_.token_type0;
      }
    }
    LayerNorm(weights_.embed_norm, config_.eps, x);

    const simd::DenseKernels& dense = simd::ActiveDense();
    const size_t hs = static_cast<size_t>(h), hd = static_cast<size_t>(head_dim), ld = 3 * hs;
    Matrix qkv, context(rows, h), y, inner;
    std::vector<float> scores, packed;
    for (const EncoderLayer& layer : weights_.layers) {
      Apply(layer.qkv, x, qkv);
      // Attention, per text and head: scores = softmax(q k^T / sqrt(head_dim)), context = scores v.
      for (size_t i = 0; i + 1 < starts.size(); ++i) {
        const size_t r0 = static_cast<size_t>(starts[i]), len = static_cast<size_t>(starts[i + 1] - starts[i]);
        scores.resize(len * len);
        packed.resize(std::max(dense.PackedSize(hd, len), dense.PackedSize(len, hd)));
        for (size_t hh = 0; hh < static_cast<size_t>(heads); ++hh) {
          const float* q = qkv.data() + r0 * ld + hh * hd;
          dense.PackBTransposed(q + hs, hd, len, ld, packed.data());
          dense.gemm(q, ld, packed.data(), nullptr, scores.data(), len, len, hd, len, simd::Epilogue::kNone);
          dense.softmax_rows(scores.data(), len, len, len, scale);
          dense.PackB(q + 2 * hs, len, hd, ld, packed.data());
          dense.gemm(scores.data(), len, packed.data(), nullptr, context.data() + r0 * hs + hh * hd, hs, len, len, hd,
                     simd::Epilogue::kNone);
        }
      }
      Apply(layer.attn_out, context, y);
      LayerNorm(layer.attn_norm, config_.eps, x, &y);
      Apply(layer.ffn_in, x, inner, simd::Epilogue::kGelu);
      Apply(layer.ffn_out, inner, y);
      LayerNorm(layer.ffn_norm, config_.eps, x, &y);
    }

    for (size_t i = 0; i + 1 < starts.size(); ++i) {
      Eigen::Map<RowVector> v(out + i * static_cast<size_t>(h), h);
      v = x.middleRows(starts[i], starts[i + 1] - starts[i]).colwise().mean();
      const float norm = v.norm();
      if (norm > 0) v /= norm;
    }
  }

  std::string name_;
  BertConfig config_;
  BertWeights weights_;
  std::unique_ptr<WordPieceTokenizer> tokenizer_;
  LocalEmbedderOptions options_;
};

}  // namespace

StatusOr<std::unique_ptr<Embedder>> MakeLocalEmbedder(const LocalEmbedderOptions& options) {
  namespace fs = std::filesystem;
  const std::string& dir = options.model_dir;
  const std::string how = "; run scripts/fetch-model.sh [DIR] to install all-MiniLM-L6-v2 "
                          "(default ~/.cache/sextant/models/all-MiniLM-L6-v2)";
  if (dir.empty()) return Status::InvalidArgument("local embedder: model_dir is empty" + how);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::NotFound("model directory " + dir + " does not exist" + how);
  for (const char* file : {"config.json", "vocab.txt", "model.safetensors"}) {
    if (!fs::exists(fs::path(dir) / file, ec)) {
      return Status::NotFound("model directory " + dir + " has no " + file + how);
    }
  }
  if (options.batch == 0) return Status::InvalidArgument("local embedder: batch must be > 0");

  SEXTANT_ASSIGN_OR_RETURN(BertConfig config, ReadConfig((fs::path(dir) / "config.json").string()));
  if (options.max_tokens < 2) {
    return Status::InvalidArgument("local embedder: max_tokens must be >= 2 ([CLS] and [SEP]), got " +
                                   std::to_string(options.max_tokens));
  }
  // Mean pooling is the only pooling implemented; refuse a model that asks for another.
  std::ifstream pooling(fs::path(dir) / "1_Pooling" / "config.json");
  if (pooling) {
    try {
      auto j = nlohmann::json::parse(pooling);
      if (!j.value("pooling_mode_mean_tokens", true) || j.value("pooling_mode_cls_token", false) ||
          j.value("pooling_mode_max_tokens", false)) {
        return Status::InvalidArgument(dir + "/1_Pooling/config.json: only mean pooling is supported");
      }
    } catch (const nlohmann::json::exception& e) {
      return Status::InvalidArgument(dir + "/1_Pooling/config.json: " + e.what());
    }
  }
  WordPieceOptions wp;
  std::ifstream tok_config(fs::path(dir) / "tokenizer_config.json");
  if (tok_config) {
    try {
      wp.lower_case = nlohmann::json::parse(tok_config).value("do_lower_case", true);
    } catch (const nlohmann::json::exception& e) {
      return Status::InvalidArgument(dir + "/tokenizer_config.json: " + e.what());
    }
  }
  SEXTANT_ASSIGN_OR_RETURN(auto tokenizer, WordPieceTokenizer::Load((fs::path(dir) / "vocab.txt").string(), wp));
  if (tokenizer->size() != static_cast<size_t>(config.vocab)) {
    return Status::InvalidArgument(dir + ": vocab.txt has " + std::to_string(tokenizer->size()) +
                                   " tokens, config.json says vocab_size " + std::to_string(config.vocab));
  }
  SEXTANT_ASSIGN_OR_RETURN(auto file, SafeTensorsFile::Open((fs::path(dir) / "model.safetensors").string()));
  SEXTANT_ASSIGN_OR_RETURN(BertWeights weights, ReadWeights(*file, config));

  LocalEmbedderOptions opts = options;
  // As sentence-transformers, never more tokens than the model has positions.
  opts.max_tokens = std::min(opts.max_tokens, static_cast<uint32_t>(config.max_positions));
  if (opts.threads == 0) opts.threads = std::max(1u, std::thread::hardware_concurrency());
  // The model's name is its directory's ("all-MiniLM-L6-v2" for scripts/fetch-model.sh's).
  std::string name = fs::path(dir).lexically_normal().filename().string();
  if (name.empty()) name = fs::path(dir).lexically_normal().parent_path().filename().string();
  return std::unique_ptr<Embedder>(
      new LocalEmbedder(name, config, std::move(weights), std::move(tokenizer), opts));
}

}  // namespace sextant::rag
