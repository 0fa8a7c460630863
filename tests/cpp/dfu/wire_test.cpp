// SPDX-License-Identifier: MIT
// DFU wire helpers: request codes and setup packets, state/status names, GETSTATUS and functional
// descriptor codecs, ST alt names (PROTOCOL.md 3.3), Get Phase replies (all rows of 3.5) and
// iProduct strings (3.1). Vectors are written from PROTOCOL.md, not from our encoders.
#include <gtest/gtest.h>

#include "mp1boot/dfu/wire.hpp"

namespace mp1boot::dfu {
namespace {

TEST(DfuWire, RequestCodesAndSetupPackets) {
  EXPECT_EQ(static_cast<int>(Request::detach), 0);
  EXPECT_EQ(static_cast<int>(Request::dnload), 1);
  EXPECT_EQ(static_cast<int>(Request::upload), 2);
  EXPECT_EQ(static_cast<int>(Request::getstatus), 3);
  EXPECT_EQ(static_cast<int>(Request::clrstatus), 4);
  EXPECT_EQ(static_cast<int>(Request::getstate), 5);
  EXPECT_EQ(static_cast<int>(Request::abort), 6);
  EXPECT_EQ(request_name(Request::dnload), "DFU_DNLOAD");
  EXPECT_EQ(request_name(Request::getstatus), "DFU_GETSTATUS");
  EXPECT_EQ(request_name(static_cast<Request>(7)), "DFU_0x07");

  auto dn = make_setup(Request::dnload, 5);
  EXPECT_EQ(dn.request_type, 0x21);
  EXPECT_EQ(dn.request, 1);
  EXPECT_EQ(dn.value, 5);
  EXPECT_EQ(dn.index, 0);
  for (Request r : {Request::upload, Request::getstatus, Request::getstate})
    EXPECT_EQ(make_setup(r).request_type, 0xA1) << request_name(r);
  for (Request r : {Request::detach, Request::dnload, Request::clrstatus, Request::abort})
    EXPECT_EQ(make_setup(r).request_type, 0x21) << request_name(r);
  EXPECT_EQ(make_setup(Request::getstatus, 0, 1).index, 1);
}

TEST(DfuWire, StateNamesAreTheSpecNames) {
  const char* expected[] = {"appIDLE",          "appDETACH",   "dfuIDLE",
                            "dfuDNLOAD-SYNC",   "dfuDNBUSY",   "dfuDNLOAD-IDLE",
                            "dfuMANIFEST-SYNC", "dfuMANIFEST", "dfuMANIFEST-WAIT-RESET",
                            "dfuUPLOAD-IDLE",   "dfuERROR"};
  for (unsigned i = 0; i < state_count; ++i) EXPECT_EQ(state_name(static_cast<State>(i)), expected[i]) << i;
  EXPECT_EQ(state_name(static_cast<State>(11)), "unknown");
  EXPECT_EQ(describe_state(State::dnbusy), "dfuDNBUSY (4)");
  EXPECT_EQ(describe_state(static_cast<State>(12)), "unknown (12)");
}

TEST(DfuWire, StatusNamesAndDescriptions) {
  const char* expected[] = {"OK",       "errTARGET", "errFILE",    "errWRITE",    "errERASE",  "errCHECK_ERASED",
                            "errPROG",  "errVERIFY", "errADDRESS", "errNOTDONE", "errFIRMWARE", "errVENDOR",
                            "errUSBR",  "errPOR",    "errUNKNOWN", "errSTALLEDPKT"};
  for (unsigned i = 0; i < status_count; ++i) {
    auto s = static_cast<Status>(i);
    EXPECT_EQ(status_name(s), expected[i]) << i;
    EXPECT_FALSE(status_description(s).empty()) << i;
  }
  EXPECT_EQ(static_cast<int>(Status::err_unknown), 0x0E);
  EXPECT_EQ(static_cast<int>(Status::err_stalled_pkt), 0x0F);
  EXPECT_EQ(status_description(Status::err_write), "device is unable to write memory");
  EXPECT_EQ(status_name(static_cast<Status>(0x10)), "unknown");
}

TEST(DfuWire, StatusReplyParseAndEncode) {
  // ROM after a block: OK, bwPollTimeout 1 ms, dfuDNBUSY (PROTOCOL.md 3.4.1).
  auto r = parse_status_reply(from_hex("00 01 00 00 04 00"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, Status::ok);
  EXPECT_EQ(r->poll_timeout_ms, 1u);
  EXPECT_EQ(r->state, State::dnbusy);
  EXPECT_EQ(r->string_index, 0);
  // 24-bit little-endian poll timeout, errWRITE in dfuERROR, iString 7.
  r = parse_status_reply(from_hex("03 56 34 12 0a 07"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, Status::err_write);
  EXPECT_EQ(r->poll_timeout_ms, 0x123456u);
  EXPECT_EQ(r->state, State::error);
  EXPECT_EQ(r->string_index, 7);
  EXPECT_EQ(to_hex(encode_status_reply(*r)), "03 56 34 12 0a 07");
  EXPECT_FALSE(parse_status_reply(from_hex("00 00 00 00 02")));
  EXPECT_FALSE(parse_status_reply(from_hex("00 00 00 00 02 00 00")));
  EXPECT_EQ(to_hex(encode_status_reply({Status::ok, 0x1000000, State::dfu_idle, 0})), "00 ff ff ff 02 00");
}

TEST(DfuWire, FunctionalDescriptors) {
  // TF-A (PROTOCOL.md 3.2.1) and U-Boot (3.2.3).
  auto tfa = parse_functional_descriptor(from_hex("09 21 0F FF 00 00 04 10 01"));
  ASSERT_TRUE(tfa);
  EXPECT_EQ(tfa->attributes, attr::can_download | attr::can_upload | attr::manifestation_tolerant | attr::will_detach);
  EXPECT_EQ(tfa->detach_timeout_ms, 255);
  EXPECT_EQ(tfa->transfer_size, 1024);
  EXPECT_EQ(tfa->dfu_version, 0x0110);
  auto uboot = parse_functional_descriptor(from_hex("09 21 0F 00 00 00 10 10 01"));
  ASSERT_TRUE(uboot);
  EXPECT_EQ(uboot->detach_timeout_ms, 0);
  EXPECT_EQ(uboot->transfer_size, 4096);
  EXPECT_EQ(to_hex(encode_functional_descriptor(*tfa)), "09 21 0f ff 00 00 04 10 01");
  EXPECT_FALSE(parse_functional_descriptor(from_hex("09 04 0F FF 00 00 04 10 01")));  // interface descriptor
  EXPECT_FALSE(parse_functional_descriptor(from_hex("07 21 0F FF 00 00 04 10 01")));
  EXPECT_FALSE(parse_functional_descriptor(from_hex("09 21 0F FF 00 00 04 10")));
}

struct AltCase {
  const char* text;
  const char* name;
  int phase;
  std::uint64_t size;
  bool writable;
};

TEST(DfuWire, AltNamesFromEveryStage) {
  constexpr std::uint64_t K = 1024, M = K * K;
  const AltCase cases[] = {
      // ROM MP15 / TF-A MP15 (3.3.2)
      {"@Partition0 /0x00/1*256Ke", "Partition0", 0x00, 256 * K, true},
      {"@FSBL /0x01/1*1Me", "FSBL", 0x01, 1 * M, true},
      {"@Partition2 /0x02/1*1Me", "Partition2", 0x02, 1 * M, true},
      {"@Partition3 /0x03/1*16Me", "Partition3", 0x03, 16 * M, true},
      {"@Partition4 /0x04/1*16Me", "Partition4", 0x04, 16 * M, true},
      {"@virtual /0xF1/1*512Ba", "virtual", 0xF1, 512, false},
      // ROM MP13 / MP25, TF-A MP13 / MP2x
      {"@FSBL /0x01/1*128Ke", "FSBL", 0x01, 128 * K, true},
      {"@FSBL /0x01/1*256Ke", "FSBL", 0x01, 256 * K, true},
      {"@SSBL /0x03/1*16Me", "SSBL", 0x03, 16 * M, true},
      {"@DDR FIP /0x02/1*32Ke", "DDR FIP", 0x02, 32 * K, true},
      {"@FIP /0x03/1*16Me", "FIP", 0x03, 16 * M, true},
      // U-Boot, no space, lower-case hex
      {"@FlashLayout/0x00/1*256Ke", "FlashLayout", 0x00, 256 * K, true},
      {"@virtual/0xf1/1*512Be", "virtual", 0xF1, 512, true},
      {"@OTP/0xf2/1*776Be", "OTP", 0xF2, 776, true},
      {"@PMIC/0xf4/1*8Be", "PMIC", 0xF4, 8, true},
      {"@fsbl1/0x01/1*256Ke", "fsbl1", 0x01, 256 * K, true},
      {"@rootfs/0x21/1*3Ga", "rootfs", 0x21, 3 * K * M, false},
      // case and whitespace tolerance, '/' inside a name, DfuSe segments
      {"@fsbl /0X01/1*1mE", "fsbl", 0x01, 1 * M, true},
      {"  @ FSBL / 0x1 / 1 * 1M e  ", "FSBL", 0x01, 1 * M, true},
      {"@a/b/0x10/1*1Ke", "a/b", 0x10, 1 * K, true},
      {"@x/0x10/2*1Ka,1*2Ke", "x", 0x10, 4 * K, true},
  };
  for (const auto& c : cases) {
    auto alt = parse_alt_name(c.text);
    ASSERT_TRUE(alt) << c.text;
    EXPECT_EQ(alt->name, c.name) << c.text;
    EXPECT_EQ(alt->phase, c.phase) << c.text;
    EXPECT_EQ(alt->size, c.size) << c.text;
    EXPECT_EQ(alt->writable, c.writable) << c.text;
  }
}

TEST(DfuWire, AltNamesRejected) {
  for (const char* bad : {"", "FSBL /0x01/1*1Me", "@FSBL /0x1ff/1*1Me", "@FSBL /01/1*1Me", "@FSBL /0x01/1*1Mz",
                          "@FSBL /0x01/1*1Xe", "@FSBL /0x01", "@/0x01/1*1Ke", "@FSBL /0x01/*1Me", "@FSBL /0x01/1*Me",
                          "@FSBL /0xzz/1*1Me", "@FSBL /0x01 x/1*1Me",
                          "@Internal Flash  /0x08000000/04*016Kg"})  // DfuSe address, not an ST phase
    EXPECT_FALSE(parse_alt_name(bad)) << bad;
}

TEST(DfuWire, AltNamesFormat) {
  EXPECT_EQ(format_alt_name({"FSBL", 0x01, 1 << 20, true}), "@FSBL /0x01/1*1Me");
  EXPECT_EQ(format_alt_name({"virtual", 0xF1, 512, false}), "@virtual /0xF1/1*512Ba");
  EXPECT_EQ(format_alt_name({"virtual", 0xF1, 512, true}, false), "@virtual/0xf1/1*512Be");
  EXPECT_EQ(format_alt_name({"OTP", 0xF2, 776, true}, false), "@OTP/0xf2/1*776Be");
  AltName big{"rootfs", 0x21, std::uint64_t{3} << 30, true};
  EXPECT_EQ(parse_alt_name(format_alt_name(big, false)), big);
}

struct PhaseCase {
  const char* what;
  const char* hex;
  const char* message;  // appended as ASCII
  int phase;
  std::uint32_t address;
  std::uint32_t offset;
  bool detach;
  const char* expected_message;
};

TEST(DfuWire, GetPhaseRepliesOfEveryStage) {
  // The rows of PROTOCOL.md 3.5.
  const PhaseCase cases[] = {
      {"TF-A waiting for FIP", "03 00 00 00 C7 00 00 00 00", "", 0x03, 0xC7000000, 0, false, ""},
      {"TF-A after FIP manifestation", "00 FF FF FF FF 00 00 00 00 01", "", 0x00, 0xFFFFFFFF, 0, true, ""},
      {"TF-A error", "FF FF FF FF FF 00 00 00 00", "Download overflow at 0xc8000000", 0xFF, 0xFFFFFFFF, 0, false,
       "Download overflow at 0xc8000000"},
      {"U-Boot waiting for layout", "00 00 00 00 C2 00 00 00 00 00", "", 0x00, 0xC2000000, 0, false, ""},
      {"U-Boot layout parsed", "00 00 00 00 C2 00 00 00 00 01", "", 0x00, 0xC2000000, 0, true, ""},
      {"U-Boot waiting for 0x04", "04 FF FF FF FF 00 00 00 00", "", 0x04, 0xFFFFFFFF, 0, false, ""},
      {"U-Boot finished", "FE FF FF FF FF 00 00 00 00", "", 0xFE, 0xFFFFFFFF, 0, false, ""},
      {"U-Boot error", "FF FF FF FF FF 00 10 00 00", "Layout line 3: invalid offset\n", 0xFF, 0xFFFFFFFF, 0x1000,
       false, "Layout line 3: invalid offset"},
      {"ROM MP15 before FSBL", "01 00 24 FC 2F 00 00 00 00", "", 0x01, 0x2FFC2400, 0, false, ""},
      {"ROM MP13 before FSBL", "01 00 FE FD 2F 00 00 00 00", "", 0x01, 0x2FFDFE00, 0, false, ""},
      {"ROM MP13 after FSBL (guess)", "00 FF FF FF FF 00 00 00 00 01", "", 0x00, 0xFFFFFFFF, 0, true, ""},
  };
  for (const auto& c : cases) {
    Bytes bytes = from_hex(c.hex);
    for (const char* p = c.message; *p; ++p) bytes.push_back(static_cast<std::uint8_t>(*p));
    auto info = parse_phase_reply(bytes);
    ASSERT_TRUE(info) << c.what;
    EXPECT_EQ(info->phase, c.phase) << c.what;
    EXPECT_EQ(info->address, c.address) << c.what;
    EXPECT_EQ(info->offset, c.offset) << c.what;
    EXPECT_EQ(info->detach_requested, c.detach) << c.what;
    EXPECT_EQ(info->message, c.expected_message) << c.what;
  }
}

TEST(DfuWire, GetPhaseReplyEdges) {
  EXPECT_FALSE(parse_phase_reply(from_hex("03 00 00 00 C7 00 00 00")));
  // U-Boot copies its zero-padded 512-byte buffer: the message ends at the first NUL.
  Bytes padded = from_hex("FF FF FF FF FF 00 00 00 00");
  for (char c : std::string("Wrong sequence number")) padded.push_back(static_cast<std::uint8_t>(c));
  padded.resize(512, 0);
  EXPECT_EQ(parse_phase_reply(padded)->message, "Wrong sequence number");
  // A flag byte other than 1 means "nothing to do".
  EXPECT_FALSE(parse_phase_reply(from_hex("00 00 00 00 C2 00 00 00 00 02"))->detach_requested);
  // Encoder: 9 bytes while waiting, 10 with the flag, message for 0xFF.
  EXPECT_EQ(to_hex(encode_phase_reply({0x03, 0xC7000000, 0, false, ""}, false)), "03 00 00 00 c7 00 00 00 00");
  EXPECT_EQ(to_hex(encode_phase_reply({0x00, 0xFFFFFFFF, 0, true, ""}, true)), "00 ff ff ff ff 00 00 00 00 01");
  EXPECT_EQ(to_hex(encode_phase_reply({0xFF, 0xFFFFFFFF, 0, false, "E!"}, true)), "ff ff ff ff ff 00 00 00 00 45 21");
}

TEST(DfuWire, ProductStringsOfEveryStage) {
  auto rom15 = parse_product("DFU in HS Mode @Device ID /0x500, @Revision ID /0x0000");
  EXPECT_EQ(rom15, (ProductInfo{Stage::rom, 0x500, 0x0000, "", true}));
  auto rom13 = parse_product("DFU in HS Mode @Device ID /0x501, @Revision ID /0x1003");
  EXPECT_EQ(rom13, (ProductInfo{Stage::rom, 0x501, 0x1003, "", true}));
  auto rom_fs = parse_product("DFU in FS Mode @Device ID /0x505, @Revision ID /0x2000");
  EXPECT_EQ(rom_fs, (ProductInfo{Stage::rom, 0x505, 0x2000, "", false}));
  auto tfa = parse_product("DFU @Device ID /0x501, @Revision ID /0x1003, @Name /STM32MP135F Rev.Y,");
  EXPECT_EQ(tfa, (ProductInfo{Stage::tfa, 0x501, 0x1003, "STM32MP135F Rev.Y", true}));
  auto tfa25 = parse_product("DFU @Device ID /0x505, @Revision ID /0x0011, @Name /STM32MP255CAK Rev.Y,");
  EXPECT_EQ(tfa25, (ProductInfo{Stage::tfa, 0x505, 0x0011, "STM32MP255CAK Rev.Y", true}));
  auto uboot = parse_product("USB download gadget@Device ID /0x501, @Revision ID /0x1003, @Name /STM32MP135F Rev.Y,");
  EXPECT_EQ(uboot, (ProductInfo{Stage::uboot, 0x501, 0x1003, "STM32MP135F Rev.Y", true}));
  auto uboot15 = parse_product("USB download gadget@Device ID /0x500, @Revision ID /0x2000, @Name /STM32MP157CAA Rev.B,");
  EXPECT_EQ(uboot15.stage, Stage::uboot);
  EXPECT_EQ(uboot15.device_id, 0x500);
  EXPECT_EQ(uboot15.soc_name, "STM32MP157CAA Rev.B");
  auto other = parse_product("Some Gadget");
  EXPECT_EQ(other, (ProductInfo{Stage::unknown, 0, 0, "", true}));
  auto lower = parse_product("dfu in hs mode @device id /0X500, @revision id /0x2000");
  EXPECT_EQ(lower, (ProductInfo{Stage::rom, 0x500, 0x2000, "", true}));
}

}  // namespace
}  // namespace mp1boot::dfu
