// SegmentedRows (index/segmented.h): the first segment is sized by bytes, so wide rows do not
// allocate 1,024 rows up front; rows never move as the table grows; every row is addressable and
// zero-filled.
#include "index/segmented.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace sextant::index {
namespace {

TEST(SegmentedRowsTest, FirstSegmentIsSizedByBytes) {
  EXPECT_EQ(SegmentedRows<float>(16).first_rows(), 1024u);
  EXPECT_EQ(SegmentedRows<float>(64).first_rows(), 1024u);    // 256 KiB exactly
  EXPECT_EQ(SegmentedRows<float>(128).first_rows(), 512u);
  EXPECT_EQ(SegmentedRows<float>(1536).first_rows(), 32u);   // 6 KiB rows
  EXPECT_EQ(SegmentedRows<float>(65536).first_rows(), 1u);   // one 256 KiB row
  EXPECT_EQ(SegmentedRows<uint8_t>(1).first_rows(), 1024u);

  // Four one-row tables of 65,536 floats hold 1 MiB, not 1 GiB.
  size_t total = 0;
  for (int i = 0; i < 4; ++i) {
    VectorStore store(65536);
    store.Reserve(1);
    EXPECT_EQ(store.capacity(), 1u);
    total += store.MemoryBytes();
  }
  EXPECT_EQ(total, size_t{4} * 65536 * sizeof(float));
}

TEST(SegmentedRowsTest, WideRowsGrowByDoublingWithoutMoving) {
  const size_t width = 65536;
  VectorStore store(width);
  std::vector<const float*> where;
  for (uint32_t rows = 1; rows <= 40; ++rows) {
    store.Reserve(rows);
    ASSERT_GE(store.capacity(), rows);
    ASSERT_LE(store.capacity(), 2 * uint64_t{rows}) << "grows by at most doubling";
    float* r = store.Row(rows - 1);
    EXPECT_EQ(r[0], 0.0f);
    EXPECT_EQ(r[width - 1], 0.0f);
    r[0] = static_cast<float>(rows);
    r[width - 1] = -static_cast<float>(rows);
    where.push_back(r);
  }
  for (uint32_t i = 0; i < where.size(); ++i) {
    EXPECT_EQ(store.Row(i), where[i]) << "row " << i << " moved";
    EXPECT_EQ(store.Row(i)[0], static_cast<float>(i + 1));
    EXPECT_EQ(store.Row(i)[width - 1], -static_cast<float>(i + 1));
  }
  // The runs cover every row once, in order.
  uint64_t next = 0;
  store.ForEachRun(40, [&](uint32_t first, size_t rows, const float* data) {
    EXPECT_EQ(first, next);
    EXPECT_EQ(data, store.Row(first));
    next += rows;
  });
  EXPECT_EQ(next, 40u);
}

TEST(SegmentedRowsTest, NarrowRowsKeepTheirLayout) {
  SegmentedRows<uint32_t> t(4);
  t.Reserve(1);
  EXPECT_EQ(t.capacity(), 1024u);
  t.Reserve(1025);
  EXPECT_EQ(t.capacity(), 2048u);
  EXPECT_EQ(t.SegmentOf(1023), 0);
  EXPECT_EQ(t.SegmentOf(1024), 1);
  EXPECT_EQ(t.SegmentOf(2048), 2);
  EXPECT_EQ(t.SegmentStart(2), 2048u);
  EXPECT_EQ(t.SegmentRows(2), 2048u);
}

}  // namespace
}  // namespace sextant::index
