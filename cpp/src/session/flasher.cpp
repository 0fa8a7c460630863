// SPDX-License-Identifier: MIT
// The flash-layout runner: everything is checked and read before the first byte is sent, then the
// device's Get Phase decides what goes out next (never the host's idea of the order), and every
// transfer lands in the FlashReport, which is written out as hand-made JSON.
#include "mp1boot/session/flasher.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <set>
#include <system_error>
#include <thread>
#include <type_traits>

#include "mp1boot/error.hpp"
#include "mp1boot/image/stm32_header.hpp"
#include "mp1boot/session/plan.hpp"
#include "mp1boot/uart/wire.hpp"
#include "mp1boot/version.hpp"
#include "sha.hpp"

namespace mp1boot::session {
namespace {


std::optional<Bytes> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;
  return data;
}

/// The first device line with this id (U-Boot never selects IP none lines).
const image::LayoutEntry* device_line(const image::FlashLayout& layout, std::uint32_t id) {
  for (const auto& e : layout.entries)
    if (e.id == id && e.is_device()) return &e;
  return nullptr;
}

/// The line whose file the device gets for `phase`; nullptr for the layout itself (0x00).
const image::LayoutEntry* line_for(const image::FlashLayout& layout, std::uint8_t phase) {
  if (phase == phase::flash_layout) return nullptr;
  if (phase <= 0x03) return layout.find_none(phase);
  return device_line(layout, phase);
}

}  // namespace

namespace {
template <typename T>
void field(const nlohmann::json& j, const char* key, T& out, const char* what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if constexpr (std::is_enum_v<T>) {  // the vocabulary enums: their one spelling, nothing else
    const auto value = it->is_string() ? from_string<T>(it->template get<std::string>()) : std::nullopt;
    if (!value)
      throw UsageError(errc::usage, std::string(what) + ": field \"" + key + "\" is " + it->dump() + ", not one of " +
                                        allowed_values<T>(),
                       ErrorContext{.operation = "read report"});
    out = *value;
    return;
  }
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // nlohmann casts any number to T: 1e300 is undefined behaviour, 300 becomes 44, -1 wraps.
    const bool fits = it->is_number_unsigned() ? it->template get<std::uint64_t>() <= std::numeric_limits<T>::max()
                      : it->is_number_integer()
                          ? it->template get<std::int64_t>() >= 0 &&
                                static_cast<std::uint64_t>(it->template get<std::int64_t>()) <= std::numeric_limits<T>::max()
                          : !it->is_number();  // a string, ...: the wrong type, said below
    if (!fits)
      throw UsageError(errc::usage, std::string(what) + ": field \"" + key + "\" is " + it->dump() +
                                        ", not an integer in 0.." + std::to_string(std::numeric_limits<T>::max()),
                       ErrorContext{.operation = "read report"});
  }
  try {
    it->get_to(out);
  } catch (const nlohmann::json::exception&) {
    throw UsageError(errc::usage, std::string(what) + ": field \"" + key + "\" has the wrong type (" +
                                      it->type_name() + ")",
                     ErrorContext{.operation = "read report"});
  }
}
}  // namespace

void to_json(nlohmann::json& j, const PartitionReport& p) {
  j = nlohmann::json{{"phase", p.phase},
                     {"name", p.name},
                     {"ip", p.ip},
                     {"offset", p.offset},
                     {"layout_line", p.layout_line},
                     {"file", p.file},
                     {"size", p.size},
                     {"bytes_sent", p.bytes_sent},
                     {"bytes_skipped", p.bytes_skipped},
                     {"bmap", p.bmap},
                     {"sha256", p.sha256},
                     {"seconds", p.seconds},
                     {"bytes_per_second", p.bytes_per_second},
                     {"result", std::string(to_string(p.result))},
                     {"verified", std::string(to_string(p.verified))},
                     {"readback_sha256", p.readback_sha256}};
}

void from_json(const nlohmann::json& j, PartitionReport& p) {
  if (!j.is_object())
    throw UsageError(errc::usage, "a partition record is a JSON object, not " + std::string(j.type_name()),
                     ErrorContext{.operation = "read report"});
  const char* w = "partition record";
  field(j, "phase", p.phase, w);
  field(j, "name", p.name, w);
  field(j, "ip", p.ip, w);
  field(j, "offset", p.offset, w);
  field(j, "layout_line", p.layout_line, w);
  field(j, "file", p.file, w);
  field(j, "size", p.size, w);
  field(j, "bytes_sent", p.bytes_sent, w);
  field(j, "bytes_skipped", p.bytes_skipped, w);
  field(j, "bmap", p.bmap, w);
  field(j, "sha256", p.sha256, w);
  field(j, "seconds", p.seconds, w);
  field(j, "bytes_per_second", p.bytes_per_second, w);
  if (j.value("result", nlohmann::json()) == "resumed")  // earlier reports said "resumed"
    p.result = PartitionResult::skipped_done_earlier;
  else
    field(j, "result", p.result, w);
  field(j, "verified", p.verified, w);
  field(j, "readback_sha256", p.readback_sha256, w);
}

void to_json(nlohmann::json& j, const FlashReport& r) {
  j = nlohmann::json{{"tool_version", r.tool_version},
                     {"transport", r.transport},
                     {"layout", r.layout},
                     {"soc", r.soc},
                     {"device_id", r.device_id},  // ids are JSON numbers (README: JSON output)
                     {"link", std::string(to_string(r.link))},
                     {"serial", r.serial},
                     {"port_path", r.port_path},
                     {"board", r.board().key()},
                     {"speed", r.speed},
                     {"revision", r.revision},
                     {"verify", r.verify},
                     {"resumed", r.resumed},
                     {"seconds", r.seconds},
                     {"result", std::string(to_string(r.result))},
                     {"error", r.error},
                     {"partitions", r.partitions}};
  if (!r.error_code.empty()) j["error_code"] = r.error_code;
  if (!r.port.empty()) j["port"] = r.port;
}

void from_json(const nlohmann::json& j, FlashReport& r) {
  if (!j.is_object())
    throw UsageError(errc::usage, "a flash report is a JSON object, not " + std::string(j.type_name()),
                     ErrorContext{.operation = "read report"});
  const char* w = "flash report";
  field(j, "tool_version", r.tool_version, w);
  field(j, "transport", r.transport, w);
  field(j, "layout", r.layout, w);
  field(j, "soc", r.soc, w);
  if (auto it = j.find("device_id"); it != j.end() && it->is_string()) {  // reports before 0.2: "0x0500"
    const std::string id = it->get<std::string>();
    char* end = nullptr;
    const unsigned long v = id.empty() ? 0 : std::strtoul(id.c_str(), &end, 0);
    if (!id.empty() && (*end != '\0' || id.find('-') != std::string::npos || v > 0xFFFF))
      throw UsageError(errc::usage, std::string(w) + ": field \"device_id\" is \"" + id + "\", not a 16-bit id",
                       ErrorContext{.operation = "read report"});
    r.device_id = static_cast<std::uint16_t>(v);
  } else {
    field(j, "device_id", r.device_id, w);
  }
  field(j, "link", r.link, w);
  field(j, "serial", r.serial, w);
  field(j, "port_path", r.port_path, w);
  field(j, "speed", r.speed, w);
  field(j, "revision", r.revision, w);
  field(j, "verify", r.verify, w);
  field(j, "resumed", r.resumed, w);
  field(j, "seconds", r.seconds, w);
  field(j, "result", r.result, w);
  field(j, "error", r.error, w);
  field(j, "error_code", r.error_code, w);
  field(j, "port", r.port, w);
  field(j, "partitions", r.partitions, w);
}

nlohmann::json FlashReport::json() const { return *this; }

std::string FlashReport::to_json() const { return json().dump(); }

FlashReport FlashReport::from_json(const nlohmann::json& j) { return j.get<FlashReport>(); }

std::vector<FlashReport> reports_from_json(const nlohmann::json& j) {
  std::vector<FlashReport> out;
  if (j.is_object() && j.contains("boards")) {
    const auto& boards = j.at("boards");
    if (!boards.is_object())
      throw UsageError(errc::usage, "\"boards\" of a report is a JSON object (key -> board report)",
                       ErrorContext{.operation = "read report"});
    for (const auto& [key, board] : boards.items()) out.push_back(FlashReport::from_json(board));
    return out;
  }
  out.push_back(FlashReport::from_json(j));
  return out;
}

Flasher::Flasher(Device& device, std::filesystem::path layout_file, FlashOptions options)
    : device_(device), layout_file_(std::move(layout_file)), options_(std::move(options)) {
  options_.check.check_binaries = true;
  report_.tool_version = mp1boot::version;
  report_.transport = device_.describe();
  report_.layout = layout_file_.string();
  report_.verify = options_.verify;
}

void Flasher::stage(FlashStep step) {
  if (step == stage_) return;
  stage_ = step;
  if (const auto& record = device_.recording()) record->note("stage " + std::string(to_string(step)));
  if (options_.on_event) options_.on_event(FlashEvent{FlashEvent::Kind::stage, step, nullptr});
}

const BinaryFile& Flasher::file_of(const image::LayoutEntry& entry) {
  if (auto it = files_.find(entry.binary_path); it != files_.end()) return it->second;
  ErrorContext c{.operation = "flash", .phase = static_cast<std::uint8_t>(entry.id), .partition = entry.name,
                 .layout_line = entry.line, .file = layout_file_.string()};
  if (entry.binary_path.empty())
    throw LayoutError(errc::layout_rule,
                      "layout line " + std::to_string(entry.line) + " (" + entry.name + ") names no file", c);
  try {
    return files_.emplace(entry.binary_path, BinaryFile(entry.binary_path)).first->second;
  } catch (const Error& e) {
    throw LayoutError(errc::file_not_found,
                      layout_file_.string() + ":" + std::to_string(entry.line) + ": " + e.message() + " (partition " +
                          entry.name + ")",
                      c);
  }
}

void Flasher::plan_partition(const image::LayoutEntry& entry) {
  // Which bytes of a partition's binary go out: a block map (named, or beside the binary), the
  // data ranges of a sparse file (--skip-holes), or everything. Only U-Boot over USB can seek
  // (offset command) and only MMC writes land where the offset says; elsewhere all is sent.
  if (!entry.is_programmed() || entry.device_kind != "mmc") return;
  const BinaryFile& file = file_of(entry);
  ErrorContext c{.operation = "flash", .phase = static_cast<std::uint8_t>(entry.id), .partition = entry.name,
                 .layout_line = entry.line};
  std::filesystem::path map_file;
  if (options_.use_bmaps) {
    auto named = options_.bmaps.find(entry.name);
    map_file = named != options_.bmaps.end() ? named->second : image::find_bmap_beside(entry.binary_path);
  }
  WritePlan plan;
  plan.image_size = file.size();
  if (!map_file.empty()) {
    image::Bmap map;
    try {
      map = image::load_bmap(map_file);
      image::check_bmap_matches(map, file.size(), entry.binary_path);
      if (!map.file_checksum.empty()) {
        const std::string got = digest_hex(map.checksum_type, ByteView(reinterpret_cast<const std::uint8_t*>(
                                                                           map.text_for_file_checksum.data()),
                                                                       map.text_for_file_checksum.size()));
        if (got != map.file_checksum)
          throw LayoutError(errc::bad_checksum,
                            map.file + ":" + std::to_string(map.file_checksum_line) +
                                ": the block map's own checksum does not match its contents (" + got + " computed, " +
                                map.file_checksum + " written): the file was edited or damaged",
                            ErrorContext{.operation = "bmap", .layout_line = map.file_checksum_line, .file = map.file});
      }
      if (map.block_size < 512)
        throw LayoutError(errc::bad_image,
                          map.file + ": BlockSize: " + std::to_string(map.block_size) +
                              " is below 512: U-Boot writes MMC in whole 512-byte blocks",
                          ErrorContext{.operation = "bmap", .file = map.file});
    } catch (Error& e) {
      e.add_context(c);
      throw;
    }
    plan.mode = "bmap";
    plan.bmap_file = map_file;
    plan.checksum_type = map.checksum_type;
    for (const auto& r : map.ranges) {
      plan.ranges.push_back(map.bytes_of(r));
      plan.checksums.push_back(r.checksum);
      plan.lines.push_back(r.line);
    }
  } else if (options_.skip_holes) {
    plan.mode = "holes";
    plan.ranges = file.data_ranges();
    plan.checksums.assign(plan.ranges.size(), "");
    plan.lines.assign(plan.ranges.size(), 0);
  } else {
    return;
  }
  plans_[static_cast<std::uint8_t>(entry.id)] = std::move(plan);
}

namespace {

// Reads a partition's mapped ranges in order, in cache-sized chunks. With `check`, compares each
// range with its block-map checksum: @throws LayoutError(bad_checksum) naming the first that
// differs. With `all`, hashes the ranges' concatenation (the partition's SHA-256: what the
// device must hold). Returns false when `stop` was raised before the end.
bool scan_mapped_ranges(const BinaryFile& file, const image::LayoutEntry& entry, const WritePlan& plan,
                        const std::atomic<bool>& stop, bool check, Sha256* all) {
  Bytes buf(hash_chunk_size);
  for (std::size_t i = 0; i < plan.ranges.size(); ++i) {
    std::optional<Digest> d;
    if (check) d.emplace(plan.checksums[i].empty() ? image::BmapChecksum::none : plan.checksum_type);
    const auto& r = plan.ranges[i];
    for (std::uint64_t at = 0; at < r.length;) {
      if (stop.load(std::memory_order_relaxed)) return false;
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), r.length - at));
      file.read(r.offset + at, std::span(buf.data(), n));
      if (d) d->update(ByteView(buf.data(), n));
      if (all) all->update(ByteView(buf.data(), n));
      at += n;
    }
    if (!d) continue;
    const std::string got = d->hex();
    if (got != plan.checksums[i])
      throw LayoutError(errc::bad_checksum,
                        plan.bmap_file.string() + ":" + std::to_string(plan.lines[i]) + ": range of bytes " +
                            std::to_string(r.offset) + ".." + std::to_string(r.end() - 1) + " of " +
                            entry.binary_path.string() + " has " + image::to_string(plan.checksum_type) + " " + got +
                            ", the block map says " + plan.checksums[i] +
                            ": the image changed after its block map was made; nothing of it was sent",
                        ErrorContext{.operation = "flash", .phase = static_cast<std::uint8_t>(entry.id),
                                     .partition = entry.name, .layout_line = plan.lines[i],
                                     .file = plan.bmap_file.string()});
  }
  return true;
}

std::string hex_of(Sha256& sha) {
  const auto d = sha.finish();
  return hex_string(ByteView(d.data(), d.size()));
}

// What a plan hashes, as part of a digest key: its mode and, by SHA-256, its ranges and checksums.
std::string plan_key(const WritePlan& plan) {
  Sha256 sha;
  for (std::size_t i = 0; i < plan.ranges.size(); ++i) {
    std::string line = std::to_string(plan.ranges[i].offset);
    line += '+';
    line += std::to_string(plan.ranges[i].length);
    line += ' ';
    line += plan.checksums[i];
    line += '\n';
    sha.update(ByteView(reinterpret_cast<const std::uint8_t*>(line.data()), line.size()));
  }
  std::string key = plan.mode;
  key += ':';
  key += hex_of(sha);
  return key;
}

// A DigestCache key: what is computed, of which file as opened, over which plan (none: the whole file).
std::string digest_key(const char* what, const BinaryFile& file, const WritePlan* plan) {
  std::string key = what;
  key += ':';
  key += file.identity();
  if (plan) {
    key += ':';
    key += plan_key(*plan);
  }
  return key;
}

}  // namespace

const std::string& Flasher::sha_of(const image::LayoutEntry& entry) {
  const std::string id = sha_key(entry);
  auto it = shas_.find(id);
  if (it != shas_.end()) return it->second;
  if (auto plan = plans_.find(static_cast<std::uint8_t>(entry.id)); plan != plans_.end()) {
    if (auto started = range_checks_.find(plan->first); started != range_checks_.end()) {
      started->second.checked.get();  // a failed check rethrows its LayoutError
      std::string sha = started->second.sha.get();
      range_checks_.erase(started);
      return shas_[id] = std::move(sha);
    }
    check_ranges(entry, plan->second);  // computes the mapped ranges' SHA-256 with the checks
    return shas_.at(id);
  }
  const BinaryFile& file = file_of(entry);
  return shas_
      .emplace(id, digest(digest_key("file-sha256", file, nullptr), [&] { return std::optional(file.sha256_hex()); })
                       .value())
      .first->second;
}

std::string Flasher::sha_key(const image::LayoutEntry& entry) const {
  std::string key = entry.binary_path.string();
  if (auto plan = plans_.find(static_cast<std::uint8_t>(entry.id)); plan != plans_.end()) {
    key += '\n';
    key += plan_key(plan->second);
  }
  return key;
}

std::optional<std::string> Flasher::digest(const std::string& key, const DigestCache::Compute& compute) const {
  return options_.digests ? options_.digests->get(key, compute) : compute();
}

bool Flasher::check_mapped(const BinaryFile& file, const image::LayoutEntry& entry, const WritePlan& plan) const {
  return digest(digest_key("ranges-checked", file, &plan), [&]() -> std::optional<std::string> {
           if (!scan_mapped_ranges(file, entry, plan, stop_checks_, true, nullptr)) return std::nullopt;
           return std::string("ok");
         })
      .has_value();
}

std::optional<std::string> Flasher::mapped_sha(const BinaryFile& file, const image::LayoutEntry& entry,
                                               const WritePlan& plan) const {
  return digest(digest_key("ranges-sha256", file, &plan), [&]() -> std::optional<std::string> {
    Sha256 all;
    if (!scan_mapped_ranges(file, entry, plan, stop_checks_, false, &all)) return std::nullopt;
    return hex_of(all);
  });
}

void Flasher::check_ranges(const image::LayoutEntry& entry, const WritePlan& plan) {
  if (shas_.count(sha_key(entry))) return;  // its SHA-256 is taken only after its check
  if (auto started = range_checks_.find(static_cast<std::uint8_t>(entry.id)); started != range_checks_.end()) {
    started->second.checked.get();  // rethrows the check's LayoutError
    return;
  }
  const BinaryFile& file = file_of(entry);
  check_mapped(file, entry, plan);
  shas_[sha_key(entry)] = mapped_sha(file, entry, plan).value();  // stop_checks_ is not raised on this thread
}

void Flasher::start_range_checks() {
  // Over USB the board spends the ROM, TF-A and layout phases booting while the host would idle;
  // the mapped ranges are read and checked meanwhile on one thread (pread: the files are shared
  // read-only), partitions in programming order. Nothing of a partition is sent before its check
  // is taken. The partitions' SHA-256s (report, resume record) are wanted only after their last
  // byte: a second pass computes them while the first partitions go out.
  struct Work {
    const image::LayoutEntry* entry;  // layout_ does not change during the run
    const BinaryFile* file;           // files_ keeps its nodes
    WritePlan plan;                   // a copy: transfer() may drop the plan meanwhile
    std::promise<void> checked;
    std::promise<std::string> sha;
  };
  stop_range_checks();  // a second run() of this Flasher
  std::vector<Work> work;
  for (const auto& step : image::programming_order(layout_)) {
    if (!step.entry) continue;
    auto plan = plans_.find(static_cast<std::uint8_t>(step.phase));
    // Known SHA-256: its ranges were checked already (resume compares them before this).
    if (plan == plans_.end() || shas_.count(sha_key(*step.entry))) continue;
    work.push_back(Work{step.entry, &file_of(*step.entry), plan->second, {}, {}});
    range_checks_[plan->first] = RangeCheck{work.back().checked.get_future().share(), work.back().sha.get_future()};
  }
  if (work.empty()) return;
  try {
    checker_ = std::thread([this, work = std::move(work)]() mutable {
      for (auto& w : work) {
        try {
          if (!check_mapped(*w.file, *w.entry, w.plan)) return;
          w.checked.set_value();
        } catch (...) {
          w.checked.set_exception(std::current_exception());
        }
      }
      for (auto& w : work) {
        try {
          auto sha = mapped_sha(*w.file, *w.entry, w.plan);
          if (!sha) return;
          w.sha.set_value(std::move(*sha));
        } catch (...) {
          w.sha.set_exception(std::current_exception());
        }
      }
    });
  } catch (const std::system_error&) {
    range_checks_.clear();  // no thread to be had: check_ranges() hashes on this one
  }
}

void Flasher::stop_range_checks() noexcept {
  stop_checks_ = true;
  if (checker_.joinable()) checker_.join();
  range_checks_.clear();
  stop_checks_ = false;
}

Flasher::~Flasher() { stop_range_checks(); }

PartitionReport Flasher::record_for(std::uint8_t phase, const image::LayoutEntry* entry) {
  PartitionReport p;
  p.phase = phase;
  p.name = entry ? entry->name : "FlashLayout";
  p.ip = entry ? entry->ip : "none";
  p.offset = entry ? entry->offset_text : "";
  p.layout_line = entry ? entry->line : 0;
  p.file = entry ? entry->binary_path.string() : layout_file_.string();
  p.size = entry ? file_of(*entry).size() : layout_bytes_.size();
  p.bytes_sent = p.size;
  if (auto it = plans_.find(phase); entry && it != plans_.end()) {
    p.bytes_sent = it->second.mapped_bytes();
    p.bmap = it->second.mode == "bmap" ? it->second.bmap_file.string() : it->second.mode;
  }
  p.bytes_skipped = p.size - p.bytes_sent;
  return p;
}

void Flasher::prepare() {
  stage(FlashStep::check);
  layout_ = image::load_layout(layout_file_, options_.parse);
  image::require_ok(layout_, image::check_layout(layout_, options_.check));
  auto bytes = read_file(layout_file_);
  if (!bytes)
    throw LayoutError(errc::file_not_found, "cannot read " + layout_file_.string(),
                      ErrorContext{.operation = "flash", .file = layout_file_.string()});
  layout_bytes_ = std::move(*bytes);

  // Every file the run will need, opened and stat'ed now so nothing is missing half way; block
  // maps read and checked (USB only: over UART everything is sent).
  plans_.clear();
  for (const auto& step : image::programming_order(layout_)) {
    if (!step.entry) continue;
    file_of(*step.entry);
    if (device_.link() == Link::usb) plan_partition(*step.entry);
  }

  const std::uint16_t id = device_.get_id();
  report_.device_id = id;
  const SocInfo* soc = soc_by_device_id(id);
  if (!soc)
    throw DeviceError(errc::unsupported, "device reports id " + hex32(id) + ", not a known STM32MP SoC",
                      ErrorContext{.operation = "flash", .transport = device_.describe()});
  report_.soc = std::string(soc->family_name);
  note_link();
  // Resume: partitions this board's earlier run completed, with unchanged files, become 'E' lines.
  resumed_.clear();
  const std::map<std::uint8_t, std::string> completed = resume_plan();
  if (!completed.empty()) {
    std::map<std::uint32_t, std::string> rewrite;
    for (const auto& step : image::programming_order(layout_)) {
      if (!step.entry || !step.entry->is_device()) continue;
      auto it = completed.find(static_cast<std::uint8_t>(step.phase));
      if (it == completed.end() || it->second != sha_of(*step.entry)) continue;
      rewrite[step.entry->line] = "PE";
      resumed_.insert(static_cast<std::uint8_t>(step.phase));
    }
    if (!rewrite.empty()) {
      if (layout_.stm32_header)
        throw UsageError(errc::unsupported,
                         layout_file_.string() + " is wrapped in an STM32 header: resuming needs the plain text layout",
                         ErrorContext{.operation = "flash", .file = layout_file_.string()});
      const std::string text(layout_bytes_.begin(), layout_bytes_.end());
      const std::string sent = image::rewrite_options(text, rewrite);
      layout_bytes_.assign(sent.begin(), sent.end());
    }
  }
  // TF-A's own check of the FIP it loads into DDR (ToC name 0xAA640001, serial number != 0):
  // done here so that a wrong file stops the run before the ROM phase.
  for (std::uint32_t id : {0x02u, 0x03u}) {
    const auto* line = layout_.find_none(id);
    if (!line) continue;
    const Bytes fip = file_of(*line).head(8);
    if (fip.size() < 8 || load_le32(&fip[0]) != 0xAA640001u || load_le32(&fip[4]) == 0)
      throw LayoutError(errc::bad_image,
                        layout_file_.string() + ":" + std::to_string(line->line) + ": " + line->binary_path.string() +
                            " is not a FIP (no ToC header 0xAA640001 with a serial number): TF-A would refuse it",
                        ErrorContext{.operation = "flash", .phase = static_cast<std::uint8_t>(id), .partition = line->name,
                                     .layout_line = line->line, .file = line->binary_path.string()});
  }
  if (const auto* fsbl = layout_.find_none(phase::fsbl)) {
    try {
      const Bytes fsbl_bytes = image::read_file(fsbl->binary_path);
      const image::Stm32Image img = image::parse_image(fsbl_bytes, fsbl->binary_path.string());
      image::check_for_rom(img, *soc, fsbl->binary_path.string());
    } catch (Error& e) {
      e.add_context(ErrorContext{.operation = "flash", .phase = phase::fsbl, .partition = fsbl->name,
                                 .layout_line = fsbl->line});
      throw;
    }
  }
  check_long_run();
  start_range_checks();
}

std::string FlashEstimate::describe(const std::string& layout) const {
  char buf[256];
  const auto minutes = static_cast<long long>(eta_seconds / 60 + 0.5);
  std::snprintf(buf, sizeof buf, "%s sends %.1f MB over UART at %s, which takes about %lld h %02lld min at the protocol bound",
                layout.c_str(), double(bytes) / 1e6, speed.empty() ? "115200 baud" : speed.c_str(), minutes / 60,
                minutes % 60);
  return buf;
}

void Flasher::check_long_run() {
  if (device_.link() != Link::uart) return;
  FlashEstimate est;
  est.link = Link::uart;
  est.speed = device_.link_info().speed;
  const EtaModel eta = eta_model(device_);
  for (const auto& step : image::programming_order(layout_)) {
    const auto ph = static_cast<std::uint8_t>(step.phase);
    if ((options_.boot_only && (ph == 0x00 || ph > 0x03)) || resumed_.count(ph)) continue;
    const std::uint64_t bytes = step.entry ? file_of(*step.entry).size() : layout_bytes_.size();
    est.bytes += bytes;
    est.eta_seconds += eta.seconds(ph, bytes);
  }
  if (options_.on_event) options_.on_event(FlashEvent{FlashEvent::Kind::estimate, stage_, nullptr, &est});
  if (est.eta_seconds <= double(options_.long_run_limit.count()) || options_.long_run_consent) return;
  const std::string what = est.describe(layout_file_.string());
  if (options_.confirm && options_.confirm(what + "; USB (--port usb) is about 200 times faster")) return;
  throw UsageError(errc::needs_consent,
                   what + ": pass --yes (FlashOptions::long_run_consent) to go ahead, or flash over USB (--port usb), "
                          "about 200 times faster. Nothing was downloaded",
                   ErrorContext{.operation = "flash", .transport = device_.describe(), .file = layout_file_.string()});
}

std::map<std::uint8_t, std::string> Flasher::resume_plan() {
  std::map<std::uint8_t, std::string> completed;
  if (options_.resume.empty()) return completed;
  const BoardIdentity me = report_.board();
  const FlashReport* from = nullptr;
  for (const auto& r : options_.resume)
    if (r.board().same_board(me)) {
      from = &r;
      break;
    }
  if (!from && options_.resume_any_board && options_.resume.size() == 1) from = &options_.resume.front();
  if (!from) {
    std::string named;
    for (const auto& r : options_.resume) named += (named.empty() ? "" : ", ") + r.board().describe();
    throw UsageError(errc::other_board,
                     "the resume report names " + (named.empty() ? std::string("no board") : named) +
                         ", not the board connected now (" + me.describe() +
                         "): what it says was programmed is not on this board. Flash without --resume, or, if "
                         "this is the same board on another port, add --resume-any-board" +
                         (options_.resume.size() > 1 ? " with a report of that board alone" : std::string()),
                     ErrorContext{.operation = "flash", .transport = device_.describe(), .file = layout_file_.string()});
  }
  for (const auto& p : from->partitions)
    if ((p.result == PartitionResult::ok || p.result == PartitionResult::skipped_done_earlier) && !p.sha256.empty())
      completed[p.phase] = p.sha256;
  report_.resumed = true;
  return completed;
}

void Flasher::check_board_state(const PhaseInfo& first) {
  // The stages that program a layout: the ROM (FSBL), TF-A (FIP) and U-Boot asking for the layout.
  const std::uint8_t phase = first.phase;
  if (phase <= mp1boot::phase::ssbl || phase == mp1boot::phase::reset) return;
  const std::string where = " (" + device_.describe() + ")";
  if (phase == mp1boot::phase::end)
    throw DeviceError(errc::board_state,
                      "the board is not waiting for a layout" + where +
                          ": U-Boot stm32prog reports phase 0xFE (done), an earlier session already ended and "
                          "nothing would be programmed now. Reset the board in serial boot mode (power cycle or "
                          "reset button, boot pins on USB/UART) and flash again",
                      ErrorContext{.operation = "flash", .phase = phase, .transport = device_.describe()});
  throw DeviceError(errc::board_state,
                    "the board is not waiting for a layout" + where + ": it asks for phase " + hex8(phase) + " (" +
                        std::string(mp1boot::phase_name(phase)) +
                        ") first, so it is inside an earlier programming session with a layout this run did not "
                        "send. Reset the board in serial boot mode and flash again (--resume REPORT skips what the "
                        "earlier run programmed)",
                    ErrorContext{.operation = "flash", .phase = phase, .transport = device_.describe()});
}

void Flasher::serve(const PhaseInfo& info) {
  const std::uint8_t phase = info.phase;
  const image::LayoutEntry* entry = line_for(layout_, phase);
  if (phase != phase::flash_layout && !entry)
    throw LayoutError(errc::layout_rule,
                      "the device asks for phase " + hex8(phase) + " (" + std::string(phase_name(phase)) +
                          ") but " + layout_file_.string() + " has no " +
                          (phase <= 0x03 ? "IP none" : "device") + " line with that id",
                      ErrorContext{.operation = "flash", .phase = phase, .file = layout_file_.string()});
  PartitionReport part = record_for(phase, entry);
  if (!entry) part.sha256 = sha256_hex(layout_bytes_);
  part.result = PartitionResult::failed;
  // Replace the planned (skipped) record of this phase, or add one.
  std::size_t index = report_.partitions.size();
  for (std::size_t i = 0; i < report_.partitions.size(); ++i)
    if (report_.partitions[i].phase == phase && report_.partitions[i].result == PartitionResult::skipped) index = i;
  if (index == report_.partitions.size()) report_.partitions.push_back(part);
  // Keep the served ones first, in the order served.
  std::size_t served = 0;
  while (served < report_.partitions.size() && report_.partitions[served].result != PartitionResult::skipped) ++served;
  report_.partitions.erase(report_.partitions.begin() + static_cast<std::ptrdiff_t>(index));
  report_.partitions.insert(report_.partitions.begin() + static_cast<std::ptrdiff_t>(served), part);
  PartitionReport& rec = report_.partitions[served];

  stage(phase == phase::flash_layout ? FlashStep::layout
        : phase == phase::fsbl      ? FlashStep::fsbl
        : phase <= 0x03                   ? FlashStep::fip
                                          : FlashStep::partitions);
  const auto t0 = std::chrono::steady_clock::now();
  transfer(phase, entry, rec);
  if (entry) rec.sha256 = sha_of(*entry);
  rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rec.bytes_per_second = rec.seconds > 0 ? double(rec.size) / rec.seconds : 0;
  rec.result = PartitionResult::ok;
  if (options_.on_event) options_.on_event(FlashEvent{FlashEvent::Kind::partition_done, stage_, &rec});
}

void Flasher::note_link() {
  const LinkInfo info = device_.link_info();
  report_.link = device_.link();
  if (!info.serial.empty()) report_.serial = info.serial;
  if (!info.port_path.empty()) report_.port_path = info.port_path;
  if (!info.speed.empty()) report_.speed = info.speed;
  if (!info.revision.empty()) report_.revision = info.revision;
}

void Flasher::transfer(std::uint8_t phase, const image::LayoutEntry* entry, PartitionReport& rec) {
  const std::string& name = rec.name;
  const std::uint64_t size = rec.size;
  try {
    if (phase == phase::fsbl) {
      device_.boot(image::read_file(entry->binary_path), name, options_.progress);
    } else {
      DownloadOptions o;
      o.phase = phase;
      o.name = name;
      o.progress = options_.progress;
      auto plan = plans_.find(phase);
      if (!entry) {
        o.busy_after = erase_allowance(layout_);  // U-Boot erases the 'D' lines before it answers
        device_.download(layout_bytes_, o);
      } else if (plan != plans_.end() && device_.can_write_extents()) {
        check_ranges(*entry, plan->second);  // once per run, before any of the ranges is sent
        const std::uint64_t align = plan->second.mode == "bmap" ? 512 : 4096;
        const auto extents = extents_for_offsets(plan->second.ranges, align);
        std::uint64_t sent = 0;
        for (const auto& e : extents) sent += e.length;
        rec.bytes_sent = sent;
        rec.bytes_skipped = size - sent;
        if (!extents.empty()) device_.write_extents(file_of(*entry).reader(), extents, o);
      } else {
        if (plan != plans_.end()) {  // the stage cannot seek: everything goes
          rec.bytes_sent = size;
          rec.bytes_skipped = 0;
          rec.bmap.clear();
          plans_.erase(plan);  // sha_key() now names the whole file
        }
        const BinaryFile& file = file_of(*entry);
        // SHA-256 on the way: the streamed reads are sequential.
        Sha256 sha;
        std::uint64_t hashed = 0;
        const DataReader base = file.reader();
        const DataReader hashing = [&](std::uint64_t offset, std::span<std::uint8_t> out) {
          base(offset, out);
          if (offset == hashed) {
            sha.update(ByteView(out.data(), out.size()));
            hashed += out.size();
          } else if (offset < hashed && offset + out.size() > hashed) {
            const auto skip = static_cast<std::size_t>(hashed - offset);
            sha.update(ByteView(out.data() + skip, out.size() - skip));
            hashed = offset + out.size();
          }
        };
        device_.download_stream(hashing, size, o);
        if (hashed == size) shas_.try_emplace(sha_key(*entry), hex_of(sha));
      }
      device_.start(start_downloaded_image);
    }
  } catch (const Error& e) {
    // A link failure after the ROM stage: if the boot ROM answers now, the board reset (FIELD.md 10).
    const bool link_failure = e.code() == errc::disconnected || e.code() == errc::timeout || e.code() == errc::nack ||
                              e.code() == errc::stall || e.code() == errc::io || e.code() == errc::unexpected_byte;
    // A board that did not come back after a hand-over was already diagnosed (UsbDevice::reconnect).
    const bool reconnect = e.context().operation.rfind("reconnect", 0) == 0;
    if (phase == phase::fsbl || !link_failure || reconnect || !device_.reset_detected(options_.reset_probe))
      throw;
    std::string reached;
    if (e.context().bytes_sent)
      reached = " after " + std::to_string(*e.context().bytes_sent) + " of " + std::to_string(size) +
                " bytes were acknowledged";
    ErrorContext c = e.context();
    c.operation = "flash";
    c.phase = phase;
    c.partition = name;
    if (const auto* entry = line_for(layout_, phase)) c.layout_line = entry->line;
    throw DeviceError(errc::device_reset,
                      "the board reset during phase " + hex8(phase) + " (" + name + ")" + reached +
                          ": the boot ROM answers again (" + e.message() +
                          "). Check the power supply and DDR settings, then resume with --resume REPORT",
                      c);
  }
}

void Flasher::verify() {
  stage(FlashStep::verify);
  std::vector<std::string> bad;
  for (auto& rec : report_.partitions) {
    if ((rec.result != PartitionResult::ok && rec.result != PartitionResult::skipped_done_earlier) || rec.ip == "none" || rec.phase < 0x04) continue;
    const image::LayoutEntry* entry = line_for(layout_, rec.phase);
    if (!entry) continue;
    ProgressFn progress;
    if (options_.progress)
      progress = [&](const Progress& p) {
        Progress q = p;
        q.partition = rec.name;
        options_.progress(q);
      };
    // The read-back streams through a comparison with the file: memory does not grow with the
    // partition. With a block map only the mapped ranges are compared (the rest of the medium
    // holds whatever was there); the read stops at the end of the last range.
    const BinaryFile& file = file_of(*entry);
    auto plan = plans_.find(rec.phase);
    const bool mapped = plan != plans_.end() && !rec.bmap.empty();
    const std::vector<image::ByteRange> whole{image::ByteRange{0, file.size()}};
    const auto& ranges = mapped ? plan->second.ranges : whole;
    const std::uint64_t end = ranges.empty() ? 0 : ranges.back().end();
    std::optional<std::uint64_t> first_bad;
    std::uint64_t received = 0;
    std::size_t next_range = 0;
    Sha256 sha;
    Bytes want;
    auto compare = [&](std::uint64_t at, ByteView data) {
      if (!mapped) sha.update(data);
      received = at + data.size();
      while (!first_bad && next_range < ranges.size() && ranges[next_range].offset < received) {
        const auto& r = ranges[next_range];
        const std::uint64_t lo = std::max(r.offset, at);
        const std::uint64_t hi = std::min(r.end(), received);
        if (lo < hi) {
          want.resize(static_cast<std::size_t>(hi - lo));
          file.read(lo, want);
          const auto got = data.subspan(static_cast<std::size_t>(lo - at), want.size());
          auto m = std::mismatch(want.begin(), want.end(), got.begin());
          if (m.first != want.end()) first_bad = lo + static_cast<std::uint64_t>(m.first - want.begin());
        }
        if (r.end() > received) break;  // the rest of this range comes with the next chunk
        ++next_range;
      }
    };
    if (end) device_.read_stream(rec.phase, end, compare, progress);
    std::string what;
    if (!first_bad && received < end) {
      what = "short read: " + std::to_string(received) + " of " + std::to_string(end) + " bytes";
    } else if (first_bad) {
      char where[64];
      std::snprintf(where, sizeof where, "0x%llx", static_cast<unsigned long long>(*first_bad));
      what = (mapped ? "mapped range differs at offset " : "first difference at offset ") + std::string(where);
    }
    if (!mapped) rec.readback_sha256 = hex_string(sha.finish());
    rec.verified = what.empty() ? VerifyResult::ok : VerifyResult::mismatch;
    if (!what.empty())
      bad.push_back(rec.name + " (" + hex8(rec.phase) + ", " + rec.ip + ", layout line " +
                    std::to_string(rec.layout_line) + ") " + what);
    if (options_.on_event) options_.on_event(FlashEvent{FlashEvent::Kind::partition_verified, stage_, &rec});
  }
  if (!bad.empty()) {
    std::string list;
    for (const auto& b : bad) list += (list.empty() ? "" : "; ") + b;
    throw DeviceError(errc::verify_mismatch,
                      "read-back differs from the file for " + std::to_string(bad.size()) + " partition(s): " + list,
                      ErrorContext{.operation = "verify", .transport = device_.describe(), .file = layout_file_.string()});
  }
}

FlashReport Flasher::run() {
  const auto t0 = std::chrono::steady_clock::now();
  auto finish = [&] {
    try {
      note_link();
    } catch (const std::exception&) {
      // the link is gone: keep what was noted before
    }
    report_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  try {
    prepare();
    // The plan, for the report: phases the layout says the device will ask for.
    report_.partitions.clear();
    for (const auto& step : image::programming_order(layout_)) {
      PartitionReport p = record_for(static_cast<std::uint8_t>(step.phase), step.entry);
      if (resumed_.count(p.phase)) {
        p.result = PartitionResult::skipped_done_earlier;
        p.sha256 = sha_of(*step.entry);
      }
      report_.partitions.push_back(std::move(p));
    }

    // Each served phase must be followed by a different one; the total is bounded too.
    const std::size_t max_steps = layout_.entries.size() + 8;
    std::optional<std::uint8_t> last;
    for (std::size_t steps = 0;; ++steps) {
      const PhaseInfo info = device_.get_phase();
      if (steps == 0 && !options_.boot_only) check_board_state(info);
      if (info.phase == phase::end) {
        // A partition the device never asked for was not programmed (a Start repeated after its
        // ACK was garbled ends the next phase with no data): never "ok" (boot_only programs none).
        for (const auto& p : report_.partitions)
          if (!options_.boot_only && p.result == PartitionResult::skipped && p.ip != "none")
            throw DeviceError(errc::device_reported,
                              "the device ended the session (phase 0xFE) without asking for " + p.name + " (" +
                                  hex8(p.phase) + "): it was not programmed",
                              ErrorContext{.operation = "flash", .phase = p.phase, .partition = p.name,
                                           .transport = device_.describe()});
        if (options_.verify) verify();
        break;
      }
      if (options_.boot_only && info.phase != phase::reset && (info.phase == 0x00 || info.phase > 0x03)) break;
      if (info.phase == phase::reset) {
        std::string message = info.message;
        while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
        ErrorContext c{.operation = "flash", .transport = device_.describe()};
        if (last) {
          c.phase = *last;
          if (const auto* e = line_for(layout_, *last)) {
            c.partition = e->name;
            c.layout_line = e->line;
          }
        }
        throw DeviceError(errc::device_reported, message, c);
      }
      if ((last && *last == info.phase) || steps >= max_steps)
        throw ProtocolError(errc::unexpected_byte,
                            "the device asks for phase " + hex8(info.phase) + " again after it was sent: no progress",
                            ErrorContext{.operation = "flash", .phase = info.phase, .transport = device_.describe()});
      serve(info);
      last = info.phase;
    }
    stage(FlashStep::done);
    report_.result = FlashResult::ok;
    report_.error.clear();
    report_.error_code.clear();
    finish();
    return report_;
  } catch (const std::exception& e) {
    report_.result = FlashResult::failed;
    report_.error = e.what();
    if (const auto* err = dynamic_cast<const Error*>(&e)) report_.error_code = errc_name(err->code());
    finish();
    stage(FlashStep::failed);
    throw;
  }
}

FlashReport flash(Device& device, const std::filesystem::path& layout_file, FlashOptions options) {
  return Flasher(device, layout_file, std::move(options)).run();
}

}  // namespace mp1boot::session
