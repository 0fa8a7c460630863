// SPDX-License-Identifier: MIT
// Names of UART commands, reply bytes and phases.
#include "mp1boot/uart/wire.hpp"

namespace mp1boot::uart {

std::string_view command_name(Command c) {
  switch (c) {
    case Command::get: return "Get";
    case Command::get_version: return "Get Version";
    case Command::get_id: return "Get ID";
    case Command::get_phase: return "Get Phase";
    case Command::read_memory: return "Read Memory";
    case Command::read_partition: return "Read Partition";
    case Command::start: return "Start";
    case Command::download: return "Download";
  }
  return "unknown command";
}

std::string_view reply_name(std::uint8_t b) {
  switch (b) {
    case ack: return "ACK";
    case nack: return "NACK";
    case abort_byte: return "ABORT";
    case sync: return "SYNC";
    default: return "";
  }
}

}  // namespace mp1boot::uart
