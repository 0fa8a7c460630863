// SPDX-License-Identifier: MIT
// Internal contract between UsbBoard and the boot stage answering DFU class requests (ROM, TF-A,
// U-Boot stm32prog, a halted FSBL). A stage describes its USB personality (product string,
// alternate settings, functional descriptor) and runs its own DFU state machine; it asks the
// board for a transition (hand-over in place, detach with re-enumeration, vanish, halt) and
// builds the stage that follows. Stages only see UsbStageHost, never the transport.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mp1boot/dfu/wire.hpp"
#include "mp1boot/sim/usb_board.hpp"

namespace mp1boot::sim::usb_detail {

/// The USB personality of a stage.
struct StageDescription {
  std::string name;                      ///< "rom", "tf-a", "u-boot", "halted"
  std::string product;                   ///< iProduct
  std::vector<std::string> alts;         ///< iInterface of alt 0, 1, ...
  std::vector<std::uint8_t> alt_phases;  ///< phase id of each alt
  dfu::FunctionalDescriptor functional;
};

/// What the last request asks the board to do.
enum class Transition {
  none,
  handover,  ///< next_stage() takes over at once, same enumeration (MP15 ROM -> TF-A)
  detach,    ///< leave the bus; next_stage() enumerates after reenumerate_delay + leave_time() (may be null)
  vanish,    ///< leave the bus for good
  reset,     ///< the board resets: leave the bus, the boot ROM enumerates after reenumerate_delay
};

/// The board's services for stages.
class UsbStageHost {
 public:
  explicit UsbStageHost(UsbBoard& board) : board_(board) {}
  const UsbBoardOptions& options() const { return board_.options_; }
  const SocInfo& soc() const { return *board_.options_.soc; }
  /// Records a completed download (accepted or not) and logs it.
  void complete_image(std::uint8_t phase, ByteView image, bool accepted, const std::string& note) {
    board_.complete_image(phase, image, accepted, note);
  }
  /// The board's U-Boot hardware, created from options().uboot->storage on first use.
  /// @throws as Storage construction.
  std::shared_ptr<UbootHardware> uboot_hardware() {
    auto& o = board_.options_;
    if (!o.hardware) o.hardware = std::make_shared<UbootHardware>(o.uboot ? o.uboot->storage : StorageOptions{});
    return o.hardware;
  }

 private:
  UsbBoard& board_;
};

class UsbStage {
 public:
  virtual ~UsbStage() = default;
  virtual const StageDescription& description() const = 0;
  /// A DFU class request (bRequest = DFU request code) on the current alternate setting.
  virtual UsbBoard::Reply dfu_request(const usb::SetupPacket& setup, ByteView out,
                                      std::uint16_t in_length, std::uint8_t alt) = 0;
  /// SET_INTERFACE to `alt` (already checked against the alternate settings).
  virtual void set_interface(std::uint8_t alt) { (void)alt; }
  /// USB bus reset seen by the stage.
  virtual void port_reset() = 0;
  virtual dfu::State state() const = 0;
  /// Phase the stage would report to Get Phase.
  virtual std::uint8_t phase() const = 0;
  /// The stage that follows a handover or detach; nullptr: nothing follows.
  virtual std::unique_ptr<UsbStage> next_stage(UsbStageHost& host) = 0;

  /// Device time spent off the bus after a detach, before the next stage can enumerate (added
  /// to reenumerate_delay): U-Boot's device preparation between its gadget runs ('D' erases).
  virtual std::chrono::microseconds leave_time() const { return {}; }

  /// Transition requested by the last request; reading it clears it.
  Transition take_transition() { return std::exchange(transition_, Transition::none); }

 protected:
  Transition transition_ = Transition::none;
};

/// Phase id of an alternate setting of `d` (0xFE for an alt it does not have).
inline std::uint8_t alt_phase(const StageDescription& d, std::uint8_t alt) {
  return alt < d.alt_phases.size() ? d.alt_phases[alt] : 0xFE;
}

/// Reply helpers of the stage state machines.
inline UsbBoard::Reply ok_reply(Bytes data = {}, std::chrono::microseconds busy = {}) {
  return UsbBoard::Reply{UsbBoard::Reply::Kind::ok, std::move(data), busy};
}
inline UsbBoard::Reply stall_reply() { return UsbBoard::Reply{UsbBoard::Reply::Kind::stall, {}, {}}; }
/// `data` cut to the host's wLength.
inline Bytes fit_reply(Bytes data, std::uint16_t in_length) {
  if (data.size() > in_length) data.resize(in_length);
  return data;
}

/// How the stages of one SoC family differ (usb_soc_table.cpp): alternate settings, hand-over.
struct UsbSocRow {
  SocFamily family;
  /// The ROM's alternate settings: iInterface string and phase id.
  std::vector<std::pair<const char*, std::uint8_t>> rom_alts;
  /// true: the ROM starts TF-A at manifestation and TF-A keeps the ROM's enumeration (MP15);
  /// false: the ROM waits for DFU_DETACH, leaves the bus and TF-A enumerates with tfa_alts.
  bool rom_hands_over_at_manifest;
  std::vector<std::pair<const char*, std::uint8_t>> tfa_alts;
  /// The first phase TF-A asks for; its buffer and size (0: the FIP buffer of the SoC and the
  /// board's tfa_buffer_size option).
  std::uint8_t tfa_first_phase;
  std::uint32_t tfa_first_buffer;
  std::uint32_t tfa_first_size;
};
/// The row of `soc`'s family. @throws UsageError(errc::unsupported) for a family not modelled.
const UsbSocRow& usb_soc_row(const SocInfo& soc);

/// The boot ROM of host.soc().
std::unique_ptr<UsbStage> make_rom_stage(UsbStageHost& host);
/// U-Boot stm32prog's DFU gadget (usb_stage_uboot.cpp), with a fresh programming service on
/// host.uboot_hardware(). Requires host.options().uboot.
std::unique_ptr<UsbStage> make_uboot_stage(UsbStageHost& host);

/// 6-byte GETSTATUS reply (encoded here, independently of the host's parser).
Bytes status_bytes(dfu::Status status, std::uint32_t poll_ms, dfu::State state);
/// The ST functional descriptor: attributes 0x0F (download, upload, manifestation tolerant, will
/// detach), DFU 1.1.
dfu::FunctionalDescriptor st_functional(std::uint16_t detach_timeout, std::uint16_t transfer_size);
/// The functional descriptor's 9 wire bytes.
Bytes functional_bytes(const dfu::FunctionalDescriptor& d);

}  // namespace mp1boot::sim::usb_detail
