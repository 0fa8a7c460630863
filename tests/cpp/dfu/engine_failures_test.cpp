// SPDX-License-Identifier: MIT
// dfu::Engine: failures in a download (error status, stall, disconnect, timeout, a lost
// GETSTATUS reply, table violations, bounded busy) and the MP15 ROM -> TF-A hand-over, where a
// disconnect is success.
// Driven purely through next_action() and its inputs against the scripted device of
// engine_script.hpp.
#include <gtest/gtest.h>

#include "engine_script.hpp"

namespace mp1boot::dfu {
namespace {

// ---- failures mid-download ------------------------------------------------------------------------

// Runs a 4-block TF-A style download whose script is cut at `fail_at` answers and replaced by `bad`.
template <class Error>
Error failing_download(std::deque<Answer> good_prefix, Answer bad, DownloadOptions options = {}) {
  Engine e;
  static const Bytes image = pattern(3500);
  e.download(0x03, tfa13_alts, image, 1024, options);
  good_prefix.push_back(std::move(bad));
  Driver d{e, std::move(good_prefix)};
  try {
    d.run();
  } catch (const Error& err) {
    EXPECT_TRUE(e.failed());
    EXPECT_FALSE(e.busy());
    EXPECT_THROW(e.next_action(), UsageError);
    EXPECT_THROW(e.on_control_out_done(), UsageError);
    EXPECT_THROW(e.get_phase(tfa13_alts), UsageError);
    return err;
  }
  ADD_FAILURE() << "no error raised; transcript ends " << d.log.back();
  return Error(errc::ok, "");
}

std::deque<Answer> blocks_acked(int n) {
  std::deque<Answer> s{ok(), status(State::dfu_idle)};
  for (int i = 0; i < n; ++i) s.insert(s.end(), {ok(), status(State::dnload_idle)});
  return s;
}

TEST(DfuEngineFailures, ErrorStatusNamesStatusBlockAndBytes) {
  auto prefix = blocks_acked(2);
  prefix.push_back(ok());  // DNLOAD block 2 accepted
  auto err = failing_download<DeviceError>(prefix, status(State::error, 0, Status::err_write));
  EXPECT_EQ(err.code(), errc::dfu_status);
  EXPECT_EQ(err.context().operation, "DFU_GETSTATUS");
  EXPECT_EQ(err.context().phase, 0x03);
  EXPECT_EQ(err.context().packet, 2u);
  EXPECT_EQ(err.context().bytes_sent, 2048u);
  EXPECT_EQ(err.context().bytes_total, 3500u);
  const std::string what = err.what();
  EXPECT_NE(what.find("errWRITE (device is unable to write memory) in dfuERROR after DFU_DNLOAD block 2"),
            std::string::npos)
      << what;
  EXPECT_NE(what.find("2048/3500 bytes acknowledged"), std::string::npos) << what;
}

TEST(DfuEngineFailures, StallOnABlock) {
  auto err = failing_download<TransportError>(blocks_acked(1), stall());
  EXPECT_EQ(err.code(), errc::stall);
  EXPECT_EQ(err.context().operation, "DFU_DNLOAD");
  EXPECT_EQ(err.context().packet, 1u);
  EXPECT_EQ(err.context().bytes_sent, 1024u);
  EXPECT_NE(std::string(err.what()).find("DFU_DNLOAD block 1 stalled by device"), std::string::npos) << err.what();
}

TEST(DfuEngineFailures, StallOnTheZeroLengthDownload) {
  auto err = failing_download<TransportError>(blocks_acked(4), stall());
  EXPECT_EQ(err.code(), errc::stall);
  EXPECT_EQ(err.context().packet, 4u);
  EXPECT_EQ(err.context().bytes_sent, 3500u);
  EXPECT_NE(std::string(err.what()).find("manifestation failed"), std::string::npos) << err.what();
}

TEST(DfuEngineFailures, StallOnSetInterface) {
  auto err = failing_download<TransportError>({}, stall());
  EXPECT_EQ(err.context().operation, "SET_INTERFACE");
  EXPECT_EQ(err.context().packet, 0u);  // every request names its block: 0 before the first
  EXPECT_EQ(err.context().phase, 0x03);
  EXPECT_NE(std::string(err.what()).find("SET_INTERFACE alt 0 stalled"), std::string::npos) << err.what();
}

TEST(DfuEngineFailures, DisconnectMidDownload) {
  auto prefix = blocks_acked(3);
  prefix.push_back(ok());
  auto err = failing_download<TransportError>(prefix, disconnect());
  EXPECT_EQ(err.code(), errc::disconnected);
  EXPECT_EQ(err.context().packet, 3u);
  EXPECT_EQ(err.context().bytes_sent, 3072u);
  EXPECT_NE(std::string(err.what()).find("disconnected during DFU_GETSTATUS after DFU_DNLOAD block 3"),
            std::string::npos)
      << err.what();
}

TEST(DfuEngineFailures, DisconnectDuringManifestationIsAnErrorUnlessHandover) {
  auto prefix = blocks_acked(4);
  prefix.push_back(ok());
  auto err = failing_download<TransportError>(prefix, disconnect());
  EXPECT_EQ(err.code(), errc::disconnected);
}

TEST(DfuEngineFailures, TimeoutMidDownload) {
  auto prefix = blocks_acked(1);
  prefix.push_back(ok());
  // The GETSTATUS is asked again Options::status_retries (3) times; the fourth timeout is the error.
  prefix.insert(prefix.end(), {timeout(), timeout(), timeout()});
  auto err = failing_download<TimeoutError>(prefix, timeout());
  EXPECT_EQ(err.code(), errc::timeout);
  EXPECT_EQ(err.context().packet, 1u);
  EXPECT_EQ(err.context().operation, "DFU_GETSTATUS");
  EXPECT_NE(std::string(err.what()).find("DFU_GETSTATUS after DFU_DNLOAD block 1 timed out 4 times in a row"),
            std::string::npos)
      << err.what();
}

TEST(DfuEngineLostStatus, ALostReplyIsAskedAgainAndTheBlockIsAckedOnce) {
  Engine e;
  const Bytes fip = pattern(2048);
  e.download(0x03, tfa13_alts, fip, 1024);
  // Block 0: the reply to the first GETSTATUS is lost; the device moved to dfuDNLOAD-IDLE meanwhile.
  Driver d{e, {ok(), status(State::dfu_idle), ok(), timeout(), status(State::dnload_idle)}};
  d.script.insert(d.script.end(), {ok(), status(State::dnload_sync), status(State::dnload_idle)});
  d.script.insert(d.script.end(), {ok(), status(State::manifest, 1), status(State::dfu_idle)});
  EXPECT_EQ(d.run(), Done{});
  const std::vector<std::string> expected{"SET_INTERFACE 0", getstatus,
                                          dnload(0, 1024),   getstatus, getstatus,
                                          dnload(1, 1024),   getstatus, getstatus,
                                          dnload(2, 0),      getstatus, "SLEEP 1", getstatus, "DONE"};
  EXPECT_EQ(d.log, expected);
  EXPECT_EQ(d.sent, fip);
  const auto acks = d.events_of<BlockAcked>();
  ASSERT_EQ(acks.size(), 2u);
  EXPECT_EQ(acks[1].bytes_done, 2048u);
  // The re-ask uses the request's own timeout.
  EXPECT_EQ(std::get<ControlIn>(d.actions[3]).timeout, std::get<ControlIn>(d.actions[4]).timeout);
}

TEST(DfuEngineLostStatus, TheRetryBudgetIsPerWaitAndConfigurable) {
  Options o;
  o.status_retries = 1;
  Engine e(o);
  const Bytes data = pattern(128);
  e.download(0x01, rom13_alts, data, 64);
  // One lost reply per block is recovered each time (the count restarts with every reply) ...
  Driver d{e, {ok(), timeout(), status(State::dfu_idle)}};
  for (int b = 0; b < 2; ++b) d.script.insert(d.script.end(), {ok(), timeout(), status(State::dnload_idle)});
  d.script.insert(d.script.end(), {ok(), status(State::manifest, 1), status(State::dfu_idle)});
  EXPECT_EQ(d.run(), Done{});
  EXPECT_EQ(d.sent, data);
  // ... two in a row are not.
  e.download(0x01, rom13_alts, data, 64);
  Driver d2{e, {ok(), status(State::dfu_idle), ok(), timeout(), timeout()}};
  try {
    d2.run();
    FAIL() << "expected TimeoutError";
  } catch (const TimeoutError& err) {
    EXPECT_NE(std::string(err.what()).find("timed out 2 times in a row"), std::string::npos) << err.what();
    EXPECT_EQ(err.context().phase, 0x01);
    EXPECT_EQ(err.context().packet, 0u);
  }
}

TEST(DfuEngineLostStatus, ManifestationStatusIsNotAskedAgain) {
  // Its timeout is the flush bound: asking again would only stretch that bound.
  auto prefix = blocks_acked(4);
  prefix.push_back(ok());
  auto err = failing_download<TimeoutError>(prefix, timeout());
  EXPECT_NE(std::string(err.what()).find("DFU_GETSTATUS during manifestation timed out after"), std::string::npos)
      << err.what();
  EXPECT_EQ(std::string(err.what()).find("times in a row"), std::string::npos) << err.what();
}

TEST(DfuEngineFailures, IdleAfterABlockViolatesTheTable) {
  auto prefix = blocks_acked(1);
  prefix.push_back(ok());
  auto err = failing_download<ProtocolError>(prefix, status(State::dfu_idle));
  EXPECT_EQ(err.code(), errc::unexpected_byte);
  EXPECT_NE(std::string(err.what())
                .find("dfuIDLE (2) after DFU_DNLOAD block 1; from dfuDNLOAD-SYNC DFU_GETSTATUS may only report "
                      "dfuDNLOAD-SYNC, dfuDNBUSY, dfuDNLOAD-IDLE or dfuERROR"),
            std::string::npos)
      << err.what();
}

TEST(DfuEngineFailures, MalformedStatusReply) {
  auto prefix = blocks_acked(0);
  prefix.push_back(ok());
  auto err = failing_download<ProtocolError>(prefix, data(from_hex("00 00 00")));
  EXPECT_NE(std::string(err.what()).find("3 bytes, expected 6"), std::string::npos) << err.what();
}

TEST(DfuEngineFailures, ErrorStatusDuringManifestation) {
  auto prefix = blocks_acked(4);
  prefix.insert(prefix.end(), {ok(), status(State::manifest, 1)});
  auto err = failing_download<DeviceError>(prefix, status(State::error, 0, Status::err_firmware));
  EXPECT_NE(std::string(err.what()).find("errFIRMWARE"), std::string::npos);
  EXPECT_NE(std::string(err.what()).find("during manifestation"), std::string::npos) << err.what();
  EXPECT_EQ(err.context().bytes_sent, 3500u);
}

TEST(DfuEngineFailures, EndlessBusyIsBounded) {
  Options o;
  o.max_status_polls = 5;
  Engine e(o);
  const Bytes data64 = pattern(64);
  e.download(0x01, rom13_alts, data64, 64);
  Driver d{e, {ok(), status(State::dfu_idle), ok()}};
  for (int i = 0; i < 10; ++i) d.script.push_back(status(State::dnbusy, 1));
  EXPECT_THROW(d.run(), TimeoutError);
  EXPECT_EQ(std::count(d.log.begin(), d.log.end(), "SLEEP 1"), 5);
}

TEST(DfuEngineFailures, PollWaitBudgetIsBounded) {
  Options o;
  o.max_poll_wait = 1000ms;
  Engine e(o);
  const Bytes data64 = pattern(64);
  e.download(0x01, rom13_alts, data64, 64);
  Driver d{e, {ok(), status(State::dfu_idle), ok(), status(State::dnbusy, 600), status(State::dnbusy, 600)}};
  try {
    d.run();
    FAIL() << "expected TimeoutError";
  } catch (const TimeoutError& err) {
    EXPECT_NE(std::string(err.what()).find("1200 ms of bwPollTimeout"), std::string::npos) << err.what();
  }
}

// ---- MP15 ROM -> TF-A hand-over -------------------------------------------------------------------

TEST(DfuEngineHandover, DisconnectDuringManifestationIsAHandover) {
  ASSERT_TRUE(start_rules(SocFamily::stm32mp15).fsbl_starts_on_manifest);
  Engine e;
  const Bytes data1024 = pattern(1024);
  e.download(0x01, rom15_alts, data1024, 1024, {.handover_on_manifest = true});
  Driver d{e, {ok(), status(State::dfu_idle), ok(), status(State::dnbusy, 1), status(State::dnload_idle, 1), ok(),
               status(State::manifest, 1), disconnect()}};
  EXPECT_EQ(d.run(), (Done{true, false}));
  auto m = d.events_of<Manifested>();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_TRUE(m[0].device_left);
  EXPECT_FALSE(e.failed());
  EXPECT_FALSE(e.device_state());
}

TEST(DfuEngineHandover, DisconnectOnTheZeroLengthDownloadIsAHandover) {
  Engine e;
  const Bytes data10 = pattern(10);
  e.download(0x01, rom15_alts, data10, 1024, {.handover_on_manifest = true});
  Driver d{e, {ok(), status(State::dfu_idle), ok(), status(State::dnload_idle), disconnect()}};
  EXPECT_EQ(d.run(), (Done{true, false}));
}

TEST(DfuEngineHandover, StallAfterHandoverSaysTheNextStageDidNotAnswer) {
  Engine e;
  const Bytes data10 = pattern(10);
  e.download(0x01, rom15_alts, data10, 1024, {.handover_on_manifest = true});
  Driver d{e, {ok(), status(State::dfu_idle), ok(), status(State::dnload_idle), ok(), status(State::manifest, 1),
               stall()}};
  try {
    d.run();
    FAIL() << "expected TransportError";
  } catch (const TransportError& err) {
    EXPECT_EQ(err.code(), errc::stall);
    EXPECT_NE(std::string(err.what()).find("next stage did not answer"), std::string::npos) << err.what();
  }
}

}  // namespace
}  // namespace mp1boot::dfu
