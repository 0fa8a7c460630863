// SPDX-License-Identifier: MIT
// Options of the simulated board's UART side: which SoC it is, the device behaviours PROTOCOL.md
// marks [INF]/[UNK] (each one a named option with its evidence), timings, the fault plan
// (PROTOCOL.md 7.4) and the recording folder. Plain value types; see uart_board.hpp for the board.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mp1boot/bytes.hpp"
#include "mp1boot/soc.hpp"

namespace mp1boot::sim {

class UartStage;

/// The stage the board runs when it is powered (first call to on_receive / take_output).
enum class StartStage {
  rom,   ///< serial boot mode: the ROM waits for 0x7F
  tfa,   ///< as if the ROM had just started a valid FSBL: TF-A comes up at once (with its NACK)
};

/// One data packet of one phase, for packet faults.
struct PacketRef {
  std::uint8_t phase = 0x01;   ///< phase id the stage is serving (ROM 0x01, TF-A 0x03, ...)
  std::uint32_t packet = 0;    ///< packet number as sent by the host
};

/// Faults the board injects (PROTOCOL.md 7.4). Each entry fires once.
struct UartFaultPlan {
  /// Answer NACK to the data frame of these packets (as if the data checksum were wrong); the
  /// device's packet counter does not advance, so a correct host resends the same packet.
  std::vector<PacketRef> nack_packets;
  /// Accept these packets but lose their final ACK on the line (the host sees a timeout; the
  /// device already counted the packet, so resending it gets NACK for a wrong packet number).
  std::vector<PacketRef> lose_packet_acks;
  /// Drop the Nth byte the board sends (0-based, counted over the whole session).
  std::vector<std::uint64_t> drop_tx_bytes;
  /// Replace the Nth byte the board sends (0-based) by the given value.
  std::vector<std::pair<std::uint64_t, std::uint8_t>> corrupt_tx_bytes;
  /// After this many sent bytes the line goes dead (cable pulled): nothing more is sent.
  std::optional<std::uint64_t> silent_after_tx_bytes;
  /// The board resets (power, DDR, watchdog: FIELD.md 10) once the stage after TF-A (U-Boot) has
  /// received `after_bytes` bytes while in phase `phase`; the boot ROM starts again.
  struct ResetFault {
    std::uint8_t phase = 0x10;
    std::uint64_t after_bytes = 0;
  };
  std::optional<ResetFault> reset_during;
  /// The FSBL crashes: the ROM ACKs Start, then nothing ever answers (stage "halted").
  bool tfa_crash = false;
  /// Text an old TF-A build leaks on the programming UART before its first NACK (PROTOCOL.md 2.1:
  /// "older builds may still leak banner text"). Empty: nothing.
  std::string tfa_banner;
};

/// What a stage that follows TF-A gets to build itself (U-Boot stm32prog model, added later).
struct HandoverInfo {
  const SocInfo* soc = nullptr;
  /// Images completed so far (phase id -> bytes as downloaded), e.g. 0x01 FSBL, 0x03 FIP.
  const std::map<std::uint8_t, Bytes>* images = nullptr;
};

/// Builds the stage that runs after TF-A accepted the FIP. Not set: the board goes silent in
/// stage "booted" (phase 0xFE) after TF-A's final ACK.
using SsblFactory = std::function<std::unique_ptr<UartStage>(const HandoverInfo&)>;

/// Options of UartBoard. Defaults reproduce the documented device behaviour.
struct UartBoardOptions {
  /// stm32mp135 or stm32mp157 (soc_by_name); required. STM32MP25x is not modelled on UART.
  const SocInfo* soc = nullptr;
  StartStage start_stage = StartStage::rom;

  // ROM [UNK]/[INF] behaviours (PROTOCOL.md 2.4, 7.1, 10).
  /// [UNK] MP15 ROM supports Read Memory (0x11); never on MP13 (AN5275 via js216, [DOC]).
  bool rom_read_memory = false;
  /// [UNK] What the ROM does at Start with an image it rejects (PROTOCOL.md 10 item 4). false: NACK
  /// and stay in phase 0x01 with an empty buffer (the host may download again). true: ACK and
  /// jump to the bad image, i.e. the board stops answering (stage "halted").
  bool rom_accept_bad_image = false;
  /// [UNK] ROM timeout inside a command (PROTOCOL.md 2.7 "ROM timeouts [UNK]"): when set, a
  /// command whose next byte does not come within this time is NACKed. 0: wait forever.
  std::chrono::milliseconds rom_byte_timeout{0};

  // TF-A (plat/st/common/stm32cubeprogrammer_uart.c, [SRC]).
  /// TF-A sends one NACK when its UART loop starts (PROTOCOL.md 2.3 item 2).
  bool tfa_unsolicited_nack = true;
  /// Time between the ROM's Start ACK and TF-A answering; bytes received meanwhile are lost.
  std::chrono::milliseconds tfa_boot_delay{0};
  /// Get Version reply of TF-A (STM32_TF_VERSION, default 0).
  std::uint8_t tfa_version = 0;
  /// TF-A inter-byte timeout inside a command (PROGRAMMER_TIMEOUT_US = 20 ms). 0: none.
  std::chrono::milliseconds tfa_byte_timeout{20};
  /// Delay before TF-A NACKs an unknown command or a bad complement (3 ms; older ST TF-A 2 ms).
  std::chrono::milliseconds tfa_bad_command_delay{3};
  /// Size of TF-A's phase 0x03 download buffer (DWL_BUFFER_SIZE, 16 MiB). Smaller values make
  /// overflow tests cheap.
  std::uint32_t tfa_buffer_size = 16u * 1024u * 1024u;

  /// Stage after TF-A (see SsblFactory) and its boot delay after TF-A's final Start ACK.
  SsblFactory ssbl_factory;
  std::chrono::milliseconds ssbl_boot_delay{0};

  UartFaultPlan faults;

  /// When set: write DIR/phase-0xNN.bin for each completed phase image and DIR/exchange.json
  /// (see recorder.hpp) at write_records() and when the board is destroyed.
  std::string record_dir;
};

}  // namespace mp1boot::sim
