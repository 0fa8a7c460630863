// SPDX-License-Identifier: MIT
// USB DFU 1.1 wire vocabulary with ST's conventions (PROTOCOL.md section 3): class request codes,
// bmRequestType values, device states and status codes with their spec names, the 6-byte
// GETSTATUS reply, the 9-byte DFU functional descriptor, ST alternate-setting names
// ("@FSBL /0x01/1*1Me"), the Get Phase reply of the virtual alt and the iProduct strings of the
// ROM, TF-A and U-Boot. Shared by the host engine (dfu/engine.hpp) and the simulated device
// (sim/); only constants and pure helpers, no state and no I/O.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mp1boot/bytes.hpp"
#include "mp1boot/phase.hpp"
#include "mp1boot/usb.hpp"
#include "mp1boot/vocabulary.hpp"

namespace mp1boot::dfu {

/// DFU 1.1 class requests (bRequest), sent to interface 0.
enum class Request : std::uint8_t {
  detach = 0,     ///< DFU_DETACH    (OUT, wValue = timeout ms, no data)
  dnload = 1,     ///< DFU_DNLOAD    (OUT, wValue = block number, data <= wTransferSize)
  upload = 2,     ///< DFU_UPLOAD    (IN,  wValue = block number)
  getstatus = 3,  ///< DFU_GETSTATUS (IN,  6 bytes)
  clrstatus = 4,  ///< DFU_CLRSTATUS (OUT, no data)
  getstate = 5,   ///< DFU_GETSTATE  (IN,  1 byte)
  abort = 6,      ///< DFU_ABORT     (OUT, no data)
};

/// bmRequestType of class requests to the interface: host-to-device and device-to-host.
inline constexpr std::uint8_t request_type_out = 0x21;
inline constexpr std::uint8_t request_type_in = 0xA1;
/// Standard SET_INTERFACE (bmRequestType 0x01, bRequest 11, wValue = alt, wIndex = interface).
inline constexpr std::uint8_t request_type_std_interface_out = 0x01;
inline constexpr std::uint8_t std_request_set_interface = 11;
/// Descriptor type of the DFU functional descriptor (class GET_DESCRIPTOR wValue high byte).
inline constexpr std::uint8_t functional_descriptor_type = 0x21;
inline constexpr std::size_t functional_descriptor_size = 9;
/// Length of the DFU_GETSTATUS reply.
inline constexpr std::size_t status_reply_size = 6;
/// Largest bwPollTimeout (24 bits).
inline constexpr std::uint32_t max_poll_timeout_ms = 0xFFFFFF;
/// Fixed part of the Get Phase reply (phase, address, offset) before the flag or message.
inline constexpr std::size_t phase_reply_min_size = 9;
/// ST's USB ids in every stage (ROM, TF-A, U-Boot stm32prog).
inline constexpr std::uint16_t st_vendor_id = 0x0483;
inline constexpr std::uint16_t st_dfu_product_id = 0xDF11;

/// "DFU_DNLOAD", "DFU_GETSTATUS", ...; "DFU_0x07" for unknown codes.
std::string request_name(Request r);
/// True for the requests with a device-to-host data stage (UPLOAD, GETSTATUS, GETSTATE).
constexpr bool is_in_request(Request r) {
  return r == Request::upload || r == Request::getstatus || r == Request::getstate;
}
/// The SETUP packet of a class request: bmRequestType 0x21 or 0xA1 by direction, wIndex = interface.
constexpr usb::SetupPacket make_setup(Request r, std::uint16_t value = 0, std::uint16_t interface = 0) {
  return usb::SetupPacket{is_in_request(r) ? request_type_in : request_type_out,
                                static_cast<std::uint8_t>(r), value, interface};
}

/// DFU 1.1 device states (bState). Values outside 0..10 may appear on the wire; the names
/// functions then answer "unknown".
enum class State : std::uint8_t {
  app_idle = 0,             ///< appIDLE
  app_detach = 1,           ///< appDETACH
  dfu_idle = 2,             ///< dfuIDLE
  dnload_sync = 3,          ///< dfuDNLOAD-SYNC
  dnbusy = 4,               ///< dfuDNBUSY
  dnload_idle = 5,          ///< dfuDNLOAD-IDLE
  manifest_sync = 6,        ///< dfuMANIFEST-SYNC
  manifest = 7,             ///< dfuMANIFEST
  manifest_wait_reset = 8,  ///< dfuMANIFEST-WAIT-RESET
  upload_idle = 9,          ///< dfuUPLOAD-IDLE
  error = 10,               ///< dfuERROR
};
inline constexpr std::size_t state_count = 11;

/// Spec name: "dfuIDLE", "dfuDNLOAD-SYNC", ..., "appIDLE"; "unknown" outside 0..10.
std::string_view state_name(State s);
/// "dfuDNBUSY (4)"; "unknown (12)".
std::string describe_state(State s);

/// DFU 1.1 status codes (bStatus).
enum class Status : std::uint8_t {
  ok = 0x00,                ///< OK
  err_target = 0x01,        ///< errTARGET
  err_file = 0x02,          ///< errFILE
  err_write = 0x03,         ///< errWRITE
  err_erase = 0x04,         ///< errERASE
  err_check_erased = 0x05,  ///< errCHECK_ERASED
  err_prog = 0x06,          ///< errPROG
  err_verify = 0x07,        ///< errVERIFY
  err_address = 0x08,       ///< errADDRESS
  err_notdone = 0x09,       ///< errNOTDONE
  err_firmware = 0x0A,      ///< errFIRMWARE
  err_vendor = 0x0B,        ///< errVENDOR
  err_usbr = 0x0C,          ///< errUSBR
  err_por = 0x0D,           ///< errPOR
  err_unknown = 0x0E,       ///< errUNKNOWN
  err_stalled_pkt = 0x0F,   ///< errSTALLEDPKT
};
inline constexpr std::size_t status_count = 16;

/// Spec name: "OK", "errTARGET", ..., "errSTALLEDPKT"; "unknown" above 0x0F.
std::string_view status_name(Status s);
/// One-line meaning after the DFU 1.1 specification, e.g. "device is unable to write memory".
std::string_view status_description(Status s);

/// The DFU_GETSTATUS reply.
struct StatusReply {
  Status status = Status::ok;
  std::uint32_t poll_timeout_ms = 0;  ///< bwPollTimeout, 24 bits: wait this long before the next GETSTATUS
  State state = State::dfu_idle;
  std::uint8_t string_index = 0;      ///< iString
  bool operator==(const StatusReply&) const = default;
};
/// Parses the 6-byte reply; std::nullopt when `bytes` is not exactly 6 bytes long.
std::optional<StatusReply> parse_status_reply(ByteView bytes);
/// The 6 wire bytes. poll_timeout_ms above 0xFFFFFF is clamped to 0xFFFFFF.
Bytes encode_status_reply(const StatusReply& reply);

/// bmAttributes bits of the functional descriptor.
namespace attr {
inline constexpr std::uint8_t can_download = 0x01;
inline constexpr std::uint8_t can_upload = 0x02;
inline constexpr std::uint8_t manifestation_tolerant = 0x04;
inline constexpr std::uint8_t will_detach = 0x08;
}  // namespace attr

/// The DFU functional descriptor (bLength 9, bDescriptorType 0x21).
struct FunctionalDescriptor {
  std::uint8_t attributes = 0;         ///< bmAttributes (attr:: bits)
  std::uint16_t detach_timeout_ms = 0; ///< wDetachTimeOut
  std::uint16_t transfer_size = 0;     ///< wTransferSize
  std::uint16_t dfu_version = 0x0110;  ///< bcdDFUVersion
  bool operator==(const FunctionalDescriptor&) const = default;
};
/// std::nullopt unless `bytes` holds at least 9 bytes starting with 09 21.
std::optional<FunctionalDescriptor> parse_functional_descriptor(ByteView bytes);
/// The 9 wire bytes, e.g. TF-A's "09 21 0f ff 00 00 04 10 01".
Bytes encode_functional_descriptor(const FunctionalDescriptor& d);

/// One ST alternate-setting name, "@<name> /0x<ID>/<count>*<size><unit><type>".
struct AltName {
  std::string name;        ///< "FSBL", "virtual", "DDR FIP", "fip-a" (trimmed)
  std::uint8_t phase = 0;  ///< the id after "/0x"
  std::uint64_t size = 0;  ///< count * size * unit, in bytes
  bool writable = false;   ///< type letter: DfuSe a..g, writable when its bit 2 is set ('e' yes, 'a' no)
  bool operator==(const AltName&) const = default;
};
/// Parses TF-A/ROM style ("@FSBL /0x01/1*1Me") and U-Boot style ("@virtual/0xf1/1*512Be"):
/// case-insensitive, whitespace allowed around the fields, unit B/K/M/G (K = 1024).
/// std::nullopt when the text does not follow the grammar or the id exceeds 0xFF.
std::optional<AltName> parse_alt_name(std::string_view text);
/// "@FSBL /0x01/1*1Me" (TF-A style with `space_before_slash`, upper-case hex) or
/// "@virtual/0xf1/1*512Be" (U-Boot style). The size is written in the largest unit dividing it.
std::string format_alt_name(const AltName& alt, bool space_before_slash = true);

/// The Get Phase reply read from the virtual alt (PROTOCOL.md 3.5) is a mp1boot::PhaseInfo
/// (phase.hpp): phase, address, offset, detach flag, message.
/// std::nullopt when shorter than 9 bytes. Phase 0xFF: bytes 9.. are the message (trailing NUL,
/// CR, LF removed); other phases: byte 9, when present, is the detach flag.
std::optional<PhaseInfo> parse_phase_reply(ByteView bytes);
/// Reply bytes. Phase 0xFF appends `info.message`; otherwise a flag byte (detach_requested) is
/// appended when `with_flag` is true (TF-A sends 9 bytes while waiting, 10 with the flag).
Bytes encode_phase_reply(const PhaseInfo& info, bool with_flag);

/// What the iProduct string says about the device.
struct ProductInfo {
  Stage stage = Stage::unknown;   ///< rom, tf-a, u-boot, or unknown when the string does not say
  std::uint16_t device_id = 0;    ///< "@Device ID /0x501" (0 when absent)
  std::uint16_t revision = 0;     ///< "@Revision ID /0x1003" (ROM values are not DBGMCU REV_ID)
  std::string soc_name;           ///< "@Name /STM32MP135F Rev.Y," without the comma
  bool high_speed = true;         ///< false only for the ROM's "DFU in FS Mode"
  bool operator==(const ProductInfo&) const = default;
};
/// Parses "DFU in HS Mode @Device ID /0x500, @Revision ID /0x0000" (ROM),
/// "DFU @Device ID /0x501, @Revision ID /0x1003, @Name /STM32MP135F Rev.Y," (TF-A) and
/// "USB download gadget@Device ID /0x501, ..." (U-Boot). Never throws; unknown text gives
/// stage "unknown" and the fields that could be found. Note: MP15 TF-A keeps the ROM's strings.
ProductInfo parse_product(std::string_view product);

}  // namespace mp1boot::dfu
