// SPDX-License-Identifier: MIT
// Device model of U-Boot's "stm32prog serial" programming service on STM32MP13x / STM32MP15x, the
// third boot stage of the simulated UART board (after TF-A accepted the FIP), after
// arch/arm/mach-stm32mp/cmd_stm32prog/stm32prog_serial.c (PROTOCOL.md 2.3-2.7, 4.3, 4.4, 7.3).
// This file is the byte protocol; the programming service below it (layout, devices, DFU back-end,
// OTP, PMIC) is UbootProgrammer (uboot_uart_service.hpp), and the storage it writes is Storage
// (storage.hpp) inside a UbootHardware shared with the caller.
//
// Plug it into the board with UartBoardOptions::ssbl_factory = make_uboot_factory(options).
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "mp1boot/bytes.hpp"
#include "mp1boot/sim/board_options.hpp"
#include "mp1boot/sim/uart_stage.hpp"
#include "mp1boot/sim/uboot_uart_service.hpp"
#include "mp1boot/soc.hpp"

namespace mp1boot::sim {

/// The U-Boot stage ("u-boot"). Behaviour, all from U-Boot's source:
/// * on_start: flush RX, then one NACK (the command lost while U-Boot booted is to be resent).
/// * idle: 0x7F -> flush, ACK. A byte outside {00 01 02 03 11 12 21 31}, or a complement that is
///   not its inverse (U-Boot waits for it without a timeout) -> 3 ms (bad_command_delay), flush,
///   NACK. Else flush, ACK, and the command runs. Every "result" byte is sent after a flush.
/// * Get: 08 40 00 01 02 03 11 12 21 31 ACK. Get Version: 03 ACK. Get ID: 01 <id BE16> ACK.
/// * Get Phase: 05+L, phase, address LE32 (layout buffer in phase 0x00, else FFFFFFFF), L, message,
///   ACK. In phase 0xFF the message is the first error (default "Unspecified") and the board then
///   resets: the stage ends (UbootOptions::reset_exit, reason "reset after phase 0xFF: ...").
/// * Download: address frame (op + 24-bit packet, XOR; no byte timeout): bad XOR -> NACK; else ACK
///   at once, then op other than 00/F2/F4 -> NACK, packet 0 restarts the cursor, any other must be
///   previous + 1 (else NACK, counter rolled back). Length byte, then the N data bytes within
///   data_timeout of the length byte, then the XOR byte (no timeout). Timeout or bad XOR -> wait
///   bad_packet_delay, flush, NACK, counter rolled back. Else the data go to the phase (op 00), the
///   OTP image (F2) or the PMIC image (F4) at the cursor: ACK, or ABORT when the write failed.
/// * Start: address BE32 + XOR; bad XOR -> NACK; else UbootProgrammer::start: ACK or ABORT.
///   After a Start at END/0xFF the session ends: RAM kernel boot (boot_next) or reset.
/// * Read Memory: address + XOR (NACK if bad) ACK, N-1 + complement (NACK if bad) ACK, N bytes.
/// * Read Partition: id + offset BE32 + XOR (NACK if bad), ACK without a flush, N-1 + complement
///   (NACK if bad), then ACK + N bytes (zero padded) or ABORT; nothing after the data.
/// Board packet faults apply to Download: nack_packets (as a bad XOR) and lose_packet_acks.
/// Each phase (0x00 layout, partitions) ended by a successful Start is reported to the board as a
/// complete image (UartLine::complete_image: UartBoard::received_images, phase-0xNN.bin records)
/// with the op-0x00 data U-Boot accepted for it.
class UbootUartStage final : public UartStage {
 public:
  /// @throws UsageError when the SoC is not an STM32MP13x/15x or `hardware` is null.
  UbootUartStage(const SocInfo& soc, UbootOptions options, std::shared_ptr<UbootHardware> hardware);

  std::string_view name() const override { return "u-boot"; }
  std::uint8_t phase() const override { return static_cast<std::uint8_t>(programmer_.phase() & 0xFF); }
  void on_start(UartLine& line) override;
  void on_byte(std::uint8_t byte, UartLine& line) override;
  std::optional<StageTimer> timer() const override;
  void on_timer(UartLine& line) override;
  std::optional<StageExit> exit() const override { return exit_; }

  /// The service below the byte protocol (white-box tests).
  UbootProgrammer& programmer() { return programmer_; }
  const UbootProgrammer& programmer() const { return programmer_; }
  /// Packet number and byte cursor of the Download in progress (stm32prog_data.packet_number,
  /// .cursor).
  std::uint32_t packet_number() const { return packet_number_; }
  std::uint32_t cursor() const { return cursor_; }
  /// Op-0x00 data accepted in the current phase (reported at its Start); empty once the phase
  /// passed UbootOptions::record_limit.
  ByteView phase_data() const { return phase_data_; }

 private:
  enum class State {
    idle, bad_command_wait, complement, get_address, rm_length, rp_header, rp_length,
    dl_length, dl_data, dl_checksum, dl_bad_wait, start_wait, ended
  };
  void result(std::uint8_t byte, UartLine& line);
  void to_idle(UartLine& line);
  void execute(UartLine& line);
  void address_complete(UartLine& line);
  void download_address(std::uint32_t address, UartLine& line);
  void download_data(UartLine& line);
  void read_partition(UartLine& line);
  std::uint32_t frame_be32(std::size_t at) const;

  const SocInfo& soc_;
  UbootProgrammer programmer_;
  std::chrono::milliseconds data_timeout_;
  std::chrono::milliseconds bad_packet_delay_;
  std::chrono::milliseconds bad_command_delay_;

  State state_ = State::idle;
  std::uint8_t command_ = 0;
  Bytes frame_;
  std::uint32_t packet_number_ = 0;
  std::uint32_t cursor_ = 0;
  std::uint8_t operation_ = 0;
  std::uint32_t received_packet_ = 0;
  std::size_t data_length_ = 0;
  SimClock::time_point data_started_{};
  SimClock::time_point wait_until_{};
  std::uint8_t start_reply_ = 0;   // start_wait: the Start's final reply, sent at wait_until_
  Bytes phase_data_;
  std::uint64_t phase_bytes_ = 0;  // op-0x00 bytes of the current phase (kept up to record_limit_)
  std::uint64_t record_limit_ = 0;
  std::optional<StageExit> exit_;
};

/// A factory for UartBoardOptions::ssbl_factory. `hardware` is the board's lasting state; when
/// null, one is created from options.storage when U-Boot first runs, and shared by every later run
/// of the factory and of its copies. The factory is cheap to make and to copy.
/// When the hand-over carries a phase 0x00 image (a legacy TF-A that loaded the layout) and
/// options.preloaded_layout is empty, U-Boot finds that layout in RAM at start.
/// The returned factory @throws UsageError without a SoC, and as UbootHardware / Storage
/// construction.
SsblFactory make_uboot_factory(UbootOptions options, std::shared_ptr<UbootHardware> hardware = nullptr);

}  // namespace mp1boot::sim
