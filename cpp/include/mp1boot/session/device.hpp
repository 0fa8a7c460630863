// SPDX-License-Identifier: MIT
// session::Device: one connected board, whatever the link (UART or USB DFU). It runs the
// protocol operations through the driver loop, emits progress, and implements `boot`: validate
// the image for the SoC the device reports, download it, start it. Errors carry full context.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "mp1boot/bytes.hpp"
#include "mp1boot/phase.hpp"
#include "mp1boot/progress.hpp"
#include "mp1boot/session/binary.hpp"
#include "mp1boot/session/drive.hpp"
#include "mp1boot/soc.hpp"
#include "mp1boot/uart/wire.hpp"
#include "mp1boot/vocabulary.hpp"

namespace mp1boot::session {

/// The explicit consent irreversible writes need (OTP fuses only go from 0 to 1; the PMIC NVM
/// changes the board's power-up sequence). Device::download refuses OTP/PMIC data without it.
struct PermanentWrite {
  bool i_understand_this_is_permanent = false;
};

struct DownloadOptions {
  std::uint8_t phase = phase::fsbl;  ///< phase the data belongs to (context; USB alt choice)
  std::string name;                        ///< file or partition name, for messages and progress
  uart::DownloadOp op = uart::DownloadOp::normal;
  ProgressFn progress;
  /// Needed for OTP (phase/op 0xF2) and PMIC (0xF4) data; see session/nvm.hpp for the API.
  PermanentWrite consent;
  /// Time the device may need after this download on top of the usual bound before the next
  /// start() sees it answer (UART: the Start's final ACK; USB: the next enumeration): U-Boot's
  /// erase of the layout's 'D' lines (erase_allowance() in session/plan.hpp).
  std::chrono::milliseconds busy_after{0};
};

struct TransferStats {
  std::uint64_t bytes = 0;
  double seconds = 0;
  double bytes_per_second = 0;
  double line_fraction = 0;   ///< bytes_per_second / line rate; 0 when the link has no line rate
};

/// Where and how the board is attached, for reports (fields empty when the link has no such thing).
struct LinkInfo {
  Link link = Link::unknown;  ///< uart or usb
  std::string serial;      ///< USB iSerialNumber (the board's identity across re-enumerations)
  std::string port_path;   ///< USB "1-1.4"; UART: the port
  std::string speed;       ///< USB "high", "full", ...; UART: "115200 baud"
  Stage stage = Stage::unknown;  ///< USB: rom, tf-a, u-boot from the product string (UART: unknown)
  std::string revision;    ///< USB: "0x1003" (@Revision ID of the product string)
};

struct BootResult {
  std::string soc;              ///< "STM32MP13x"
  std::uint8_t phase = 0;       ///< phase loaded (0x01)
  TransferStats transfer;
  std::string image;            ///< name of the image
};

/// Receives read-back data in order: its offset inside the partition, then the bytes (valid
/// during the call only).
using DataSink = std::function<void(std::uint64_t offset, ByteView data)>;

/// Not thread-safe: one thread drives a device at a time; cancel() may be called from any thread.
class Device {
 public:
  virtual ~Device() = default;
  virtual std::string describe() const = 0;
  virtual Link link() const = 0;                   ///< Link::uart or Link::usb

  virtual std::uint16_t get_id() = 0;              ///< DBGMCU device id (0x500, 0x501, ...)
  virtual PhaseInfo get_phase() = 0;
  /// Downloads `data` for `options.phase`. OTP (0xF2) and PMIC (0xF4) data, by phase or by
  /// Download operation, are refused without `options.consent` (UsageError, nothing sent): no
  /// path from C++ or Python reaches the fuses without it.
  void download(ByteView data, const DownloadOptions& options);
  /// Downloads `size` bytes that `reader` provides. USB streams them in bounded chunks; the
  /// default (UART) reads them whole first, then download().
  virtual void download_stream(const DataReader& reader, std::uint64_t size, const DownloadOptions& options);
  /// True when write_extents() is available (U-Boot over USB: the virtual alt's offset command).
  virtual bool can_write_extents() const { return false; }
  /// Writes only `extents` of the image of the current partition (options.phase): for each, the
  /// offset command then a DFU download of its bytes; each manifestation ends U-Boot's phase, so
  /// each extent names the partition again (PROTOCOL.md 3.6). Progress counts the bytes sent.
  /// @throws UsageError(errc::unsupported) where not available.
  virtual void write_extents(const DataReader& reader, const std::vector<Extent>& extents,
                             const DownloadOptions& options);
  virtual void start(std::uint32_t address) = 0;
  /// Reads the first `length` bytes of the partition (or virtual partition: OTP 0xF2, PMIC 0xF4)
  /// with this phase id from U-Boot stm32prog: Read Partition on UART, DFU upload on the
  /// partition's alternate setting on USB. The bytes reach `sink` in order, in bounded chunks, so
  /// memory does not grow with `length`. The read starts at offset 0: setting a read offset
  /// through the virtual alt would make that partition U-Boot's current phase again
  /// (PROTOCOL.md 3.6), also after 0xFE. Progress stage "read".
  virtual void read_stream(std::uint8_t phase, std::uint64_t length, const DataSink& sink,
                           const ProgressFn& progress) = 0;
  /// read_stream() collected in memory (OTP, PMIC, small partitions).
  Bytes read_back(std::uint8_t phase, std::uint64_t length, const ProgressFn& progress);
  virtual LinkInfo link_info() const = 0;
  /// After an operation failed on the link: looks (for at most `wait`) whether the board now
  /// answers as the boot ROM, i.e. it reset. Never throws for link errors (false then).
  virtual bool reset_detected(std::chrono::milliseconds wait) = 0;

  /// Downloads a complete STM32 image (header included) as phase 0x01 and starts it. The image is
  /// checked against the SoC the device reports before the first byte is sent.
  /// @throws LayoutError for a bad image (nothing sent), the protocol errors otherwise.
  virtual BootResult boot(ByteView image, std::string_view name, ProgressFn progress);

  /// Releases the port (serial line, USB handle, simulated board). Later operations throw
  /// UsageError ("... was closed"); describe() and link_info() keep answering. Idempotent.
  virtual void close() = 0;
  bool closed() const { return closed_; }

  /// Records every later exchange of this device into a field trace (trace.hpp); a USB device
  /// records the enumeration it has open first. connect() calls it before the first byte when
  /// ConnectOptions::record is set, so a trace holds the whole session. Null stops recording.
  virtual void record_to(std::shared_ptr<trace::Writer> writer) { record_ = std::move(writer); }
  const std::shared_ptr<trace::Writer>& recording() const { return record_; }

  /// A check close() runs after releasing the port (a replayed trace: did the host go through
  /// the whole trace?). It may throw; close() then still leaves the device closed.
  void set_close_check(std::function<void()> check) { close_check_ = std::move(check); }

  /// Trace, cancellation and polling hooks for every later operation.
  void set_hooks(DriveHooks hooks) { hooks_ = std::move(hooks); }
  DriveHooks& hooks() { return hooks_; }
  /// The SoC from the last get_id(), if known.
  const SocInfo* soc() const { return soc_; }

 protected:
  /// The link's download (consent already checked).
  virtual void do_download(ByteView data, const DownloadOptions& options) = 0;
  /// Last step of boot(): what starts the FSBL on this link.
  virtual void start_fsbl() = 0;
  virtual double line_rate() const { return 0; }
  /// hooks_ with the field trace of record_to() added.
  DriveHooks drive_hooks(const DriveHooks& hooks) const {
    DriveHooks h = hooks;
    if (!h.record) h.record = record_.get();
    return h;
  }
  /// Ends close(): marks the device closed and runs the close check once.
  void finish_close();
  DriveHooks hooks_;
  std::shared_ptr<trace::Writer> record_;
  std::function<void()> close_check_;
  const SocInfo* soc_ = nullptr;
  bool closed_ = false;
  /// DownloadOptions::busy_after of the last download, for the next start(); taken by it.
  std::chrono::milliseconds busy_after_{0};
};

/// The UsageError every operation on a closed device throws.
[[noreturn]] void throw_closed(const std::string& describe, const char* operation);

}  // namespace mp1boot::session
