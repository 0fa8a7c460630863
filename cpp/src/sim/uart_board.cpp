// SPDX-License-Identifier: MIT
// UartBoard: the RX FIFO, device time, stage hand-over, line faults and recording around the
// stage models (rom_uart.cpp, tfa_uart.cpp). See uart_board.hpp for the time model.
#include "mp1boot/sim/uart_board.hpp"

#include <algorithm>
#include <deque>
#include <utility>

#include "mp1boot/error.hpp"
#include "mp1boot/sim/rom_uart.hpp"
#include "mp1boot/sim/tfa_uart.hpp"

namespace mp1boot::sim {

namespace {
using TimePoint = transport::BytePeer::Clock::time_point;

struct RxByte {
  std::uint8_t value;
  TimePoint at;
};

/// Which boot step the running stage is.
enum class Step { rom, tfa, ssbl, end };
}  // namespace

struct UartBoard::Impl final : UartLine {
  explicit Impl(UartBoardOptions opts)
      : options(std::move(opts)), faults(options.faults), recorder(options.record_dir) {
    if (options.soc == nullptr) throw UsageError(errc::usage, "UART board: no SoC given (options.soc)");
    if (options.start_stage == StartStage::tfa) {
      stage = std::make_unique<TfaUartStage>(options);
      step = Step::tfa;
    } else {
      stage = std::make_unique<RomUartStage>(options);
      step = Step::rom;
    }
  }

  // --- UartLine -------------------------------------------------------------------------------
  SimClock::time_point now() const override { return device_time; }

  void send(ByteView bytes) override {
    Bytes line;
    line.reserve(bytes.size());
    for (std::uint8_t b : bytes) {
      std::uint64_t index = tx_count++;
      if (faults.silent_after_tx_bytes && index >= *faults.silent_after_tx_bytes) continue;
      auto drop = std::find(faults.drop_tx_bytes.begin(), faults.drop_tx_bytes.end(), index);
      if (drop != faults.drop_tx_bytes.end()) {
        faults.drop_tx_bytes.erase(drop);
        continue;
      }
      auto corrupt = std::find_if(faults.corrupt_tx_bytes.begin(), faults.corrupt_tx_bytes.end(),
                                  [&](const auto& c) { return c.first == index; });
      if (corrupt != faults.corrupt_tx_bytes.end()) {
        b = corrupt->second;
        faults.corrupt_tx_bytes.erase(corrupt);
      }
      line.push_back(b);
    }
    out.insert(out.end(), line.begin(), line.end());
    recorder.tx(line, device_time);
  }

  void flush_input() override {
    while (!rx.empty() && rx.front().at <= device_time) rx.pop_front();
  }

  void complete_image(std::uint8_t phase, ByteView image) override { recorder.image(phase, image); }

  bool packet_fault(PacketFault fault, std::uint8_t phase, std::uint32_t packet) override {
    auto& list = fault == PacketFault::nack ? faults.nack_packets : faults.lose_packet_acks;
    auto it = std::find_if(list.begin(), list.end(), [&](const PacketRef& p) {
      return p.phase == phase && p.packet == packet;
    });
    if (it == list.end()) return false;
    list.erase(it);
    return true;
  }

  // --- scheduling -----------------------------------------------------------------------------
  void set_stage(std::unique_ptr<UartStage> next, Step next_step, TimePoint at) {
    stage = std::move(next);
    step = next_step;
    started = false;
    start_at = at;
  }

  void silence(const char* name, std::uint8_t phase) {
    set_stage(std::make_unique<SilentStage>(name, phase), Step::end, device_time);
  }

  /// Power-on again: the ROM waits for its synchronisation byte; pending input is lost.
  void reset_board() {
    rx.clear();
    reset_bytes = 0;
    set_stage(std::make_unique<RomUartStage>(options), Step::rom, device_time + std::chrono::milliseconds(1));
  }

  /// Replaces the stage when it has ended. Called right after every stage callback.
  void handle_exit() {
    auto e = stage->exit();
    if (!e) return;
    if (e->kind == StageExit::Kind::halt) {
      silence("halted", 0xFF);
      return;
    }
    if (e->kind == StageExit::Kind::reset) return reset_board();
    switch (step) {
      case Step::rom:
        if (faults.tfa_crash) {
          silence("halted", 0xFF);
        } else {
          set_stage(std::make_unique<TfaUartStage>(options), Step::tfa,
                    device_time + options.tfa_boot_delay);
        }
        return;
      case Step::tfa:
        if (options.ssbl_factory) {
          HandoverInfo info{options.soc, &recorder.images()};
          if (auto next = options.ssbl_factory(info)) {
            set_stage(std::move(next), Step::ssbl, device_time + options.ssbl_boot_delay);
            return;
          }
        }
        silence("booted", 0xFE);
        return;
      case Step::ssbl:
      case Step::end: silence("booted", 0xFE); return;
    }
  }

  void fire_timer(TimePoint at) {
    device_time = std::max(device_time, at);
    stage->on_timer(*this);
    handle_exit();
  }

  /// Runs the device up to `now`: stage starts, timers and queued bytes, in device-time order.
  void advance(TimePoint now) {
    if (!have_time) {
      have_time = true;
      device_time = now;
      if (!start_at) start_at = now;
    }
    latest = std::max(latest, now);
    now = latest;
    for (;;) {
      if (!started) {
        if (*start_at > now) return;
        device_time = std::max(device_time, *start_at);
        started = true;
        recorder.stage(stage->name(), stage->phase(), device_time);
        stage->on_start(*this);
        handle_exit();
        continue;
      }
      auto timer = stage->timer();
      if (timer && timer->blocks_input) {
        if (timer->at > now) return;
        fire_timer(timer->at);
        continue;
      }
      if (!rx.empty()) {
        TimePoint arrival = rx.front().at;
        if (timer && timer->at < arrival) {
          fire_timer(timer->at);
          continue;
        }
        device_time = std::max(device_time, arrival);
        std::uint8_t b = rx.front().value;
        rx.pop_front();
        if (faults.reset_during && step == Step::ssbl && stage->phase() == faults.reset_during->phase &&
            ++reset_bytes > faults.reset_during->after_bytes) {
          faults.reset_during.reset();
          reset_board();
          continue;
        }
        stage->on_byte(b, *this);
        handle_exit();
        continue;
      }
      if (timer && timer->at <= now) {
        fire_timer(timer->at);
        continue;
      }
      return;
    }
  }

  UartBoardOptions options;
  UartFaultPlan faults;  ///< remaining faults (entries are consumed)
  Recorder recorder;
  std::unique_ptr<UartStage> stage;
  Step step = Step::rom;
  bool started = false;
  std::optional<TimePoint> start_at;
  bool have_time = false;
  TimePoint device_time{};
  TimePoint latest{};
  std::deque<RxByte> rx;
  Bytes out;
  std::uint64_t tx_count = 0;
  std::uint64_t reset_bytes = 0;  ///< bytes received in the reset fault's phase
};

UartBoard::UartBoard(UartBoardOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

UartBoard::~UartBoard() {
  try {
    write_records();
  } catch (...) {
    // A destructor must not throw; write_records() reports errors to callers who ask.
  }
}

void UartBoard::on_receive(ByteView bytes, Clock::time_point now) {
  impl_->advance(now);
  now = impl_->latest;
  for (std::uint8_t b : bytes) impl_->rx.push_back(RxByte{b, now});
  impl_->recorder.rx(bytes, now);
  impl_->advance(now);
}

Bytes UartBoard::take_output(Clock::time_point now) {
  impl_->advance(now);
  return std::exchange(impl_->out, Bytes{});
}

std::optional<UartBoard::Clock::time_point> UartBoard::next_deadline() const {
  if (!impl_->have_time) {
    // Not powered yet: a TF-A start stage has its NACK to send as soon as it is asked.
    if (impl_->options.start_stage == StartStage::tfa) return Clock::time_point{};
    return std::nullopt;
  }
  if (!impl_->started) return impl_->start_at;
  auto timer = impl_->stage->timer();
  if (timer) return timer->at;
  return std::nullopt;
}

void UartBoard::reset() { impl_->reset_board(); }

std::string UartBoard::stage() const { return std::string(impl_->stage->name()); }
std::uint8_t UartBoard::current_phase() const { return impl_->stage->phase(); }
bool UartBoard::booting() const { return !impl_->started && impl_->have_time; }
const std::map<std::uint8_t, Bytes>& UartBoard::received_images() const {
  return impl_->recorder.images();
}
const Recorder& UartBoard::recorder() const { return impl_->recorder; }
const UartStage& UartBoard::current_stage() const { return *impl_->stage; }
const UartBoardOptions& UartBoard::options() const { return impl_->options; }
void UartBoard::write_records() const { impl_->recorder.write(); }

}  // namespace mp1boot::sim
