// SPDX-License-Identifier: MIT
// Error category, context rendering.
#include "mp1boot/error.hpp"

#include "mp1boot/bytes.hpp"

namespace mp1boot {

namespace {
class Category : public std::error_category {
 public:
  const char* name() const noexcept override { return "mp1boot"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "success";
      case errc::nack: return "refused by device (NACK)";
      case errc::abort: return "aborted by device (ABORT)";
      case errc::bad_checksum: return "checksum mismatch";
      case errc::unexpected_byte: return "unexpected reply from device";
      case errc::timeout: return "timed out";
      case errc::dfu_status: return "DFU error status";
      case errc::device_reported: return "device reported an error";
      case errc::layout_syntax: return "flash layout syntax error";
      case errc::layout_rule: return "flash layout rule broken";
      case errc::bad_image: return "invalid image";
      case errc::file_not_found: return "file not found";
      case errc::no_device: return "no device found";
      case errc::multiple_devices: return "several devices found";
      case errc::permission_denied: return "permission denied";
      case errc::port_busy: return "port busy";
      case errc::disconnected: return "device disconnected";
      case errc::stall: return "request stalled by device";
      case errc::cancelled: return "cancelled";
      case errc::usage: return "invalid use";
      case errc::io: return "I/O error";
      case errc::unsupported: return "not supported";
      case errc::verify_mismatch: return "read-back differs from the data written";
      case errc::device_reset: return "the board reset";
      case errc::board_state: return "the board is not at a stage that programs a layout";
      case errc::other_board: return "the report names another board";
      case errc::needs_consent: return "the run needs the user's go-ahead";
      case errc::replay_mismatch: return "the host deviated from the replayed trace";
    }
    return "unknown mp1boot error";
  }
};
}  // namespace

const std::error_category& mp1boot_category() noexcept {
  static const Category category;
  return category;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), mp1boot_category()}; }

const char* errc_name(errc e) noexcept {
  switch (e) {
    case errc::ok: return "ok";
    case errc::nack: return "nack";
    case errc::abort: return "abort";
    case errc::bad_checksum: return "bad_checksum";
    case errc::unexpected_byte: return "unexpected_byte";
    case errc::timeout: return "timeout";
    case errc::dfu_status: return "dfu_status";
    case errc::device_reported: return "device_reported";
    case errc::layout_syntax: return "layout_syntax";
    case errc::layout_rule: return "layout_rule";
    case errc::bad_image: return "bad_image";
    case errc::file_not_found: return "file_not_found";
    case errc::no_device: return "no_device";
    case errc::multiple_devices: return "multiple_devices";
    case errc::permission_denied: return "permission_denied";
    case errc::port_busy: return "port_busy";
    case errc::disconnected: return "disconnected";
    case errc::stall: return "stall";
    case errc::cancelled: return "cancelled";
    case errc::usage: return "usage";
    case errc::io: return "io";
    case errc::unsupported: return "unsupported";
    case errc::verify_mismatch: return "verify_mismatch";
    case errc::device_reset: return "device_reset";
    case errc::board_state: return "board_state";
    case errc::other_board: return "other_board";
    case errc::needs_consent: return "needs_consent";
    case errc::replay_mismatch: return "replay_mismatch";
  }
  return "unknown";
}

void ErrorContext::merge_from(const ErrorContext& o) {
  if (operation.empty()) operation = o.operation;
  if (!phase) phase = o.phase;
  phase_unknown = phase_unknown || o.phase_unknown;
  if (partition.empty()) partition = o.partition;
  if (!packet) packet = o.packet;
  if (!bytes_sent) bytes_sent = o.bytes_sent;
  if (!bytes_total) bytes_total = o.bytes_total;
  if (transport.empty()) transport = o.transport;
  if (!layout_line) layout_line = o.layout_line;
  if (file.empty()) file = o.file;
}

Error::Error(errc code, std::string message, ErrorContext context)
    : std::runtime_error(message), code_(code), message_(std::move(message)), context_(std::move(context)) {
  render();
}

void Error::add_context(const ErrorContext& more) {
  context_.merge_from(more);
  render();
}

// "download refused by device (NACK): phase 0x01 "fsbl1", packet 37, 9472/262400 bytes
//  acknowledged [serial:/dev/ttyACM0@115200]"
void Error::render() {
  const ErrorContext& c = context_;
  std::string s;
  if (!c.file.empty()) {
    s += c.file;
    if (c.layout_line) s.append(":").append(std::to_string(*c.layout_line));
    s += ": ";
  }
  else if (c.layout_line) s += "line " + std::to_string(*c.layout_line) + ": ";
  if (!c.operation.empty() && message_.rfind(c.operation, 0) != 0) s += c.operation + ": ";
  s += message_;
  std::string where;
  auto add = [&](const std::string& part) { where += (where.empty() ? "" : ", ") + part; };
  if (c.phase || c.phase_unknown)
    add((c.phase ? "phase " + hex8(*c.phase) : std::string("phase unknown (before the first Get Phase)")) +
        (c.partition.empty() ? "" : " \"" + c.partition + "\""));
  else if (!c.partition.empty()) add("partition \"" + c.partition + "\"");
  if (c.packet) add("packet " + std::to_string(*c.packet));
  if (c.bytes_sent) {
    std::string b = std::to_string(*c.bytes_sent);
    if (c.bytes_total) b.append("/").append(std::to_string(*c.bytes_total));
    add(b + " bytes acknowledged");
  }
  if (!where.empty()) s += ": " + where;
  if (!c.transport.empty()) s += " [" + c.transport + "]";
  what_ = std::move(s);
}

}  // namespace mp1boot
