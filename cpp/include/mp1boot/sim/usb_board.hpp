// SPDX-License-Identifier: MIT
// The simulated STM32MP board on the USB side: a control-request handler, independent of any
// transport, that answers standard requests (descriptors, configuration, interface) and the DFU
// class requests of the stage currently running (PROTOCOL.md 3, 7.1-7.3):
//   ROM (MP13/MP15/MP25) -> TF-A -> U-Boot stm32prog (optional).
// MP15: the ROM hands over to TF-A at manifestation without re-enumerating (TF-A keeps the ROM's
// descriptors). MP13/MP25: the ROM waits for DFU_DETACH, leaves the bus and TF-A enumerates with
// its own strings and alternate settings. TF-A asks for the DETACH through the Get Phase detach
// flag after a good FIP. U-Boot's "USB download gadget" then takes the flash layout on
// @FlashLayout, asks for a DETACH (Get Phase flag), prepares the devices and enumerates again with
// one alternate setting per layout partition; its programming service is the same
// UbootProgrammer as on UART (uboot_uart_service.hpp), writing sparse storage images. After it
// reported phase 0xFF, a DETACH resets the board and the boot ROM enumerates again. Time is not
// read from a clock: replies say how long the device is busy and how long a re-enumeration takes;
// transport adapters (PeerUsbPort, mp1boot-usbsim) apply it. No libusb, no umockdev, no threads.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mp1boot/bytes.hpp"
#include "mp1boot/dfu/wire.hpp"
#include "mp1boot/sim/uboot_uart_service.hpp"
#include "mp1boot/soc.hpp"
#include "mp1boot/transport/usb_peer.hpp"
#include "mp1boot/usb.hpp"

namespace mp1boot::sim {

namespace usb_detail {
class UsbStage;
class UsbStageHost;
}  // namespace usb_detail

/// Faults the USB board injects (PROTOCOL.md 7.4), like UartFaultPlan for the UART side. Each
/// entry fires once. Transfers are counted from 1 over the board's life (every control request,
/// standard or DFU, in every stage); data bytes and blocks are counted per phase (the phase of the
/// alternate setting a DNLOAD goes to).
struct UsbFaultPlan {
  /// These control transfers never complete: the host sees a timeout; the device did not see
  /// the request.
  std::vector<std::uint64_t> fail_transfers;
  /// These control transfers are answered with an EP0 STALL; the device did not act on them.
  std::vector<std::uint64_t> stall_transfers;
  /// The replies of these DFU_GETSTATUS requests (counted from 1 over the board's life, every
  /// stage) are lost on the wire: the device acted on the request (its state moved on, as the
  /// reply would have said) but the host sees a timeout.
  std::vector<std::uint64_t> lose_status_replies;
  /// The device drops off the bus for good (cable pulled) during the DNLOAD block of phase `phase`
  /// that carries data byte `after_bytes` (0-based): that block answers `disconnected`.
  struct Drop {
    std::uint8_t phase = 0x01;
    std::uint64_t after_bytes = 0;
  };
  std::optional<Drop> drop_during;
  /// The board resets (power, DDR, watchdog: FIELD.md 10) during the DNLOAD block of phase `phase`
  /// that carries data byte `after_bytes` (0-based), in any stage and any phase, the flash layout
  /// 0x00 included (also inside a single-block phase): that block answers `disconnected`, then the
  /// boot ROM enumerates after reenumerate_delay.
  struct Reset {
    std::uint8_t phase = 0x10;
    std::uint64_t after_bytes = 0;
  };
  std::optional<Reset> reset_during;
  /// This stage (rom, tf-a, u-boot) leaves the bus and nothing enumerates after it (FIELD.md 1,
  /// 5). nullopt: every stage hands over normally.
  std::optional<Stage> never_reenumerate_after;
  /// After DNLOAD block `block` (0-based, counted per phase) of phase `phase` (any phase when
  /// unset), the block is lost and GETSTATUS answers `status` in dfuERROR until CLRSTATUS or
  /// ABORT (the stage itself keeps the state it had before that block).
  struct StatusAtBlock {
    std::uint64_t block = 0;
    dfu::Status status = dfu::Status::err_write;
    std::optional<std::uint8_t> phase;
  };
  std::optional<StatusAtBlock> status_at_block;
};

/// Options of UsbBoard. Defaults reproduce the documented device behaviour; the [INF]/[UNK]
/// behaviours of PROTOCOL.md are options with their evidence noted.
struct UsbBoardOptions {
  /// stm32mp135, stm32mp157 or stm32mp257 (soc_by_name); required.
  const SocInfo* soc = nullptr;
  /// iSerialNumber: 24 upper-case hex characters, the same in every stage (PROTOCOL.md 3.1).
  std::string serial = "002800423232511538303631";
  /// ROM bwPollTimeout reported in dfuDNBUSY, dfuDNLOAD-IDLE and dfuMANIFEST ([LOG] 1 ms).
  std::uint32_t rom_poll_timeout_ms = 1;
  /// Modelled device time per DNLOAD data block (flash/SRAM write). Returned as Reply::busy;
  /// adapters hold the transfer that long. 0: instant.
  std::chrono::microseconds block_time{0};
  /// Time between leaving the bus (DETACH) and the next stage enumerating.
  std::chrono::microseconds reenumerate_delay{std::chrono::milliseconds(10)};
  /// [UNK] (PROTOCOL.md 10 item 4) DFU status of a rejected FSBL. Unset: errFILE for a wrong
  /// magic, header version or size, errVERIFY for a bad checksum.
  std::optional<dfu::Status> rom_reject_status;
  /// "DFU in HS Mode" (default) or the full-speed variant "DFU in FS Mode" seen in logs; the
  /// identity's speed follows.
  bool full_speed = false;
  /// false: the FSBL does not run a USB programmer (TF-A built for UART, or it crashes): MP15
  /// stalls every DFU request after the ROM's manifestation; MP13/MP25 never come back after
  /// the DETACH (FIELD.md failure mode 5).
  bool tfa_enabled = true;
  /// TF-A download buffer for phase 0x03 (DWL_BUFFER_SIZE, 16 MiB); smaller makes overflow tests cheap.
  std::uint32_t tfa_buffer_size = 16u * 1024u * 1024u;
  /// After TF-A's DETACH, U-Boot stm32prog enumerates ("USB download gadget@...", wTransferSize
  /// 4096) with these options (storage devices, U-Boot release, OTP/PMIC support, faults).
  /// std::nullopt: the board stays detached after TF-A (FIELD.md failure mode 1).
  std::optional<UbootOptions> uboot = UbootOptions{};
  /// The board's lasting state under U-Boot (storage images, OTP, PMIC, events), shared so that
  /// callers can inspect it. Null: created from uboot->storage when U-Boot first runs (an empty
  /// storage folder means a temporary one, removed with the hardware); see UsbBoard::uboot_hardware.
  std::shared_ptr<UbootHardware> hardware;
  /// Modelled U-Boot time per DNLOAD data block (DFU buffer copy, medium writes), returned as
  /// Reply::busy; ~2 ms per 4096 bytes gives the ~2 MB/s of FIELD.md. 0: instant.
  std::chrono::microseconds uboot_block_time{0};
  /// Faults to inject (transfer failures and stalls, drop-out, reset, no re-enumeration, status).
  UsbFaultPlan faults;
  /// U-Boot partition downloads up to this size are kept for received_images() and the records;
  /// larger ones only reach the storage images (the board's memory stays bounded whatever the
  /// image size) and are logged with their size.
  std::uint64_t record_limit = 1u << 20;
  /// At most this many transfers are logged (log(), exchange_json()); later ones are counted only,
  /// so that a multi-GiB download does not fill memory. Events are always logged.
  std::size_t log_limit = 20000;
  /// When set: DIR/phase-0xnn.bin (lower-case hex, as the UART recorder) for every completed download and DIR/usb-exchange.json (see
  /// UsbBoard::exchange_json), written after every stage change and by write_records().
  std::string record_dir;
};

/// One simulated board, seen from the USB side. Not thread-safe: one caller at a time (the
/// mp1boot-usbsim server serialises its worker and main threads with a mutex).
class UsbBoard final : public transport::UsbPeer {
 public:
  /// The device's answer to one control request (ok, stall, disconnected; busy time).
  using Reply = transport::UsbPeer::Reply;

  /// One entry of the exchange log.
  struct LogEntry {
    std::uint64_t n = 0;         ///< transfer counter (events share the counter of their transfer)
    std::string stage;           ///< stage that handled it
    std::string text;            ///< JSON object text (nlohmann::ordered_json), see exchange_json()
  };

  /// @throws UsageError when options.soc is null.
  explicit UsbBoard(UsbBoardOptions options);
  ~UsbBoard();
  UsbBoard(const UsbBoard&) = delete;
  UsbBoard& operator=(const UsbBoard&) = delete;

  /// Handles one control request. `out_data` is the OUT data stage (empty for IN requests);
  /// `in_length` is wLength of an IN request. Standard requests: GET_DESCRIPTOR (device,
  /// configuration, string, device qualifier, DFU functional 0x21; others stall), GET_STATUS,
  /// GET/SET_CONFIGURATION, GET/SET_INTERFACE (alternate settings out of range stall),
  /// SET/CLEAR_FEATURE and SET_ADDRESS (accepted). Class requests go to the running stage's DFU
  /// state machine; vendor requests stall. While detached every request answers `disconnected`.
  Reply control(const usb::SetupPacket& setup, ByteView out_data, std::uint16_t in_length) override;

  /// USB port reset: the DFU state returns to dfuIDLE on alternate setting 0 (same enumeration,
  /// same stage). `disconnected` while detached.
  Reply port_reset() override;

  /// Device descriptor (18 bytes) of the current enumeration.
  Bytes device_descriptor() const;
  /// Full configuration descriptor (configuration, one interface descriptor per alt, DFU
  /// functional descriptor); wTotalLength = 9 * (alts + 2).
  Bytes config_descriptor() const;
  /// device_descriptor() + config_descriptor(): the sysfs "descriptors" attribute.
  Bytes descriptors() const;
  /// String descriptors 1..N as text: [0] manufacturer, [1] product, [2] serial, [3] "DFU
  /// Config", [4] "DFU Interface", [5..] alternate setting names (index = position + 1).
  std::vector<std::string> strings() const;
  /// Alternate settings of interface 0 with their names.
  std::vector<usb::AltSetting> alt_settings() const override;
  /// The DFU functional descriptor of the running stage.
  dfu::FunctionalDescriptor functional_descriptor() const;

  /// Increments at every enumeration after the first (the device left and came back).
  std::uint32_t generation() const override { return generation_; }
  /// false between a disconnect and the next enumeration (and for good after a vanish).
  bool attached() const override { return attached_; }
  /// When detached and another stage will enumerate: the delay until it does (measured from the
  /// disconnect): reenumerate_delay, plus U-Boot's modelled 'D' erases after the layout run.
  /// std::nullopt when attached or when the device will never come back.
  std::optional<std::chrono::microseconds> pending_reattach() const override;
  /// Makes the pending stage enumerate now (generation + 1). false when nothing is pending.
  bool reattach() override;
  /// The cable is pulled: detached, nothing pending.
  void unplug();
  /// Power cycle in serial-boot mode: the ROM enumerates again (generation + 1), images kept.
  void power_cycle();
  /// The U-Boot hardware (storage, OTP, PMIC, events): options().hardware, or the one created
  /// when U-Boot first ran; null before that when none was given.
  std::shared_ptr<UbootHardware> uboot_hardware() const { return options_.hardware; }

  /// Identity of the current enumeration: 0483:df11, bus 1, address 2 + generation, port
  /// "1-1", speed "high" (or "full"), the current strings and functional descriptor.
  usb::Identity identity() const override;
  /// "sim:" + the SoC name.
  std::string name() const override;
  /// "rom", "tf-a", "u-boot", "halted" (FSBL not answering DFU).
  std::string stage() const;
  /// The running stage's DFU state and current alternate setting (for tests and notebooks).
  dfu::State dfu_state() const;
  std::uint8_t current_alt() const { return alt_; }
  /// Phase the running stage would report to Get Phase.
  std::uint8_t phase() const;

  /// Completed downloads by phase id, as received (header included); later ones replace earlier.
  const std::map<std::uint8_t, Bytes>& received_images() const { return images_; }
  /// Transfers (the first options.log_limit) and every event so far.
  const std::vector<LogEntry>& log() const { return log_; }
  /// The log as a JSON list: transfers
  ///   {"n": 7, "stage": "rom", "setup": "a1 03 0000 0000 0006", "out": 0, "reply": "ok", "in": "00 01 00 00 04 00"}
  /// ("out" = OUT data length; "in" = IN data as hex; "reply" ok/stall/disconnected) and events
  ///   {"n": 9, "event": "image", "phase": "0x01", "size": 4608, "accepted": true, "note": ""}
  ///   {"n": 9, "event": "stage", "stage": "tf-a", "generation": 1}
  ///   {"n": 9, "event": "detach"}.
  std::string exchange_json() const;
  /// Writes DIR/phase-0xNN.bin for every image and DIR/usb-exchange.json. No effect without
  /// record_dir. @throws TransportError(errc::io) naming the file that failed.
  void write_records() const;

  const UsbBoardOptions& options() const { return options_; }

 private:
  friend class usb_detail::UsbStageHost;
  Reply standard_request(const usb::SetupPacket& setup, std::uint16_t in_length);
  Reply get_descriptor(const usb::SetupPacket& setup);
  void apply_transition();
  void enter(std::unique_ptr<usb_detail::UsbStage> stage, bool new_enumeration);
  void log_transfer(const usb::SetupPacket& setup, ByteView out, const Reply& reply);
  void log_event(const nlohmann::ordered_json& fields);
  /// The fault plan keeps the board off the bus after the stage named `stage` leaves it.
  bool stays_away_after(const std::string& stage) const;
  void complete_image(std::uint8_t phase, ByteView image, bool accepted, const std::string& note);

  UsbBoardOptions options_;
  std::unique_ptr<usb_detail::UsbStageHost> host_;
  std::unique_ptr<usb_detail::UsbStage> stage_;
  std::unique_ptr<usb_detail::UsbStage> pending_;  ///< enumerates at reattach()
  std::chrono::microseconds pending_leave_time_{0};  ///< the leaving stage's work before it (usb_stage.hpp)
  std::uint32_t generation_ = 0;
  bool attached_ = true;
  std::uint8_t alt_ = 0;
  std::uint8_t configuration_ = 1;
  std::map<std::uint8_t, Bytes> images_;
  std::vector<LogEntry> log_;
  std::size_t logged_transfers_ = 0;
  std::uint64_t transfers_ = 0;
  std::uint64_t status_requests_ = 0;  ///< DFU_GETSTATUS requests (UsbFaultPlan::lose_status_replies)
  /// Applies the fault plan to one request; a reply when a fault answers it instead of the device.
  std::optional<Reply> inject_fault(const usb::SetupPacket& setup, ByteView out_data);
  /// After the stage answered: true when this is a DFU_GETSTATUS whose reply the plan loses.
  bool lose_reply(const usb::SetupPacket& setup);
  std::map<std::uint8_t, std::uint64_t> fault_bytes_;   ///< DNLOAD data bytes per phase
  std::map<std::uint8_t, std::uint64_t> fault_blocks_;  ///< DNLOAD data blocks per phase
  bool reset_fired_ = false, drop_fired_ = false, status_fired_ = false;
  std::optional<dfu::Status> forced_status_;            ///< status_at_block fired, not yet cleared
};

}  // namespace mp1boot::sim
