// SPDX-License-Identifier: MIT
// U-Boot stm32prog's "USB download gadget" on the simulated USB board: the DFU class state
// machine of U-Boot's f_dfu gadget in front of the transport-neutral programming service
// (UbootProgrammer, uboot_uart_service.hpp), after drivers/usb/gadget/f_dfu.c and
// arch/arm/mach-stm32mp/cmd_stm32prog/stm32prog_usb.c (PROTOCOL.md 3.2.3, 3.4.3, 3.5, 3.6, 3.8-3.10);
// the code is written anew.
//
// Theory of operation (bState after each request; "stall" = EP0 STALL; bwPollTimeout always 0):
//
//   IDLE          DNLOAD(n>0) -> DNLOAD-SYNC, the block goes to the DFU back-end with wValue as
//                   its sequence number (it completes after the data stage, so a refused block
//                   answers OK and the next GETSTATUS shows ERROR/errUNKNOWN)
//                 DNLOAD(0) -> ERROR + stall
//                 UPLOAD -> a read from block 0 (wValue ignored) -> UPLOAD-IDLE, or IDLE when the
//                   reply is shorter than wLength; a refused read stalls
//                 DETACH -> the gadget leaves the bus; what follows is UbootProgrammer::usb_detach
//                   (re-enumeration with the partition alts / reset to the ROM / gone); the
//                   modelled erase time of the layout's 'D' lines keeps the board off the bus
//                   before the partition run enumerates (leave_time)
//                 ABORT, GETSTATUS, GETSTATE: no change; anything else -> ERROR + stall
//   DNLOAD-SYNC   GETSTATUS reports DNLOAD-IDLE (5) at once
//   DNLOAD-IDLE   DNLOAD(n>0) as in IDLE; DNLOAD(0) -> MANIFEST-SYNC (the zero-length block is
//                   also checked and drains the DFU buffer); ABORT -> IDLE
//   MANIFEST-SYNC GETSTATUS reports MANIFEST (7), then the deferred flush runs (medium write,
//                   layout parse / end of phase + next phase / OTP / PMIC / virtual command); a
//                   failed flush ends the gadget loop and U-Boot resets the board
//   MANIFEST      GETSTATUS reports IDLE (2)
//   UPLOAD-IDLE   UPLOAD(wValue = next block) -> the next block; a short one -> IDLE; ABORT -> IDLE
//   ERROR         CLRSTATUS -> IDLE/OK; GETSTATUS, GETSTATE
//   any state     SET_INTERFACE -> IDLE/OK on the new alt; a USB reset -> IDLE/OK
//
// Quirk: an UPLOAD always reads DFU_USB_BUFSIZ (4096) bytes from the entity whatever wLength is
// (f_dfu passes the request buffer length, not wLength); the host receives wLength of them.
#include <cstdio>

#include "mp1boot/sim/uboot_uart_service.hpp"
#include "usb_stage.hpp"

namespace mp1boot::sim::usb_detail {

namespace {

using dfu::Request;
using dfu::State;
using dfu::Status;
using Reply = UsbBoard::Reply;

constexpr std::size_t usb_bufsiz = 4096;  // DFU_USB_BUFSIZ, also wTransferSize

Reply ok(Bytes data = {}, std::chrono::microseconds busy = {}) { return ok_reply(std::move(data), busy); }
Reply stall() { return stall_reply(); }

class UbootUsbStage final : public UsbStage {
 public:
  UbootUsbStage(UsbStageHost& host, std::shared_ptr<UbootProgrammer> programmer)
      : host_(host), programmer_(std::move(programmer)) {
    const SocInfo& soc = host.soc();
    desc_.name = "u-boot";
    char buf[160];
    std::snprintf(buf, sizeof buf, "USB download gadget@Device ID /0x%03X, @Revision ID /0x%04X, @Name /%s,",
                  soc.device_id, soc.revision_id, std::string(soc.part_name).c_str());
    desc_.product = buf;
    for (const auto& alt : programmer_->dfu_alts()) {
      desc_.alts.push_back(alt.name);
      desc_.alt_phases.push_back(alt.phase);
    }
    desc_.functional = st_functional(0, static_cast<std::uint16_t>(usb_bufsiz));
  }

  const StageDescription& description() const override { return desc_; }
  void set_interface(std::uint8_t) override { to(State::dfu_idle); }
  void port_reset() override { to(State::dfu_idle); }
  State state() const override { return state_; }
  std::uint8_t phase() const override { return static_cast<std::uint8_t>(programmer_->phase() & 0xFF); }

  std::unique_ptr<UsbStage> next_stage(UsbStageHost& host) override {
    if (!reenumerate_) return nullptr;
    return std::make_unique<UbootUsbStage>(host, programmer_);
  }

  Reply dfu_request(const usb::SetupPacket& s, ByteView out, std::uint16_t in_length,
                    std::uint8_t alt) override {
    const auto request = static_cast<Request>(s.request);
    if (request == Request::getstatus) return getstatus();
    if (request == Request::getstate) return ok(Bytes{static_cast<std::uint8_t>(state_)});
    switch (state_) {
      case State::dfu_idle:
        switch (request) {
          case Request::dnload:
            if (out.empty()) return error_stall();
            received_.clear();
            received_size_ = 0;
            return download(s.value, out, alt);
          case Request::upload: return upload(0, in_length, alt);
          case Request::abort: return ok();
          case Request::detach: return detach();
          default: return error_stall();
        }
      case State::dnload_idle:
        switch (request) {
          case Request::dnload: return download(s.value, out, alt);
          case Request::abort: to(State::dfu_idle); return ok();
          default: return error_stall();
        }
      case State::upload_idle:
        switch (request) {
          case Request::upload: return upload(s.value, in_length, alt);
          case Request::abort: to(State::dfu_idle); return ok();
          default: return error_stall();
        }
      case State::error:
        if (request == Request::clrstatus) {
          to(State::dfu_idle);
          return ok();
        }
        return error_stall();
      default: return error_stall();  // DNLOAD-SYNC, MANIFEST-SYNC, MANIFEST: only the status requests
    }
  }

 private:
  void to(State s) {
    state_ = s;
    status_ = Status::ok;
  }
  Reply error_stall() {
    state_ = State::error;  // bStatus is left as it was (f_dfu only sets it for refused blocks)
    return stall();
  }

  Reply getstatus() {
    switch (state_) {
      case State::dnload_sync:
      case State::dnbusy: state_ = State::dnload_idle; break;
      case State::manifest_sync: {
        state_ = State::manifest;
        Reply r = ok(status_bytes(status_, 0, state_));
        manifest();
        return r;
      }
      case State::manifest: {
        // The deferred flush ran after MANIFEST was reported: this request waits for it.
        state_ = State::dfu_idle;
        const auto busy = flush_busy_;
        flush_busy_ = {};
        return ok(status_bytes(status_, 0, state_), busy);
      }
      default: break;
    }
    return ok(status_bytes(status_, 0, state_));
  }

  Reply download(std::uint16_t block, ByteView data, std::uint8_t alt) {
    state_ = data.empty() ? State::manifest_sync : State::dnload_sync;
    const std::uint64_t written = programmer_->medium_bytes();
    const int ret = programmer_->dfu_download(alt, block, data);
    const auto medium = medium_time(programmer_->medium_bytes() - written);
    if (ret != 0) {
      state_ = State::error;
      status_ = Status::err_unknown;
    } else {
      received_size_ += data.size();
      if (received_size_ <= host_.options().record_limit) received_.insert(received_.end(), data.begin(), data.end());
      else received_.clear();
      manifest_alt_ = alt;
    }
    // A block that filled the DFU buffer holds its request while the buffer goes to the medium.
    if (data.empty()) {
      flush_busy_ = medium;
      return ok();
    }
    return ok({}, host_.options().uboot_block_time + medium);
  }

  void manifest() {
    // The deferred flush of U-Boot's gadget loop, after the MANIFEST report went out.
    const std::uint8_t phase = alt_phase(manifest_alt_);
    const std::uint64_t written = programmer_->medium_bytes();
    const int ret = programmer_->dfu_manifest(manifest_alt_);
    flush_busy_ += medium_time(programmer_->medium_bytes() - written) +
                   std::chrono::duration_cast<std::chrono::microseconds>(programmer_->options().flush_time);
    const bool failed = ret != 0 || (programmer_->phase() & 0xFF) == 0xFF;
    std::string note = failed ? programmer_->error() : std::string();
    if (received_size_ > host_.options().record_limit)
      note += (note.empty() ? "" : "; ") + std::to_string(received_size_) + " bytes written to storage, not kept";
    host_.complete_image(phase, received_, !failed, note);
    received_.clear();
    received_size_ = 0;
    if (ret != 0) transition_ = Transition::reset;  // "Deferred dfu_flush() failed!": gadget exit, reset
  }

  Reply upload(std::uint16_t block, std::uint16_t in_length, std::uint8_t alt) {
    state_ = State::upload_idle;
    Bytes data;
    const int n = programmer_->dfu_upload(alt, block, usb_bufsiz, data);
    if (n < 0) return stall();
    const std::size_t asked = std::min<std::size_t>(in_length, usb_bufsiz);
    if (static_cast<std::size_t>(n) < asked) state_ = State::dfu_idle;
    return ok(std::move(data));  // the board cuts it to wLength
  }

  std::chrono::microseconds leave_time() const override { return leave_time_; }

  Reply detach() {
    // The DETACH is answered first; U-Boot then leaves its gadget loop and prepares the devices
    // (stm32prog_dfu_init: 'D' erases) before the next gadget run enumerates.
    const UbootUsbDetach next = programmer_->usb_detach();
    leave_time_ = programmer_->take_erase_time();
    switch (next) {
      case UbootUsbDetach::reenumerate:
        reenumerate_ = true;
        transition_ = Transition::detach;
        break;
      case UbootUsbDetach::reset: transition_ = Transition::reset; break;
      case UbootUsbDetach::leave: transition_ = Transition::vanish; break;
    }
    return ok();
  }

  std::uint8_t alt_phase(std::uint8_t alt) const { return usb_detail::alt_phase(desc_, alt); }

  std::chrono::microseconds medium_time(std::uint64_t bytes) const {
    const std::uint64_t rate = programmer_->options().medium_bytes_per_second;
    return rate ? std::chrono::microseconds(bytes * 1000000 / rate) : std::chrono::microseconds{0};
  }

  UsbStageHost& host_;
  std::shared_ptr<UbootProgrammer> programmer_;
  StageDescription desc_;
  State state_ = State::dfu_idle;
  Status status_ = Status::ok;
  Bytes received_;               ///< data of the download in progress (for the board's records)
  std::uint64_t received_size_ = 0;
  std::chrono::microseconds flush_busy_{0};  ///< time of the flush the next GETSTATUS waits for
  std::uint8_t manifest_alt_ = 0;
  bool reenumerate_ = false;
  std::chrono::microseconds leave_time_{0};  ///< device preparation after the DETACH
};

}  // namespace

std::unique_ptr<UsbStage> make_uboot_stage(UsbStageHost& host) {
  const UsbBoardOptions& o = host.options();
  UbootOptions options = o.uboot ? *o.uboot : UbootOptions{};
  auto programmer = std::make_shared<UbootProgrammer>(host.soc(), std::move(options), host.uboot_hardware());
  return std::make_unique<UbootUsbStage>(host, std::move(programmer));
}

}  // namespace mp1boot::sim::usb_detail
