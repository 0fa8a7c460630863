// SPDX-License-Identifier: MIT
// The scripted device of the dfu::Engine tests (engine_*_test.cpp, one file per request): device
// replies written by hand from PROTOCOL.md 3.4 (ROM: dfuDNBUSY/1 ms then dfuDNLOAD-IDLE; TF-A: 3 then
// 5; U-Boot: 5; manifestation: 7 then 2) and 3.5 (Get Phase); a Driver that runs the engine through
// next_action() and its inputs and keeps the transcript (exact setup packets, block numbers, Sleep
// durations) and the events.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <deque>
#include <stdexcept>
#include <string>
#include <vector>

#include "mp1boot/dfu/engine.hpp"

namespace mp1boot::dfu {
namespace {  // each test file gets its own copy; helpers a file does not use cost nothing

using namespace std::chrono_literals;


struct Answer {
  enum Kind { ok, data, stall, disconnect, timeout } kind = ok;
  Bytes bytes;
};
inline Answer ok() { return {Answer::ok, {}}; }
inline Answer data(Bytes b) { return {Answer::data, std::move(b)}; }
inline Answer status(State s, std::uint32_t poll = 0, Status st = Status::ok) {
  return data(encode_status_reply({st, poll, s, 0}));
}
inline Answer stall() { return {Answer::stall, {}}; }
inline Answer disconnect() { return {Answer::disconnect, {}}; }
inline Answer timeout() { return {Answer::timeout, {}}; }

inline std::string show(const Action& a) {
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
inline std::string dnload(unsigned block, std::size_t len) {
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

inline Bytes pattern(std::size_t n) {
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
}  // namespace
}  // namespace mp1boot::dfu
