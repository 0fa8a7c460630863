// SPDX-License-Identifier: MIT
// The DFU state machines of the simulated stages: boot ROM, TF-A and a halted FSBL (U-Boot's
// gadget is in usb_stage_uboot.cpp). Device truth comes from PROTOCOL.md 3.4 and TF-A's usb_dfu.c /
// stm32cubeprogrammer_usb.c (read for facts, not copied); ROM behaviour is [LOG]/[INF].
//
// Theory of operation (bState after each request; "stall" leaves the state unless noted):
//
//   ROM (3.4.1)   IDLE/DNLOAD-IDLE --DNLOAD(n>0) on the FSBL alt--> DNLOAD-SYNC
//                 DNLOAD-SYNC --GETSTATUS reports DNBUSY/poll--> DNBUSY
//                 DNBUSY --GETSTATUS reports DNLOAD-IDLE/poll--> DNLOAD-IDLE
//                 DNLOAD-IDLE --DNLOAD(0): header checks--> MANIFEST-SYNC
//                 MANIFEST-SYNC --GETSTATUS--> good: reports MANIFEST/poll, then MP15 hands over to
//                   TF-A in place, MP13/MP25 go IDLE and wait for DETACH; bad: reports ERROR +
//                   errFILE/errVERIFY ([UNK], configurable). Other misuse: ERROR + stall [INF].
//   TF-A (3.4.2)  DNLOAD(n>0) in IDLE/DNLOAD-IDLE -> DNLOAD-SYNC, reported as 3 then 5;
//                 DNLOAD(0) in DNLOAD-IDLE -> FIP check -> MANIFEST-SYNC reported as 7 (1 ms) -> IDLE;
//                 CLRSTATUS outside ERROR -> ERROR/errUNKNOWN; wrong alt/phase -> phase 0xFF + stall.
//   U-Boot        see usb_stage_uboot.cpp.
#include <cstdio>

#include "mp1boot/sim/rom_uart.hpp"
#include "usb_stage.hpp"

namespace mp1boot::sim::usb_detail {

namespace {

using dfu::Request;
using dfu::State;
using dfu::Status;
using Reply = UsbBoard::Reply;

constexpr std::uint32_t fip_toc_name = 0xAA640001;   // FIP ToC header magic (LE32 at offset 0)

Reply ok(Bytes data = {}, std::chrono::microseconds busy = {}) { return ok_reply(std::move(data), busy); }
Reply stall() { return stall_reply(); }
Bytes fit(Bytes data, std::uint16_t in_length) { return fit_reply(std::move(data), in_length); }

std::string format(const char* fmt, unsigned a, unsigned b, const std::string& c = {}) {
  char buf[160];
  std::snprintf(buf, sizeof buf, fmt, a, b, c.c_str());
  return buf;
}

// Get Phase reply (PROTOCOL.md 3.5): phase, LE32 address, LE32 offset, then flag or message.
Bytes phase_reply(std::uint8_t phase, std::uint32_t address, bool with_flag, bool flag, const std::string& msg) {
  Bytes b(9, 0);
  b[0] = phase;
  store_le32(&b[1], address);
  if (phase == phase::reset) {
    for (char c : msg) b.push_back(static_cast<std::uint8_t>(c));
  } else if (with_flag) {
    b.push_back(flag ? 0x01 : 0x00);
  }
  return b;
}


void set_alts(StageDescription& d, const std::vector<std::pair<const char*, std::uint8_t>>& alts) {
  for (const auto& [name, phase] : alts) {
    d.alts.emplace_back(name);
    d.alt_phases.push_back(phase);
  }
}

StageDescription rom_description(const SocInfo& soc, bool full_speed) {
  StageDescription d;
  d.name = "rom";
  char buf[96];
  std::snprintf(buf, sizeof buf, "DFU in %s Mode @Device ID /0x%03X, @Revision ID /0x%04X", full_speed ? "FS" : "HS",
                soc.device_id, soc.rom_revision_string);
  d.product = buf;
  set_alts(d, usb_soc_row(soc).rom_alts);
  d.functional = st_functional(255, 1024);
  return d;
}

StageDescription tfa_description(const SocInfo& soc) {
  StageDescription d;
  d.name = "tf-a";
  char buf[128];
  std::snprintf(buf, sizeof buf, "DFU @Device ID /0x%03X, @Revision ID /0x%04X, @Name /%s,", soc.device_id,
                soc.revision_id, std::string(soc.part_name).c_str());
  d.product = buf;
  set_alts(d, usb_soc_row(soc).tfa_alts);
  d.functional = st_functional(255, 1024);
  return d;
}

// ---------------------------------------------------------------------------------------------
// An FSBL that does not answer DFU (crashed, or built without the USB programmer). MP15 keeps
// the ROM's enumeration, so descriptors still come from the controller; every DFU request stalls.
class HaltedStage final : public UsbStage {
 public:
  explicit HaltedStage(StageDescription d) : desc_(std::move(d)) { desc_.name = "halted"; }
  const StageDescription& description() const override { return desc_; }
  Reply dfu_request(const usb::SetupPacket&, ByteView, std::uint16_t, std::uint8_t) override { return stall(); }
  void port_reset() override {}
  State state() const override { return State::error; }
  std::uint8_t phase() const override { return phase::reset; }
  std::unique_ptr<UsbStage> next_stage(UsbStageHost&) override { return nullptr; }

 private:
  StageDescription desc_;
};

// ---------------------------------------------------------------------------------------------
class TfaStage final : public UsbStage {
 public:
  TfaStage(UsbStageHost& host, StageDescription d, std::uint8_t phase, std::uint32_t base, std::uint32_t length)
      : host_(host), desc_(std::move(d)), phase_(phase), base_(base), address_(base), length_(length) {
    desc_.name = "tf-a";
  }
  const StageDescription& description() const override { return desc_; }
  void port_reset() override { to(State::dfu_idle); }
  State state() const override { return state_; }
  std::uint8_t phase() const override { return phase_; }

  std::unique_ptr<UsbStage> next_stage(UsbStageHost& host) override {
    // Only a FIP that passed manifestation lets TF-A continue; otherwise it stops USB and fails
    // to load its images: the board never comes back.
    if (!detach_requested()) return nullptr;
    const SocInfo& soc = host.soc();
    if (done_phase_ == phase::ddr_fip)
      return std::make_unique<TfaStage>(host, tfa_description(soc), phase::ssbl, soc.tfa_fip_buffer,
                                        host.options().tfa_buffer_size);
    if (!host.options().uboot) return nullptr;
    return make_uboot_stage(host);
  }

  Reply dfu_request(const usb::SetupPacket& s, ByteView out, std::uint16_t in_length,
                    std::uint8_t alt) override {
    switch (static_cast<Request>(s.request)) {
      case Request::dnload: return out.empty() ? end_download(alt) : download(out, alt);
      case Request::upload: return upload(in_length, alt);
      case Request::getstatus: {
        Bytes b = status_bytes(status_, 0, state_);
        if (state_ == State::dnload_sync) {
          state_ = State::dnload_idle;
        } else if (state_ == State::manifest_sync) {
          b = status_bytes(status_, 1, State::manifest);  // ManifestationTolerant: 7, 1 ms, then IDLE
          state_ = State::dfu_idle;
        }
        return ok(fit(std::move(b), in_length));
      }
      case Request::clrstatus:
        if (state_ == State::error) to(State::dfu_idle);
        else {
          state_ = State::error;  // TF-A quirk: CLRSTATUS outside dfuERROR is an error
          status_ = Status::err_unknown;
        }
        return ok();
      case Request::getstate: return ok(fit({static_cast<std::uint8_t>(state_)}, in_length));
      case Request::abort:
        if (active()) to(State::dfu_idle);
        return ok();
      case Request::detach:
        if (active()) to(State::dfu_idle);
        transition_ = Transition::detach;
        return ok();
    }
    return stall();
  }

 private:
  bool active() const {
    return state_ == State::dfu_idle || state_ == State::dnload_sync || state_ == State::dnload_idle ||
           state_ == State::manifest_sync || state_ == State::upload_idle;
  }
  bool detach_requested() const { return phase_ == phase::flash_layout && address_ == phase_address_none; }
  void to(State s) {
    state_ = s;
    status_ = Status::ok;
  }
  void dfu_error(std::string message) {
    if (phase_ == phase::reset) return;  // the first error is the one reported
    message_ = std::move(message);
    phase_ = phase::reset;
    address_ = phase_address_none;
    length_ = 0;
  }

  Reply download(ByteView out, std::uint8_t alt) {
    if (state_ != State::dfu_idle && state_ != State::dnload_idle) return stall();
    if (phase_ != alt_phase(desc_, alt) || address_ == phase_address_none) {
      dfu_error(format("phase ID :%u, alternate %u, address %s", phase_, alt, to_hex_noprefix(address_)));
      return stall();
    }
    std::uint64_t offset = address_ - base_;
    address_ += static_cast<std::uint32_t>(out.size());
    if (address_ - base_ > length_) return stall();  // buffer overrun
    if (buffer_.size() < offset + out.size()) buffer_.resize(offset + out.size());
    std::copy(out.begin(), out.end(), buffer_.begin() + static_cast<std::ptrdiff_t>(offset));
    state_ = State::dnload_sync;
    return ok({}, host_.options().block_time);
  }

  Reply end_download(std::uint8_t alt) {
    if (state_ != State::dnload_idle) return stall();
    state_ = State::manifest_sync;
    if (phase_ != alt_phase(desc_, alt)) return stall();
    Bytes image(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(address_ - base_));
    bool fip = image.size() >= 8 && load_le32(&image[0]) == fip_toc_name && load_le32(&image[4]) != 0;
    std::uint8_t phase = phase_;
    if (!fip) {
      host_.complete_image(phase, image, false, "FIP header check failed");
      dfu_error(format("FIP Header check failed for phase %u", alt, 0));
      return stall();
    }
    host_.complete_image(phase, image, true, "");
    done_phase_ = phase;
    phase_ = phase::flash_layout;  // "phase 0x00, address 0xFFFFFFFF": please detach me
    address_ = phase_address_none;
    length_ = 0;
    return ok();
  }

  Reply upload(std::uint16_t in_length, std::uint8_t alt) {
    if (in_length == 0) {
      state_ = State::dfu_idle;
      return ok();
    }
    if (state_ != State::dfu_idle && state_ != State::upload_idle) return stall();
    if (alt_phase(desc_, alt) != phase::command) {
      dfu_error(format("phase ID :%u, alternate %u for phase %s", phase_, alt, std::to_string(alt_phase(desc_, alt))));
      state_ = State::error;
      status_ = Status::err_stalled_pkt;
      return stall();
    }
    Bytes r = phase_reply(phase_, address_, detach_requested(), true, message_);
    state_ = in_length > r.size() ? State::dfu_idle : State::upload_idle;
    return ok(fit(std::move(r), in_length));
  }

  static std::string to_hex_noprefix(std::uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%x", v);
    return buf;
  }

  UsbStageHost& host_;
  StageDescription desc_;
  State state_ = State::dfu_idle;
  Status status_ = Status::ok;
  std::uint8_t phase_;
  std::uint32_t base_, address_, length_;
  Bytes buffer_;
  std::string message_;
  std::uint8_t done_phase_ = 0;
};

// ---------------------------------------------------------------------------------------------
class RomStage final : public UsbStage {
 public:
  explicit RomStage(UsbStageHost& host)
      : host_(host), desc_(rom_description(host.soc(), host.options().full_speed)),
        capacity_(rom_download_capacity(host.soc())) {}
  const StageDescription& description() const override { return desc_; }
  void port_reset() override {
    state_ = State::dfu_idle;
    status_ = Status::ok;
  }
  State state() const override { return state_; }
  std::uint8_t phase() const override { return fsbl_ok_ ? phase::flash_layout : phase::fsbl; }

  std::unique_ptr<UsbStage> next_stage(UsbStageHost& host) override {
    const SocInfo& soc = host.soc();
    const UsbSocRow& row = usb_soc_row(soc);
    const std::uint32_t buffer = row.tfa_first_buffer ? row.tfa_first_buffer : soc.tfa_fip_buffer;
    const std::uint32_t size = row.tfa_first_size ? row.tfa_first_size : host.options().tfa_buffer_size;
    if (row.rom_hands_over_at_manifest) {
      // TF-A keeps the ROM's enumeration (stm32mp1_usb_dfu.c); a dead FSBL leaves it stalling.
      if (!host.options().tfa_enabled) return std::make_unique<HaltedStage>(desc_);
      return std::make_unique<TfaStage>(host, desc_, row.tfa_first_phase, buffer, size);
    }
    if (!host.options().tfa_enabled) return nullptr;
    return std::make_unique<TfaStage>(host, tfa_description(soc), row.tfa_first_phase, buffer, size);
  }

  Reply dfu_request(const usb::SetupPacket& s, ByteView out, std::uint16_t in_length,
                    std::uint8_t alt) override {
    const std::uint32_t poll = host_.options().rom_poll_timeout_ms;
    switch (static_cast<Request>(s.request)) {
      case Request::dnload: return out.empty() ? end_download() : download(out, alt);
      case Request::upload: return upload(in_length, alt);
      case Request::getstatus: {
        Bytes b;
        switch (state_) {
          case State::dnload_sync:
            b = status_bytes(status_, poll, State::dnbusy);
            state_ = State::dnbusy;
            break;
          case State::dnbusy:
            b = status_bytes(status_, poll, State::dnload_idle);
            state_ = State::dnload_idle;
            break;
          case State::manifest_sync:
            if (reject_) {
              state_ = State::error;
              status_ = *reject_;
              reject_.reset();
              b = status_bytes(status_, 0, state_);
            } else {
              b = status_bytes(status_, poll, State::manifest);
              state_ = State::dfu_idle;
              fsbl_ok_ = true;
              // MP15: the ROM jumps to the FSBL; the next request is TF-A's (PROTOCOL.md 3.4.1).
              if (usb_soc_row(host_.soc()).rom_hands_over_at_manifest) transition_ = Transition::handover;
            }
            break;
          default: b = status_bytes(status_, 0, state_); break;
        }
        return ok(fit(std::move(b), in_length));
      }
      case Request::clrstatus:  // [INF] no effect outside dfuERROR
        if (state_ == State::error) port_reset();
        return ok();
      case Request::getstate: return ok(fit({static_cast<std::uint8_t>(state_)}, in_length));
      case Request::abort:
        if (state_ != State::error) {
          if (state_ != State::dfu_idle && state_ != State::upload_idle) buffer_.clear();
          port_reset();
        }
        return ok();
      case Request::detach:
        // MP13/MP25 start the FSBL on DETACH (PROTOCOL.md 3.8; [INF] whether the port reset that
        // tools send next is needed). Without a good FSBL the ROM ignores it [INF]. MP15 ignores it.
        if (!usb_soc_row(host_.soc()).rom_hands_over_at_manifest && fsbl_ok_) transition_ = Transition::detach;
        return ok();
    }
    return fail(Status::err_stalled_pkt);
  }

 private:
  Reply fail(Status st) {
    state_ = State::error;
    status_ = st;
    return stall();
  }

  Reply download(ByteView out, std::uint8_t alt) {
    if (state_ != State::dfu_idle && state_ != State::dnload_idle) return fail(Status::err_stalled_pkt);
    if (alt_phase(desc_, alt) != phase::fsbl) return fail(Status::err_target);
    if (state_ == State::dfu_idle) {
      buffer_.clear();
      fsbl_ok_ = false;
    }
    if (buffer_.size() + out.size() > capacity_) return fail(Status::err_address);
    buffer_.insert(buffer_.end(), out.begin(), out.end());
    state_ = State::dnload_sync;
    return ok({}, host_.options().block_time);
  }

  Reply end_download() {
    if (state_ != State::dnload_idle) return fail(Status::err_stalled_pkt);
    // The same ROM header checks as the UART model (sim/rom_uart.hpp), written independently of
    // mp1boot::image so that a host/device bug cannot hide.
    std::string problem = rom_fsbl_problem(host_.soc(), buffer_);
    host_.complete_image(phase::fsbl, buffer_, problem.empty(), problem);
    if (!problem.empty()) {
      bool checksum = problem.rfind("payload checksum", 0) == 0;
      reject_ = host_.options().rom_reject_status.value_or(checksum ? Status::err_verify : Status::err_file);
    }
    state_ = State::manifest_sync;
    return ok();
  }

  Reply upload(std::uint16_t in_length, std::uint8_t alt) {
    if (in_length == 0) {
      state_ = State::dfu_idle;
      return ok();
    }
    if (state_ != State::dfu_idle && state_ != State::upload_idle) return fail(Status::err_stalled_pkt);
    if (alt_phase(desc_, alt) != phase::command) return fail(Status::err_stalled_pkt);
    // Before the FSBL: "01 <download address> 0". After a good FSBL on MP13/MP25 [INF]: TF-A's
    // "00 FFFFFFFF 0 01" detach convention (PROTOCOL.md 3.5, 10 item 2).
    Bytes r = fsbl_ok_ ? phase_reply(phase::flash_layout, phase_address_none, true, true, {})
                       : phase_reply(phase::fsbl, host_.soc().rom_download_address, false, false, {});
    state_ = in_length > r.size() ? State::dfu_idle : State::upload_idle;
    return ok(fit(std::move(r), in_length));
  }

  UsbStageHost& host_;
  StageDescription desc_;
  std::uint32_t capacity_;
  State state_ = State::dfu_idle;
  Status status_ = Status::ok;
  Bytes buffer_;
  bool fsbl_ok_ = false;
  std::optional<Status> reject_;
};

}  // namespace

Bytes status_bytes(Status status, std::uint32_t poll_ms, State state) {
  if (poll_ms > dfu::max_poll_timeout_ms) poll_ms = dfu::max_poll_timeout_ms;
  return Bytes{static_cast<std::uint8_t>(status), static_cast<std::uint8_t>(poll_ms),
               static_cast<std::uint8_t>(poll_ms >> 8), static_cast<std::uint8_t>(poll_ms >> 16),
               static_cast<std::uint8_t>(state), 0};
}

dfu::FunctionalDescriptor st_functional(std::uint16_t detach_timeout, std::uint16_t transfer_size) {
  dfu::FunctionalDescriptor f;
  f.attributes = dfu::attr::can_download | dfu::attr::can_upload | dfu::attr::manifestation_tolerant |
                 dfu::attr::will_detach;
  f.detach_timeout_ms = detach_timeout;
  f.transfer_size = transfer_size;
  f.dfu_version = 0x0110;
  return f;
}

Bytes functional_bytes(const dfu::FunctionalDescriptor& d) {
  Bytes b{9, dfu::functional_descriptor_type, d.attributes, 0, 0, 0, 0, 0, 0};
  store_le16(&b[3], d.detach_timeout_ms);
  store_le16(&b[5], d.transfer_size);
  store_le16(&b[7], d.dfu_version);
  return b;
}

std::unique_ptr<UsbStage> make_rom_stage(UsbStageHost& host) { return std::make_unique<RomStage>(host); }

}  // namespace mp1boot::sim::usb_detail
