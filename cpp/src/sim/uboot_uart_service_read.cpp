// SPDX-License-Identifier: MIT
// U-Boot service model, part 3: Read Memory, Read Partition (through the DFU read transaction,
// with its quirks) and the OTP / PMIC virtual partitions. See uboot_uart_service.hpp; behaviour
// after stm32prog_serial.c (stm32prog_read) and stm32prog.c (stm32prog_otp_*, stm32prog_pmic_*),
// written anew.
#include <algorithm>
#include <cerrno>

#include "mp1boot/sim/uboot_uart_service.hpp"
#include "uboot_uart_service_impl.hpp"

namespace mp1boot::sim {

using namespace uboot_detail;

// --- reads --------------------------------------------------------------------------------------

Bytes UbootProgrammer::read_memory(std::uint32_t address, std::size_t n) const {
  return hw_->storage.read("ram", 0, address, n);
}

int UbootProgrammer::read_partition(std::uint8_t id, std::uint32_t offset, std::size_t n, Bytes& out) {
  out.assign(n, 0);
  if (id == phase::otp || id == phase::pmic) {
    std::size_t size = n;
    Bytes data;
    const int ret = id == phase::otp ? otp_read(offset, size, data) : pmic_read(offset, size, data);
    if (ret != 0) return ret;
    std::copy(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(std::min(size, data.size())), out.begin());
    return static_cast<int>(size);
  }
  // stm32prog_read
  if (dfu_seq_ != 0) {
    fail(fmt("DFU write pending for phase %d, seq %d", static_cast<int>(phase_), dfu_seq_));
    return -EINVAL;
  }
  if (id == phase::flash_layout || id > phase::last_user) {
    fail(fmt("read failed : phase %d is invalid", id));
    return -EINVAL;
  }
  if (read_phase_ <= phase::last_user && id != read_phase_) {
    // U-Boot cleans the alt numbered read_phase - 1 (right when phases are contiguous from 1).
    const int previous = static_cast<int>(read_phase_) - 1;
    if (part_of_entity(previous) != -2) cleanup(previous);
  }
  int alt = -1;
  if (layout_) {
    for (std::size_t i = 0; i < layout_->parts.size(); ++i) {
      if (layout_->parts[i].id != id) continue;
      alt = -1;
      for (std::size_t a = 0; a < alt_parts_.size(); ++a)
        if (alt_parts_[a] == static_cast<int>(i)) alt = static_cast<int>(a);
    }
  }
  if (alt < 0) {
    fail(fmt("read failed : phase %d is unknown", id));
    return -ENODEV;
  }
  Txn* t = &txn(alt);
  if (t->inited && (read_phase_ != id || data_offset_ != offset)) cleanup(alt);
  initiate(alt, true);
  t = &txn(alt);
  t->offset = offset;  // forced, also on a continued read (as U-Boot does)
  data_offset_ = offset;
  read_phase_ = id;
  t->blk_seq = (t->blk_seq + 1) & 0xFFFF;

  // dfu_read_buffer_fill
  std::size_t done = 0;
  while (done < n) {
    const std::size_t available = t->buffer.size() - t->buffer_pos;
    const std::size_t chunk = std::min(n - done, available);
    std::copy_n(t->buffer.begin() + static_cast<std::ptrdiff_t>(t->buffer_pos), chunk,
                out.begin() + static_cast<std::ptrdiff_t>(done));
    t->buffer_pos += chunk;
    done += chunk;
    if (done == n || t->r_left == 0) break;
    std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(options_.dfu_buffer_size, t->r_left));
    Bytes data;
    if (medium_read(alt, t->offset, len, data) != 0) {
      fail(fmt("DFU read failed [%d] phase = %d offset = 0x%08x", -1, id, offset));
      return -1;
    }
    if (len == 0) break;
    data.resize(len, 0);
    t->buffer = std::move(data);
    t->buffer_pos = 0;
    t->offset += len;
    t->r_left -= len;
  }
  if (done < n) {
    cleanup(alt);
    data_offset_ = 0;
    read_phase_ = phase::end;
  } else {
    data_offset_ += static_cast<std::uint32_t>(done);
  }
  return static_cast<int>(done);
}

// --- OTP / PMIC ---------------------------------------------------------------------------------

int UbootProgrammer::otp_write(std::uint32_t offset, ByteView data) {
  if (!options_.otp_supported) {
    fail("OTP update not supported");
    return -EOPNOTSUPP;
  }
  if (!otp_part_) otp_part_.emplace(uboot_otp_image_size, 0);
  if (offset == 0) std::fill(otp_part_->begin(), otp_part_->end(), 0);
  if (offset >= uboot_otp_image_size) return 0;
  const std::size_t n = std::min<std::size_t>(data.size(), uboot_otp_image_size - offset);
  std::copy_n(data.begin(), n, otp_part_->begin() + offset);
  return 0;
}

int UbootProgrammer::otp_read(std::uint32_t offset, std::size_t& n, Bytes& out) {
  if (!options_.otp_supported) {
    fail("OTP update not supported");
    return -EOPNOTSUPP;
  }
  if (offset == 0) {
    // TA_NVMEM_READ: fresh image from the fuses.
    Bytes image(uboot_otp_image_size, 0);
    store_le32(&image[0], 2);
    store_le32(&image[4], hw_->bsec_state);
    for (std::size_t i = 0; i < uboot_otp_words; ++i) {
      store_le32(&image[8 + 8 * i], hw_->otp[i]);
      store_le32(&image[12 + 8 * i], hw_->otp_locked[i] ? 1u << 30 : 0u);
    }
    otp_part_ = std::move(image);
  }
  if (!otp_part_) {
    fail(fmt("OTP read issue %d", -ENOMEM));
    return -ENOMEM;
  }
  n = offset >= uboot_otp_image_size ? 0 : std::min<std::size_t>(n, uboot_otp_image_size - offset);
  out.assign(otp_part_->begin() + offset, otp_part_->begin() + offset + static_cast<std::ptrdiff_t>(n));
  return 0;
}

int UbootProgrammer::otp_start() {
  if (!options_.otp_supported) {
    fail("OTP update not supported");
    return -EOPNOTSUPP;
  }
  if (!otp_part_) {
    fail("start OTP without data");
    return -1;
  }
  Bytes image = std::move(*otp_part_);
  otp_part_.reset();
  // TA_NVMEM_WRITE: words with the update request bit; a lock request (bit 30) locks for good.
  std::vector<OtpProgramming> words;
  bool refused = options_.otp_write_fails;
  for (std::uint32_t i = 0; i < uboot_otp_words; ++i) {
    const std::uint32_t value = load_le32(&image[8 + 8 * i]);
    const std::uint32_t status = load_le32(&image[12 + 8 * i]);
    if ((status & (1u << 31)) == 0) continue;
    if (hw_->otp_locked[i] && value != 0) refused = true;  // a locked word cannot change
    words.push_back(OtpProgramming{i, value, (status & (1u << 30)) != 0});
  }
  if (refused) {
    fail(fmt("OTP write issue %d", -EIO));
    return -EIO;
  }
  for (const auto& w : words) {
    hw_->otp[w.word] |= w.value;  // fuses only go from 0 to 1
    if (w.lock) hw_->otp_locked[w.word] = true;
  }
  UbootEvent e;
  e.kind = UbootEvent::Kind::otp_programmed;
  e.phase = phase::otp;
  e.text = std::to_string(words.size()) + " words";
  e.otp = std::move(words);
  hw_->events.push_back(std::move(e));
  return 0;
}

int UbootProgrammer::pmic_write(std::uint32_t offset, ByteView data) {
  if (offset == 0) pmic_part_.fill(0);
  if (offset >= uboot_pmic_size) return 0;
  const std::size_t n = std::min<std::size_t>(data.size(), uboot_pmic_size - offset);
  std::copy_n(data.begin(), n, pmic_part_.begin() + offset);
  return 0;
}

int UbootProgrammer::pmic_read(std::uint32_t offset, std::size_t& n, Bytes& out) {
  if (!options_.pmic_supported) {
    fail("PMIC update not supported");
    return -EOPNOTSUPP;
  }
  if (offset == 0) pmic_part_ = hw_->pmic_nvm;
  n = offset >= uboot_pmic_size ? 0 : std::min<std::size_t>(n, uboot_pmic_size - offset);
  out.assign(pmic_part_.begin() + offset, pmic_part_.begin() + offset + static_cast<std::ptrdiff_t>(n));
  return 0;
}

int UbootProgrammer::pmic_start() {
  if (!options_.pmic_supported) {
    fail("PMIC update not supported");
    return -EOPNOTSUPP;
  }
  hw_->pmic_nvm = pmic_part_;
  event(UbootEvent::Kind::pmic_programmed, phase::pmic, to_hex(pmic_part_));
  return 0;
}

}  // namespace mp1boot::sim
