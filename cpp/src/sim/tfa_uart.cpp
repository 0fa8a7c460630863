// SPDX-License-Identifier: MIT
// TF-A UART programmer model (see tfa_uart.hpp). Behaviour follows PROTOCOL.md 2.5/2.6 and the
// device-side source it cites (plat/st/common/stm32cubeprogrammer_uart.c); written anew here.
#include "mp1boot/sim/tfa_uart.hpp"

#include <array>
#include <cstdio>
#include <utility>

#include "mp1boot/error.hpp"
#include "mp1boot/uart/wire.hpp"

namespace mp1boot::sim {

namespace {

constexpr std::uint8_t protocol_version = 0x40;  // "USART bootloader protocol V4.0"
constexpr std::array<std::uint8_t, 6> command_table{0x00, 0x01, 0x02, 0x03, 0x21, 0x31};
constexpr std::size_t error_buffer = 64;  // TF-A keeps at most 63 characters + NUL

bool in_table(std::uint8_t b) {
  for (auto c : command_table)
    if (c == b) return true;
  return false;
}

std::string format(const char* fmt, std::uint32_t a, unsigned b) {
  char buf[128];
  std::snprintf(buf, sizeof buf, fmt, a, b);
  return buf;
}

}  // namespace

bool fip_header_ok(ByteView buffer) {
  std::array<std::uint8_t, 8> head{};
  for (std::size_t i = 0; i < head.size() && i < buffer.size(); ++i) head[i] = buffer[i];
  return load_le32(&head[0]) == fip_toc_header_name && load_le32(&head[4]) != 0;
}

TfaUartStage::TfaUartStage(const UartBoardOptions& options)
    : soc_(options.soc),
      version_(options.tfa_version),
      unsolicited_nack_(options.tfa_unsolicited_nack),
      byte_timeout_(options.tfa_byte_timeout),
      bad_command_delay_(options.tfa_bad_command_delay),
      banner_(options.faults.tfa_banner),
      buffer_address_(0),
      remaining_(options.tfa_buffer_size) {
  if (soc_ == nullptr) throw UsageError(errc::usage, "UART board: no SoC given");
  if (soc_->family != SocFamily::stm32mp13 && soc_->family != SocFamily::stm32mp15)
    throw UsageError(errc::unsupported, "UART board: TF-A of " + std::string(soc_->family_name) +
                                            " is not modelled (STM32MP13x and STM32MP15x only)");
  buffer_address_ = soc_->tfa_fip_buffer;
}

void TfaUartStage::send_result(std::uint8_t result, UartLine& line) {
  // TF-A drains every pending RX byte before it writes a result byte.
  line.flush_input();
  line.send_byte(result);
}

void TfaUartStage::fail(std::string message) {
  // The first error wins; the buffer is given up (address 0xFFFFFFFF, length 0, packet 0).
  if (phase_ == phase::reset) return;
  if (message.size() > error_buffer - 1) message.resize(error_buffer - 1);
  error_ = std::move(message);
  phase_ = phase::reset;
  buffer_valid_ = false;
  remaining_ = 0;
  packet_ = 0;
}

void TfaUartStage::begin(State s, UartLine& line) {
  state_ = s;
  read_started_ = line.now();
}

void TfaUartStage::finish(bool ok, UartLine& line) {
  send_result(ok ? uart::ack : uart::nack, line);
  begin(State::idle, line);
}

void TfaUartStage::bad_command(UartLine& line) {
  // "Delay to wait STM32CubeProgrammer end of transmission", then flush and NACK.
  state_ = State::bad_command_wait;
  nack_at_ = line.now() + bad_command_delay_;
}

void TfaUartStage::on_start(UartLine& line) {
  if (!banner_.empty())
    line.send(ByteView(reinterpret_cast<const std::uint8_t*>(banner_.data()), banner_.size()));
  if (unsolicited_nack_) {
    send_result(uart::nack, line);
  } else {
    line.flush_input();
  }
  begin(State::idle, line);
}

std::optional<StageTimer> TfaUartStage::timer() const {
  switch (state_) {
    case State::bad_command_wait: return StageTimer{nack_at_, true};
    case State::idle:
    case State::ended: return std::nullopt;
    default:
      if (byte_timeout_.count() <= 0) return std::nullopt;
      return StageTimer{read_started_ + byte_timeout_, false};
  }
}

void TfaUartStage::on_timer(UartLine& line) {
  switch (state_) {
    case State::bad_command_wait:
      send_result(uart::nack, line);
      begin(State::idle, line);
      return;
    case State::complement:
      // uart_receive_command() failed: same path as a bad command.
      bad_command(line);
      return;
    case State::idle:
    case State::ended: return;
    default:
      // A command body byte did not come within 20 ms.
      finish(false, line);
      return;
  }
}

void TfaUartStage::on_byte(std::uint8_t b, UartLine& line) {
  read_started_ = line.now();
  switch (state_) {
    case State::ended:
    case State::bad_command_wait:  // not delivered while the timer blocks input
      return;
    case State::idle:
      if (b == uart::sync) {
        send_result(uart::ack, line);  // reconnection: one ACK, no final result
        return;
      }
      if (!in_table(b)) {
        bad_command(line);
        return;
      }
      command_ = b;
      state_ = State::complement;
      return;
    case State::complement:
      if (static_cast<std::uint8_t>(command_ ^ b) != 0xFF) {
        bad_command(line);
        return;
      }
      send_result(uart::ack, line);
      execute(command_, line);
      return;
    case State::dl_header:
      frame_.push_back(b);
      xor_ ^= b;
      if (frame_.size() < 4) return;
      received_packet_ = std::uint32_t(frame_[1]) << 16 | std::uint32_t(frame_[2]) << 8 | frame_[3];
      // The packet number is checked before the XOR byte is even read.
      if (received_packet_ != packet_) {
        finish(false, line);
        return;
      }
      state_ = State::dl_xor;
      return;
    case State::dl_xor:
      if (b != xor_) {
        finish(false, line);
        return;
      }
      send_result(uart::ack, line);
      state_ = State::dl_length;
      return;
    case State::dl_length: {
      std::uint32_t size = std::uint32_t(b) + 1;
      if (remaining_ < size) {
        // Quirk: phase 0xFF, then the final ACK right away; the data bytes stay unread.
        std::uint32_t base = buffer_valid_ ? buffer_address_ + cursor_ : 0xFFFFFFFFu;
        fail(format("Download overflow at 0x%x\n", base + size, 0));
        finish(true, line);
        return;
      }
      xor_ = b;
      data_length_ = size;
      data_done_ = 0;
      state_ = State::dl_data;
      return;
    }
    case State::dl_data: {
      std::size_t at = std::size_t(cursor_) + data_done_;
      if (buffer_.size() <= at) buffer_.resize(at + 1, 0);
      buffer_[at] = b;  // written straight into the destination, before the checksum is known
      xor_ ^= b;
      if (++data_done_ == data_length_) state_ = State::dl_checksum;
      return;
    }
    case State::dl_checksum: {
      if (b != xor_ || line.packet_fault(PacketFault::nack, phase_, received_packet_)) {
        finish(false, line);  // counter unchanged: the host may resend this packet
        return;
      }
      std::uint32_t packet = packet_;
      ++packet_;
      cursor_ += static_cast<std::uint32_t>(data_length_);
      remaining_ -= static_cast<std::uint32_t>(data_length_);
      if (line.packet_fault(PacketFault::lose_ack, phase_, packet)) {
        line.flush_input();
        begin(State::idle, line);
        return;
      }
      finish(true, line);
      return;
    }
    case State::start_address:
      frame_.push_back(b);
      xor_ ^= b;
      if (frame_.size() == 4) state_ = State::start_xor;
      return;
    case State::start_xor: {
      if (b != xor_) {
        finish(false, line);
        return;
      }
      std::uint32_t address = std::uint32_t(frame_[0]) << 24 | std::uint32_t(frame_[1]) << 16 |
                              std::uint32_t(frame_[2]) << 8 | frame_[3];
      if (address != start_downloaded_image) {
        // Quirk: an error for the next Get Phase, but the reply is still ACK.
        fail(format("Invalid start at %x, for phase %u\n", address, phase_));
        finish(true, line);
        return;
      }
      if (!fip_header_ok(buffer_)) {
        fail(format("FIP Header check failed %x, for phase %u\n", buffer_address_, phase_));
        finish(false, line);
        return;
      }
      bool done = phase_ == requested_phase_;
      finish(true, line);
      if (done) {
        line.complete_image(requested_phase_, downloaded());
        exit_ = StageExit{StageExit::Kind::boot_next, "FIP accepted"};
        state_ = State::ended;
      }
      return;
    }
  }
}

void TfaUartStage::execute(std::uint8_t cmd, UartLine& line) {
  frame_.clear();
  xor_ = 0;
  switch (cmd) {
    case 0x00: {  // Get
      Bytes reply{static_cast<std::uint8_t>(command_table.size()), protocol_version};
      reply.insert(reply.end(), command_table.begin(), command_table.end());
      line.send(reply);
      finish(true, line);
      return;
    }
    case 0x01:  // Get Version: one byte, no option bytes
      line.send_byte(version_);
      finish(true, line);
      return;
    case 0x02: {  // Get ID: quirk, L = 0x02 although two ID bytes follow
      const std::array<std::uint8_t, 3> reply{0x02, static_cast<std::uint8_t>(soc_->device_id >> 8),
                                              static_cast<std::uint8_t>(soc_->device_id & 0xFF)};
      line.send(reply);
      finish(true, line);
      return;
    }
    case 0x03: {  // Get Phase
      Bytes reply{static_cast<std::uint8_t>(5 + error_.size()), phase_, 0, 0, 0, 0,
                  static_cast<std::uint8_t>(error_.size())};
      store_le32(&reply[2], buffer_address_);
      if (phase_ == phase::reset) reply.insert(reply.end(), error_.begin(), error_.end());
      line.send(reply);
      bool reset = phase_ == phase::reset;
      finish(true, line);
      if (reset) {
        exit_ = StageExit{StageExit::Kind::halt, "TF-A reset after reporting phase 0xFF: " + error_};
        state_ = State::ended;
      }
      return;
    }
    case 0x21: begin(State::start_address, line); return;
    case 0x31: begin(State::dl_header, line); return;
    default: finish(false, line); return;  // not reached: in_table() filtered the code
  }
}

}  // namespace mp1boot::sim
