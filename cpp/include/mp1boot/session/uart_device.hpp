// SPDX-License-Identifier: MIT
// session::UartDevice: a board on a byte link (serial port, pty, in-process simulator), driven by
// the UART engine through session::drive.
#pragma once
#include <memory>

#include "mp1boot/session/device.hpp"
#include "mp1boot/transport/byte_stream.hpp"
#include "mp1boot/uart/engine.hpp"

namespace mp1boot::session {

class UartDevice : public Device {
 public:
  UartDevice(std::unique_ptr<transport::ByteStream> stream, uart::EngineOptions options = {});

  std::string describe() const override { return stream_->describe(); }
  Link link() const override { return Link::uart; }

  void sync();                                          ///< 0x7F -> ACK
  uart::GetReply get();
  uart::VersionReply get_version();
  std::uint16_t get_id() override;
  PhaseInfo get_phase() override;
  /// Any length: split into reads of <= 256 bytes.
  Bytes read_memory(std::uint32_t address, std::size_t length);
  /// Any length: split into reads of <= 256 bytes at increasing offsets.
  Bytes read_partition(std::uint8_t id, std::uint32_t offset, std::size_t length, const ProgressFn& progress = {});
  void read_stream(std::uint8_t phase, std::uint64_t length, const DataSink& sink,
                   const ProgressFn& progress) override;
  LinkInfo link_info() const override;
  bool reset_detected(std::chrono::milliseconds wait) override;
  void do_download(ByteView data, const DownloadOptions& options) override;
  void start(std::uint32_t address) override;
  void close() override;

  transport::ByteStream& stream() { return *stream_; }
  TransferStats last_transfer() const { return last_; }

 protected:
  void start_fsbl() override { start(start_downloaded_image); }
  double line_rate() const override { return stream_->line_rate(); }

 private:
  /// Starts `request` on a fresh engine if needed and drives it; after any error the engine is
  /// replaced (the line state is unknown) and `context` is added to the error.
  void run(const std::function<void(uart::Engine&)>& request, const DriveHooks& hooks,
           const ErrorContext& context = {});
  void run(const std::function<void(uart::Engine&)>& request) { run(request, hooks_); }
  /// Read Partition requests of <= 256 bytes from `offset` on, each handed to `sink`.
  void read_range(std::uint8_t id, std::uint64_t offset, std::uint64_t length, const DataSink& sink,
                  const ProgressFn& progress);

  std::unique_ptr<transport::ByteStream> stream_;
  uart::EngineOptions options_;
  uart::Engine engine_;
  TransferStats last_;
};

}  // namespace mp1boot::session
