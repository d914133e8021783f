// A damaged collection does not stop the database: Open succeeds, the other collections work, the
// damaged one is listed with its damage and refuses calls with DataLoss, and RepairCollection
// salvages its intact points (or DropCollection deletes it). Before, Database::Open failed with
// DataLoss for the whole directory.
#include <set>

#include "../collection/engine_test_helpers.h"
#include "collection/descriptor.h"
#include "storage/storage.h"

namespace sextant {
namespace {

using ::sextant::testing::MustCreate;
using ::sextant::testing::MustOpen;
using ::sextant::testing::NumericIds;
using ::sextant::testing::TempDir;

// The database in `dir` gets collections "good" (3 points) and "bad" (5 points with an indexed
// payload field and an HNSW index).
void Populate(const std::string& dir) {
  auto db = MustOpen(dir);
  auto good = MustCreate(db.get(), "good", 4, Metric::kL2);
  ASSERT_OK(good->Upsert({}, NumericIds(0, 3), testing::RandomVectors(3, 4, 1)));
  CollectionOptions o;
  o.dimension = 4;
  o.metric = Metric::kL2;
  o.index = *IndexOptions::Parse("HNSW8");
  o.payload_indexes = {{"genre", PayloadFieldType::kKeyword}};
  ASSERT_OK_AND_ASSIGN(auto bad, db->CreateCollection("bad", o));
  std::vector<std::string> payloads;
  for (int i = 0; i < 5; ++i) payloads.push_back(R"({"genre":")" + std::string(i % 2 ? "odd" : "even") + R"("})");
  ASSERT_OK(bad->Upsert({}, NumericIds(0, 5), testing::RandomVectors(5, 4, 2), payloads));
  ASSERT_OK(bad->WaitForIndex(60000));
}

// Damages "bad" behind the engine's back: a malformed id entry, and the vector of one point gone.
void Damage(const std::string& dir) {
  ASSERT_OK_AND_ASSIGN(auto st, storage::Storage::Open(dir, {}));
  ASSERT_OK_AND_ASSIGN(auto text, st->Get(storage::Cf::kMeta, DescriptorKey("bad")));
  ASSERT_TRUE(text.has_value());
  ASSERT_OK_AND_ASSIGN(CollectionDescriptor d, DecodeDescriptor(*text));
  ASSERT_OK_AND_ASSIGN(auto slot_bytes, st->Get(storage::Cf::kIds, storage::IdKey(d.id, storage::EncodeId(PointId(uint64_t{3})))));
  ASSERT_TRUE(slot_bytes.has_value());
  const uint32_t slot = static_cast<uint8_t>((*slot_bytes)[0]) | static_cast<uint8_t>((*slot_bytes)[1]) << 8 |
                        static_cast<uint8_t>((*slot_bytes)[2]) << 16 | static_cast<uint32_t>(static_cast<uint8_t>((*slot_bytes)[3])) << 24;
  storage::Batch b;
  b.Put(storage::Cf::kIds, storage::IdKey(d.id, storage::EncodeId(PointId(uint64_t{99}))), "abc");
  b.Delete(storage::Cf::kVectors, storage::SlotKey(d.id, slot));
  ASSERT_OK(st->Write(b, true));
}

TEST(DamagedCollectionTest, OthersOpenAndTheDamagedOneRefusesCallsWithDataLoss) {
  TempDir tmp;
  Populate(tmp.path());
  Damage(tmp.path());
  auto db = MustOpen(tmp.path());
  ASSERT_NE(db, nullptr);
  ASSERT_OK_AND_ASSIGN(auto good, db->GetCollection("good"));
  ASSERT_OK_AND_ASSIGN(uint64_t n, good->Count());
  EXPECT_EQ(n, 3u);
  ASSERT_OK(good->Upsert({}, NumericIds(10, 1), testing::RandomVectors(1, 4, 3)));

  EXPECT_STATUS(db->GetCollection("bad"), StatusCode::kDataLoss, "bad", "repair");
  ASSERT_OK_AND_ASSIGN(auto list, db->ListCollections());
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "bad");
  EXPECT_FALSE(list[0].damage.empty());
  EXPECT_EQ(list[0].dimension, 4u);
  EXPECT_EQ(list[1].name, "good");
  EXPECT_TRUE(list[1].damage.empty());
  CollectionOptions o;
  o.dimension = 4;
  EXPECT_STATUS(db->CreateCollection("bad", o), StatusCode::kAlreadyExists);
  EXPECT_STATUS(db->RepairCollection("nosuch"), StatusCode::kNotFound);

  // Repair: the four intact points stay (with payloads, payload index and index), the point
  // without a vector and the malformed id entry go.
  ASSERT_OK_AND_ASSIGN(RepairReport report, db->RepairCollection("bad"));
  EXPECT_EQ(report.points_kept, 4u);
  EXPECT_EQ(report.points_removed, 1u);
  EXPECT_EQ(report.records_removed, 2u);  // the bad id entry and the lost point's payload
  ASSERT_OK_AND_ASSIGN(auto bad, db->GetCollection("bad"));
  ASSERT_OK(bad->WaitForIndex(60000));
  ASSERT_OK_AND_ASSIGN(n, bad->Count());
  EXPECT_EQ(n, 4u);
  EXPECT_STATUS(bad->Get(PointId(uint64_t{3})), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(Point p, bad->Get(PointId(uint64_t{4})));
  EXPECT_EQ(p.payload, R"({"genre":"even"})");
  SearchOptions so;
  so.k = 10;
  so.filter = R"({"genre":"odd"})";
  ASSERT_OK_AND_ASSIGN(auto hits, bad->Search(so, std::vector<float>(4, 0.0f)));
  std::set<uint64_t> odd;
  for (const Hit& h : hits) odd.insert(h.id.number());
  EXPECT_EQ(odd, (std::set<uint64_t>{1}));  // 3 is gone
  // It stays repaired across a reopen.
  bad.reset();
  good.reset();
  db.reset();
  db = MustOpen(tmp.path());
  ASSERT_OK_AND_ASSIGN(bad, db->GetCollection("bad"));
  ASSERT_OK_AND_ASSIGN(n, bad->Count());
  EXPECT_EQ(n, 4u);
  // On a healthy collection, repair removes nothing and rebuilds the index.
  ASSERT_OK_AND_ASSIGN(report, db->RepairCollection("bad"));
  EXPECT_EQ(report.points_kept, 4u);
  EXPECT_EQ(report.points_removed, 0u);
  EXPECT_EQ(report.records_removed, 0u);
}

TEST(DamagedCollectionTest, AliasesRefuseADamagedCollectionsName) {
  TempDir tmp;
  Populate(tmp.path());
  Damage(tmp.path());
  auto db = MustOpen(tmp.path());
  ASSERT_NE(db, nullptr);
  ASSERT_OK(db->CreateAlias("live", "good"));
  // An alias named like the damaged collection would hide it; one naming it could not be used.
  EXPECT_STATUS(db->CreateAlias("bad", "good"), StatusCode::kAlreadyExists, "bad", "damaged");
  EXPECT_STATUS(db->CreateAlias("broken", "bad"), StatusCode::kDataLoss, "create alias broken", "repair");
  // In a swap the refused change fails the whole call: "live" still names "good".
  const AliasChange swap[] = {AliasChange::Delete("live"), AliasChange::Create("live", "bad")};
  EXPECT_STATUS(db->UpdateAliases(swap), StatusCode::kDataLoss, "change 1");
  ASSERT_OK_AND_ASSIGN(auto aliases, db->ListAliases());
  ASSERT_EQ(aliases.size(), 1u);
  EXPECT_EQ(aliases[0].alias, "live");
  EXPECT_EQ(aliases[0].collection, "good");
  // Repaired, the collection can be aliased.
  ASSERT_OK(db->RepairCollection("bad").status());
  ASSERT_OK(db->CreateAlias("fixed", "bad"));
  ASSERT_OK_AND_ASSIGN(auto fixed, db->GetCollection("fixed"));
  EXPECT_EQ(fixed->name(), "bad");
}

TEST(DamagedCollectionTest, DroppingADamagedCollectionFreesItsName) {
  TempDir tmp;
  Populate(tmp.path());
  Damage(tmp.path());
  {
    auto db = MustOpen(tmp.path());
    ASSERT_OK(db->DropCollection("bad"));
    EXPECT_STATUS(db->GetCollection("bad"), StatusCode::kNotFound);
    auto again = MustCreate(db.get(), "bad", 2, Metric::kL2);
    ASSERT_NE(again, nullptr);
    ASSERT_OK_AND_ASSIGN(uint64_t n, again->Count());
    EXPECT_EQ(n, 0u);
  }
  auto db = MustOpen(tmp.path());
  ASSERT_OK_AND_ASSIGN(auto list, db->ListCollections());
  ASSERT_EQ(list.size(), 2u);
  for (const auto& info : list) EXPECT_TRUE(info.damage.empty()) << info.name << ": " << info.damage;
}

// A descriptor that is not valid JSON: the collection is listed as damaged, cannot be repaired
// (its id and dimension are unknown) but can be dropped.
TEST(DamagedCollectionTest, UnreadableDescriptorCanOnlyBeDropped) {
  TempDir tmp;
  Populate(tmp.path());
  {
    ASSERT_OK_AND_ASSIGN(auto st, storage::Storage::Open(tmp.path(), {}));
    storage::Batch b;
    b.Put(storage::Cf::kMeta, DescriptorKey("bad"), "{not json");
    ASSERT_OK(st->Write(b, true));
  }
  auto db = MustOpen(tmp.path());
  ASSERT_NE(db, nullptr);
  EXPECT_STATUS(db->GetCollection("bad"), StatusCode::kDataLoss);
  EXPECT_STATUS(db->RepairCollection("bad"), StatusCode::kFailedPrecondition, "drop");
  ASSERT_OK(db->DropCollection("bad"));
  ASSERT_OK_AND_ASSIGN(auto list, db->ListCollections());
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name, "good");
}

// Repair rebuilds the full-text records from the payloads: a damaged record made the collection
// refuse to load, and a repair that ignored the text family left it damaged.
TEST(DamagedCollectionTest, RepairRebuildsTheTextIndex) {
  TempDir tmp;
  {
    auto db = MustOpen(tmp.path());
    CollectionOptions o;
    o.dimension = 4;
    o.metric = Metric::kL2;
    TextFieldOptions body;
    body.field = "body";
    o.text_fields.push_back(body);
    ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("t", o));
    ASSERT_OK(c->Upsert({}, NumericIds(0, 3), testing::RandomVectors(3, 4, 1),
                        std::vector<std::string>{R"({"body": "red apple"})", R"({"body": "green apple"})",
                                                 R"({"body": "blue sky"})"}));
  }
  {
    ASSERT_OK_AND_ASSIGN(auto st, storage::Storage::Open(tmp.path(), {}));
    ASSERT_OK_AND_ASSIGN(auto text, st->Get(storage::Cf::kMeta, DescriptorKey("t")));
    ASSERT_TRUE(text.has_value());
    ASSERT_OK_AND_ASSIGN(CollectionDescriptor d, DecodeDescriptor(*text));
    storage::Batch b;
    b.Put(storage::Cf::kText, storage::SlotKey(d.id, 0), "\xff\xff garbage");  // damaged
    b.Delete(storage::Cf::kText, storage::SlotKey(d.id, 1));                  // lost
    ASSERT_OK(st->Write(b, true));
  }
  auto db = MustOpen(tmp.path());
  EXPECT_STATUS(db->GetCollection("t"), StatusCode::kDataLoss);
  ASSERT_OK_AND_ASSIGN(RepairReport report, db->RepairCollection("t"));
  EXPECT_EQ(report.points_kept, 3u);
  ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("t"));
  SearchOptions so;
  so.k = 10;
  so.text = "apple";
  ASSERT_OK_AND_ASSIGN(auto hits, c->Search(so, {}));
  std::set<uint64_t> found;
  for (const Hit& h : hits) found.insert(h.id.number());
  EXPECT_EQ(found, (std::set<uint64_t>{0, 1}));
}

}  // namespace
}  // namespace sextant
