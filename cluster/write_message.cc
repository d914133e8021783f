#include "cluster/write_message.h"

#include <cstring>
#include <utility>

namespace sextant::cluster {

namespace {

constexpr char kMagic[3] = {'S', 'X', 'W'};
constexpr uint8_t kVersion = 1;

void PutU8(std::string* out, uint8_t v) { out->push_back(static_cast<char>(v)); }
void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutId(std::string* out, const PointId& id) {
  if (id.is_number()) {
    PutU8(out, 0);
    PutU64(out, id.number());
  } else {
    PutU8(out, 1);
    PutU32(out, static_cast<uint32_t>(id.str().size()));
    out->append(id.str());
  }
}
size_t IdBytes(const PointId& id) { return id.is_number() ? 9 : 5 + id.str().size(); }
void PutIds(std::string* out, const std::vector<PointId>& ids) {
  PutU32(out, static_cast<uint32_t>(ids.size()));
  for (const auto& id : ids) PutId(out, id);
}
// upsert and update_vectors: count, dimension, the ids, then count * dimension floats.
void PutIdsAndVectors(std::string* out, const WriteMessage& m) {
  PutU32(out, static_cast<uint32_t>(m.ids.size()));
  PutU32(out, m.dimension);
  for (const auto& id : m.ids) PutId(out, id);
  size_t at = out->size();
  out->resize(at + m.vectors.size() * 4);
  std::memcpy(out->data() + at, m.vectors.data(), m.vectors.size() * 4);  // x86-64: little-endian
}

class Reader {
 public:
  explicit Reader(std::string_view d) : d_(d) {}
  bool U8(uint8_t* v) {
    if (d_.size() < 1) return false;
    *v = static_cast<uint8_t>(d_[0]);
    d_.remove_prefix(1);
    return true;
  }
  bool U32(uint32_t* v) {
    if (d_.size() < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) *v |= static_cast<uint32_t>(static_cast<uint8_t>(d_[i])) << (8 * i);
    d_.remove_prefix(4);
    return true;
  }
  bool U64(uint64_t* v) {
    if (d_.size() < 8) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) *v |= static_cast<uint64_t>(static_cast<uint8_t>(d_[i])) << (8 * i);
    d_.remove_prefix(8);
    return true;
  }
  bool Bytes(size_t n, std::string* out) {
    if (d_.size() < n) return false;
    out->assign(d_.data(), n);
    d_.remove_prefix(n);
    return true;
  }
  bool Id(PointId* id) {
    uint8_t tag;
    if (!U8(&tag)) return false;
    if (tag == 0) {
      uint64_t n;
      if (!U64(&n)) return false;
      *id = PointId(n);
      return true;
    }
    if (tag != 1) return false;
    uint32_t len;
    std::string s;
    if (!U32(&len) || !Bytes(len, &s)) return false;
    *id = PointId(std::move(s));
    return true;
  }
  size_t left() const { return d_.size(); }
  std::string_view rest() const { return d_; }
  void Skip(size_t n) { d_.remove_prefix(n); }

 private:
  std::string_view d_;
};

// The reading sides of PutIds and PutIdsAndVectors; an empty string, or what is wrong.
std::string ReadIds(Reader& r, std::vector<PointId>* ids) {
  uint32_t n;
  if (!r.U32(&n)) return "truncated id count";
  if (size_t{n} > r.left()) return "id count larger than the record";
  ids->resize(n);
  for (auto& id : *ids) {
    if (!r.Id(&id)) return "truncated id";
  }
  return "";
}
std::string ReadIdsAndVectors(Reader& r, WriteMessage* m) {
  uint32_t n;
  if (!r.U32(&n) || !r.U32(&m->dimension)) return "truncated header";
  if (m->dimension == 0 || n == 0) return "no points";
  if (size_t{n} > r.left()) return "point count larger than the record";
  m->ids.resize(n);
  for (auto& id : m->ids) {
    if (!r.Id(&id)) return "truncated id";
  }
  if (m->dimension > r.left() / 4 / n) return "truncated vectors";  // no overflow in n * dimension
  const size_t floats = size_t{n} * m->dimension;
  m->vectors.resize(floats);
  std::memcpy(m->vectors.data(), r.rest().data(), floats * 4);
  r.Skip(floats * 4);
  return "";
}

}  // namespace

size_t EncodedPointBytes(const WriteMessage& m, size_t i) {
  size_t n = IdBytes(m.ids[i]);
  if (m.kind == WriteMessage::Kind::kUpsert || m.kind == WriteMessage::Kind::kUpdateVectors) {
    n += size_t{m.dimension} * 4;
  }
  if (m.kind == WriteMessage::Kind::kUpsert && !m.payloads.empty()) n += 4 + m.payloads[i].size();
  return n;
}

size_t WriteMessageOverhead(const WriteMessage& m) {
  size_t n = 3 + 1 + 1 + 4 + 4 + 1;
  if (m.IsPayloadKind()) n += 1 + 4 + m.filter.size() + 4 + m.payload.size();
  for (const auto& k : m.keys) n += 4 + k.size();
  return n;
}

std::string EncodeWriteMessage(const WriteMessage& m) {
  std::string out(kMagic, sizeof kMagic);
  PutU8(&out, kVersion);
  PutU8(&out, static_cast<uint8_t>(m.kind));
  switch (m.kind) {
    case WriteMessage::Kind::kUpsert: {
      PutIdsAndVectors(&out, m);
      PutU8(&out, m.payloads.empty() ? 0 : 1);
      for (const auto& p : m.payloads) {
        PutU32(&out, static_cast<uint32_t>(p.size()));
        out.append(p);
      }
      break;
    }
    case WriteMessage::Kind::kDelete:
      PutIds(&out, m.ids);
      break;
    case WriteMessage::Kind::kDeleteWhere:
      PutU32(&out, static_cast<uint32_t>(m.filter.size()));
      out.append(m.filter);
      break;
    case WriteMessage::Kind::kSetIndex:
      PutU32(&out, static_cast<uint32_t>(m.index.size()));
      out.append(m.index);
      break;
    case WriteMessage::Kind::kRebuildIndex:
      break;
    case WriteMessage::Kind::kUpdateVectors:
      PutIdsAndVectors(&out, m);
      break;
    case WriteMessage::Kind::kSetPayload:
    case WriteMessage::Kind::kOverwritePayload:
    case WriteMessage::Kind::kDeletePayloadKeys:
      PutU8(&out, m.by_filter ? 1 : 0);
      if (m.by_filter) {
        PutU32(&out, static_cast<uint32_t>(m.filter.size()));
        out.append(m.filter);
      } else {
        PutIds(&out, m.ids);
      }
      if (m.kind == WriteMessage::Kind::kDeletePayloadKeys) {
        PutU32(&out, static_cast<uint32_t>(m.keys.size()));
        for (const auto& k : m.keys) {
          PutU32(&out, static_cast<uint32_t>(k.size()));
          out.append(k);
        }
      } else {
        PutU32(&out, static_cast<uint32_t>(m.payload.size()));
        out.append(m.payload);
      }
      break;
  }
  return out;
}

StatusOr<WriteMessage> DecodeWriteMessage(std::string_view data) {
  auto bad = [](std::string_view what) { return Status::DataLoss("malformed cluster log record: " + std::string(what)); };
  if (data.size() < 5 || std::memcmp(data.data(), kMagic, 3) != 0) return bad("no SXW header");
  if (static_cast<uint8_t>(data[3]) != kVersion) {
    return bad("version " + std::to_string(static_cast<uint8_t>(data[3])) + " (this build reads 1)");
  }
  Reader r(data.substr(4));
  WriteMessage m;
  uint8_t kind;
  if (!r.U8(&kind)) return bad("no kind");
  switch (kind) {
    case static_cast<uint8_t>(WriteMessage::Kind::kUpsert): {
      m.kind = WriteMessage::Kind::kUpsert;
      if (std::string e = ReadIdsAndVectors(r, &m); !e.empty()) return bad("upsert: " + e);
      uint8_t has;
      if (!r.U8(&has) || has > 1) return bad("payload flag");
      if (has) {
        m.payloads.resize(m.ids.size());
        for (auto& p : m.payloads) {
          uint32_t len;
          if (!r.U32(&len) || !r.Bytes(len, &p)) return bad("truncated payload");
        }
      }
      break;
    }
    case static_cast<uint8_t>(WriteMessage::Kind::kDelete): {
      m.kind = WriteMessage::Kind::kDelete;
      if (std::string e = ReadIds(r, &m.ids); !e.empty()) return bad("delete: " + e);
      break;
    }
    case static_cast<uint8_t>(WriteMessage::Kind::kDeleteWhere): {
      m.kind = WriteMessage::Kind::kDeleteWhere;
      uint32_t len;
      if (!r.U32(&len) || !r.Bytes(len, &m.filter)) return bad("truncated filter");
      break;
    }
    case static_cast<uint8_t>(WriteMessage::Kind::kSetIndex): {
      m.kind = WriteMessage::Kind::kSetIndex;
      uint32_t len;
      if (!r.U32(&len) || !r.Bytes(len, &m.index)) return bad("truncated index options");
      break;
    }
    case static_cast<uint8_t>(WriteMessage::Kind::kRebuildIndex):
      m.kind = WriteMessage::Kind::kRebuildIndex;
      break;
    case static_cast<uint8_t>(WriteMessage::Kind::kUpdateVectors): {
      m.kind = WriteMessage::Kind::kUpdateVectors;
      if (std::string e = ReadIdsAndVectors(r, &m); !e.empty()) return bad("update_vectors: " + e);
      break;
    }
    case static_cast<uint8_t>(WriteMessage::Kind::kSetPayload):
    case static_cast<uint8_t>(WriteMessage::Kind::kOverwritePayload):
    case static_cast<uint8_t>(WriteMessage::Kind::kDeletePayloadKeys): {
      m.kind = static_cast<WriteMessage::Kind>(kind);
      uint8_t by_filter;
      if (!r.U8(&by_filter) || by_filter > 1) return bad("selector flag");
      m.by_filter = by_filter == 1;
      if (m.by_filter) {
        uint32_t len;
        if (!r.U32(&len) || !r.Bytes(len, &m.filter)) return bad("truncated filter");
      } else if (std::string e = ReadIds(r, &m.ids); !e.empty()) {
        return bad("payload update: " + e);
      }
      uint32_t len;
      if (!r.U32(&len)) return bad("truncated payload update");
      if (m.kind == WriteMessage::Kind::kDeletePayloadKeys) {
        if (size_t{len} > r.left()) return bad("key count larger than the record");
        m.keys.resize(len);
        for (auto& k : m.keys) {
          uint32_t kl;
          if (!r.U32(&kl) || !r.Bytes(kl, &k)) return bad("truncated key");
        }
      } else if (!r.Bytes(len, &m.payload)) {
        return bad("truncated payload");
      }
      break;
    }
    default:
      return bad("unknown kind " + std::to_string(kind));
  }
  if (r.left() != 0) return bad(std::to_string(r.left()) + " trailing bytes");
  return m;
}

StatusOr<std::vector<WriteMessage>> SplitWriteMessage(WriteMessage m, size_t max_bytes) {
  std::vector<WriteMessage> parts;
  const size_t overhead = WriteMessageOverhead(m);
  if (m.ToEveryShard()) {
    const size_t total = overhead + m.index.size() + (m.kind == WriteMessage::Kind::kDeleteWhere ? m.filter.size() : 0);
    if (total > max_bytes) {
      return Status::InvalidArgument("a record of " + std::to_string(total) +
                                     " bytes (filter, payload, keys) exceeds the cluster's message limit of " +
                                     std::to_string(max_bytes));
    }
    parts.push_back(std::move(m));
    return parts;
  }
  if (m.IsPayloadKind() && overhead >= max_bytes) {
    return Status::InvalidArgument("a payload update of " + std::to_string(overhead) +
                                   " bytes exceeds the cluster's message limit of " + std::to_string(max_bytes));
  }
  // Every part carries the record's fixed fields (a payload update's payload or keys).
  auto empty_like = [&m] {
    WriteMessage w;
    w.kind = m.kind;
    w.dimension = m.dimension;
    w.by_filter = m.by_filter;
    w.payload = m.payload;
    w.keys = m.keys;
    return w;
  };
  WriteMessage cur = empty_like();
  size_t cur_bytes = overhead;
  auto flush = [&] {
    if (cur.ids.empty()) return;
    parts.push_back(std::move(cur));
    cur = empty_like();
    cur_bytes = overhead;
  };
  const bool has_vectors = m.kind == WriteMessage::Kind::kUpsert || m.kind == WriteMessage::Kind::kUpdateVectors;
  for (size_t i = 0; i < m.ids.size(); ++i) {
    size_t b = EncodedPointBytes(m, i);
    if (overhead + b > max_bytes) {
      return Status::InvalidArgument("point " + std::to_string(i) + " (id " + m.ids[i].ToString() + ") takes " +
                                     std::to_string(b) + " bytes, more than the cluster's message limit of " +
                                     std::to_string(max_bytes));
    }
    if (cur_bytes + b > max_bytes) flush();
    cur.ids.push_back(std::move(m.ids[i]));
    if (has_vectors) {
      cur.vectors.insert(cur.vectors.end(), m.vectors.begin() + i * m.dimension,
                         m.vectors.begin() + (i + 1) * m.dimension);
    }
    if (m.kind == WriteMessage::Kind::kUpsert && !m.payloads.empty()) cur.payloads.push_back(std::move(m.payloads[i]));
    cur_bytes += b;
  }
  flush();
  return parts;
}

}  // namespace sextant::cluster
