// SPDX-License-Identifier: MIT
// UartBoard: the UART side of a simulated STM32MP13x / STM32MP15x board, as a BytePeer that a
// transport adapter (PeerStream, PtyServer) serves. It runs one boot stage at a time (ROM, then
// TF-A, then whatever UartBoardOptions::ssbl_factory builds) and hands over between them with the
// configured boot delays. It decodes the host's bytes itself: it shares only wire constants
// (uart/wire.hpp) and SoC data (soc.hpp) with the host side, never the host engine.
//
// Time model. on_receive(bytes, now): the bytes reached the device's RX FIFO together at `now`.
// The stage reads them one by one, instantly, unless it is busy (TF-A's 3 ms delay before a NACK,
// a stage still booting): then they wait in the FIFO. A stage's "flush RX" discards every byte
// that reached the FIFO by the device time of the flush. So input split at any byte boundary
// gives the same replies as long as the host waits for each reply before sending more, which
// is what the protocol requires; a host that streams ahead loses bytes, as on a real board.
// Timeouts (TF-A's 20 ms inside a command) fire at their device time even when the next call
// comes later: a byte that arrives after the deadline is handled after the timeout.
//
// Stages: "rom", "tf-a" (after the ROM accepted the FSBL; while TF-A boots it reads nothing),
// then "booted" (TF-A accepted the FIP and no later stage is modelled: the line stays silent,
// current_phase() 0xFE) or "halted" (the device stopped: TF-A reset after reporting phase 0xFF,
// a crashed or rejected FSBL started by the ROM; current_phase() 0xFF). A later U-Boot model
// plugs in through UartBoardOptions::ssbl_factory.
//
// Not thread-safe: drive one board from one thread at a time.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "mp1boot/bytes.hpp"
#include "mp1boot/sim/board_options.hpp"
#include "mp1boot/sim/recorder.hpp"
#include "mp1boot/sim/uart_stage.hpp"
#include "mp1boot/transport/byte_peer.hpp"

namespace mp1boot::sim {

class UartBoard : public transport::BytePeer {
 public:
  /// @throws UsageError when options.soc is null or not an STM32MP13x/15x.
  explicit UartBoard(UartBoardOptions options);
  /// Writes the records when record_dir is set (errors are swallowed here).
  ~UartBoard() override;
  UartBoard(const UartBoard&) = delete;
  UartBoard& operator=(const UartBoard&) = delete;

  /// Bytes that reached the device at `now` (see the time model above).
  void on_receive(ByteView bytes, Clock::time_point now) override;
  /// Runs what is due at `now` and returns every byte the device sent since the last call.
  Bytes take_output(Clock::time_point now) override;
  /// The next time something happens without input: a stage start (boot delay; before the first
  /// call a stage with something to say at start reports Clock::time_point{}), a delayed NACK,
  /// or a timeout inside a command. nullopt when the device only waits for bytes.
  std::optional<Clock::time_point> next_deadline() const override;

  /// The reset button: the board starts again in the boot ROM, waiting for its synchronisation
  /// byte; whatever it was doing (an interrupted download) is forgotten.
  void reset();

  /// "rom", "tf-a", "booted", "halted" (and "u-boot" once such a stage is plugged in).
  std::string stage() const;
  /// Phase the current stage would report to Get Phase (0xFE booted, 0xFF halted).
  std::uint8_t current_phase() const;
  /// True while a stage is booting (ROM jumped, the next stage does not read yet).
  bool booting() const;
  /// Complete phase images (as downloaded, header included): 0x01 FSBL, 0x03 FIP, ...
  const std::map<std::uint8_t, Bytes>& received_images() const;
  /// The exchange log (also kept when record_dir is empty).
  const Recorder& recorder() const;
  /// The running stage (for white-box tests and later stages' helpers).
  const UartStage& current_stage() const;
  const UartBoardOptions& options() const;

  /// Writes DIR/phase-0xNN.bin and DIR/exchange.json when record_dir is set; no effect
  /// otherwise. @throws TransportError(errc::io) when a file cannot be written.
  void write_records() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mp1boot::sim
