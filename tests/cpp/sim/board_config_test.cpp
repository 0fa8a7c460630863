// SPDX-License-Identifier: MIT
// sim::BoardConfig: one key=value vocabulary and one parser for sim: URLs, the Python server and
// both simulator tools. Each kind of bad input gets its own typed error naming key and value.
#include <gtest/gtest.h>

#include <string>

#include "mp1boot/error.hpp"
#include "mp1boot/session/connect.hpp"
#include "mp1boot/sim/board_config.hpp"

namespace mp1boot::sim {
namespace {

using Options = std::vector<std::pair<std::string, std::string>>;

// The message of the UsageError board_config throws for `options`.
std::string error_of(const Options& options, const char* soc = "stm32mp157") {
  try {
    board_config(soc, options);
  } catch (const UsageError& e) {
    EXPECT_EQ(e.code(), errc::usage);
    return e.message();
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(BoardConfig, KeysSetTheBoardOptions) {
  const BoardConfig c = board_config("stm32mp157", {{"block_us", "2000"}, {"link", "usb"}, {"reset_phase", "0x00"},
                                                    {"reset_after", "0x100"}, {"rom_reject_status", "errVERIFY"},
                                                    {"fail_transfer", "7"}, {"uboot", "0"}, {"storage", "/tmp/s"}});
  EXPECT_EQ(c.link, SimLink::usb);  // link applies first, whatever its position
  EXPECT_EQ(c.usb.block_time, std::chrono::microseconds(2000));
  ASSERT_TRUE(c.usb.faults.reset_during.has_value());
  EXPECT_EQ(c.usb.faults.reset_during->phase, 0x00);
  EXPECT_EQ(c.usb.faults.reset_during->after_bytes, 256u);
  EXPECT_EQ(c.usb.rom_reject_status, dfu::Status::err_verify);
  EXPECT_EQ(c.usb.faults.fail_transfers, std::vector<std::uint64_t>{7});
  const UsbBoardOptions o = c.usb_options();
  EXPECT_EQ(o.soc, &soc_by_name("stm32mp157"));
  EXPECT_FALSE(o.uboot.has_value());
  const BoardConfig u = board_config("stm32mp135", {{"stage", "tfa"}, {"reset_phase", "0x10"}});
  EXPECT_EQ(u.uart.start_stage, StartStage::tfa);
  ASSERT_TRUE(u.uart.faults.reset_during.has_value());
  EXPECT_EQ(u.uart.faults.reset_during->phase, 0x10);
  EXPECT_TRUE(u.uart_options().ssbl_factory);
}

TEST(BoardConfig, EraseRatesPerMediumKind) {
  const BoardConfig c = board_config("stm32mp157", {{"link", "usb"}, {"erase_bps_mmc", "1000000000"},
                                                    {"erase_bps_nand", "50000000"}, {"erase_bps_nor", "0x30d40"}});
  EXPECT_EQ(c.uboot.erase_bytes_per_second.mmc, 1000000000u);
  EXPECT_EQ(c.uboot.erase_bytes_per_second.nand, 50000000u);
  EXPECT_EQ(c.uboot.erase_bytes_per_second.nor, 200000u);
  ASSERT_TRUE(c.usb_options().uboot.has_value());
  EXPECT_EQ(c.usb_options().uboot->erase_bytes_per_second.nor, 200000u);
  EXPECT_EQ(UbootOptions{}.erase_bytes_per_second.mmc, 0u);  // default: instant, as medium_bps
  EXPECT_NE(board_keys_help().find("erase_bps_nor=N"), std::string::npos);
  EXPECT_EQ(error_of({{"link", "usb"}, {"erase_bps_mmc", "-1"}}),
            "sim option 'erase_bps_mmc': '-1' is negative; it must be in 0x0..0xffffffffffffffff");
}

TEST(BoardConfig, BadNumberNamesKeyAndValue) {
  EXPECT_EQ(error_of({{"reset_phase", "x"}}), "sim option 'reset_phase': 'x' is not a number (decimal, or hex with 0x)");
  EXPECT_EQ(error_of({{"reset_after", "12k"}}), "sim option 'reset_after': '12k' is not a number (decimal, or hex with 0x)");
  EXPECT_EQ(error_of({{"reset_after", ""}}), "sim option 'reset_after': needs a number, got nothing");
  EXPECT_EQ(error_of({{"reset_after", "0x"}}), "sim option 'reset_after': '0x' is not a number (decimal, or hex with 0x)");
}

TEST(BoardConfig, OutOfRangeNamesTheRangeWithoutTruncating) {
  EXPECT_EQ(error_of({{"reset_phase", "0x1FF"}}), "sim option 'reset_phase': 0x1FF is out of range 0x0..0xff");
  EXPECT_EQ(error_of({{"reset_phase", "256"}}), "sim option 'reset_phase': 256 is out of range 0x0..0xff");
  EXPECT_EQ(error_of({{"link", "usb"}, {"tfa_buffer_size", "0x100000000"}}),
            "sim option 'tfa_buffer_size': 0x100000000 is out of range 0x1..0xffffffff");
  EXPECT_EQ(error_of({{"reset_after", "99999999999999999999999"}}),
            "sim option 'reset_after': 99999999999999999999999 is out of range 0x0..0xffffffffffffffff");
}

TEST(BoardConfig, NegativeNumbersAreRefusedNotWrapped) {
  EXPECT_EQ(error_of({{"link", "usb"}, {"block_us", "-1"}}),
            "sim option 'block_us': '-1' is negative; it must be in 0x0..0x3938700");
}

TEST(BoardConfig, UnknownKeyListsTheAllowedOnes) {
  const std::string m = error_of({{"link", "usb"}, {"blocks_us", "5"}});
  EXPECT_EQ(m.rfind("unknown sim option 'blocks_us' for link=usb; allowed: link, record, storage, uboot,", 0), 0u) << m;
  EXPECT_NE(m.find("block_us"), std::string::npos) << m;
  EXPECT_EQ(m.find("rom_read_memory"), std::string::npos) << m;  // a UART key is not offered for USB
}

TEST(BoardConfig, KeyOfTheOtherLinkSaysWhichLink) {
  EXPECT_EQ(error_of({{"block_us", "5"}}).rfind("sim option 'block_us' applies to link=usb only, not to link=uart; allowed:", 0),
            0u);
}

TEST(BoardConfig, BadChoiceFlagAndStatusListTheAllowedValues) {
  EXPECT_EQ(error_of({{"link", "spi"}}), "sim option 'link': 'spi' is not one of uart, usb");
  EXPECT_EQ(error_of({{"uboot", "maybe"}}), "sim option 'uboot': 'maybe' is not a flag (0 or 1)");
  const std::string m = error_of({{"link", "usb"}, {"status", "errNOPE"}});
  EXPECT_EQ(m.rfind("sim option 'status': 'errNOPE' is not a DFU status (errTARGET, errFILE,", 0), 0u) << m;
  EXPECT_EQ(error_of({{"link", "usb"}, {"no_reenumerate_after", "linux"}}),
            "sim option 'no_reenumerate_after': 'linux' is not one of rom, tf-a, u-boot");
}

TEST(BoardConfig, HelpListsEveryKeyOnce) {
  const std::string help = board_keys_help();
  for (const auto& k : board_keys()) {
    const std::string entry = "  " + std::string(k.name) + "=" + std::string(k.value);
    ASSERT_NE(help.find(entry), std::string::npos) << k.name;
    EXPECT_EQ(help.find(entry, help.find(entry) + 1), std::string::npos) << k.name;
  }
}

TEST(BoardConfig, SimUrlsUseTheSameParser) {
  try {
    session::connect("sim:stm32mp135?reset_phase=x");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(e.message().find("bad port 'sim:stm32mp135?reset_phase=x': sim option 'reset_phase': 'x' is not a number"),
              std::string::npos)
        << e.message();
  }
  EXPECT_THROW(session::connect("sim:stm32mp157?link=usb&reset_phase=0x1FF"), UsageError);
  EXPECT_THROW(session::connect("sim:stm32mp157?link=usb&reconnect_ms=-5"), UsageError);
  EXPECT_THROW(session::connect("sim:stm32mp135?reconnect_ms=5"), UsageError);  // a USB host option
  EXPECT_EQ(session::connect("sim:stm32mp157?link=usb&reconnect_ms=0x10,2,3")->link(), Link::usb);
}

// check_connect_url() refuses what connect() refuses, with the same message, and opens nothing:
// a serial port or USB selector that does not exist passes the check (only opening would fail).
TEST(BoardConfig, CheckConnectUrlOpensNothing) {
  for (const char* bad : {"sim:stm32mp135?reset_phase=x", "sim:stm32mp157?link=usb&reconnect_ms=-5", "sim:",
                          "sim:stm32mp999", "nfs:/x", "serial:", "serial:/dev/ttyS0?baud=0",
                          "serial:/dev/ttyS0?parity", "usb:1-1?blocks=2"}) {
    std::string checked, connected;
    try {
      session::check_connect_url(bad);
    } catch (const UsageError& e) {
      checked = e.message();
    }
    try {
      session::connect(bad);
    } catch (const UsageError& e) {
      connected = e.message();
    }
    EXPECT_FALSE(checked.empty()) << bad;
    EXPECT_EQ(checked, connected) << bad;
  }
  EXPECT_NO_THROW(session::check_connect_url("serial:/nonexistent/ttyX?baud=9600&framing=7O2"));
  EXPECT_NO_THROW(session::check_connect_url("usb:0000:0000?reconnect_ms=1,2,3"));
  EXPECT_NO_THROW(session::check_connect_url("sim:stm32mp157?link=usb&record=/nonexistent/dir"));
  EXPECT_THROW(session::connect("serial:/nonexistent/ttyX?baud=9600"), TransportError);
}

TEST(BoardConfig, SplitOptions) {
  EXPECT_EQ(split_options("a=1&b&c=x=y"), (Options{{"a", "1"}, {"b", "1"}, {"c", "x=y"}}));
  EXPECT_EQ(split_options(""), Options{});
}

}  // namespace
}  // namespace mp1boot::sim
