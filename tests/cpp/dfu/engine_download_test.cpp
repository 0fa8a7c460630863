// SPDX-License-Identifier: MIT
// dfu::Engine: DFU_DNLOAD of an image per stage (ROM, TF-A, U-Boot), block sizes and numbering, the
// bwPollTimeout waits, manifestation, and the settling (CLRSTATUS, ABORT) before a download.
// Driven purely through next_action() and its inputs against the scripted device of
// engine_script.hpp.
#include <gtest/gtest.h>

#include "engine_script.hpp"

namespace mp1boot::dfu {
namespace {

// ---- downloads per stage --------------------------------------------------------------------------

TEST(DfuEngine, RomMp15FsblDownload) {
  Engine e;
  const Bytes fsbl = pattern(2500);
  e.download(0x01, rom15_alts, fsbl, 1024, {.handover_on_manifest = true});
  EXPECT_TRUE(e.busy());
  Driver d{e, {ok(), status(State::dfu_idle)}};
  for (int b = 0; b < 3; ++b) {
    d.script.push_back(ok());
    d.script.push_back(status(State::dnbusy, 1));
    d.script.push_back(status(State::dnload_idle, 1));
  }
  d.script.insert(d.script.end(), {ok(), status(State::manifest, 1), status(State::dfu_idle)});
  EXPECT_EQ(d.run(), Done{});

  std::vector<std::string> expected{"SET_INTERFACE 1", getstatus};
  const std::size_t sizes[] = {1024, 1024, 452};
  for (unsigned b = 0; b < 3; ++b) {
    for (const auto& l : {dnload(b, sizes[b]), getstatus, std::string("SLEEP 1"), getstatus}) expected.push_back(l);
  }
  for (const auto& l : {dnload(3, 0), getstatus, std::string("SLEEP 1"), getstatus, std::string("DONE")})
    expected.push_back(l);
  EXPECT_EQ(d.log, expected);
  EXPECT_EQ(d.sent, fsbl);

  auto acks = d.events_of<BlockAcked>();
  ASSERT_EQ(acks.size(), 3u);
  EXPECT_EQ(acks[0].block, 0u);
  EXPECT_EQ(acks[0].bytes_done, 1024u);
  EXPECT_EQ(acks[2].block, 2u);
  EXPECT_EQ(acks[2].bytes_done, 2500u);
  EXPECT_EQ(acks[2].bytes_total, 2500u);
  auto manifested = d.events_of<Manifested>();
  ASSERT_EQ(manifested.size(), 1u);
  EXPECT_EQ(manifested[0].phase, 0x01);
  EXPECT_FALSE(manifested[0].device_left);
  EXPECT_EQ(d.events_of<StatusReported>().size(), 1u + 3 * 2 + 2);
  EXPECT_FALSE(e.busy());
  EXPECT_EQ(e.device_state(), State::dfu_idle);
  EXPECT_EQ(e.selected_alt(), 1);
  // Suggested timeouts: blocks and the manifestation status may be held by the device.
  EXPECT_EQ(std::get<ControlOut>(d.actions[2]).timeout, 30000ms);
  EXPECT_EQ(std::get<ControlIn>(d.actions[3]).timeout, 5000ms);
  EXPECT_EQ(std::get<ControlIn>(d.actions[d.actions.size() - 4]).timeout, 30000ms);
}

TEST(DfuEngine, TfaFipDownloadReportsSyncThenIdle) {
  Engine e;
  const Bytes fip = pattern(2048);
  e.download(0x03, tfa13_alts, fip, 1024);
  Driver d{e, {ok(), status(State::dfu_idle)}};
  for (int b = 0; b < 2; ++b)
    d.script.insert(d.script.end(), {ok(), status(State::dnload_sync), status(State::dnload_idle)});
  d.script.insert(d.script.end(), {ok(), status(State::manifest, 1), status(State::dfu_idle)});
  d.run();
  const std::vector<std::string> expected{"SET_INTERFACE 0", getstatus,
                                          dnload(0, 1024),   getstatus, getstatus,
                                          dnload(1, 1024),   getstatus, getstatus,
                                          dnload(2, 0),      getstatus, "SLEEP 1", getstatus, "DONE"};
  EXPECT_EQ(d.log, expected);  // bwPollTimeout 0: no Sleep between the two GETSTATUS
  EXPECT_EQ(d.sent, fip);
}

TEST(DfuEngine, UbootPartitionDownloadWithoutPolls) {
  Engine e;
  const Bytes image = pattern(10000);
  e.download(0x21, uboot_alts, image, 4096);
  Driver d{e, {ok(), status(State::dfu_idle)}};
  for (int b = 0; b < 3; ++b) d.script.insert(d.script.end(), {ok(), status(State::dnload_idle)});
  d.script.insert(d.script.end(), {ok(), status(State::manifest), status(State::dfu_idle)});
  d.run();
  const std::vector<std::string> expected{"SET_INTERFACE 2", getstatus, dnload(0, 4096), getstatus,
                                          dnload(1, 4096),   getstatus, dnload(2, 1808), getstatus,
                                          dnload(3, 0),      getstatus, getstatus,       "DONE"};
  EXPECT_EQ(d.log, expected);
  EXPECT_EQ(d.sent, image);
}

TEST(DfuEngine, TransferSizeRoundedDownToPacketMultiple) {
  Engine e;
  const Bytes data2000 = pattern(2000);
  e.download(0x01, rom13_alts, data2000, 1000);
  Driver d{e, {ok(), status(State::dfu_idle)}};
  for (int b = 0; b < 3; ++b) d.script.insert(d.script.end(), {ok(), status(State::dnload_idle)});
  d.script.insert(d.script.end(), {ok(), status(State::dfu_idle)});
  d.run();
  EXPECT_EQ(d.log[2], dnload(0, 960));
  EXPECT_EQ(d.log[4], dnload(1, 960));
  EXPECT_EQ(d.log[6], dnload(2, 80));
  EXPECT_EQ(d.log[8], dnload(3, 0));
}

TEST(DfuEngine, SleepsExactlyThePollTimeoutEachTime) {
  Engine e;
  const Bytes data64 = pattern(64);
  e.download(0x01, rom13_alts, data64, 64);
  Driver d{e, {ok(), status(State::dfu_idle), ok(), status(State::dnbusy, 7), status(State::dnbusy, 300),
               status(State::dnload_idle, 2), ok(), status(State::manifest, 0x012345), status(State::dfu_idle)}};
  d.run();
  const std::vector<std::string> expected{"SET_INTERFACE 0", getstatus, dnload(0, 64), getstatus, "SLEEP 7",
                                          getstatus, "SLEEP 300", getstatus, dnload(1, 0), getstatus,
                                          "SLEEP 74565", getstatus, "DONE"};
  EXPECT_EQ(d.log, expected);
}

TEST(DfuEngine, BlockNumbersWrapAt65536) {
  // U-Boot counts blocks modulo 65536 (PROTOCOL.md 3.4.3). A lean loop: 65538 DNLOADs.
  Engine e;
  const Bytes image(64 * 65537, 0x5A);
  const Bytes idle = encode_status_reply({Status::ok, 0, State::dnload_idle, 0});
  e.download(0x21, uboot_alts, image, 64);
  e.on_control_out_done();                                             // SET_INTERFACE
  e.on_control_in(encode_status_reply({Status::ok, 0, State::dfu_idle, 0}));
  for (std::uint32_t block = 0; block <= 65536; ++block) {
    const auto out = std::get<ControlOut>(e.next_action());
    ASSERT_EQ(out.setup.value, block & 0xFFFF) << block;
    ASSERT_EQ(out.data.size(), 64u) << block;
    e.on_control_out_done();
    e.on_control_in(idle);
    while (e.next_event()) {
    }
  }
  const auto zero = std::get<ControlOut>(e.next_action());
  EXPECT_EQ(zero.setup.value, 1);  // block 65537
  EXPECT_TRUE(zero.data.empty());
  EXPECT_EQ(e.context().packet, 65537u);
  EXPECT_EQ(e.context().bytes_sent, image.size());
}

// ---- settling before a request --------------------------------------------------------------------

TEST(DfuEngine, ClearsStatusOnlyWhenInError) {
  Engine e;
  const Bytes data100 = pattern(100);
  e.download(0x03, tfa13_alts, data100, 1024);
  Driver d{e, {ok(), status(State::error, 0, Status::err_stalled_pkt), ok(), status(State::dfu_idle), ok(),
               status(State::dnload_idle), ok(), status(State::dfu_idle)}};
  d.run();
  const std::vector<std::string> expected{"SET_INTERFACE 0", getstatus, clrstatus, getstatus, dnload(0, 100),
                                          getstatus,         dnload(1, 0), getstatus, "DONE"};
  EXPECT_EQ(d.log, expected);
  auto cleared = d.events_of<StatusCleared>();
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].previous.status, Status::err_stalled_pkt);
}

TEST(DfuEngine, AbortsAnOpenTransferBeforeStarting) {
  Engine e;
  const Bytes data100 = pattern(100);
  e.download(0x03, tfa13_alts, data100, 1024);
  Driver d{e, {ok(), status(State::dnload_idle), ok(), status(State::dfu_idle), ok(), status(State::dnload_idle), ok(),
               status(State::dfu_idle)}};
  d.run();
  EXPECT_EQ(d.log[2], abort_req);
  EXPECT_EQ(d.log[3], getstatus);
  EXPECT_EQ(d.log[4], dnload(0, 100));
}

TEST(DfuEngine, ErrorThatDoesNotClearIsADeviceError) {
  Engine e;
  const Bytes data100 = pattern(100);
  e.download(0x03, tfa13_alts, data100, 1024);
  Driver d{e, std::deque<Answer>{ok()}};
  for (int i = 0; i < 3; ++i) d.script.insert(d.script.end(), {status(State::error, 0, Status::err_unknown), ok()});
  try {
    d.run();
    FAIL() << "expected DeviceError";
  } catch (const DeviceError& err) {
    EXPECT_EQ(err.code(), errc::dfu_status);
    EXPECT_NE(std::string(err.what()).find("errUNKNOWN"), std::string::npos) << err.what();
    EXPECT_NE(std::string(err.what()).find("after DFU_CLRSTATUS"), std::string::npos) << err.what();
  }
}

// ---- manifestation ---------------------------------------------------------------------------------

TEST(DfuEngine, ManifestationWithoutToleranceNeedsReset) {
  Engine e;
  const Bytes data10 = pattern(10);
  e.download(0x21, uboot_alts, data10, 4096, {.manifestation_tolerant = false});
  Driver d{e, {ok(), status(State::dfu_idle), ok(), status(State::dnload_idle), ok(), status(State::manifest, 5)}};
  EXPECT_EQ(d.run(), (Done{false, true}));
  EXPECT_EQ(d.log.back(), "DONE reset");
  EXPECT_EQ(d.log[d.log.size() - 2], "SLEEP 5");
  EXPECT_EQ(e.device_state(), State::manifest_wait_reset);
  EXPECT_TRUE(d.events_of<Manifested>().at(0).reset_required);
}

}  // namespace
}  // namespace mp1boot::dfu
