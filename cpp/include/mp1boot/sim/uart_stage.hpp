// SPDX-License-Identifier: MIT
// The contract between the simulated board and the boot stage running on it (ROM, TF-A, later
// U-Boot stm32prog). A stage is a byte-level state machine: the board hands it one received byte
// at a time, at the device time the byte is read, and gives it a UartLine to answer on, to flush
// its RX FIFO (TF-A and U-Boot drain RX before every result byte) and to report completed images.
// Time never comes from a clock: the board passes it in. Stages never throw for protocol errors.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "mp1boot/bytes.hpp"
#include "mp1boot/sim/board_options.hpp"

namespace mp1boot::sim {

using SimClock = std::chrono::steady_clock;

/// Kinds of packet fault a stage asks the board about (see UartFaultPlan).
enum class PacketFault { nack, lose_ack };

/// What the board offers the running stage.
class UartLine {
 public:
  virtual ~UartLine() = default;
  /// Current device time (time of the byte or timer being handled).
  virtual SimClock::time_point now() const = 0;
  /// Sends bytes to the host (subject to the fault plan's line faults).
  virtual void send(ByteView bytes) = 0;
  void send_byte(std::uint8_t b) { send(ByteView(&b, 1)); }
  /// Discards every received byte that reached the device by now() and was not read yet.
  virtual void flush_input() = 0;
  /// Records a complete phase image (as downloaded, header included).
  virtual void complete_image(std::uint8_t phase, ByteView image) = 0;
  /// True (once) when the fault plan asks for `fault` on this packet.
  virtual bool packet_fault(PacketFault fault, std::uint8_t phase, std::uint32_t packet) = 0;
};

/// A timer a stage asks for. `blocks_input`: the stage is busy (e.g. TF-A's 3 ms delay before a
/// NACK) and reads nothing until the timer fires; otherwise it is a timeout that fires only if no
/// byte arrives before it.
struct StageTimer {
  SimClock::time_point at;
  bool blocks_input = false;
};

/// How a stage ended.
struct StageExit {
  enum class Kind {
    boot_next,  ///< the downloaded image is started (ROM -> TF-A, TF-A -> FIP/U-Boot)
    halt,       ///< the device stops answering (crash, reset request, bad image started)
    reset,      ///< the board resets: the boot ROM starts again (storage and fuses kept)
  };
  Kind kind = Kind::boot_next;
  std::string reason;  ///< for the record: "FSBL accepted", "reset after phase 0xFF", ...
};

/// One boot stage's UART protocol handler.
class UartStage {
 public:
  virtual ~UartStage() = default;
  /// "rom", "tf-a", "u-boot", or "halted" / "booted" for the silent end states.
  virtual std::string_view name() const = 0;
  /// Phase id the stage would report to Get Phase now.
  virtual std::uint8_t phase() const = 0;
  /// The stage starts running (after its boot delay). Default: nothing.
  virtual void on_start(UartLine& line) { (void)line; }
  /// One byte read from the UART.
  virtual void on_byte(std::uint8_t byte, UartLine& line) = 0;
  /// The timer the stage waits for, if any.
  virtual std::optional<StageTimer> timer() const { return std::nullopt; }
  /// timer() is due.
  virtual void on_timer(UartLine& line) { (void)line; }
  /// Set once the stage has ended; the board then replaces it.
  virtual std::optional<StageExit> exit() const = 0;
};

/// An end state: answers nothing, drops every byte. Used for "halted" (phase 0xFF) and "booted"
/// (TF-A handed over to the FIP and no later stage is modelled; phase 0xFE).
class SilentStage final : public UartStage {
 public:
  SilentStage(std::string name, std::uint8_t phase) : name_(std::move(name)), phase_(phase) {}
  std::string_view name() const override { return name_; }
  std::uint8_t phase() const override { return phase_; }
  void on_byte(std::uint8_t, UartLine&) override {}
  std::optional<StageExit> exit() const override { return std::nullopt; }

 private:
  std::string name_;
  std::uint8_t phase_;
};

}  // namespace mp1boot::sim
