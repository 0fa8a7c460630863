// SPDX-License-Identifier: MIT
// The DFU 1.1 transition table as the host sees it: every state/event pair is walked and compared
// with an independent legality matrix written from DFU 1.1 appendix A plus the ST conventions
// (PROTOCOL.md 3.4); also the per-SoC start rules and alt lookup.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "mp1boot/dfu/engine.hpp"

namespace mp1boot::dfu {
namespace {

using S = State;
using E = HostEvent;

// Legal events per state, spelled out by hand: D = DNLOAD with data, Z = zero-length DNLOAD,
// U = UPLOAD full, u = UPLOAD short, S = GETSTATUS, T = GETSTATE, C = CLRSTATUS, A = ABORT,
// X = DETACH, P = poll timeout elapsed.
const std::map<S, std::string> legal_events{
    {S::app_idle, "STXP"},      {S::app_detach, "STP"},   {S::dfu_idle, "DUuSTAXP"},
    {S::dnload_sync, "STP"},    {S::dnbusy, "P"},         {S::dnload_idle, "DZSTAP"},
    {S::manifest_sync, "STP"},  {S::manifest, "P"},       {S::manifest_wait_reset, "P"},
    {S::upload_idle, "UuSTAP"}, {S::error, "STCP"},
};

char letter(E e) {
  switch (e) {
    case E::dnload_block: return 'D';
    case E::dnload_zero: return 'Z';
    case E::upload_full: return 'U';
    case E::upload_short: return 'u';
    case E::getstatus: return 'S';
    case E::getstate: return 'T';
    case E::clrstatus: return 'C';
    case E::abort: return 'A';
    case E::detach: return 'X';
    case E::poll_elapsed: return 'P';
  }
  return '?';
}

TEST(DfuStateTable, EveryStateEventPair) {
  int legal = 0;
  for (unsigned si = 0; si < state_count; ++si) {
    const auto s = static_cast<S>(si);
    for (unsigned ei = 0; ei < host_event_count; ++ei) {
      const auto e = static_cast<E>(ei);
      const Transition t = transition(s, e);
      const std::string where = std::string(state_name(s)) + " + " + std::string(host_event_name(e));
      EXPECT_EQ(t.from, s) << where;
      EXPECT_EQ(t.event, e) << where;
      const bool expected = legal_events.at(s).find(letter(e)) != std::string::npos;
      EXPECT_EQ(t.legal, expected) << where;
      EXPECT_FALSE(t.to.empty()) << where;
      if (t.legal) {
        ++legal;
        continue;
      }
      // Illegal: DFU mode stalls into dfuERROR; run-time mode stays in / returns to appIDLE;
      // MANIFEST-WAIT-RESET only answers a USB reset.
      StateSet expected_to{S::error};
      if (s == S::app_idle || s == S::app_detach) expected_to = StateSet{S::app_idle};
      if (s == S::manifest_wait_reset) expected_to = StateSet{S::manifest_wait_reset};
      EXPECT_EQ(t.to, expected_to) << where;
    }
  }
  EXPECT_EQ(legal, static_cast<int>(transition_table().size()));
}

TEST(DfuStateTable, RowsAreUniqueAndDocumented) {
  std::set<std::pair<int, int>> seen;
  for (const auto& t : transition_table()) {
    EXPECT_TRUE(t.legal);
    EXPECT_TRUE(seen.insert({static_cast<int>(t.from), static_cast<int>(t.event)}).second)
        << state_name(t.from) << " + " << host_event_name(t.event);
    if (t.event != E::poll_elapsed) {
      EXPECT_FALSE(t.note.empty()) << state_name(t.from) << " + " << host_event_name(t.event);
    }
  }
}

TEST(DfuStateTable, DestinationsOfTheDownloadPath) {
  // What each stage reports after a block and after the zero-length DNLOAD (PROTOCOL.md 3.4).
  const auto after_block = transition(S::dnload_sync, E::getstatus).to;
  EXPECT_TRUE(after_block.contains(S::dnbusy));       // ROM: 4 then 5
  EXPECT_TRUE(after_block.contains(S::dnload_sync));  // TF-A: 3 then 5
  EXPECT_TRUE(after_block.contains(S::dnload_idle));  // U-Boot: 5
  EXPECT_TRUE(after_block.contains(S::error));
  EXPECT_FALSE(after_block.contains(S::dfu_idle));
  EXPECT_EQ(after_block.describe(), "dfuDNLOAD-SYNC, dfuDNBUSY, dfuDNLOAD-IDLE or dfuERROR");
  const auto manifest = transition(S::manifest_sync, E::getstatus).to;
  EXPECT_TRUE(manifest.contains(S::manifest));
  EXPECT_TRUE(manifest.contains(S::dfu_idle));
  EXPECT_FALSE(manifest.contains(S::dnload_idle));
  EXPECT_EQ(transition(S::dnbusy, E::poll_elapsed).to, StateSet{S::dnload_sync});
  EXPECT_EQ(transition(S::manifest, E::poll_elapsed).to, (StateSet{S::manifest_sync, S::manifest_wait_reset}));
  EXPECT_EQ(transition(S::dnload_idle, E::dnload_zero).to, StateSet{S::manifest_sync});
  EXPECT_FALSE(transition(S::dfu_idle, E::dnload_zero).legal);  // U-Boot: dfuERROR + STALL
  EXPECT_FALSE(transition(S::dfu_idle, E::clrstatus).legal);    // TF-A: dfuERROR/errUNKNOWN
  EXPECT_TRUE(transition(S::dfu_idle, E::detach).legal);        // ST convention
  EXPECT_FALSE(transition(S::dnload_idle, E::detach).legal);    // U-Boot: only in dfuIDLE
}

TEST(DfuStateTable, GraphvizOutput) {
  const std::string dot = transition_table_dot();
  EXPECT_EQ(dot.rfind("digraph dfu {", 0), 0u);
  EXPECT_NE(dot.find("\"dfuDNBUSY\" -> \"dfuDNLOAD-SYNC\" [label=\"poll timeout\"]"), std::string::npos);
  EXPECT_NE(dot.find("\"dfuDNLOAD-IDLE\" -> \"dfuMANIFEST-SYNC\" [label=\"DFU_DNLOAD(0)\"]"), std::string::npos);
  EXPECT_NE(dot.find("\"dfuERROR\" -> \"dfuIDLE\" [label=\"DFU_CLRSTATUS\"]"), std::string::npos);
}

TEST(DfuStartRules, PerSocFamily) {
  EXPECT_FALSE(needs_detach_after_fsbl(SocFamily::stm32mp15));
  EXPECT_TRUE(start_rules(SocFamily::stm32mp15).fsbl_starts_on_manifest);
  EXPECT_TRUE(needs_detach_after_fsbl(SocFamily::stm32mp13));
  EXPECT_TRUE(needs_detach_after_fsbl(SocFamily::stm32mp25));
  for (const auto& soc : all_socs()) {
    const auto& r = start_rules(soc.family);
    EXPECT_EQ(r.family, soc.family);
    EXPECT_NE(r.fsbl_starts_on_manifest, r.fsbl_needs_detach) << soc.name;
  }
  EXPECT_TRUE(needs_detach(PhaseInfo{0x00, 0xFFFFFFFF, 0, true, ""}));
  EXPECT_FALSE(needs_detach(PhaseInfo{0x03, 0xC7000000, 0, false, ""}));
}

TEST(DfuStartRules, FindAltByPhase) {
  const std::vector<usb::AltSetting> alts{{0, "@Partition0 /0x00/1*256Ke"}, {1, "@FSBL /0x01/1*1Me"},
                                                {2, "not an ST name"},             {5, "@virtual /0xF1/1*512Ba"}};
  ASSERT_NE(find_alt(alts, 0x01), nullptr);
  EXPECT_EQ(find_alt(alts, 0x01)->number, 1);
  EXPECT_EQ(find_alt(alts, 0xF1)->number, 5);
  EXPECT_EQ(find_alt(alts, 0x00)->number, 0);
  EXPECT_EQ(find_alt(alts, 0x03), nullptr);
}

}  // namespace
}  // namespace mp1boot::dfu
