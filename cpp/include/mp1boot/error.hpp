// SPDX-License-Identifier: MIT
// The error model: stable codes in the "mp1boot" category, an ErrorContext saying where an error
// happened (operation, phase, packet, bytes acknowledged, transport), and typed exceptions.
// Engines fill in protocol context, transports the OS cause; session::drive merges the two.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

namespace mp1boot {

/// Stable error codes. Their numeric values are part of the API (CLI exit codes derive from them).
enum class errc {
  ok = 0,
  nack = 1,              ///< the device refused a command or packet (0x1F)
  abort = 2,             ///< the device aborted an accepted operation (0x5F)
  bad_checksum = 3,      ///< a checksum did not hold (image payload, frame)
  unexpected_byte = 4,   ///< the peer sent something the protocol does not allow here
  timeout = 5,           ///< no answer within the allowed time
  dfu_status = 6,        ///< a DFU GETSTATUS reported an error status
  device_reported = 7,   ///< the device reported a failure in words (Get Phase 0xFF message)
  layout_syntax = 8,     ///< a flash layout line cannot be parsed
  layout_rule = 9,       ///< a flash layout breaks a programming-service rule
  bad_image = 10,        ///< an STM32 image is malformed or unsuitable for the device
  file_not_found = 11,   ///< an input file does not exist or cannot be read
  no_device = 12,        ///< no device matches the selector
  multiple_devices = 13, ///< several devices match and none was chosen
  permission_denied = 14,///< the OS refused access to the device
  port_busy = 15,        ///< the port is held by another process
  disconnected = 16,     ///< the device went away during an operation
  stall = 17,            ///< a USB request was stalled by the device
  cancelled = 18,        ///< the caller cancelled the operation
  usage = 19,            ///< the API or an engine was misused
  io = 20,               ///< any other OS or library failure
  unsupported = 21,      ///< the device or stage does not support the request
  verify_mismatch = 22,  ///< data read back differs from what was written
  device_reset = 23,     ///< the board reset during an operation (the boot ROM came back)
  board_state = 24,      ///< the board is not at a stage that would program the layout (done, mid-session)
  other_board = 25,      ///< a resume report names another board than the one connected
  needs_consent = 26,    ///< the run needs the user's explicit go-ahead (a UART flash of more than an hour)
  replay_mismatch = 27,  ///< the host did not do what a replayed trace recorded (sim:replay)
};
/// The last errc value (for tables and tests).
inline constexpr errc errc_last = errc::replay_mismatch;

const std::error_category& mp1boot_category() noexcept;
std::error_code make_error_code(errc e) noexcept;
/// Short stable name, e.g. "nack", "timeout".
const char* errc_name(errc e) noexcept;

/// Where an error happened. Every field is optional; what() renders the ones that are set.
struct ErrorContext {
  std::string operation;                 ///< "download", "get_phase", "DFU_DNLOAD", ...
  std::optional<std::uint8_t> phase;     ///< partition / phase id
  /// No phase can be named: the board has not told it yet (before the first Get Phase) and its
  /// alt settings offer several. what() then says "phase unknown (before the first Get Phase)".
  bool phase_unknown = false;
  std::string partition;                 ///< name from the layout or image file
  /// UART packet, or DFU block number (wValue) of the download or upload in progress: 0 before its
  /// first block and for requests that carry none (Get Phase's single UPLOAD, DETACH).
  std::optional<std::uint32_t> packet;
  std::optional<std::uint64_t> bytes_sent;   ///< payload bytes the device acknowledged
  std::optional<std::uint64_t> bytes_total;
  std::string transport;                 ///< describe() of the transport
  std::optional<std::uint32_t> layout_line;
  std::string file;                      ///< input file the error concerns

  /// Fills the fields of *this that are empty from `other`.
  void merge_from(const ErrorContext& other);
};

/// Base of every mp1boot exception. what() is a sentence built from the message and context.
class Error : public std::runtime_error {
 public:
  Error(errc code, std::string message, ErrorContext context = {});
  errc code() const noexcept { return code_; }
  const ErrorContext& context() const noexcept { return context_; }
  const std::string& message() const noexcept { return message_; }
  /// Adds missing context (used by the driver) and rebuilds what().
  void add_context(const ErrorContext& more);
  const char* what() const noexcept override { return what_.c_str(); }
  /// Name of the most derived exception type ("NackError", ...), used by the bindings.
  virtual const char* kind() const noexcept { return "Error"; }
  /// Throws a copy of this exception with its dynamic type preserved.
  [[noreturn]] virtual void rethrow() const { throw *this; }

 private:
  void render();
  errc code_;
  std::string message_;
  ErrorContext context_;
  std::string what_;
};

#define MP1BOOT_ERROR_TYPE(Name, Base)                                   \
  class Name : public Base {                                             \
   public:                                                               \
    using Base::Base;                                                    \
    const char* kind() const noexcept override { return #Name; }         \
    [[noreturn]] void rethrow() const override { throw *this; }          \
  };

MP1BOOT_ERROR_TYPE(ProtocolError, Error)     ///< the peer broke the protocol
MP1BOOT_ERROR_TYPE(NackError, ProtocolError) ///< the device refused (NACK)
MP1BOOT_ERROR_TYPE(DeviceError, Error)       ///< the device reported a failure (DFU status, 0xFF)
MP1BOOT_ERROR_TYPE(TimeoutError, Error)      ///< an operation ran past its timeout
MP1BOOT_ERROR_TYPE(TransportError, Error)    ///< OS / Asio / libusb failure
MP1BOOT_ERROR_TYPE(UsageError, Error)        ///< misuse of the API
MP1BOOT_ERROR_TYPE(LayoutError, Error)       ///< flash layout or image problem
MP1BOOT_ERROR_TYPE(CancelledError, Error)    ///< cancelled by the caller
#undef MP1BOOT_ERROR_TYPE

}  // namespace mp1boot

template <>
struct std::is_error_code_enum<mp1boot::errc> : std::true_type {};
