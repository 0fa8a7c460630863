// SPDX-License-Identifier: MIT
// U-Boot "stm32prog serial" byte protocol model (see uboot_uart.hpp). Behaviour follows
// arch/arm/mach-stm32mp/cmd_stm32prog/stm32prog_serial.c; the code is written anew.
#include "mp1boot/sim/uboot_uart.hpp"

#include <array>
#include <utility>

#include "mp1boot/error.hpp"
#include "mp1boot/uart/wire.hpp"

namespace mp1boot::sim {

namespace {

constexpr std::uint8_t usart_bl_version = 0x40;  // "USART bootloader protocol V4.0"
constexpr std::uint8_t uboot_bl_version = 0x03;  // "V0.3"
constexpr std::array<std::uint8_t, 8> command_table{0x00, 0x01, 0x02, 0x03, 0x11, 0x12, 0x21, 0x31};

bool in_table(std::uint8_t b) {
  for (auto c : command_table)
    if (c == b) return true;
  return false;
}

const SocInfo& checked_soc(const SocInfo& soc) {
  if (soc.family != SocFamily::stm32mp13 && soc.family != SocFamily::stm32mp15)
    throw UsageError(errc::unsupported, "UART board: U-Boot of " + std::string(soc.family_name) +
                                            " is not modelled (STM32MP13x and STM32MP15x only)");
  return soc;
}

}  // namespace

UbootUartStage::UbootUartStage(const SocInfo& soc, UbootOptions options, std::shared_ptr<UbootHardware> hardware)
    : soc_(checked_soc(soc)),
      programmer_(soc, options, std::move(hardware)),
      data_timeout_(options.data_timeout),
      bad_packet_delay_(options.bad_packet_delay),
      bad_command_delay_(options.bad_command_delay),
      record_limit_(options.record_limit) {}

void UbootUartStage::result(std::uint8_t byte, UartLine& line) {
  // stm32prog_serial_result: drain RX, then the byte.
  line.flush_input();
  line.send_byte(byte);
}

void UbootUartStage::to_idle(UartLine& line) {
  (void)line;
  state_ = State::idle;
  if (programmer_.finished()) {
    exit_ = programmer_.finish();
    state_ = State::ended;
  }
}

void UbootUartStage::on_start(UartLine& line) {
  result(uart::nack, line);  // asks the host to resend what U-Boot missed while booting
  to_idle(line);
}

std::optional<StageTimer> UbootUartStage::timer() const {
  switch (state_) {
    case State::bad_command_wait:
    case State::dl_bad_wait:
    case State::start_wait: return StageTimer{wait_until_, true};
    case State::dl_data:
      if (data_timeout_.count() <= 0) return std::nullopt;
      return StageTimer{data_started_ + data_timeout_, false};
    default: return std::nullopt;
  }
}

void UbootUartStage::on_timer(UartLine& line) {
  switch (state_) {
    case State::bad_command_wait:
      result(uart::nack, line);
      to_idle(line);
      return;
    case State::dl_data:
      // "transmission error": wait for the end of the packet before the flush.
      state_ = State::dl_bad_wait;
      wait_until_ = line.now() + bad_packet_delay_;
      return;
    case State::dl_bad_wait:
      --packet_number_;
      result(uart::nack, line);
      to_idle(line);
      return;
    case State::start_wait:
      result(start_reply_, line);
      to_idle(line);
      return;
    default: return;
  }
}

std::uint32_t UbootUartStage::frame_be32(std::size_t at) const {
  return std::uint32_t(frame_[at]) << 24 | std::uint32_t(frame_[at + 1]) << 16 | std::uint32_t(frame_[at + 2]) << 8 |
         frame_[at + 3];
}

void UbootUartStage::on_byte(std::uint8_t b, UartLine& line) {
  switch (state_) {
    case State::ended:
    case State::bad_command_wait:
    case State::dl_bad_wait:
    case State::start_wait:
      return;
    case State::idle:
      if (b == uart::sync) {
        result(uart::ack, line);  // "Connected"
        return;
      }
      if (!in_table(b)) {
        state_ = State::bad_command_wait;
        wait_until_ = line.now() + bad_command_delay_;
        return;
      }
      command_ = b;
      state_ = State::complement;
      return;
    case State::complement:
      if (static_cast<std::uint8_t>(command_ ^ b) != 0xFF) {
        state_ = State::bad_command_wait;
        wait_until_ = line.now() + bad_command_delay_;
        return;
      }
      result(uart::ack, line);
      execute(line);
      return;
    case State::get_address:
      frame_.push_back(b);
      if (frame_.size() == 5) address_complete(line);
      return;
    case State::rm_length:
    case State::rp_length:
      frame_.push_back(b);
      if (frame_.size() < 2) return;
      if (static_cast<std::uint8_t>(frame_[0] ^ frame_[1]) != 0xFF) {
        result(uart::nack, line);
        to_idle(line);
        return;
      }
      if (state_ == State::rm_length) {
        result(uart::ack, line);
        line.send(programmer_.read_memory(received_packet_, std::size_t(frame_[0]) + 1));
        to_idle(line);
        return;
      }
      read_partition(line);
      return;
    case State::rp_header:
      frame_.push_back(b);
      if (frame_.size() < 6) return;
      if (uart::xor_of(ByteView(frame_.data(), 5)) != frame_[5]) {
        result(uart::nack, line);
        to_idle(line);
        return;
      }
      operation_ = frame_[0];
      received_packet_ = frame_be32(1);  // the offset
      line.send_byte(uart::ack);         // no flush before this one
      frame_.clear();
      state_ = State::rp_length;
      return;
    case State::dl_length:
      data_length_ = std::size_t(b) + 1;
      frame_.assign(1, b);
      data_started_ = line.now();
      state_ = State::dl_data;
      return;
    case State::dl_data:
      frame_.push_back(b);
      if (frame_.size() == data_length_ + 1) state_ = State::dl_checksum;
      return;
    case State::dl_checksum:
      frame_.push_back(b);
      download_data(line);
      return;
  }
}

void UbootUartStage::execute(UartLine& line) {
  frame_.clear();
  switch (command_) {
    case 0x00: {  // Get
      Bytes reply{static_cast<std::uint8_t>(command_table.size()), usart_bl_version};
      reply.insert(reply.end(), command_table.begin(), command_table.end());
      line.send(reply);
      result(uart::ack, line);
      break;
    }
    case 0x01:  // Get Version
      line.send_byte(uboot_bl_version);
      result(uart::ack, line);
      break;
    case 0x02: {  // Get ID
      const std::array<std::uint8_t, 3> reply{0x01, static_cast<std::uint8_t>(soc_.device_id >> 8),
                                              static_cast<std::uint8_t>(soc_.device_id & 0xFF)};
      line.send(reply);
      result(uart::ack, line);
      break;
    }
    case 0x03: {  // Get Phase
      const std::string message = programmer_.phase_message();
      const auto length = static_cast<std::uint8_t>(message.size());
      Bytes reply{static_cast<std::uint8_t>(length + 5), static_cast<std::uint8_t>(programmer_.phase() & 0xFF),
                  0, 0, 0, 0, length};
      store_le32(&reply[2], programmer_.phase_address());
      reply.insert(reply.end(), message.begin(), message.begin() + length);
      line.send(reply);
      result(uart::ack, line);
      programmer_.phase_reported();
      break;
    }
    case 0x11:  // Read Memory
    case 0x21:  // Start
    case 0x31:  // Download
      state_ = State::get_address;
      return;
    case 0x12:  // Read Partition
      state_ = State::rp_header;
      return;
    default: break;
  }
  to_idle(line);
}

void UbootUartStage::address_complete(UartLine& line) {
  const std::uint32_t address = frame_be32(0);
  if (uart::xor_of(ByteView(frame_.data(), 4)) != frame_[4]) {
    result(uart::nack, line);
    to_idle(line);
    return;
  }
  frame_.clear();
  switch (command_) {
    case 0x11:
      received_packet_ = address;
      result(uart::ack, line);
      state_ = State::rm_length;
      return;
    case 0x21: {
      const std::uint32_t phase = programmer_.phase();
      const bool ends_phase = address == start_downloaded_image || address == phase;
      const bool ok = programmer_.start(address) == 0;
      if (ok && ends_phase && phase <= phase::last_user)
        line.complete_image(static_cast<std::uint8_t>(phase), phase_data_);
      if (programmer_.phase() != phase || ends_phase) {
        phase_data_.clear();
        phase_bytes_ = 0;
      }
      // The end of the layout phase prepares the devices ('D' erases) before the final reply.
      const auto erasing = programmer_.take_erase_time();
      if (erasing.count() > 0) {
        state_ = State::start_wait;
        start_reply_ = ok ? uart::ack : uart::abort_byte;
        wait_until_ = line.now() + erasing;
        return;
      }
      result(ok ? uart::ack : uart::abort_byte, line);
      to_idle(line);
      return;
    }
    default: download_address(address, line); return;
  }
}

void UbootUartStage::download_address(std::uint32_t address, UartLine& line) {
  result(uart::ack, line);  // the address frame is fine: ACK before any other check
  operation_ = static_cast<std::uint8_t>(address >> 24);
  received_packet_ = address & 0x00FFFFFF;
  if (operation_ != 0x00 && operation_ != phase::otp && operation_ != phase::pmic) {
    result(uart::nack, line);
    to_idle(line);
    return;
  }
  if (received_packet_ == 0) {
    packet_number_ = 0;
    cursor_ = 0;
  } else {
    ++packet_number_;
  }
  if (received_packet_ != packet_number_) {
    --packet_number_;
    result(uart::nack, line);
    to_idle(line);
    return;
  }
  state_ = State::dl_length;
}

void UbootUartStage::download_data(UartLine& line) {
  // frame_ = N-1, N data bytes, XOR
  const std::uint8_t expected = uart::xor_of(ByteView(frame_.data(), frame_.size() - 1));
  const auto phase = static_cast<std::uint8_t>(programmer_.phase() & 0xFF);
  if (frame_.back() != expected || line.packet_fault(PacketFault::nack, phase, received_packet_)) {
    state_ = State::dl_bad_wait;  // "checksum error": wait, then flush and NACK
    wait_until_ = line.now() + bad_packet_delay_;
    return;
  }
  const ByteView data(frame_.data() + 1, data_length_);
  int ret = 0;
  switch (operation_) {
    case phase::otp: ret = programmer_.otp_write(cursor_, data); break;
    case phase::pmic: ret = programmer_.pmic_write(cursor_, data); break;
    default: ret = programmer_.write(data); break;
  }
  if (ret != 0) {
    result(uart::abort_byte, line);
    to_idle(line);
    return;
  }
  cursor_ += static_cast<std::uint32_t>(data_length_);
  if (operation_ == 0x00) {
    phase_bytes_ += data.size();
    if (phase_bytes_ <= record_limit_) phase_data_.insert(phase_data_.end(), data.begin(), data.end());
    else Bytes().swap(phase_data_);  // written to storage, not kept
  }
  if (line.packet_fault(PacketFault::lose_ack, phase, received_packet_)) {
    line.flush_input();
    to_idle(line);
    return;
  }
  result(uart::ack, line);
  to_idle(line);
}

void UbootUartStage::read_partition(UartLine& line) {
  const std::size_t size = std::size_t(frame_[0]) + 1;
  Bytes out;
  const int got = programmer_.read_partition(operation_, received_packet_, size, out);
  if (got <= 0) {
    result(uart::abort_byte, line);
    to_idle(line);
    return;
  }
  line.send_byte(uart::ack);
  line.send(out);  // valid bytes then zero filler, no final ACK
  to_idle(line);
}

SsblFactory make_uboot_factory(UbootOptions options, std::shared_ptr<UbootHardware> hardware) {
  // Shared by every copy of the factory; the hardware (and its image folder) is only created
  // when U-Boot first runs.
  auto holder = std::make_shared<std::shared_ptr<UbootHardware>>(std::move(hardware));
  return [options = std::move(options), holder](const HandoverInfo& info) -> std::unique_ptr<UartStage> {
    if (info.soc == nullptr) throw UsageError(errc::usage, "U-Boot model: no SoC in the hand-over");
    if (!*holder) *holder = std::make_shared<UbootHardware>(options.storage);
    const std::shared_ptr<UbootHardware>& hardware = *holder;
    if (options.preloaded_layout.empty() && info.images != nullptr) {
      auto legacy = info.images->find(phase::flash_layout);
      if (legacy != info.images->end()) {
        UbootOptions with_layout = options;
        with_layout.preloaded_layout = legacy->second;
        return std::make_unique<UbootUartStage>(*info.soc, std::move(with_layout), hardware);
      }
    }
    return std::make_unique<UbootUartStage>(*info.soc, options, hardware);
  };
}

}  // namespace mp1boot::sim
