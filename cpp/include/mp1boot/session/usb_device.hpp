// SPDX-License-Identifier: MIT
// session::UsbDevice: a board on USB DFU (libusb or the in-process simulated device), driven by
// the DFU engine through session::drive_dfu (drive.hpp). It follows the board across re-enumerations: after a
// DETACH (or the MP15 ROM's hand-over) it reopens the device with the same serial number and port
// path through the `Reopen` function the caller gave.
#pragma once
#include <chrono>
#include <functional>
#include <memory>

#include "mp1boot/dfu/engine.hpp"
#include "mp1boot/session/device.hpp"
#include "mp1boot/transport/usb_port.hpp"

namespace mp1boot::session {

class ProgressThrottle;  // private to the library (src/session/progress_throttle.hpp)

class UsbDevice : public Device {
 public:
  /// Opens the board's next enumeration: `previous` is the identity before it left the bus.
  /// @throws TimeoutError when it does not come back within `timeout`, TransportError when it
  ///         came back but cannot be opened, CancelledError.
  using Reopen = std::function<std::unique_ptr<transport::UsbControlPort>(
      const usb::Identity& previous, std::chrono::milliseconds timeout, const CancelToken* cancel)>;

  /// How long the board may take to come back after each hand-over, by the stage that left.
  struct ReconnectTimeouts {
    std::chrono::milliseconds after_rom{10000};    ///< ROM -> TF-A (MP13/MP25 DETACH)
    std::chrono::milliseconds after_tfa{30000};    ///< TF-A -> U-Boot (DDR init, U-Boot start)
    std::chrono::milliseconds after_uboot{15000};  ///< U-Boot layout -> partition gadget
  };
  struct Options {
    dfu::Options dfu;
    ReconnectTimeouts reconnect;
    /// The loop's clock when the hooks give none (a VirtualClock for in-process simulated boards);
    /// null: real time.
    std::shared_ptr<DriveClock> clock;
  };

  UsbDevice(std::unique_ptr<transport::UsbControlPort> port, Reopen reopen, Options options);

  std::string describe() const override { return port_->describe(); }
  Link link() const override { return Link::usb; }

  /// From the product string ("@Device ID /0x501").
  std::uint16_t get_id() override;
  PhaseInfo get_phase() override;
  void do_download(ByteView data, const DownloadOptions& options) override;
  void download_stream(const DataReader& reader, std::uint64_t size, const DownloadOptions& options) override;
  bool can_write_extents() const override;
  void write_extents(const DataReader& reader, const std::vector<Extent>& extents,
                     const DownloadOptions& options) override;
  /// The virtual alt's command (PROTOCOL.md 3.6): [phase, BE32 offset]: for the current phase it
  /// sets U-Boot's write/read offset, for another partition it makes that one current.
  void set_phase_offset(std::uint8_t phase, std::uint32_t offset);
  /// 0xFFFFFFFF: finish the current phase the USB way: act on a pending hand-over (DETACH and
  /// reconnect when the device asks for it). Other addresses are not available over DFU here.
  void start(std::uint32_t address) override;
  /// DFU upload of the alt carrying `phase`, `length` bytes (then DFU_ABORT if the device has more).
  void read_stream(std::uint8_t phase, std::uint64_t length, const DataSink& sink,
                   const ProgressFn& progress) override;
  LinkInfo link_info() const override;
  bool reset_detected(std::chrono::milliseconds wait) override;
  void close() override;
  void record_to(std::shared_ptr<trace::Writer> writer) override;

  /// DFU_DETACH, then wait for the next enumeration of the same board and open it.
  void detach_and_reconnect();
  /// Waits for the board to come back after it left the bus (the timeout of the stage that left),
  /// and opens it. When it does not come back, the TimeoutError says what was awaited and the
  /// likely causes for that hand-over (FIELD.md 1, 5); when it came back as the boot ROM although
  /// a later stage was expected, DeviceError(errc::device_reset).
  void reconnect();

  usb::Identity identity() const { return port_->identity(); }
  /// "rom", "tf-a", "u-boot", "unknown" from the product string.
  Stage stage() const;
  transport::UsbControlPort& port() { return *port_; }

 protected:
  void start_fsbl() override;

 private:
  /// Continues on the board's new enumeration with a fresh engine.
  void adopt(std::unique_ptr<transport::UsbControlPort> next);
  /// Runs the engine through session::drive_dfu with the device's hooks and clock.
  dfu::Done run(const std::function<void(const dfu::Event&)>& on_event = {}, const DataReader* reader = nullptr);
  /// A request without data (Get Phase, DETACH): a settled engine, `begin` starts the request, the
  /// loop runs it. On failure the error names the last phase known and the engine starts afresh.
  void run_request(const std::function<void(dfu::Engine&)>& begin);
  /// One DFU download: `begin` starts the engine's request; progress reports `base` + bytes of
  /// this transfer against `total`.
  void run_download(const DownloadOptions& options, const std::function<void(std::uint32_t transfer_size)>& begin,
                    const DataReader* reader, std::uint64_t base, std::uint64_t total, ProgressThrottle& progress);
  /// U-Boot keeps the last offset command's offset for the next partition: set it back to 0.
  void reset_offset_for(std::uint8_t phase);

  std::unique_ptr<transport::UsbControlPort> port_;
  Reopen reopen_;
  Options options_;
  dfu::Engine engine_;
  bool left_ = false;  // the device left the bus during the last request
  std::uint8_t last_phase_ = 0;
  bool phase_known_ = false;  // last_phase_ was reported or sent (errors then name it)
  std::uint8_t downloaded_phase_ = 0;  // phase of the last download (which stage a detach leaves)
  bool offset_set_ = false;  // U-Boot's stored offset is not 0 (extents were written)
  Bytes stream_window_;      // streamed downloads' window (up to 1 MiB), kept across downloads
};

}  // namespace mp1boot::session
