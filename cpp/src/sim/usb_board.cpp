// SPDX-License-Identifier: MIT
// UsbBoard: standard requests and descriptors (PROTOCOL.md 3.2.1), stage transitions
// (hand-over, detach and re-enumeration, board reset), the exchange log and the recording folder. The DFU
// state machines of the stages are in usb_stages.cpp.
#include "mp1boot/sim/usb_board.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "mp1boot/error.hpp"
#include "usb_stage.hpp"

namespace mp1boot::sim {

namespace {

using Reply = UsbBoard::Reply;
using usb_detail::Transition;

constexpr std::uint8_t req_get_status = 0, req_clear_feature = 1, req_set_feature = 3, req_set_address = 5,
                       req_get_descriptor = 6, req_get_configuration = 8, req_set_configuration = 9,
                       req_get_interface = 10, req_set_interface = 11;
constexpr std::uint8_t dt_device = 1, dt_config = 2, dt_string = 3, dt_interface = 4, dt_qualifier = 6;

Reply ok(Bytes data = {}) { return Reply{Reply::Kind::ok, std::move(data), {}}; }
Reply stall() { return Reply{Reply::Kind::stall, {}, {}}; }

Bytes string_descriptor(std::string_view text) {
  Bytes b{0, dt_string};
  for (char c : text) {
    b.push_back(static_cast<std::uint8_t>(c));
    b.push_back(0);
  }
  if (b.size() > 254) b.resize(254);
  b[0] = static_cast<std::uint8_t>(b.size());
  return b;
}

const char* kind_name(Reply::Kind k) {
  switch (k) {
    case Reply::Kind::ok: return "ok";
    case Reply::Kind::stall: return "stall";
    case Reply::Kind::disconnected: return "disconnected";
  }
  return "?";
}

}  // namespace

UsbBoard::UsbBoard(UsbBoardOptions options) : options_(std::move(options)) {
  if (options_.soc == nullptr) throw UsageError(errc::usage, "USB board: no SoC given");
  host_ = std::make_unique<usb_detail::UsbStageHost>(*this);
  enter(usb_detail::make_rom_stage(*host_), false);
}

UsbBoard::~UsbBoard() {
  try {
    write_records();
  } catch (...) {
    // A destructor must not throw; write_records() can be called explicitly to see errors.
  }
}

Reply UsbBoard::control(const usb::SetupPacket& setup, ByteView out_data, std::uint16_t in_length) {
  ++transfers_;
  std::string stage_name = stage_->description().name;
  bool in = (setup.request_type & 0x80) != 0;
  Reply r;
  if (!attached_) {
    r.kind = Reply::Kind::disconnected;
  } else if (auto injected = inject_fault(setup, in ? ByteView{} : out_data)) {
    r = std::move(*injected);
  } else {
    switch (setup.request_type & 0x60) {
      case 0x00: r = standard_request(setup, in ? in_length : 0); break;
      case 0x20: r = stage_->dfu_request(setup, in ? ByteView{} : out_data, in ? in_length : 0, alt_); break;
      default: r = stall(); break;
    }
    if (!in || r.kind != Reply::Kind::ok) r.data.clear();
    if (r.data.size() > in_length) r.data.resize(in_length);
    if (lose_reply(setup)) r = Reply{Reply::Kind::ok, {}, std::chrono::hours(1)};  // the host times out
  }
  if (logged_transfers_ >= options_.log_limit) {
    if (logged_transfers_++ == options_.log_limit)
      log_event({{"event", "log_full"}, {"limit", options_.log_limit}});
    if (attached_) apply_transition();
    return r;
  }
  ++logged_transfers_;
  LogEntry e;
  e.n = transfers_;
  e.stage = stage_name;
  char head[64];
  std::snprintf(head, sizeof head, "%02x %02x %04x %04x %04x", setup.request_type, setup.request, setup.value,
                setup.index, in ? in_length : static_cast<unsigned>(out_data.size()));
  nlohmann::ordered_json j{{"n", e.n}, {"stage", stage_name}, {"setup", head},
                            {"out", in ? 0 : out_data.size()}, {"reply", kind_name(r.kind)}};
  if (in && r.kind == Reply::Kind::ok) j["in"] = to_hex(r.data);
  e.text = j.dump();
  log_.push_back(std::move(e));
  if (attached_) apply_transition();
  return r;
}

std::optional<Reply> UsbBoard::inject_fault(const usb::SetupPacket& setup, ByteView out) {
  const UsbFaultPlan& f = options_.faults;
  auto listed = [this](const std::vector<std::uint64_t>& v) { return std::find(v.begin(), v.end(), transfers_) != v.end(); };
  if (listed(f.fail_transfers)) {
    log_event({{"event", "fault"}, {"fault", "fail_transfer"}});
    return Reply{Reply::Kind::ok, {}, std::chrono::hours(1)};  // never completes: the host times out
  }
  if (listed(f.stall_transfers)) {
    log_event({{"event", "fault"}, {"fault", "stall_transfer"}});
    return stall();
  }
  const bool dfu_class = (setup.request_type & 0x60) == 0x20;
  if (dfu_class && forced_status_) {  // status_at_block fired: dfuERROR until CLRSTATUS / ABORT
    switch (static_cast<dfu::Request>(setup.request)) {
      case dfu::Request::getstatus: return ok(usb_detail::status_bytes(*forced_status_, 0, dfu::State::error));
      case dfu::Request::getstate: return ok(Bytes{static_cast<std::uint8_t>(dfu::State::error)});
      case dfu::Request::clrstatus:
      case dfu::Request::abort: forced_status_.reset(); return ok();
      default: return stall();
    }
  }
  if (!dfu_class || static_cast<dfu::Request>(setup.request) != dfu::Request::dnload || out.empty()) return std::nullopt;
  const std::uint8_t phase = usb_detail::alt_phase(stage_->description(), alt_);
  std::uint64_t& bytes = fault_bytes_[phase];
  std::uint64_t& blocks = fault_blocks_[phase];
  // A fault "after N bytes" fires on the block that holds byte N (as on UART), so it also fires
  // inside a phase of one block such as the flash layout.
  const auto reaches = [&](std::uint64_t after) { return bytes + out.size() > after; };
  if (f.reset_during && f.reset_during->phase == phase && reaches(f.reset_during->after_bytes) && !reset_fired_) {
    reset_fired_ = true;  // the board dies with this block in flight; the ROM comes back
    attached_ = false;
    pending_ = usb_detail::make_rom_stage(*host_);
    log_event({{"event", "reset"}, {"returns", true}, {"fault", true}});
    return Reply{Reply::Kind::disconnected, {}, {}};
  }
  if (f.drop_during && f.drop_during->phase == phase && reaches(f.drop_during->after_bytes) && !drop_fired_) {
    drop_fired_ = true;  // the cable is pulled with this block in flight
    log_event({{"event", "fault"}, {"fault", "drop"}});
    unplug();
    return Reply{Reply::Kind::disconnected, {}, {}};
  }
  const auto& sb = f.status_at_block;
  if (sb && !status_fired_ && (!sb->phase || *sb->phase == phase) && blocks == sb->block) {
    status_fired_ = true;  // the block is lost; the status reports why
    forced_status_ = sb->status;
    log_event({{"event", "fault"}, {"fault", "status"}});
    return ok();
  }
  bytes += out.size();
  ++blocks;
  return std::nullopt;
}

bool UsbBoard::lose_reply(const usb::SetupPacket& setup) {
  if ((setup.request_type & 0x60) != 0x20 || static_cast<dfu::Request>(setup.request) != dfu::Request::getstatus)
    return false;
  const auto& lost = options_.faults.lose_status_replies;
  if (std::find(lost.begin(), lost.end(), ++status_requests_) == lost.end()) return false;
  log_event({{"event", "fault"}, {"fault", "lose_status"}});
  return true;
}

Reply UsbBoard::standard_request(const usb::SetupPacket& s, std::uint16_t in_length) {
  const bool in = (s.request_type & 0x80) != 0;
  const auto& d = stage_->description();
  switch (s.request) {
    case req_get_descriptor: return in ? get_descriptor(s) : stall();
    case req_get_status:
      if (!in) return stall();
      return ok(Bytes{static_cast<std::uint8_t>((s.request_type & 0x1F) == 0 ? 0x01 : 0x00), 0});  // self-powered
    case req_get_configuration: return in ? ok(Bytes{configuration_}) : stall();
    case req_set_configuration:
      if (in || s.value > 1) return stall();
      configuration_ = static_cast<std::uint8_t>(s.value);
      return ok();
    case req_get_interface: return in ? ok(Bytes{alt_}) : stall();
    case req_set_interface:
      if (in || s.index != 0 || s.value >= d.alts.size()) return stall();
      alt_ = static_cast<std::uint8_t>(s.value);
      stage_->set_interface(alt_);
      return ok();
    case req_clear_feature:
    case req_set_feature:
    case req_set_address: return in ? stall() : ok();
    default: break;
  }
  (void)in_length;
  return stall();
}

Reply UsbBoard::get_descriptor(const usb::SetupPacket& s) {
  const auto type = static_cast<std::uint8_t>(s.value >> 8);
  const auto index = static_cast<std::uint8_t>(s.value & 0xFF);
  switch (type) {
    case dt_device: return ok(device_descriptor());
    case dt_config: return index == 0 ? ok(config_descriptor()) : stall();
    case dt_string: {
      if (index == 0) return ok(Bytes{4, dt_string, 0x09, 0x04});  // LANGID en-US
      auto all = strings();
      if (index > all.size()) return stall();
      return ok(string_descriptor(all[index - 1]));
    }
    case dt_qualifier: return ok(Bytes{0x0A, dt_qualifier, 0x00, 0x02, 0, 0, 0, 0x40, 0x01, 0x00});
    case dfu::functional_descriptor_type: return ok(usb_detail::functional_bytes(stage_->description().functional));
    default: return stall();  // BOS, other-speed configuration, ...
  }
}

Reply UsbBoard::port_reset() {
  if (!attached_) return Reply{Reply::Kind::disconnected, {}, {}};
  stage_->port_reset();
  alt_ = 0;
  log_event({{"event", "port_reset"}});
  return ok();
}

void UsbBoard::apply_transition() {
  switch (stage_->take_transition()) {
    case Transition::none: return;
    case Transition::handover: {
      auto next = stage_->next_stage(*host_);
      if (stays_away_after(stage_->description().name)) next.reset();
      if (next) {
        enter(std::move(next), false);
        return;
      }
      [[fallthrough]];
    }
    case Transition::vanish:
      attached_ = false;
      pending_.reset();
      log_event({{"event", "detach"}, {"returns", false}});
      break;
    case Transition::detach:
      attached_ = false;
      pending_leave_time_ = stage_->leave_time();
      pending_ = stage_->next_stage(*host_);
      if (stays_away_after(stage_->description().name)) pending_.reset();
      log_event({{"event", "detach"}, {"returns", pending_ != nullptr}});
      break;
    case Transition::reset:
      attached_ = false;
      pending_ = usb_detail::make_rom_stage(*host_);
      log_event({{"event", "reset"}, {"returns", true}});
      break;
  }
  try {
    write_records();
  } catch (...) {
    // Recording must not change the device's behaviour; write_records() reports errors itself.
  }
}

void UsbBoard::enter(std::unique_ptr<usb_detail::UsbStage> stage, bool new_enumeration) {
  stage_ = std::move(stage);
  if (new_enumeration) {
    ++generation_;
    alt_ = 0;
    configuration_ = 1;
  }
  log_event({{"event", "stage"}, {"stage", stage_->description().name}, {"generation", generation_}});
  try {
    write_records();
  } catch (...) {
  }
}

std::optional<std::chrono::microseconds> UsbBoard::pending_reattach() const {
  if (attached_ || !pending_) return std::nullopt;
  return options_.reenumerate_delay + pending_leave_time_;
}

bool UsbBoard::reattach() {
  if (attached_ || !pending_) return false;
  attached_ = true;
  pending_leave_time_ = {};
  enter(std::move(pending_), true);
  return true;
}

void UsbBoard::unplug() {
  attached_ = false;
  pending_.reset();
  log_event({{"event", "unplug"}});
}

void UsbBoard::power_cycle() {
  pending_.reset();
  attached_ = true;
  log_event({{"event", "power_cycle"}});
  enter(usb_detail::make_rom_stage(*host_), true);
}

Bytes UsbBoard::device_descriptor() const {
  return Bytes{0x12, dt_device, 0x00, 0x02, 0x00, 0x00, 0x00, 0x40, 0x83, 0x04, 0x11, 0xDF, 0x00, 0x02, 1, 2, 3, 1};
}

Bytes UsbBoard::config_descriptor() const {
  const auto& d = stage_->description();
  const auto total = static_cast<std::uint16_t>(9 * (d.alts.size() + 2));
  Bytes b{9, dt_config, 0, 0, 1, 1, 2, 0xC0, 0x32};
  store_le16(&b[2], total);
  for (std::size_t i = 0; i < d.alts.size(); ++i) {
    auto alt = static_cast<std::uint8_t>(i);
    Bytes itf{9, dt_interface, 0, alt, 0, 0xFE, 0x01, 0x02, static_cast<std::uint8_t>(6 + alt)};
    b.insert(b.end(), itf.begin(), itf.end());
  }
  Bytes f = usb_detail::functional_bytes(d.functional);
  b.insert(b.end(), f.begin(), f.end());
  return b;
}

Bytes UsbBoard::descriptors() const {
  Bytes b = device_descriptor();
  Bytes c = config_descriptor();
  b.insert(b.end(), c.begin(), c.end());
  return b;
}

std::vector<std::string> UsbBoard::strings() const {
  const auto& d = stage_->description();
  std::vector<std::string> s{"STMicroelectronics", d.product, options_.serial, "DFU Config", "DFU Interface"};
  s.insert(s.end(), d.alts.begin(), d.alts.end());
  return s;
}

std::vector<usb::AltSetting> UsbBoard::alt_settings() const {
  std::vector<usb::AltSetting> out;
  const auto& d = stage_->description();
  for (std::size_t i = 0; i < d.alts.size(); ++i) out.push_back({static_cast<std::uint8_t>(i), d.alts[i]});
  return out;
}

dfu::FunctionalDescriptor UsbBoard::functional_descriptor() const { return stage_->description().functional; }

std::string UsbBoard::name() const { return "sim:" + std::string(options_.soc->name); }

usb::Identity UsbBoard::identity() const {
  usb::Identity id;
  id.vendor_id = dfu::st_vendor_id;
  id.product_id = dfu::st_dfu_product_id;
  id.bus = 1;
  id.address = static_cast<std::uint8_t>(2 + generation_ % 126);
  id.port_path = "1-1";
  id.speed = options_.full_speed ? "full" : "high";
  id.manufacturer = "STMicroelectronics";
  id.product = stage_->description().product;
  id.serial = options_.serial;
  id.transfer_size = stage_->description().functional.transfer_size;
  id.dfu_attributes = stage_->description().functional.attributes;
  return id;
}

bool UsbBoard::stays_away_after(const std::string& stage) const {
  const auto& after = options_.faults.never_reenumerate_after;
  return after && to_string(*after) == stage;
}

std::string UsbBoard::stage() const { return stage_->description().name; }
dfu::State UsbBoard::dfu_state() const { return stage_->state(); }
std::uint8_t UsbBoard::phase() const { return stage_->phase(); }

void UsbBoard::log_event(const nlohmann::ordered_json& fields) {
  LogEntry e;
  e.n = transfers_;
  e.stage = stage_ ? stage_->description().name : std::string();
  nlohmann::ordered_json j{{"n", e.n}};
  j.update(fields);
  e.text = j.dump();
  log_.push_back(std::move(e));
}

void UsbBoard::complete_image(std::uint8_t phase, ByteView image, bool accepted, const std::string& note) {
  images_[phase] = Bytes(image.begin(), image.end());
  log_event({{"event", "image"}, {"phase", hex8(phase)}, {"size", image.size()}, {"accepted", accepted}, {"note", note}});
}

std::string UsbBoard::exchange_json() const {
  std::string s = "[";
  for (std::size_t i = 0; i < log_.size(); ++i) s += (i ? ",\n " : "\n ") + log_[i].text;
  return s + "\n]\n";
}

void UsbBoard::write_records() const {
  if (options_.record_dir.empty()) return;
  namespace fs = std::filesystem;
  fs::path dir(options_.record_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  auto write = [](const fs::path& p, const char* data, std::size_t size) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(data, static_cast<std::streamsize>(size));
    if (!f) throw TransportError(errc::io, "cannot write " + p.string());
  };
  for (const auto& [phase, bytes] : images_) {
    char name[32];
    std::snprintf(name, sizeof name, "phase-0x%02x.bin", phase);
    write(dir / name, reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  std::string json = exchange_json();
  write(dir / "usb-exchange.json", json.data(), json.size());
}

}  // namespace mp1boot::sim
