#include "storage/storage.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>

#include "test_util.h"

namespace sextant::storage {
namespace {

using ::sextant::testing::TempDir;

std::map<std::string, std::string> ScanAll(Storage& s, Cf cf, const std::string& b, const std::string& e) {
  std::map<std::string, std::string> out;
  EXPECT_TRUE(s.Scan(cf, b, e, [&](std::string_view k, std::string_view v) {
                 out.emplace(std::string(k), std::string(v));
                 return true;
               }).ok());
  return out;
}

TEST(StorageTest, OpenCreatesAndRespectsFlags) {
  TempDir dir;
  StorageOptions no_create;
  no_create.create_if_missing = false;
  EXPECT_EQ(Storage::Open(dir.path(), no_create).status().code(), StatusCode::kNotFound);
  { ASSERT_TRUE(Storage::Open(dir.path(), StorageOptions{}).ok()); }
  EXPECT_TRUE(Storage::Open(dir.path(), no_create).ok());
  StorageOptions exclusive;
  exclusive.error_if_exists = true;
  EXPECT_EQ(Storage::Open(dir.path(), exclusive).status().code(), StatusCode::kAlreadyExists);
}

TEST(StorageTest, BatchIsAtomicAcrossFamiliesAndDurable) {
  TempDir dir;
  {
    auto s = Storage::Open(dir.path(), {});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    Batch b;
    b.Put(Cf::kIds, "k1", "v1");
    b.Put(Cf::kVectors, "k1", "vec");
    b.Put(Cf::kPayloads, "k1", "{}");
    EXPECT_EQ(b.Count(), 3u);
    const uint64_t before = (*s)->LatestSequence();
    ASSERT_TRUE((*s)->Write(b, /*sync=*/false).ok());
    EXPECT_GT((*s)->LatestSequence(), before);
    // Families are separate key spaces.
    auto got = (*s)->Get(Cf::kMeta, "k1");
    ASSERT_TRUE(got.ok());
    EXPECT_FALSE(got->has_value());
  }
  auto s = Storage::Open(dir.path(), {});
  ASSERT_TRUE(s.ok());
  auto v = (*s)->Get(Cf::kVectors, "k1");
  ASSERT_TRUE(v.ok());
  ASSERT_TRUE(v->has_value());
  EXPECT_EQ(**v, "vec");
}

// The memtables of all families together stay near write_buffer_bytes: a steady write load does
// not keep each family's memtables growing to RocksDB's 64 MiB default (the server soak's RSS).
TEST(StorageTest, MemtablesStayWithinTheWriteBufferBudget) {
  auto write_mb = [](Storage& s, int mb) {
    const std::string value(4096, 'v');
    for (int i = 0; i < mb * 256; ++i) {
      Batch b;
      const Cf cf = i % 2 ? Cf::kVectors : Cf::kPayloads;
      b.Put(cf, "key" + std::to_string(i), value);
      ASSERT_TRUE(s.Write(b, /*sync=*/false).ok());
    }
  };
  TempDir small_dir, large_dir;
  StorageOptions small;
  small.write_buffer_bytes = 4 << 20;
  auto s = Storage::Open(small_dir.path(), small);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  write_mb(**s, 24);
  // Flushes run in the background: wait (bounded) until they have caught up.
  for (int i = 0; i < 200 && (*s)->MemtableBytes() > (8u << 20); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_LE((*s)->MemtableBytes(), 8u << 20);
  // The control: with a large budget the same writes all stay in memtables.
  StorageOptions large;
  large.write_buffer_bytes = 256 << 20;
  auto l = Storage::Open(large_dir.path(), large);
  ASSERT_TRUE(l.ok());
  write_mb(**l, 24);
  EXPECT_GE((*l)->MemtableBytes(), 20u << 20);
}

TEST(StorageTest, ScanIsOrderedAndBoundedAndDeleteRangeRemovesRange) {
  TempDir dir;
  auto s = Storage::Open(dir.path(), {});
  ASSERT_TRUE(s.ok());
  Batch b;
  for (uint32_t cid : {1u, 2u, 3u}) {
    for (uint32_t slot : {0u, 1u, 300u}) b.Put(Cf::kVectors, SlotKey(cid, slot), std::to_string(cid * 1000 + slot));
  }
  ASSERT_TRUE((*s)->Write(b, false).ok());
  auto two = ScanAll(**s, Cf::kVectors, CollectionPrefix(2), CollectionPrefix(3));
  ASSERT_EQ(two.size(), 3u);
  std::vector<std::string> values;
  for (auto& [k, v] : two) values.push_back(v);
  EXPECT_EQ(values, (std::vector<std::string>{"2000", "2001", "2300"}));  // slot order, not text order

  int seen = 0;
  ASSERT_TRUE((*s)->Scan(Cf::kVectors, CollectionPrefix(1), CollectionPrefix(4), [&](auto, auto) {
                 return ++seen < 4;  // stops when asked
               }).ok());
  EXPECT_EQ(seen, 4);

  Batch drop;
  drop.DeleteRange(Cf::kVectors, CollectionPrefix(2), CollectionPrefix(3));
  ASSERT_TRUE((*s)->Write(drop, true).ok());
  ASSERT_TRUE((*s)->CompactRange(Cf::kVectors, CollectionPrefix(2), CollectionPrefix(3)).ok());
  EXPECT_TRUE(ScanAll(**s, Cf::kVectors, CollectionPrefix(2), CollectionPrefix(3)).empty());
  EXPECT_EQ(ScanAll(**s, Cf::kVectors, CollectionPrefix(1), CollectionPrefix(4)).size(), 6u);
}

TEST(KeyCodecTest, IdsRoundTripAndSortNumbersFirst) {
  for (const PointId& id : {PointId(0), PointId(42), PointId(UINT64_MAX), PointId("a"), PointId("doc-\x01\xff")}) {
    auto back = DecodeId(EncodeId(id));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, id);
  }
  EXPECT_LT(EncodeId(PointId(2)), EncodeId(PointId(10)));
  EXPECT_LT(EncodeId(PointId(UINT64_MAX)), EncodeId(PointId("0")));
  EXPECT_LT(EncodeId(PointId("a")), EncodeId(PointId("b")));
  EXPECT_NE(EncodeId(PointId(7)), EncodeId(PointId("7")));
  EXPECT_EQ(DecodeId("").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(DecodeId("\x01\x02").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(DecodeId("\x02").status().code(), StatusCode::kDataLoss);
}

TEST(KeyCodecTest, KeysArePrefixedByCollection) {
  EXPECT_EQ(CollectionPrefix(1).size(), 4u);
  EXPECT_EQ(SlotKey(7, 9).substr(0, 4), CollectionPrefix(7));
  EXPECT_EQ(IdKey(7, EncodeId(PointId("x"))), CollectionPrefix(7) + EncodeId(PointId("x")));
  EXPECT_LT(SlotKey(7, UINT32_MAX), CollectionPrefix(8));
}

}  // namespace
}  // namespace sextant::storage
