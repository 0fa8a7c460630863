// SPDX-License-Identifier: MIT
// OTP fuses and PMIC NVM through U-Boot stm32prog's virtual partitions (PROTOCOL.md 3.3.2, 4.5):
// reading them (UART Read Partition 0xF2/0xF4, USB upload on the @OTP/@PMIC alts), decoding the
// OP-TEE TA OTP image, and writing them, which is irreversible and therefore refused unless the
// caller passes PermanentWrite::i_understand_this_is_permanent.
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "mp1boot/bytes.hpp"
#include "mp1boot/session/device.hpp"

namespace mp1boot::session {

/// OP-TEE NVMEM TA image of STM32MP13x/15x: (96 words * 2 + 2) * 4 bytes.
inline constexpr std::size_t otp_image_size_mp1 = 776;
inline constexpr std::size_t pmic_nvm_size = 8;

/// One OTP word of the TA image.
struct OtpWord {
  std::uint32_t value = 0;
  bool locked = false;   ///< permanent programming lock (status bit 30)
  bool update = false;   ///< update request (status bit 31): program `value` at the flush
};

/// The OTP image U-Boot exchanges: version, BSEC state, then value + status per word.
struct OtpImage {
  std::uint32_t version = 2;
  std::uint32_t bsec_state = 0;
  std::vector<OtpWord> words;

  /// @throws ProtocolError when `bytes` is not (N * 2 + 2) * 4 bytes long.
  static OtpImage parse(ByteView bytes);
  Bytes encode() const;
};

/// `current` (an image read from the board) with the update request set on each word of `values`
/// (word -> bits to program) and the lock request on the words of `lock` as well. Format logic
/// lives here so that no caller builds status bits by hand.
/// @throws UsageError naming a word the image does not have (nothing is sent).
Bytes otp_request(ByteView current, const std::map<std::uint32_t, std::uint32_t>& values,
                  const std::set<std::uint32_t>& lock = {});

// PermanentWrite (the consent these writes need) is in device.hpp: Device::download enforces it.

/// Reads the OTP image (the device must run U-Boot stm32prog). `size`: the image size (776 on
/// STM32MP1 with OP-TEE; 1024 with SP_MIN; 0: from the USB alt name, else 776).
Bytes read_otp(Device& device, std::size_t size = 0, const ProgressFn& progress = {});
/// Reads the PMIC NVM shadow (8 bytes).
Bytes read_pmic(Device& device, const ProgressFn& progress = {});
/// Programs OTP words: `image` is a full TA image whose words with `update` set are fused (and
/// locked when `locked`). @throws UsageError(errc::usage) without consent, before anything is sent.
void write_otp(Device& device, ByteView image, PermanentWrite consent, const ProgressFn& progress = {});
/// Writes the PMIC NVM (8 bytes). @throws UsageError(errc::usage) without consent.
void write_pmic(Device& device, ByteView nvm, PermanentWrite consent, const ProgressFn& progress = {});

}  // namespace mp1boot::session
