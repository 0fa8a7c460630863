// SPDX-License-Identifier: MIT
// BoardConfig: everything a simulated board is configured with, in one key=value vocabulary, and
// the one parser for it. The "sim:" URL (sim:stm32mp157?link=usb&block_us=2000), the Python
// simulator server (UartSimServer(options=[...])), `mp1boot sim` and `mp1boot-usbsim` all pass
// their options through board_config() and list the same keys (board_keys(), board_keys_help()).
// Bad input throws UsageError naming the key and what it accepts:
//   sim option 'reset_phase': 'x' is not a number (decimal, or hex with 0x)
//   sim option 'reset_phase': 0x1ff is out of range 0x0..0xff
//   unknown sim option 'blocks_us' for link=usb; allowed: link, record, ...
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mp1boot/sim/board_options.hpp"
#include "mp1boot/sim/uboot_uart_service.hpp"
#include "mp1boot/sim/usb_board.hpp"
#include "mp1boot/soc.hpp"
#include "mp1boot/vocabulary.hpp"

namespace mp1boot::sim {

/// Which side of the board is served: its UART (ROM/TF-A/U-Boot on a byte link) or its USB DFU
/// (Link::uart or Link::usb; the same word as the host side's).
using SimLink = Link;

struct BoardConfig {
  const SocInfo* soc = nullptr;
  SimLink link = SimLink::uart;
  /// Options of the UART board (soc and ssbl_factory are set by uart_options()).
  UartBoardOptions uart;
  /// Options of the USB board (soc and uboot are set by usb_options()).
  UsbBoardOptions usb;
  /// Run U-Boot stm32prog after TF-A, with these options (storage folder, release, ...).
  bool with_uboot = true;
  UbootOptions uboot;
  /// In-process USB: sleep for the board's modelled busy and re-enumeration times.
  bool real_time = false;

  /// The UART board's options: `uart` with the SoC and, when with_uboot, the U-Boot stage.
  UartBoardOptions uart_options() const;
  /// The USB board's options: `usb` with the SoC and U-Boot (or none).
  UsbBoardOptions usb_options() const;
};

/// One key of the vocabulary.
struct BoardKey {
  std::string_view name;   ///< "block_us"
  std::string_view value;  ///< what it takes: "0|1", "N", "0xNN", "DIR", "rom|tfa", ...
  std::string_view links;  ///< "uart usb", "uart" or "usb"
  std::string_view help;   ///< one line
};

/// Every key, in the order the help lists them.
const std::vector<BoardKey>& board_keys();

/// "  key=VALUE   [links] help" lines, one per key (for --help texts and error messages).
std::string board_keys_help(std::string_view indent = "  ");

/// Builds the configuration of a simulated `soc` from key=value options (link is applied first,
/// so the order of the options does not matter; a later duplicate overrides an earlier one).
/// @throws UsageError naming the key and the values it accepts: unknown key (with the allowed
///         ones for that link), bad number, out of range, bad choice, key of the other link.
BoardConfig board_config(std::string_view soc, const std::vector<std::pair<std::string, std::string>>& options);

/// Splits "k1=v1&k2=v2" (a URL query) or "k=v" items into pairs; a key without '=' gets "1".
std::vector<std::pair<std::string, std::string>> split_options(std::string_view query, char separator = '&');

/// Parses a number as the vocabulary accepts it: decimal or 0x hex, no sign, no trailing text,
/// within [min, max]. @throws UsageError naming `key`, the value and the range.
std::uint64_t parse_option_number(std::string_view key, std::string_view value, std::uint64_t min,
                                  std::uint64_t max);

}  // namespace mp1boot::sim
