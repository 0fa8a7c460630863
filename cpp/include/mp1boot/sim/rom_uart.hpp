// SPDX-License-Identifier: MIT
// Device model of the STM32MP13x / STM32MP15x boot ROM in UART serial-boot mode (PROTOCOL.md 2.4,
// 2.5, 6.4, 7.1): sync on 0x7F, Get / Get Version / Get ID / Get Phase with the ROM's byte layout,
// Download of the FSBL (phase 0x01) into SYSRAM and Start 0xFFFFFFFF, which checks the STM32
// header the way the ROM does and starts TF-A. The header checks are written here from the spec,
// independently of mp1boot::image, so a bug shared by host and device cannot hide.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "mp1boot/bytes.hpp"
#include "mp1boot/sim/board_options.hpp"
#include "mp1boot/sim/uart_stage.hpp"
#include "mp1boot/soc.hpp"

namespace mp1boot::sim {

/// Why the ROM of `soc` would refuse `image` (an FSBL as downloaded, header first) at Start, or
/// an empty string when it accepts it. Checks, in order: the header fits, magic 'STM2', header
/// major version of the SoC (v1 MP15, v2 MP13), header size (v1 256, v2 0x80 + LE32 at 0x68),
/// payload length <= soc.max_fsbl_payload, payload complete, 32-bit byte-sum checksum.
/// Not checked (open device, no authentication): signature, anti-rollback, entry point.
std::string rom_fsbl_problem(const SocInfo& soc, ByteView image);

/// Bytes of SYSRAM available to the downloaded FSBL, header included: from the ROM's download
/// address to the end of SYSRAM (MP13 0x20200 = 512 + 128 KiB, MP15 0x3DC00 = 247 KiB).
std::uint32_t rom_download_capacity(const SocInfo& soc);

/// The ROM stage. Behaviour per command:
/// * before the first 0x7F every byte is ignored; 0x7F -> ACK (and at any later command start).
/// * commands 00 01 02 03 21 31 (+11 on MP15 with rom_read_memory): the ROM reads the command
///   byte and its complement, then ACKs or NACKs the pair ([INF], AN3155 style: no flush).
/// * Get: N 40 codes... ACK. Get Version: 10 00 00 ACK. Get ID: 01 05 0x ACK (0x01 MP13 [LOG],
///   0x00 MP15 [INF]). Get Phase: 06 01 <download address LE32> 01 00 ACK.
/// * Download: op + 24-bit packet number + XOR -> ACK, or NACK for a bad XOR, op != 0 ([INF]) or
///   a packet number other than the next expected one; N-1, data, XOR -> ACK, or NACK for a bad
///   XOR or data beyond the SYSRAM capacity. Data of packet k lands at offset k * 256.
/// * Start: address BE32 + XOR. Bad XOR -> NACK. 0xFFFFFFFF -> rom_fsbl_problem(): accepted ->
///   ACK, image recorded as phase 0x01, stage ends (boot_next); refused -> see
///   UartBoardOptions::rom_accept_bad_image. Any other address -> NACK ([UNK], PROTOCOL.md 10.7).
/// * Read Memory (MP15 option, PROTOCOL.md 2.5.7 layout): address in SYSRAM -> ACK, N-1 and its
///   complement -> ACK then N bytes (download buffer contents, zero elsewhere); otherwise NACK.
class RomUartStage final : public UartStage {
 public:
  /// @throws UsageError when options.soc is null or not an STM32MP13x/15x.
  explicit RomUartStage(const UartBoardOptions& options);

  std::string_view name() const override { return "rom"; }
  std::uint8_t phase() const override { return 0x01; }
  void on_byte(std::uint8_t byte, UartLine& line) override;
  std::optional<StageTimer> timer() const override;
  void on_timer(UartLine& line) override;
  std::optional<StageExit> exit() const override { return exit_; }

  /// True once the first 0x7F was received.
  bool synced() const { return state_ != State::wait_sync; }
  /// The download buffer (phase 0x01 bytes received so far, header first).
  const Bytes& buffer() const { return buffer_; }
  /// Next packet number the ROM expects.
  std::uint32_t expected_packet() const { return expected_packet_; }

 private:
  enum class State {
    wait_sync, idle, complement, dl_address, dl_length, dl_data, dl_checksum, start_address,
    rm_address, rm_length
  };
  bool supports(std::uint8_t cmd) const;
  void execute(std::uint8_t cmd, UartLine& line);
  void end_download_address(UartLine& line);
  void end_data(std::uint8_t checksum, UartLine& line);
  void end_start(UartLine& line);
  void end_read_address(UartLine& line);
  void end_read_length(UartLine& line);
  void to_idle() { state_ = State::idle; frame_.clear(); }

  const SocInfo* soc_;
  bool read_memory_;
  bool accept_bad_image_;
  std::chrono::milliseconds byte_timeout_;
  State state_ = State::wait_sync;
  std::uint8_t command_ = 0;
  Bytes frame_;             ///< bytes of the field being collected
  std::uint32_t packet_ = 0;
  std::size_t data_length_ = 0;
  std::uint32_t read_address_ = 0;
  Bytes buffer_;
  std::uint32_t capacity_;
  std::uint32_t expected_packet_ = 0;
  std::optional<SimClock::time_point> last_byte_;
  std::optional<StageExit> exit_;
};

}  // namespace mp1boot::sim
