// SPDX-License-Identifier: MIT
// Device model of TF-A BL2 built with STM32MP_UART_PROGRAMMER=1 serving phase 0x03 (the FIP) on
// STM32MP13x / STM32MP15x, after plat/st/common/stm32cubeprogrammer_uart.c (PROTOCOL.md 2.3, 2.5,
// 2.6, 7.2). Quirks reproduced: the unsolicited NACK at start, RX flushed before every result
// byte, Get ID length byte 0x02, single-byte Get Version, the packet number checked before the
// address XOR, the operation byte unchecked, the overflow ACK sent without reading the data,
// ACK on Start with an address other than 0xFFFFFFFF, and the phase 0xFF error messages (with
// their trailing newline, at most 63 characters).
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "mp1boot/bytes.hpp"
#include "mp1boot/sim/board_options.hpp"
#include "mp1boot/sim/uart_stage.hpp"
#include "mp1boot/soc.hpp"

namespace mp1boot::sim {

/// FIP ToC header name (LE32 at offset 0 of a FIP).
inline constexpr std::uint32_t fip_toc_header_name = 0xAA640001;

/// TF-A's check at Start: LE32 0xAA640001 at offset 0 and a non-zero LE32 serial number at offset
/// 4. Bytes missing from `buffer` read as zero (the DDR buffer's initial contents).
bool fip_header_ok(ByteView buffer);

/// The TF-A stage. Behaviour:
/// * on_start: sends the fault plan's banner, flushes RX, then one NACK (tfa_unsolicited_nack).
/// * idle: 0x7F -> ACK. A byte outside {00 01 02 03 21 31} -> wait 3 ms, flush, NACK. Otherwise
///   the complement is read (20 ms timeout); bad or missing -> 3 ms, flush, NACK; good -> flush, ACK.
/// * Get: 06 40 00 01 02 03 21 31 ACK. Get Version: vv ACK. Get ID: 02 05 0x ACK.
///   Get Phase: 05 03 <buffer LE32> 00 ACK; in phase 0xFF: (5+L) FF <buffer LE32> L <message> ACK
///   and the stage ends ("reset": halt).
/// * Download: op (unchecked) + packet number; a number other than the expected counter -> NACK
///   at once (the XOR byte is not read); bad XOR -> NACK; else ACK. Length byte: when the packet
///   does not fit in the remaining buffer -> phase 0xFF "Download overflow at 0x...", ACK at once,
///   data bytes left unread. Data + XOR: bad XOR -> NACK (counter unchanged), else ACK.
///   Data is written at the running cursor (not packet * 256).
/// * Start: address BE32 + XOR; bad XOR -> NACK; address != 0xFFFFFFFF -> phase 0xFF "Invalid
///   start at ..." but ACK; FIP header bad -> phase 0xFF "FIP Header check failed ..." and NACK;
///   good -> ACK, image recorded as phase 0x03, the stage ends (boot_next).
/// * Any byte timeout inside a command body (20 ms) -> flush, NACK.
/// Once in phase 0xFF the first message is kept, the buffer is gone (length 0), so every later
/// Download overflows.
class TfaUartStage final : public UartStage {
 public:
  /// @throws UsageError when options.soc is null or not an STM32MP13x/15x.
  explicit TfaUartStage(const UartBoardOptions& options);

  std::string_view name() const override { return "tf-a"; }
  std::uint8_t phase() const override { return phase_; }
  void on_start(UartLine& line) override;
  void on_byte(std::uint8_t byte, UartLine& line) override;
  std::optional<StageTimer> timer() const override;
  void on_timer(UartLine& line) override;
  std::optional<StageExit> exit() const override { return exit_; }

  /// The phase 0xFF message ("" before any error), as sent by Get Phase.
  const std::string& error_message() const { return error_; }
  /// Bytes written to the download buffer so far (up to the cursor).
  ByteView downloaded() const { return ByteView(buffer_.data(), cursor_); }
  /// Next packet number TF-A expects.
  std::uint32_t expected_packet() const { return packet_; }

 private:
  enum class State {
    idle, bad_command_wait, complement, dl_header, dl_xor, dl_length, dl_data, dl_checksum,
    start_address, start_xor, ended
  };
  void send_result(std::uint8_t result, UartLine& line);
  void fail(std::string message);
  void execute(std::uint8_t cmd, UartLine& line);
  void bad_command(UartLine& line);
  void finish(bool ok, UartLine& line);
  void begin(State s, UartLine& line);

  const SocInfo* soc_;
  std::uint8_t version_;
  bool unsolicited_nack_;
  std::chrono::milliseconds byte_timeout_;
  std::chrono::milliseconds bad_command_delay_;
  std::string banner_;

  static constexpr std::uint8_t requested_phase_ = 0x03;
  std::uint8_t phase_ = requested_phase_;
  std::uint32_t buffer_address_;
  std::uint32_t remaining_;        ///< handle.len
  std::uint32_t cursor_ = 0;       ///< handle.addr - buffer
  std::uint32_t packet_ = 0;       ///< handle.packet
  bool buffer_valid_ = true;       ///< false once handle.addr was set to 0xFFFFFFFF
  Bytes buffer_;                   ///< memory written so far, from the buffer base
  std::string error_;

  State state_ = State::idle;
  std::uint8_t command_ = 0;
  Bytes frame_;
  std::uint8_t xor_ = 0;
  std::uint32_t received_packet_ = 0;
  std::size_t data_length_ = 0;
  std::size_t data_done_ = 0;
  SimClock::time_point read_started_{};
  SimClock::time_point nack_at_{};
  std::optional<StageExit> exit_;
};

}  // namespace mp1boot::sim
