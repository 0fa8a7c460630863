// SPDX-License-Identifier: MIT
// The boot ROM's UART serial-boot model (see rom_uart.hpp). Byte tables: PROTOCOL.md 2.5; the
// FSBL checks: PROTOCOL.md 6.1-6.4.
#include "mp1boot/sim/rom_uart.hpp"

#include <algorithm>
#include <array>

#include "mp1boot/error.hpp"
#include "mp1boot/uart/wire.hpp"

namespace mp1boot::sim {

namespace {

constexpr std::uint32_t stm32_magic = 0x324D5453;  // 'S' 'T' 'M' 0x32
constexpr std::uint8_t rom_protocol_version = 0x40;  // Get: "USART bootloader protocol V4.0" [LOG]
constexpr std::uint8_t rom_version = 0x10;            // Get Version [LOG] (MP15: [INF])

std::uint32_t load_be32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
}

std::uint32_t major_of(std::uint32_t version) { return (version >> 16) & 0xFF; }

std::string hex_or_dec(std::uint32_t v) { return hex32(v) + " (" + std::to_string(v) + ")"; }

}  // namespace

std::uint32_t rom_download_capacity(const SocInfo& soc) {
  return soc.sysram_base + soc.sysram_size - soc.rom_download_address;
}

std::string rom_fsbl_problem(const SocInfo& soc, ByteView image) {
  constexpr std::size_t v2_base = 0x80;
  if (image.size() < v2_base)
    return "image of " + std::to_string(image.size()) + " bytes is shorter than an STM32 header";
  std::uint32_t magic = load_le32(&image[0x00]);
  if (magic != stm32_magic) return "bad magic " + hex32(magic) + " at offset 0x0";
  std::uint32_t version = load_le32(&image[0x48]);
  std::uint32_t wanted = major_of(soc.header_version);
  if (major_of(version) != wanted)
    return "header version " + hex32(version) + " at offset 0x48: " + std::string(soc.family_name) +
           " needs major version " + std::to_string(wanted);
  std::uint64_t header_size = 256;
  if (wanted >= 2) header_size = v2_base + std::uint64_t(load_le32(&image[0x68]));
  if (image.size() < header_size)
    return "header of " + std::to_string(header_size) + " bytes but only " +
           std::to_string(image.size()) + " bytes downloaded";
  std::uint32_t length = load_le32(&image[0x4C]);
  if (length > soc.max_fsbl_payload)
    return "image length " + hex_or_dec(length) + " exceeds the " +
           std::to_string(soc.max_fsbl_payload) + "-byte FSBL limit";
  if (header_size + length > image.size())
    return "image length " + hex_or_dec(length) + " but only " +
           std::to_string(image.size() - header_size) + " payload bytes downloaded";
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < length; ++i) sum += image[header_size + i];
  std::uint32_t stored = load_le32(&image[0x44]);
  if (sum != stored)
    return "payload checksum " + hex32(sum) + " does not match " + hex32(stored) +
           " stored at offset 0x44";
  return {};
}

RomUartStage::RomUartStage(const UartBoardOptions& options)
    : soc_(options.soc),
      read_memory_(options.rom_read_memory),
      accept_bad_image_(options.rom_accept_bad_image),
      byte_timeout_(options.rom_byte_timeout),
      capacity_(0) {
  if (soc_ == nullptr) throw UsageError(errc::usage, "UART board: no SoC given");
  if (soc_->family != SocFamily::stm32mp13 && soc_->family != SocFamily::stm32mp15)
    throw UsageError(errc::unsupported, "UART board: the ROM of " + std::string(soc_->family_name) +
                                            " is not modelled (STM32MP13x and STM32MP15x only)");
  capacity_ = rom_download_capacity(*soc_);
}

bool RomUartStage::supports(std::uint8_t cmd) const {
  using uart::Command;
  switch (static_cast<Command>(cmd)) {
    case Command::get:
    case Command::get_version:
    case Command::get_id:
    case Command::get_phase:
    case Command::start:
    case Command::download: return true;
    case Command::read_memory: return read_memory_ && soc_->family == SocFamily::stm32mp15;
    default: return false;
  }
}

std::optional<StageTimer> RomUartStage::timer() const {
  if (byte_timeout_.count() <= 0 || !last_byte_) return std::nullopt;
  if (state_ == State::wait_sync || state_ == State::idle) return std::nullopt;
  return StageTimer{*last_byte_ + byte_timeout_, false};
}

void RomUartStage::on_timer(UartLine& line) {
  // [UNK] ROM timeout handling: NACK the unfinished command and wait for the next one.
  line.send_byte(uart::nack);
  to_idle();
}

void RomUartStage::on_byte(std::uint8_t b, UartLine& line) {
  last_byte_ = line.now();
  switch (state_) {
    case State::wait_sync:
      // The ROM scans its UARTs for 0x7F; anything else is line noise to it [INF].
      if (b == uart::sync) {
        line.send_byte(uart::ack);
        to_idle();
      }
      return;
    case State::idle:
      if (b == uart::sync) {
        line.send_byte(uart::ack);
        return;
      }
      command_ = b;
      state_ = State::complement;
      return;
    case State::complement:
      if (!supports(command_) || static_cast<std::uint8_t>(command_ ^ b) != 0xFF) {
        line.send_byte(uart::nack);
        to_idle();
        return;
      }
      line.send_byte(uart::ack);
      execute(command_, line);
      return;
    case State::dl_address:
      frame_.push_back(b);
      if (frame_.size() == 5) end_download_address(line);
      return;
    case State::dl_length:
      data_length_ = std::size_t(b) + 1;
      frame_.assign(1, b);
      state_ = State::dl_data;
      return;
    case State::dl_data:
      frame_.push_back(b);
      if (frame_.size() == data_length_ + 1) state_ = State::dl_checksum;
      return;
    case State::dl_checksum:
      end_data(b, line);
      return;
    case State::start_address:
      frame_.push_back(b);
      if (frame_.size() == 5) end_start(line);
      return;
    case State::rm_address:
      frame_.push_back(b);
      if (frame_.size() == 5) end_read_address(line);
      return;
    case State::rm_length:
      frame_.push_back(b);
      if (frame_.size() == 2) end_read_length(line);
      return;
  }
}

void RomUartStage::execute(std::uint8_t cmd, UartLine& line) {
  using uart::Command;
  frame_.clear();
  switch (static_cast<Command>(cmd)) {
    case Command::get: {
      Bytes reply{0, rom_protocol_version, 0x00, 0x01, 0x02, 0x03};
      if (supports(0x11)) reply.push_back(0x11);
      reply.push_back(0x21);
      reply.push_back(0x31);
      reply[0] = static_cast<std::uint8_t>(reply.size() - 2);  // number of command codes
      reply.push_back(uart::ack);
      line.send(reply);
      to_idle();
      return;
    }
    case Command::get_version: {
      // Version then two option bytes, AN3155 style [LOG] (MP13).
      const std::array<std::uint8_t, 4> reply{rom_version, 0x00, 0x00, uart::ack};
      line.send(reply);
      to_idle();
      return;
    }
    case Command::get_id: {
      const std::array<std::uint8_t, 4> reply{0x01, static_cast<std::uint8_t>(soc_->device_id >> 8),
                                              static_cast<std::uint8_t>(soc_->device_id & 0xFF),
                                              uart::ack};
      line.send(reply);
      to_idle();
      return;
    }
    case Command::get_phase: {
      // N=6, phase, address LE32, X=1, one reserved byte 0x00 [LOG].
      std::array<std::uint8_t, 9> reply{0x06, 0x01, 0, 0, 0, 0, 0x01, 0x00, uart::ack};
      store_le32(&reply[2], soc_->rom_download_address);
      line.send(reply);
      to_idle();
      return;
    }
    case Command::download: state_ = State::dl_address; return;
    case Command::start: state_ = State::start_address; return;
    case Command::read_memory: state_ = State::rm_address; return;
    default: to_idle(); return;  // not reached: supports() filtered the code
  }
}

void RomUartStage::end_download_address(UartLine& line) {
  std::uint8_t op = frame_[0];
  std::uint32_t packet = std::uint32_t(frame_[1]) << 16 | std::uint32_t(frame_[2]) << 8 | frame_[3];
  bool ok = uart::xor_of(ByteView(frame_.data(), 4)) == frame_[4] &&
            op == static_cast<std::uint8_t>(uart::DownloadOp::normal) &&  // [INF] other ops
            packet == expected_packet_;
  if (!ok) {
    line.send_byte(uart::nack);
    to_idle();
    return;
  }
  packet_ = packet;
  line.send_byte(uart::ack);
  frame_.clear();
  state_ = State::dl_length;
}

void RomUartStage::end_data(std::uint8_t checksum, UartLine& line) {
  // frame_ = N-1 followed by the N data bytes.
  std::uint64_t offset = std::uint64_t(packet_) * uart::max_packet;
  std::uint64_t end = offset + data_length_;
  bool ok = uart::xor_of(frame_) == checksum && end <= capacity_ &&
            !line.packet_fault(PacketFault::nack, 0x01, packet_);
  if (!ok) {
    line.send_byte(uart::nack);
    to_idle();
    return;
  }
  if (buffer_.size() < end) buffer_.resize(static_cast<std::size_t>(end), 0);
  std::copy(frame_.begin() + 1, frame_.end(), buffer_.begin() + static_cast<std::ptrdiff_t>(offset));
  ++expected_packet_;
  if (!line.packet_fault(PacketFault::lose_ack, 0x01, packet_)) line.send_byte(uart::ack);
  to_idle();
}

void RomUartStage::end_start(UartLine& line) {
  std::uint32_t address = load_be32(frame_.data());
  if (uart::xor_of(ByteView(frame_.data(), 4)) != frame_[4] || address != start_downloaded_image) {
    line.send_byte(uart::nack);
    to_idle();
    return;
  }
  std::string problem = rom_fsbl_problem(*soc_, buffer_);
  if (problem.empty()) {
    line.send_byte(uart::ack);
    line.complete_image(0x01, buffer_);
    exit_ = StageExit{StageExit::Kind::boot_next, "FSBL accepted"};
    to_idle();
    return;
  }
  if (accept_bad_image_) {
    line.send_byte(uart::ack);
    exit_ = StageExit{StageExit::Kind::halt, "ROM started a rejected FSBL: " + problem};
    to_idle();
    return;
  }
  // Stay in phase 0x01 and wait for a new download from packet 0.
  line.send_byte(uart::nack);
  buffer_.clear();
  expected_packet_ = 0;
  to_idle();
}

void RomUartStage::end_read_address(UartLine& line) {
  std::uint32_t address = load_be32(frame_.data());
  std::uint32_t low = std::min(soc_->sysram_base, soc_->rom_download_address);
  std::uint32_t high = soc_->sysram_base + soc_->sysram_size;
  if (uart::xor_of(ByteView(frame_.data(), 4)) != frame_[4] || address < low || address >= high) {
    line.send_byte(uart::nack);
    to_idle();
    return;
  }
  read_address_ = address;
  line.send_byte(uart::ack);
  frame_.clear();
  state_ = State::rm_length;
}

void RomUartStage::end_read_length(UartLine& line) {
  if (static_cast<std::uint8_t>(frame_[0] ^ frame_[1]) != 0xFF) {
    line.send_byte(uart::nack);
    to_idle();
    return;
  }
  std::size_t n = std::size_t(frame_[0]) + 1;
  Bytes reply;
  reply.reserve(n + 1);
  reply.push_back(uart::ack);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t a = std::uint64_t(read_address_) + i;
    std::uint8_t v = 0;
    if (a >= soc_->rom_download_address && a - soc_->rom_download_address < buffer_.size())
      v = buffer_[static_cast<std::size_t>(a - soc_->rom_download_address)];
    reply.push_back(v);
  }
  line.send(reply);
  to_idle();
}

}  // namespace mp1boot::sim
