// IndexOptions: the index spec strings ("HNSW16,SQ8", "IVF1024,PQ16") and parameter checks.
#include <algorithm>
#include <cctype>
#include <charconv>

#include "sextant/options.h"

namespace sextant {
namespace {

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Parses the decimal number that follows `prefix` in `part` ("HNSW16" -> 16).
bool NumberAfter(std::string_view part, std::string_view prefix, uint32_t* out) {
  if (part.substr(0, prefix.size()) != prefix || part.size() == prefix.size()) return false;
  std::string_view digits = part.substr(prefix.size());
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *out);
  return ec == std::errc() && p == digits.data() + digits.size();
}

}  // namespace

std::string_view IndexStateName(IndexState state) {
  switch (state) {
    case IndexState::kReady: return "ready";
    case IndexState::kTraining: return "training";
    case IndexState::kBuilding: return "building";
  }
  return "unknown";
}

StatusOr<IndexOptions> IndexOptions::Parse(std::string_view spec) {
  const std::string s = Upper(spec);
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("index spec '" + std::string(spec) + "': " + std::string(why));
  };
  std::string_view head = s, tail;
  if (size_t comma = s.find(','); comma != std::string::npos) {
    head = std::string_view(s).substr(0, comma);
    tail = std::string_view(s).substr(comma + 1);
    if (tail.find(',') != std::string_view::npos) return bad("at most one ',' (index,quantizer)");
  }
  IndexOptions o;
  if (head == "FLAT") {
    if (!tail.empty()) return bad("Flat takes no quantizer");
    o.type = IndexType::kFlat;
    return o;
  }
  if (head.substr(0, 4) == "HNSW") {
    o.type = IndexType::kHnsw;
    if (head.size() > 4 && !NumberAfter(head, "HNSW", &o.m)) return bad("expected HNSW<m>, e.g. HNSW16");
    if (tail.empty() || tail == "FLAT") {
      o.quantizer = QuantizerType::kNone;
    } else if (tail == "SQ8") {
      o.quantizer = QuantizerType::kSq8;
    } else {
      return bad("HNSW takes SQ8 or nothing after the comma");
    }
    return o;
  }
  if (head.substr(0, 3) == "IVF") {
    o.type = IndexType::kIvf;
    if (!NumberAfter(head, "IVF", &o.nlist)) return bad("expected IVF<nlist>, e.g. IVF256");
    if (tail.empty() || tail == "FLAT") {
      o.quantizer = QuantizerType::kNone;
    } else if (tail == "SQ8") {
      o.quantizer = QuantizerType::kSq8;
    } else if (tail == "PQ") {
      o.quantizer = QuantizerType::kPq;
    } else if (tail.substr(0, 2) == "PQ") {
      o.quantizer = QuantizerType::kPq;
      if (!NumberAfter(tail, "PQ", &o.pq_m)) return bad("expected PQ<m>, e.g. PQ16");
    } else {
      return bad("IVF takes Flat, SQ8 or PQ<m> after the comma");
    }
    return o;
  }
  return bad("expected Flat, HNSW<m>[,SQ8] or IVF<nlist>[,Flat|,SQ8|,PQ<m>]");
}

std::string IndexOptions::ToString() const {
  switch (type) {
    case IndexType::kFlat: return "Flat";
    case IndexType::kHnsw:
      return "HNSW" + std::to_string(m) + (quantizer == QuantizerType::kSq8 ? ",SQ8" : "");
    case IndexType::kIvf: {
      std::string out = "IVF" + std::to_string(nlist);
      if (quantizer == QuantizerType::kSq8) out += ",SQ8";
      if (quantizer == QuantizerType::kPq) out += ",PQ" + (pq_m ? std::to_string(pq_m) : std::string());
      return out;
    }
  }
  return "unknown";
}

Status IndexOptions::Validate(uint32_t dimension) const {
  auto bad = [&](const std::string& why) { return Status::InvalidArgument("index " + ToString() + ": " + why); };
  switch (type) {
    case IndexType::kFlat:
      if (quantizer != QuantizerType::kNone) return bad("Flat takes no quantizer");
      return Status::OK();
    case IndexType::kHnsw:
      if (m < 2 || m > 128) return bad("m must be 2..128, got " + std::to_string(m));
      if (ef_construction < 1 || ef_construction > 100000) {
        return bad("ef_construction must be 1..100000, got " + std::to_string(ef_construction));
      }
      if (ef_search < 1 || ef_search > 100000) return bad("ef_search must be 1..100000, got " + std::to_string(ef_search));
      if (quantizer == QuantizerType::kPq) return bad("HNSW supports SQ8, not PQ");
      return Status::OK();
    case IndexType::kIvf:
      if (nlist < 1 || nlist > (1u << 20)) return bad("nlist must be 1..1048576, got " + std::to_string(nlist));
      if (nprobe < 1) return bad("nprobe must be >= 1");
      if (quantizer == QuantizerType::kPq && pq_m != 0) {
        if (pq_m > dimension || dimension % pq_m != 0) {
          return bad("pq_m " + std::to_string(pq_m) + " must divide the dimension " + std::to_string(dimension));
        }
      }
      return Status::OK();
  }
  return bad("unknown index type");
}

}  // namespace sextant
