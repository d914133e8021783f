// Collection aliases (Database::CreateAlias, DeleteAlias, ListAliases, UpdateAliases): resolution
// by GetCollection, the shared namespace with collections, atomic multi-change updates,
// durability, drop, and a swap under concurrent searches.
#include <atomic>
#include <thread>

#include "../collection/engine_test_helpers.h"

namespace sextant {
namespace {

using ::sextant::testing::MustCreate;
using ::sextant::testing::MustOpen;
using ::sextant::testing::TempDir;

std::vector<std::pair<std::string, std::string>> Aliases(const Database& db) {
  auto list = db.ListAliases();
  EXPECT_TRUE(list.ok()) << list.status().ToString();
  std::vector<std::pair<std::string, std::string>> out;
  for (const AliasInfo& a : *list) out.emplace_back(a.alias, a.collection);
  return out;
}

TEST(AliasTest, CreateResolveListDelete) {
  TempDir dir;
  auto db = MustOpen(dir.path());
  auto v1 = MustCreate(db.get(), "docs_v1", 2, Metric::kL2);
  ASSERT_OK(v1->Upsert({}, std::vector<PointId>{PointId(1)}, std::vector<float>{1, 2}));
  ASSERT_OK(db->CreateAlias("live", "docs_v1"));
  ASSERT_OK_AND_ASSIGN(auto live, db->GetCollection("live"));
  EXPECT_EQ(live.get(), v1.get());
  EXPECT_EQ(live->name(), "docs_v1");
  EXPECT_EQ(Aliases(*db), (std::vector<std::pair<std::string, std::string>>{{"live", "docs_v1"}}));
  ASSERT_OK_AND_ASSIGN(auto list, db->ListCollections());
  EXPECT_EQ(list.size(), 1u);  // an alias is not a collection

  EXPECT_STATUS(db->CreateAlias("live", "docs_v1"), StatusCode::kAlreadyExists, "live");
  EXPECT_STATUS(db->CreateAlias("docs_v1", "docs_v1"), StatusCode::kAlreadyExists, "collection");
  EXPECT_STATUS(db->CreateAlias("other", "missing"), StatusCode::kNotFound, "missing");
  EXPECT_STATUS(db->CreateAlias("other", "live"), StatusCode::kNotFound, "alias");
  EXPECT_STATUS(db->CreateAlias("bad name", "docs_v1"), StatusCode::kInvalidArgument, "alias");
  EXPECT_STATUS(db->CreateAlias("", "docs_v1"), StatusCode::kInvalidArgument, "alias");
  CollectionOptions two;
  two.dimension = 2;
  EXPECT_STATUS(db->CreateCollection("live", two).status(), StatusCode::kAlreadyExists, "alias");
  EXPECT_STATUS(db->DropCollection("live"), StatusCode::kFailedPrecondition, "alias");

  ASSERT_OK(db->DeleteAlias("live"));
  EXPECT_STATUS(db->GetCollection("live").status(), StatusCode::kNotFound);
  EXPECT_STATUS(db->DeleteAlias("live"), StatusCode::kNotFound, "live");
  EXPECT_TRUE(Aliases(*db).empty());
}

TEST(AliasTest, UpdateIsAtomicAndAllOrNothing) {
  TempDir dir;
  auto db = MustOpen(dir.path());
  MustCreate(db.get(), "a", 2, Metric::kL2);
  MustCreate(db.get(), "b", 2, Metric::kL2);
  ASSERT_OK(db->CreateAlias("live", "a"));
  ASSERT_OK(db->CreateAlias("old", "a"));
  std::vector<AliasChange> swap{AliasChange::Delete("live"), AliasChange::Create("live", "b"),
                                AliasChange::Delete("old")};
  ASSERT_OK(db->UpdateAliases(swap));
  EXPECT_EQ(Aliases(*db), (std::vector<std::pair<std::string, std::string>>{{"live", "b"}}));
  // A failing change in the middle applies nothing.
  std::vector<AliasChange> bad{AliasChange::Delete("live"), AliasChange::Create("live", "a"),
                               AliasChange::Create("x", "nope")};
  EXPECT_STATUS(db->UpdateAliases(bad), StatusCode::kNotFound, "change 2", "nope");
  EXPECT_EQ(Aliases(*db), (std::vector<std::pair<std::string, std::string>>{{"live", "b"}}));
  std::vector<AliasChange> create_twice{AliasChange::Create("live", "a")};
  EXPECT_STATUS(db->UpdateAliases(create_twice), StatusCode::kAlreadyExists, "delete it first");
  EXPECT_STATUS(db->UpdateAliases({}), StatusCode::kInvalidArgument, "empty");
}

TEST(AliasTest, DurableAndDroppedWithTheirCollection) {
  TempDir dir;
  {
    auto db = MustOpen(dir.path());
    MustCreate(db.get(), "a", 2, Metric::kL2);
    MustCreate(db.get(), "b", 2, Metric::kL2);
    ASSERT_OK(db->CreateAlias("x", "a"));
    ASSERT_OK(db->CreateAlias("y", "a"));
    ASSERT_OK(db->CreateAlias("z", "b"));
  }
  {
    auto db = MustOpen(dir.path());
    EXPECT_EQ(Aliases(*db).size(), 3u);
    ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("y"));
    EXPECT_EQ(c->name(), "a");
    ASSERT_OK(db->DropCollection("a"));
    EXPECT_EQ(Aliases(*db), (std::vector<std::pair<std::string, std::string>>{{"z", "b"}}));
    MustCreate(db.get(), "a", 2, Metric::kL2);  // a new "a" gets no old aliases
    EXPECT_STATUS(db->GetCollection("x").status(), StatusCode::kNotFound);
  }
  auto db = MustOpen(dir.path());
  EXPECT_EQ(Aliases(*db), (std::vector<std::pair<std::string, std::string>>{{"z", "b"}}));
}

// Searches through an alias while it is switched back and forth: every search resolves to one of
// the two collections and succeeds.
TEST(AliasTest, SwapUnderConcurrentSearch) {
  TempDir dir;
  auto db = MustOpen(dir.path());
  auto a = MustCreate(db.get(), "a", 2, Metric::kL2);
  auto b = MustCreate(db.get(), "b", 2, Metric::kL2);
  ASSERT_OK(a->Upsert({}, std::vector<PointId>{PointId("in-a")}, std::vector<float>{0, 0}));
  ASSERT_OK(b->Upsert({}, std::vector<PointId>{PointId("in-b")}, std::vector<float>{0, 0}));
  ASSERT_OK(db->CreateAlias("live", "a"));
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0}, saw_a{0}, saw_b{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      while (!stop) {
        auto c = db->GetCollection("live");
        if (!c.ok()) {
          ++errors;
          continue;
        }
        SearchOptions so;
        so.k = 1;
        auto hits = (*c)->Search(so, std::vector<float>{0, 0});
        if (!hits.ok() || hits->size() != 1) {
          ++errors;
        } else if ((*hits)[0].id == PointId("in-a")) {
          ++saw_a;
        } else {
          ++saw_b;
        }
      }
    });
  }
  for (int i = 0; i < 100; ++i) {
    const std::string to = i % 2 == 0 ? "b" : "a";
    std::vector<AliasChange> swap{AliasChange::Delete("live"), AliasChange::Create("live", to)};
    ASSERT_OK(db->UpdateAliases(swap));
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GT(saw_a.load() + saw_b.load(), 0);
}

}  // namespace
}  // namespace sextant
