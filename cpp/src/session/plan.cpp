// SPDX-License-Identifier: MIT
// The plan of a flash run (see plan.hpp).
#include "mp1boot/session/plan.hpp"

#include <cstdlib>
#include <system_error>

#include "mp1boot/error.hpp"

namespace mp1boot::session {

nlohmann::json FlashPlan::json() const {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& s : steps)
    rows.push_back({{"phase", s.phase}, {"name", s.name}, {"file", s.file}, {"bytes", s.bytes},
                    {"eta_seconds", s.eta_seconds}, {"device", s.device}});
  return {{"layout", layout}, {"transport", transport}, {"link", std::string(to_string(link))}, {"soc", soc}, {"steps", rows},
          {"eta_seconds", eta_seconds}};
}

double eta_rate(Link link, double baud, std::uint8_t phase) {
  if (link == Link::uart) return baud / 11 * 256 / 268;
  if (phase == 0x01) return 200'000;
  if (phase == 0x02 || phase == 0x03) return 640'000;
  return 2'000'000;
}

double link_baud(const LinkInfo& info) {
  const double baud = info.speed.empty() ? 0.0 : std::atof(info.speed.c_str());  // "115200 baud"
  return baud > 0 ? baud : 115200.0;
}

EtaModel eta_model(const Device& device) {
  const Link link = device.link();
  return EtaModel{link, link == Link::uart ? link_baud(device.link_info()) : 0.0};
}

FlashPlan plan_flash(Device& device, const std::filesystem::path& layout_file, const image::ParseOptions& parse) {
  const image::FlashLayout layout = image::load_layout(layout_file, parse);
  image::CheckOptions check;
  check.check_binaries = true;
  image::require_ok(layout, image::check_layout(layout, check));
  FlashPlan plan;
  plan.layout = layout_file.string();
  plan.transport = device.describe();
  const EtaModel eta = eta_model(device);
  plan.link = eta.link;
  plan.soc = device_id_name(device.get_id());
  for (const auto& step : image::programming_order(layout)) {
    PlanStep s;
    s.phase = static_cast<std::uint8_t>(step.phase);
    s.name = step.entry ? step.entry->name : "flash layout";
    s.device = step.entry ? step.entry->ip : "ram";
    s.file = step.entry ? step.entry->binary_path.string() : layout_file.string();
    std::error_code ec;
    const auto size = std::filesystem::file_size(s.file, ec);
    s.bytes = ec ? 0 : size;
    s.eta_seconds = eta.seconds(s.phase, s.bytes);
    plan.eta_seconds += s.eta_seconds;
    plan.steps.push_back(std::move(s));
  }
  return plan;
}

std::chrono::milliseconds erase_allowance(const image::FlashLayout& layout) {
  struct Medium {
    double bytes_per_second;
    std::uint64_t largest;
  };
  auto medium = [](const std::string& kind) -> std::optional<Medium> {
    if (kind == "mmc") return Medium{32.0 * 1024 * 1024, 64ull << 30};
    if (kind == "nand" || kind == "spi-nand") return Medium{4.0 * 1024 * 1024, 4ull << 30};
    if (kind == "nor") return Medium{32.0 * 1024, 256ull << 20};
    return std::nullopt;  // RAM, none: nothing to erase
  };
  double seconds = 0;
  for (const auto& e : layout.entries) {
    if (!e.erase || !e.is_device()) continue;
    const auto m = medium(e.device_kind);
    if (!m) continue;
    // eMMC boot1/boot2 (no numeric offset): at most 32 MiB each (EXT_CSD BOOT_SIZE_MULT x 128 KiB).
    const std::uint64_t unknown = e.offset ? m->largest : 32ull << 20;
    const auto size = image::partition_size(layout, e).value_or(unknown);
    seconds += double(size) / m->bytes_per_second;
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0 + 0.5));
}

}  // namespace mp1boot::session
