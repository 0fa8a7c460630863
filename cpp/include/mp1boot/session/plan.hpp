// SPDX-License-Identifier: MIT
// session::plan_flash: what a flash run would send to this board, in the order the device will ask
// for it, with sizes and an ETA from the link's payload rate (UART: the protocol bound at the line
// rate; USB: the stage rates of FIELD.md). Nothing is sent but Get ID.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mp1boot/image/flash_layout.hpp"
#include "mp1boot/session/device.hpp"
#include "mp1boot/vocabulary.hpp"

namespace mp1boot::session {

struct PlanStep {
  std::uint8_t phase = 0;
  std::string name;          ///< partition name, "flash layout" for 0x00
  std::string device;        ///< the line's IP ("none", "mmc0"), "ram" for the layout itself
  std::string file;
  std::uint64_t bytes = 0;   ///< size of the file (0 when it cannot be read)
  double eta_seconds = 0;
};

struct FlashPlan {
  std::string layout, transport;
  Link link = Link::unknown;
  std::string soc;
  std::vector<PlanStep> steps;
  double eta_seconds = 0;    ///< transfer time only (no flash erase/write time)
  /// {"layout", "transport", "link", "soc", "steps": [{phase, name, file, bytes, eta_seconds, device}], "eta_seconds"}
  nlohmann::json json() const;
};

/// Payload bytes per second the ETA assumes for `phase` on this link: UART 256 payload bytes per
/// 268 on the wire at 11 bits a byte (`baud`); USB 200 kB/s into the ROM, 640 kB/s into TF-A,
/// 2 MB/s to U-Boot stm32prog (FIELD.md).
double eta_rate(Link link, double baud, std::uint8_t phase);

/// The line rate of a UART link from its LinkInfo ("115200 baud"); 115200 when it does not say.
double link_baud(const LinkInfo& info);

/// How long transfers take on one board's link: eta_rate() of its link at its line rate. The one
/// ETA of a step, for plan_flash() and for the Flasher's UART estimate.
struct EtaModel {
  Link link = Link::uart;
  double baud = 115200;  ///< UART line rate (link_baud())
  /// Seconds to send `bytes` for `phase`.
  double seconds(std::uint8_t phase, std::uint64_t bytes) const { return double(bytes) / eta_rate(link, baud, phase); }
};

/// The ETA model of `device`: its link and (over UART) the line rate its link_info() names.
EtaModel eta_model(const Device& device);

/// Checks the layout (and its binaries) like flash() does, reads the board's id, and plans.
/// @throws LayoutError for a bad layout (nothing sent); the device's errors for Get ID.
FlashPlan plan_flash(Device& device, const std::filesystem::path& layout, const image::ParseOptions& parse = {});

/// How long U-Boot may erase after accepting `layout`: its 'D' lines (PD, PED), each partition's
/// size at the slowest erase rate planned for its medium (eMMC/SD 32 MiB/s, NAND and SPI-NAND
/// 4 MiB/s, SPI-NOR 32 KiB/s: a 64 KiB sector's worst-case erase time in NOR data sheets is about
/// 2 s), a partition whose size the layout does not give (the last one, RawImage) counted as the
/// largest device of its kind planned for (eMMC/SD 64 GiB, NAND 4 GiB, NOR 256 MiB). U-Boot erases
/// before the Start ACK (UART) or off the bus before the partition enumeration (USB), so the host
/// waits this long on top of its usual bound (FIELD.md 9: timeouts scale with size and medium).
/// Zero for a layout without 'D' lines.
std::chrono::milliseconds erase_allowance(const image::FlashLayout& layout);

}  // namespace mp1boot::session
