// SPDX-License-Identifier: MIT
// Golden transcripts (tests/data/transcripts, device side written from PROTOCOL.md) replayed
// against UartBoard: host bytes in, exactly the transcript's device bytes out, nothing more.
// Each transcript runs three ways: one on_receive per '>' line, one per byte at the same
// instant, and one per byte 100 us apart (a paced line). Also tests the transcript reader.
#include <gtest/gtest.h>

#include <fstream>
#include <stdexcept>

#include "support/sim_helpers.hpp"
#include "support/paths.hpp"
#include "support/transcript.hpp"

namespace mp1boot::sim::test {
namespace {

using mp1boot::test::load_transcript;
using mp1boot::test::transcript_board;

enum class Feed { lines, bytes_same_time, bytes_paced };

UartBoardOptions board_from(const std::filesystem::path& file) {
  auto settings = transcript_board(file);
  UartBoardOptions o;
  o.soc = &soc_by_name(settings.count("soc") ? settings.at("soc") : "stm32mp135");
  if (settings.count("stage") && settings.at("stage") == "tf-a") o.start_stage = StartStage::tfa;
  return o;
}

void replay(const std::string& name, Feed feed) {
  auto file = mp1boot::test::data_dir() / "transcripts" / name;
  auto steps = load_transcript(file);
  ASSERT_FALSE(steps.empty()) << file;
  UartBoard board(board_from(file));
  Clock::time_point now = t0();
  Bytes pending;  // device bytes produced and not yet matched
  auto pull = [&](std::size_t want) {
    Bytes more = board.take_output(now);
    pending.insert(pending.end(), more.begin(), more.end());
    for (int guard = 0; pending.size() < want && guard < 100; ++guard) {
      auto d = board.next_deadline();
      if (!d) break;
      if (*d > now) now = *d;
      more = board.take_output(now);
      pending.insert(pending.end(), more.begin(), more.end());
    }
  };
  for (const auto& step : steps) {
    SCOPED_TRACE(name + ":" + std::to_string(step.line) + " " + step.comment);
    if (step.host_to_device) {
      pull(0);
      ASSERT_TRUE(pending.empty()) << "device said more than the transcript: " << to_hex(pending);
      if (feed == Feed::lines) {
        board.on_receive(step.bytes, now);
      } else {
        for (auto b : step.bytes) {
          board.on_receive(ByteView(&b, 1), now);
          if (feed == Feed::bytes_paced) now += std::chrono::microseconds(100);
        }
      }
      continue;
    }
    pull(step.bytes.size());
    ASSERT_GE(pending.size(), step.bytes.size()) << "got only " << to_hex(pending);
    Bytes got(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(step.bytes.size()));
    EXPECT_EQ(to_hex(got), to_hex(step.bytes));
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(step.bytes.size()));
  }
  // Let every timer run: the device must not say anything the transcript does not show.
  for (int guard = 0; guard < 100; ++guard) {
    auto d = board.next_deadline();
    if (!d) break;
    if (*d > now) now = *d;
    Bytes more = board.take_output(now);
    pending.insert(pending.end(), more.begin(), more.end());
  }
  Bytes more = board.take_output(now);
  pending.insert(pending.end(), more.begin(), more.end());
  EXPECT_TRUE(pending.empty()) << "unexpected trailing device bytes: " << to_hex(pending);
}

class TranscriptReplay : public ::testing::TestWithParam<std::tuple<std::string, Feed>> {};

TEST_P(TranscriptReplay, DeviceBytesMatchExactly) {
  replay(std::get<0>(GetParam()), std::get<1>(GetParam()));
}

std::string param_name(const ::testing::TestParamInfo<std::tuple<std::string, Feed>>& info) {
  std::string n = std::get<0>(info.param);
  n = n.substr(0, n.find('.'));
  const char* f[] = {"lines", "bytes", "paced"};
  return n + "_" + f[static_cast<int>(std::get<1>(info.param))];
}

INSTANTIATE_TEST_SUITE_P(
    Transcripts, TranscriptReplay,
    ::testing::Combine(::testing::Values("rom_mp13_session.txt", "rom_mp15_get_phase.txt",
                                         "download_one_packet.txt", "tfa_get_id_quirk.txt",
                                         "tfa_fip_download.txt", "tfa_invalid_start.txt"),
                       ::testing::Values(Feed::lines)),
    param_name);

// Byte by byte (at one instant, or paced): a byte reaches the device only when the previous
// ones were handled, so TF-A's flush before a result drops nothing that comes later.
// tfa_fip_download.txt is left out: there TF-A NACKs a wrong packet number before the frame's
// XOR byte arrives and then reads that byte as a command, as on a real line (see
// TfaUart.WrongPacketNumberOnAPacedLine); the transcript shows the frame arriving at once.
INSTANTIATE_TEST_SUITE_P(
    SplitInput, TranscriptReplay,
    ::testing::Combine(::testing::Values("rom_mp13_session.txt", "rom_mp15_get_phase.txt",
                                         "download_one_packet.txt", "tfa_get_id_quirk.txt",
                                         "tfa_invalid_start.txt"),
                       ::testing::Values(Feed::bytes_same_time, Feed::bytes_paced)),
    param_name);

TEST(TranscriptReplay, EndStatesAfterTheTranscripts) {
  // tfa_fip_download ends with TF-A booting the FIP; tfa_invalid_start with TF-A's reset.
  struct Case { const char* file; const char* stage; std::uint8_t phase; };
  for (const Case& c : {Case{"tfa_fip_download.txt", "booted", 0xFE},
                        Case{"tfa_invalid_start.txt", "halted", 0xFF},
                        Case{"download_one_packet.txt", "rom", 0x01}}) {
    auto file = mp1boot::test::data_dir() / "transcripts" / c.file;
    UartBoard board(board_from(file));
    Host host(board);
    for (const auto& step : load_transcript(file)) {
      if (step.host_to_device) {
        host.send(step.bytes);
      } else {
        host.receive(step.bytes.size());
      }
    }
    EXPECT_EQ(board.stage(), c.stage) << c.file;
    EXPECT_EQ(board.current_phase(), c.phase) << c.file;
  }
}

// --- the reader -----------------------------------------------------------------------------

std::filesystem::path write_temp(const std::string& text) {
  auto path = mp1boot::test::temp_dir("transcript") / "t.txt";
  std::ofstream(path) << text;
  return path;
}

TEST(TranscriptReader, ParsesDirectionsBytesCommentsAndLines) {
  auto path = write_temp(
      "# a comment\n"
      "# board: soc=stm32mp157 stage=tf-a\n"
      "\n"
      "> 7f            # sync\n"
      "<79\n"
      "  > 31ce 00  \n");
  auto steps = load_transcript(path);
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_TRUE(steps[0].host_to_device);
  EXPECT_EQ(to_hex(steps[0].bytes), "7f");
  EXPECT_EQ(steps[0].comment, "sync");
  EXPECT_EQ(steps[0].line, 4);
  EXPECT_FALSE(steps[1].host_to_device);
  EXPECT_EQ(to_hex(steps[1].bytes), "79");
  EXPECT_EQ(steps[1].comment, "");
  EXPECT_EQ(to_hex(steps[2].bytes), "31 ce 00");
  EXPECT_EQ(steps[2].line, 6);
  auto board = transcript_board(path);
  EXPECT_EQ(board.at("soc"), "stm32mp157");
  EXPECT_EQ(board.at("stage"), "tf-a");
}

TEST(TranscriptReader, RejectsBadLinesWithTheirNumber) {
  auto check = [](const std::string& text, const std::string& where) {
    auto path = write_temp(text);
    try {
      load_transcript(path);
      ADD_FAILURE() << "no error for: " << text;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
    }
  };
  check("> 7f\n> 7g\n", "t.txt:2: bad hex");
  check("> 7f\n< 7\n", "t.txt:2: bad hex");
  check("# x\nhello\n", "t.txt:2: expected");
  check("> # nothing\n", "t.txt:1: no bytes");
  EXPECT_THROW(load_transcript("/nonexistent/transcript.txt"), std::runtime_error);
}

}  // namespace
}  // namespace mp1boot::sim::test
