// SPDX-License-Identifier: MIT
// dfu::Engine driven purely through next_action() and its inputs, with device replies scripted by
// hand from PROTOCOL.md 3.4 (ROM: dfuDNBUSY/1 ms then dfuDNLOAD-IDLE; TF-A: 3 then 5; U-Boot: 5;
// manifestation: 7 then 2) and 3.5 (Get Phase). Transcripts check exact setup packets, block
// numbers and Sleep durations.
#include <gtest/gtest.h>

#include <deque>
#include <numeric>

#include "mp1boot/dfu/engine.hpp"

namespace mp1boot::dfu {
namespace {

using namespace std::chrono_literals;

// ---- a scripted device ----------------------------------------------------------------------------

struct Answer {
  enum Kind { ok, data, stall, disconnect, timeout } kind = ok;
  Bytes bytes;
};
Answer ok() { return {Answer::ok, {}}; }
Answer data(Bytes b) { return {Answer::data, std::move(b)}; }
Answer status(State s, std::uint32_t poll = 0, Status st = Status::ok) {
  return data(encode_status_reply({st, poll, s, 0}));
}
Answer stall() { return {Answer::stall, {}}; }
Answer disconnect() { return {Answer::disconnect, {}}; }
Answer timeout() { return {Answer::timeout, {}}; }

std::string show(const Action& a) {
  auto setup = [](const usb::SetupPacket& s) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%02x %02x v=%u i=%u", s.request_type, s.request, s.value, s.index);
    return std::string(buf);
  };
  if (auto* o = std::get_if<ControlOut>(&a)) return "OUT " + setup(o->setup) + " len=" + std::to_string(o->data.size());
  if (auto* i = std::get_if<ControlIn>(&a)) return "IN " + setup(i->setup) + " len=" + std::to_string(i->length);
  if (auto* s = std::get_if<SetAlt>(&a)) return "SET_INTERFACE " + std::to_string(s->alt);
  if (auto* s = std::get_if<Sleep>(&a)) return "SLEEP " + std::to_string(s->duration.count());
  const auto& d = std::get<Done>(a);
  return std::string("DONE") + (d.device_left ? " left" : "") + (d.reset_required ? " reset" : "");
}

// Expected transcript lines.
const std::string getstatus = "IN a1 03 v=0 i=0 len=6";
std::string dnload(unsigned block, std::size_t len) {
  return "OUT 21 01 v=" + std::to_string(block) + " i=0 len=" + std::to_string(len);
}
const std::string clrstatus = "OUT 21 04 v=0 i=0 len=0";
const std::string abort_req = "OUT 21 06 v=0 i=0 len=0";

// Runs the engine against a script until Done; exceptions from the engine propagate, with the
// transcript so far kept in `log`.
struct Driver {
  Driver(Engine& e, std::deque<Answer> s) : engine(e), script(std::move(s)) {}
  Engine& engine;
  std::deque<Answer> script;
  std::vector<std::string> log;
  std::vector<Event> events;
  std::vector<Action> actions;
  Bytes sent;  // concatenated DNLOAD payloads
  Bytes received;  // concatenated BlockUploaded data, copied when each event arrives

  Done run() {
    for (int guard = 0; guard < 1'000'000; ++guard) {
      Action a = engine.next_action();
      EXPECT_EQ(show(engine.next_action()), show(a)) << "next_action() must be idempotent";
      log.push_back(show(a));
      actions.push_back(a);
      if (auto* d = std::get_if<Done>(&a)) return *d;
      if (std::holds_alternative<Sleep>(a)) {
        engine.on_sleep_done();
      } else {
        if (script.empty()) throw std::runtime_error("script exhausted at: " + log.back());
        Answer ans = std::move(script.front());
        script.pop_front();
        if (auto* o = std::get_if<ControlOut>(&a); o && o->setup.request == 1)
          sent.insert(sent.end(), o->data.begin(), o->data.end());
        switch (ans.kind) {
          case Answer::ok: engine.on_control_out_done(); break;
          case Answer::data: engine.on_control_in(ans.bytes); break;
          case Answer::stall: engine.on_stall(); break;
          case Answer::disconnect: engine.on_disconnect(); break;
          case Answer::timeout: engine.on_timeout(); break;
        }
      }
      while (auto e = engine.next_event()) {
        if (auto* b = std::get_if<BlockUploaded>(&*e)) received.insert(received.end(), b->data.begin(), b->data.end());
        events.push_back(*e);
      }
    }
    throw std::runtime_error("engine did not finish");
  }
  template <class T>
  std::vector<T> events_of() const {
    std::vector<T> out;
    for (const auto& e : events)
      if (auto* t = std::get_if<T>(&e)) out.push_back(*t);
    return out;
  }
};

Bytes pattern(std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 7 + 3);
  return b;
}

const std::vector<usb::AltSetting> rom15_alts{
    {0, "@Partition0 /0x00/1*256Ke"}, {1, "@FSBL /0x01/1*1Me"},     {2, "@Partition2 /0x02/1*1Me"},
    {3, "@Partition3 /0x03/1*16Me"},  {4, "@Partition4 /0x04/1*16Me"}, {5, "@virtual /0xF1/1*512Ba"}};
const std::vector<usb::AltSetting> rom13_alts{{0, "@FSBL /0x01/1*128Ke"}, {1, "@virtual /0xF1/1*512Ba"}};
const std::vector<usb::AltSetting> tfa13_alts{{0, "@SSBL /0x03/1*16Me"}, {1, "@virtual /0xF1/1*512Ba"}};
const std::vector<usb::AltSetting> uboot_alts{{0, "@fsbl1/0x01/1*256Ke"}, {1, "@fip/0x04/1*4Me"},
                                                    {2, "@rootfs/0x21/1*3Ga"},  {3, "@virtual/0xf1/1*512Be"},
                                                    {4, "@OTP/0xf2/1*776Be"}};

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

// ---- Get Phase ------------------------------------------------------------------------------------

TEST(DfuEngine, GetPhaseOnTheVirtualAlt) {
  Engine e;
  e.get_phase(tfa13_alts);
  Driver d{e, {ok(), status(State::dfu_idle), data(from_hex("03 00 00 00 C7 00 00 00 00"))}};
  d.run();
  const std::vector<std::string> expected{"SET_INTERFACE 1", getstatus, "IN a1 02 v=0 i=0 len=512", "DONE"};
  EXPECT_EQ(d.log, expected);
  ASSERT_TRUE(e.phase_info());
  EXPECT_EQ(e.phase_info()->phase, 0x03);
  EXPECT_EQ(e.phase_info()->address, 0xC7000000u);
  EXPECT_FALSE(e.phase_info()->detach_requested);
  auto reported = d.events_of<PhaseReported>();
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].info, *e.phase_info());
  EXPECT_EQ(e.device_state(), State::dfu_idle);  // a short UPLOAD ends in dfuIDLE
}

TEST(DfuEngine, GetPhaseDetachFlagAndErrorMessage) {
  Engine e;
  e.get_phase(uboot_alts);
  Driver d{e, {ok(), status(State::dfu_idle), data(from_hex("00 00 00 00 C2 00 00 00 00 01"))}};
  d.run();
  EXPECT_EQ(d.log[0], "SET_INTERFACE 3");
  EXPECT_TRUE(e.phase_info()->detach_requested);
  EXPECT_TRUE(needs_detach(*e.phase_info()));

  Bytes err = from_hex("FF FF FF FF FF 00 00 00 00");
  for (char c : std::string("Layout line 4: duplicate Id")) err.push_back(static_cast<std::uint8_t>(c));
  e.get_phase(uboot_alts);
  Driver d2{e, {ok(), status(State::dfu_idle), data(err)}};
  d2.run();
  EXPECT_EQ(e.phase_info()->phase, 0xFF);
  EXPECT_EQ(e.phase_info()->message, "Layout line 4: duplicate Id");
}

TEST(DfuEngine, GetPhaseWithoutStatusAndWithAFullReply) {
  Options o;
  o.status_before_get_phase = false;
  o.phase_reply_length = 64;
  Engine e(o);
  e.get_phase(rom15_alts);
  Bytes full = from_hex("01 00 24 FC 2F 00 00 00 00");
  full.resize(64, 0);
  Driver d{e, {ok(), data(full), ok()}};
  d.run();
  // A reply of exactly wLength leaves dfuUPLOAD-IDLE: the engine ends the transfer with ABORT.
  const std::vector<std::string> expected{"SET_INTERFACE 5", "IN a1 02 v=0 i=0 len=64", abort_req, "DONE"};
  EXPECT_EQ(d.log, expected);
  EXPECT_EQ(e.phase_info()->address, 0x2FFC2400u);
  EXPECT_EQ(e.device_state(), State::dfu_idle);
}

TEST(DfuEngine, GetPhaseReplyTooShort) {
  Engine e;
  e.get_phase(tfa13_alts);
  Driver d{e, {ok(), status(State::dfu_idle), data(from_hex("03 00 00"))}};
  EXPECT_THROW(d.run(), ProtocolError);
  EXPECT_TRUE(e.failed());
}

// ---- upload, detach, small requests ---------------------------------------------------------------

TEST(DfuEngine, UploadUntilAShortBlock) {
  Engine e;
  e.upload(2, 4096);
  Bytes b0 = pattern(4096), b1 = pattern(4096), b2 = pattern(100);
  Driver d{e, {ok(), status(State::dfu_idle), data(b0), data(b1), data(b2)}};
  d.run();
  const std::vector<std::string> expected{"SET_INTERFACE 2", getstatus, "IN a1 02 v=0 i=0 len=4096",
                                          "IN a1 02 v=1 i=0 len=4096", "IN a1 02 v=2 i=0 len=4096", "DONE"};
  EXPECT_EQ(d.log, expected);
  EXPECT_EQ(e.uploaded().size(), 8292u);
  EXPECT_EQ(d.events_of<BlockUploaded>().back().bytes_done, 8292u);
  EXPECT_EQ(e.device_state(), State::dfu_idle);
}

TEST(DfuEngine, UploadEventsCarryEachBlockAndLastBlockKeepsOnlyTheLatest) {
  Bytes b0 = pattern(4096), b1 = pattern(4096), b2 = pattern(100);
  for (auto& x : b1) x ^= 0xFF;
  Bytes all = b0;
  all.insert(all.end(), b1.begin(), b1.end());
  all.insert(all.end(), b2.begin(), b2.end());
  for (UploadKeep keep : {UploadKeep::all, UploadKeep::last_block}) {
    Engine e;
    e.upload(2, 4096, UINT64_MAX, keep);
    Driver d{e, {ok(), status(State::dfu_idle), data(b0), data(b1), data(b2)}};
    d.run();
    EXPECT_EQ(d.received, all);
    EXPECT_EQ(d.events_of<BlockUploaded>().back().bytes_done, 8292u);
    EXPECT_EQ(e.uploaded(), keep == UploadKeep::all ? all : b2);
  }
  // With a maximum length, the count (not the kept bytes) decides when to abort.
  Engine e;
  e.upload(4, 4096, 6000, UploadKeep::last_block);
  Driver d{e, {ok(), status(State::dfu_idle), data(pattern(4096)), data(pattern(1904)), ok()}};
  d.run();
  EXPECT_EQ(d.log.at(d.log.size() - 2), abort_req);
  EXPECT_EQ(d.received.size(), 6000u);
  EXPECT_EQ(e.uploaded().size(), 1904u);
}

TEST(DfuEngine, UploadStopsAtMaxLengthWithAbort) {
  Engine e;
  e.upload(4, 4096, 6000);
  Driver d{e, {ok(), status(State::dfu_idle), data(pattern(4096)), data(pattern(1904)), ok()}};
  d.run();
  const std::vector<std::string> expected{"SET_INTERFACE 4", getstatus, "IN a1 02 v=0 i=0 len=4096",
                                          "IN a1 02 v=1 i=0 len=1904", abort_req, "DONE"};
  EXPECT_EQ(d.log, expected);
  EXPECT_EQ(e.uploaded().size(), 6000u);
}

TEST(DfuEngine, DetachFromKnownIdle) {
  Engine e;
  e.get_phase(tfa13_alts);
  Driver d{e, {ok(), status(State::dfu_idle), data(from_hex("00 FF FF FF FF 00 00 00 00 01"))}};
  d.run();
  e.detach(1000);
  Driver d2{e, std::deque<Answer>{ok()}};
  EXPECT_EQ(d2.run(), (Done{true, false}));
  EXPECT_EQ(d2.log, (std::vector<std::string>{"OUT 21 00 v=1000 i=0 len=0", "DONE left"}));
  EXPECT_EQ(d2.events_of<Detached>().size(), 1u);
  EXPECT_FALSE(e.device_state());
}

TEST(DfuEngine, DetachFromUnknownStateSettlesFirstAndToleratesDisconnect) {
  Engine e;
  e.detach(255);
  Driver d{e, {status(State::upload_idle), ok(), status(State::dfu_idle), disconnect()}};
  EXPECT_EQ(d.run(), (Done{true, false}));
  EXPECT_EQ(d.log, (std::vector<std::string>{getstatus, abort_req, getstatus, "OUT 21 00 v=255 i=0 len=0", "DONE left"}));
}

TEST(DfuEngine, RomMp13NeedsDetachAfterFsbl) {
  // ROM MP13: manifestation returns to dfuIDLE, then DFU_DETACH starts the FSBL (PROTOCOL.md 3.4.1).
  ASSERT_TRUE(needs_detach_after_fsbl(SocFamily::stm32mp13));
  Engine e;
  const Bytes data1024 = pattern(1024);
  e.download(0x01, rom13_alts, data1024, 1024);
  Driver d{e, {ok(), status(State::dfu_idle), ok(), status(State::dnbusy, 1), status(State::dnload_idle, 1), ok(),
               status(State::manifest, 1), status(State::dfu_idle)}};
  EXPECT_EQ(d.run(), Done{});
  e.detach();
  Driver d2{e, std::deque<Answer>{ok()}};
  EXPECT_EQ(d2.run(), (Done{true, false}));
  EXPECT_EQ(d2.log.front(), "OUT 21 00 v=1000 i=0 len=0");
}

TEST(DfuEngine, SmallRequests) {
  Engine e;
  e.get_status();
  Driver d{e, {status(State::error, 0, Status::err_write)}};
  d.run();  // a status read is not an error
  EXPECT_EQ(e.last_status()->status, Status::err_write);
  EXPECT_EQ(e.device_state(), State::error);
  e.clear_status();
  Driver d2{e, std::deque<Answer>{ok()}};
  d2.run();
  EXPECT_EQ(d2.log.front(), clrstatus);
  EXPECT_EQ(e.device_state(), State::dfu_idle);
  e.abort();
  Driver d3{e, std::deque<Answer>{ok()}};
  d3.run();
  EXPECT_EQ(d3.log.front(), abort_req);
  e.ensure_idle();
  Driver d4{e, {status(State::manifest_sync, 0), status(State::manifest, 2), status(State::dfu_idle)}};
  d4.run();
  EXPECT_EQ(d4.log, (std::vector<std::string>{getstatus, getstatus, "SLEEP 2", getstatus, "DONE"}));
}

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
  EXPECT_FALSE(err.context().packet);
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

// ---- misuse ---------------------------------------------------------------------------------------

TEST(DfuEngineUsage, MissingAltListsTheAlts) {
  Engine e;
  try {
    const Bytes data10 = pattern(10);
    e.download(0x03, rom13_alts, data10, 1024);
    FAIL() << "expected UsageError";
  } catch (const UsageError& err) {
    EXPECT_EQ(err.code(), errc::unsupported);
    EXPECT_EQ(err.message(),
              "no alternate setting for phase 0x03 (alts: 0 \"@FSBL /0x01/1*128Ke\", 1 \"@virtual /0xF1/1*512Ba\")");
  }
  EXPECT_TRUE(e.failed());
  EXPECT_THROW(e.next_action(), UsageError);
}

TEST(DfuEngineUsage, MissingVirtualAlt) {
  Engine e;
  const std::vector<usb::AltSetting> alts{{0, "@FSBL /0x01/1*1Me"}};
  try {
    e.get_phase(alts);
    FAIL() << "expected UsageError";
  } catch (const UsageError& err) {
    EXPECT_EQ(err.code(), errc::unsupported);
    EXPECT_NE(err.message().find("0xf1"), std::string::npos);
  }
}

TEST(DfuEngineUsage, BadArguments) {
  {
    Engine e;
    EXPECT_THROW(e.download(0x01, rom13_alts, {}, 1024), UsageError);
  }
  {
    Engine e;
    const Bytes data10 = pattern(10);
    EXPECT_THROW(e.download(0x01, rom13_alts, data10, 0), UsageError);
  }
  {
    Engine e;
    EXPECT_THROW(e.upload(0, 4096, 0), UsageError);
  }
}

TEST(DfuEngineUsage, RequestWhileBusyAndInputsWithoutAction) {
  {
    Engine e;
    EXPECT_EQ(e.next_action(), Action{Done{}});
    EXPECT_THROW(e.on_control_in(from_hex("00 00 00 00 02 00")), UsageError);
    EXPECT_TRUE(e.failed());
  }
  {
    Engine e;
    e.get_phase(tfa13_alts);
    EXPECT_THROW(e.get_phase(tfa13_alts), UsageError);
    EXPECT_TRUE(e.failed());
  }
  {
    Engine e;
    e.get_phase(tfa13_alts);  // pending: SetAlt
    EXPECT_THROW(e.on_control_in(from_hex("00 00 00 00 02 00")), UsageError);
  }
  {
    Engine e;
    e.get_status();  // pending: ControlIn
    EXPECT_THROW(e.on_sleep_done(), UsageError);
  }
  {
    Engine e;
    e.get_phase(tfa13_alts);
    e.on_control_out_done();  // SetAlt done -> GETSTATUS
    EXPECT_THROW(e.on_control_in(Bytes(7, 0)), ProtocolError);  // more than wLength
  }
}

TEST(DfuEngineUsage, EngineIsReusableAfterDone) {
  Engine e;
  e.get_phase(tfa13_alts);
  Driver d{e, {ok(), status(State::dfu_idle), data(from_hex("03 00 00 00 C7 00 00 00 00"))}};
  d.run();
  const Bytes data10 = pattern(10);
  e.download(0x03, tfa13_alts, data10, 1024);
  Driver d2{e, {ok(), status(State::dfu_idle), ok(), status(State::dnload_sync), status(State::dnload_idle), ok(),
                status(State::manifest, 1), status(State::dfu_idle)}};
  EXPECT_EQ(d2.run(), Done{});
  EXPECT_EQ(d2.events_of<BlockAcked>().size(), 1u);
}

}  // namespace
}  // namespace mp1boot::dfu
