// SPDX-License-Identifier: MIT
// mp1boot/vocabulary.hpp: every enumerator has its one spelling (today's JSON strings, which the
// report schema and the Python enums use), from_string() reads exactly those back, and anything
// else is refused.
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "mp1boot/vocabulary.hpp"

namespace mp1boot {
namespace {

template <class E>
void expect_round_trip(const std::vector<std::pair<E, std::string>>& spellings) {
  std::set<std::string> seen;
  std::string listed;
  for (const auto& [value, text] : spellings) {
    EXPECT_EQ(to_string(value), text);
    EXPECT_EQ(from_string<E>(text), value) << text;
    EXPECT_TRUE(seen.insert(text).second) << "two values spelled \"" << text << "\"";
    std::ostringstream os;
    os << value;
    EXPECT_EQ(os.str(), text);
    listed += (listed.empty() ? "\"" : ", \"") + text + "\"";
  }
  EXPECT_EQ(allowed_values<E>(), listed);
  for (const char* other : {"OK", "Usb", " usb", "tfa", "uboot", "resumed", "bogus", "ok ", "unknown-ish"})
    if (!seen.count(other)) EXPECT_EQ(from_string<E>(other), std::nullopt) << other;
}

TEST(Vocabulary, LinkSpellings) {
  expect_round_trip<Link>({{Link::unknown, ""}, {Link::uart, "uart"}, {Link::usb, "usb"}});
}

TEST(Vocabulary, StageSpellings) {
  expect_round_trip<Stage>({{Stage::unknown, "unknown"}, {Stage::rom, "rom"}, {Stage::tfa, "tf-a"}, {Stage::uboot, "u-boot"}});
  EXPECT_EQ(from_string<Stage>(""), std::nullopt);
}

TEST(Vocabulary, PartitionResultSpellings) {
  expect_round_trip<PartitionResult>({{PartitionResult::ok, "ok"},
                                      {PartitionResult::failed, "failed"},
                                      {PartitionResult::skipped, "skipped"},
                                      {PartitionResult::skipped_done_earlier, "skipped-done-earlier"}});
  EXPECT_EQ(from_string<PartitionResult>(""), std::nullopt);
}

TEST(Vocabulary, FlashResultSpellings) {
  expect_round_trip<FlashResult>({{FlashResult::ok, "ok"}, {FlashResult::failed, "failed"}});
  EXPECT_EQ(from_string<FlashResult>(""), std::nullopt);
}

TEST(Vocabulary, FlashStepSpellings) {
  expect_round_trip<FlashStep>({{FlashStep::none, ""},
                                {FlashStep::check, "check"},
                                {FlashStep::fsbl, "fsbl"},
                                {FlashStep::fip, "fip"},
                                {FlashStep::layout, "layout"},
                                {FlashStep::partitions, "partitions"},
                                {FlashStep::verify, "verify"},
                                {FlashStep::done, "done"},
                                {FlashStep::failed, "failed"}});
}

TEST(Vocabulary, VerifyResultSpellings) {
  expect_round_trip<VerifyResult>(
      {{VerifyResult::not_read, ""}, {VerifyResult::ok, "ok"}, {VerifyResult::mismatch, "mismatch"}});
}

}  // namespace
}  // namespace mp1boot
