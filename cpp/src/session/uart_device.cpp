// SPDX-License-Identifier: MIT
// UartDevice: UART operations through the driver loop.
#include "mp1boot/session/uart_device.hpp"

#include <algorithm>
#include <utility>

#include "progress_throttle.hpp"

namespace mp1boot::session {

UartDevice::UartDevice(std::unique_ptr<transport::ByteStream> stream, uart::EngineOptions options)
    : stream_(std::move(stream)), options_(options), engine_(options) {}

void UartDevice::run(const std::function<void(uart::Engine&)>& request, const DriveHooks& hooks,
                     const ErrorContext& context) {
  // After an error or a cancellation the line state is unknown: start from a fresh engine; its
  // retries drain the line before resending.
  if (engine_.failed() || engine_.busy()) engine_ = uart::Engine(options_);
  request(engine_);
  try {
    drive(engine_, *stream_, drive_hooks(hooks));
  } catch (Error& e) {
    e.add_context(context);
    engine_ = uart::Engine(options_);
    throw;
  } catch (...) {
    engine_ = uart::Engine(options_);
    throw;
  }
}

void UartDevice::sync() {
  run([](uart::Engine& e) { e.sync(); });
}

uart::GetReply UartDevice::get() {
  run([](uart::Engine& e) { e.get(); });
  return engine_.get_reply();
}

uart::VersionReply UartDevice::get_version() {
  run([](uart::Engine& e) { e.get_version(); });
  return engine_.version_reply();
}

std::uint16_t UartDevice::get_id() {
  run([](uart::Engine& e) { e.get_id(); });
  soc_ = soc_by_device_id(engine_.id());
  return engine_.id();
}

PhaseInfo UartDevice::get_phase() {
  run([](uart::Engine& e) { e.get_phase(); });
  return engine_.phase_info();
}

Bytes UartDevice::read_memory(std::uint32_t address, std::size_t length) {
  Bytes out;
  out.reserve(length);
  while (out.size() < length) {
    const std::size_t n = std::min(uart::max_packet, length - out.size());
    const auto at = static_cast<std::uint32_t>(address + out.size());
    run([&](uart::Engine& e) { e.read_memory(at, n); });
    out.insert(out.end(), engine_.data().begin(), engine_.data().end());
  }
  return out;
}

void UartDevice::read_range(std::uint8_t id, std::uint64_t offset, std::uint64_t length, const DataSink& sink,
                            const ProgressFn& progress_fn) {
  if (offset + length > 0x100000000ull)
    throw UsageError(errc::unsupported, "Read Partition offsets are 32-bit: cannot read up to byte " +
                                            std::to_string(offset + length) + " over UART",
                     ErrorContext{.operation = "read_partition", .phase = id, .transport = describe()});
  ProgressThrottle progress(progress_fn, Progress{"read", id, "", 0, length});
  progress.update(0, length);
  std::uint64_t done = 0;
  while (done < length) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(uart::max_packet, length - done));
    run([&](uart::Engine& e) { e.read_partition(id, static_cast<std::uint32_t>(offset + done), n); }, hooks_,
        ErrorContext{.operation = "read_partition", .phase = id, .bytes_sent = done, .bytes_total = length});
    if (engine_.data().empty())
      throw ProtocolError(errc::unexpected_byte, "Read Partition returned no data at offset " + std::to_string(offset + done),
                          ErrorContext{.operation = "read_partition", .phase = id, .transport = describe()});
    sink(offset + done, engine_.data());
    done += engine_.data().size();
    progress.update(done, length);
  }
}

Bytes UartDevice::read_partition(std::uint8_t id, std::uint32_t offset, std::size_t length, const ProgressFn& progress) {
  Bytes out;
  out.reserve(length);
  read_range(id, offset, length, [&](std::uint64_t, ByteView data) { out.insert(out.end(), data.begin(), data.end()); },
             progress);
  return out;
}

void UartDevice::read_stream(std::uint8_t phase, std::uint64_t length, const DataSink& sink, const ProgressFn& progress) {
  read_range(phase, 0, length, sink, progress);
}

bool UartDevice::reset_detected(std::chrono::milliseconds wait) {
  // The ROM answers the 0x7F synchronisation byte with ACK and reports phase 0x01; U-Boot and
  // TF-A NACK or ignore it. Only the link's own errors mean "no".
  const auto deadline = std::chrono::steady_clock::now() + wait;
  do {
    try {
      sync();
      return get_phase().phase == phase::fsbl;
    } catch (const CancelledError&) {
      throw;
    } catch (const Error&) {
      // not the ROM (yet)
    }
  } while (std::chrono::steady_clock::now() < deadline);
  return false;
}

namespace {
/// What a closed UartDevice talks to: every operation is a UsageError.
class ClosedStream final : public transport::ByteStream {
 public:
  explicit ClosedStream(std::string describe) : describe_(std::move(describe)) {}
  void write(ByteView) override { throw_closed(describe_, "write"); }
  std::size_t read_some(std::span<std::uint8_t>, std::chrono::milliseconds) override { throw_closed(describe_, "read"); }
  void flush_input() override { throw_closed(describe_, "flush"); }
  std::string describe() const override { return describe_; }

 private:
  std::string describe_;
};
}  // namespace

void UartDevice::close() {
  if (closed_) return;
  stream_ = std::make_unique<ClosedStream>(stream_->describe());  // the port is released here
  finish_close();
}

LinkInfo UartDevice::link_info() const {
  LinkInfo info;
  info.link = Link::uart;
  info.port_path = describe();
  if (stream_->line_rate() > 0) info.speed = std::to_string(static_cast<long>(stream_->line_rate() * 11 + 0.5)) + " baud";
  return info;
}

void UartDevice::do_download(ByteView data, const DownloadOptions& options) {
  ProgressThrottle progress(options.progress, Progress{"download", options.phase, options.name, 0, data.size()});
  progress.update(0, data.size());
  DriveHooks hooks = hooks_;
  auto user_event = hooks_.on_event;
  hooks.on_event = [&](const uart::Event& ev) {
    if (auto* p = std::get_if<uart::PacketAcked>(&ev)) progress.update(p->bytes_done, p->bytes_total);
    if (user_event) user_event(ev);
  };
  ErrorContext context;
  context.phase = options.phase;
  context.partition = options.name;
  const auto t0 = std::chrono::steady_clock::now();
  run([&](uart::Engine& e) { e.download(data, options.op); }, hooks, context);
  last_.bytes = data.size();
  last_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  last_.bytes_per_second = last_.seconds > 0 ? double(data.size()) / last_.seconds : 0;
  last_.line_fraction = stream_->line_rate() > 0 ? last_.bytes_per_second / stream_->line_rate() : 0;
}

void UartDevice::start(std::uint32_t address) {
  const auto final_reply = options_.timeouts.start + std::exchange(busy_after_, std::chrono::milliseconds(0));
  run([&](uart::Engine& e) { e.start(address, final_reply); });
}

}  // namespace mp1boot::session
