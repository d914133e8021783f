// Fusion math (text/fusion.h) on fixed rankings.
#include "text/fusion.h"

#include <gtest/gtest.h>

namespace sextant::text {
namespace {

TEST(FusionTest, RrfSumsReciprocalRanks) {
  // dense: 7, 3, 9      text: 3, 5
  RankedList dense = {{7, 0.9f}, {3, 0.8f}, {9, 0.1f}};
  RankedList text = {{3, 12.0f}, {5, 4.0f}};
  auto f = FuseRrf(dense, text, 60);
  ASSERT_EQ(f.size(), 4u);
  // 3: 1/62 + 1/61; 7: 1/61; 5: 1/62; 9: 1/63.
  EXPECT_EQ(f[0].slot, 3u);
  EXPECT_FLOAT_EQ(f[0].score, 1.0f / 62 + 1.0f / 61);
  EXPECT_TRUE(f[0].in_dense && f[0].in_text);
  EXPECT_EQ(f[1].slot, 7u);
  EXPECT_FLOAT_EQ(f[1].score, 1.0f / 61);
  EXPECT_TRUE(f[1].in_dense && !f[1].in_text);
  EXPECT_EQ(f[2].slot, 5u);
  EXPECT_FLOAT_EQ(f[2].score, 1.0f / 62);
  EXPECT_TRUE(!f[2].in_dense && f[2].in_text);
  EXPECT_EQ(f[3].slot, 9u);
  EXPECT_FLOAT_EQ(f[3].score, 1.0f / 63);
}

TEST(FusionTest, RrfTiesGoToTheLowerSlot) {
  auto f = FuseRrf({{8, 1.0f}}, {{2, 1.0f}}, 60);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].slot, 2u);
  EXPECT_EQ(f[1].slot, 8u);
}

TEST(FusionTest, RrfWithOneEmptyListKeepsTheOtherOrder) {
  auto f = FuseRrf({}, {{4, 3.0f}, {1, 2.0f}}, 1);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].slot, 4u);
  EXPECT_FLOAT_EQ(f[0].score, 0.5f);
  EXPECT_EQ(f[1].slot, 1u);
  EXPECT_FLOAT_EQ(f[1].score, 1.0f / 3);
}

TEST(FusionTest, WeightedNormalisesEachList) {
  // dense scores 0.9..0.5 -> 1, 0.5, 0; text 10..2 -> 1, 0.
  RankedList dense = {{1, 0.9f}, {2, 0.7f}, {3, 0.5f}};
  RankedList text = {{3, 10.0f}, {4, 2.0f}};
  auto f = FuseWeighted(dense, text, 0.3f, 0.7f);
  ASSERT_EQ(f.size(), 4u);
  // 3: 0.3*0 + 0.7*1 = 0.7; 1: 0.3; 2: 0.15; 4: 0.
  EXPECT_EQ(f[0].slot, 3u);
  EXPECT_FLOAT_EQ(f[0].score, 0.7f);
  EXPECT_EQ(f[1].slot, 1u);
  EXPECT_FLOAT_EQ(f[1].score, 0.3f);
  EXPECT_EQ(f[2].slot, 2u);
  EXPECT_NEAR(f[2].score, 0.15f, 1e-6);
  EXPECT_EQ(f[3].slot, 4u);
  EXPECT_FLOAT_EQ(f[3].score, 0.0f);
}

TEST(FusionTest, WeightedHandlesNegativeScoresAndEqualScores) {
  // L2 distances are negated before fusion: -1 is better than -4.
  RankedList dense = {{1, -1.0f}, {2, -4.0f}};
  RankedList text = {{5, 3.0f}, {6, 3.0f}};  // all equal: both map to 1
  auto f = FuseWeighted(dense, text, 1.0f, 1.0f);
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0].slot, 1u);
  EXPECT_FLOAT_EQ(f[0].score, 1.0f);
  EXPECT_EQ(f[1].slot, 5u);
  EXPECT_FLOAT_EQ(f[1].score, 1.0f);
  EXPECT_EQ(f[2].slot, 6u);
  EXPECT_EQ(f[3].slot, 2u);
  EXPECT_FLOAT_EQ(f[3].score, 0.0f);
}

}  // namespace
}  // namespace sextant::text
