// SPDX-License-Identifier: MIT
// session/nvm: the OTP image codec (parse/encode, otp_request's status bits, unknown words) and
// the consent guard, which refuses an irreversible write before a byte reaches the board.
#include <gtest/gtest.h>

#include "mp1boot/error.hpp"
#include "mp1boot/session/connect.hpp"
#include "mp1boot/session/nvm.hpp"

using namespace mp1boot;

namespace {

Bytes blank_image() {
  session::OtpImage img;
  img.bsec_state = 0x11;
  img.words.resize(96);
  img.words[3] = {0xCAFE0000, true, false};
  return img.encode();
}

TEST(Nvm, OtpImageRoundTrip) {
  const Bytes b = blank_image();
  ASSERT_EQ(b.size(), session::otp_image_size_mp1);
  const auto img = session::OtpImage::parse(b);
  EXPECT_EQ(img.version, 2u);
  EXPECT_EQ(img.bsec_state, 0x11u);
  ASSERT_EQ(img.words.size(), 96u);
  EXPECT_EQ(img.words[3].value, 0xCAFE0000u);
  EXPECT_TRUE(img.words[3].locked);
  EXPECT_FALSE(img.words[3].update);
  EXPECT_EQ(img.encode(), b);
  EXPECT_THROW(session::OtpImage::parse(Bytes(13)), ProtocolError);
}

TEST(Nvm, OtpRequestSetsUpdateAndLockBits) {
  const Bytes req = session::otp_request(blank_image(), {{60, 0x1234}}, {61});
  EXPECT_EQ(load_le32(&req[8 + 8 * 60]), 0x1234u);
  EXPECT_EQ(load_le32(&req[12 + 8 * 60]), 1u << 31);
  EXPECT_EQ(load_le32(&req[12 + 8 * 61]), (1u << 31) | (1u << 30));
  EXPECT_EQ(load_le32(&req[12 + 8 * 3]), 1u << 30);  // untouched: still locked, no update request
  EXPECT_THROW(session::otp_request(blank_image(), {{96, 1}}), UsageError);
}

TEST(Nvm, WritesWithoutConsentSendNothing) {
  auto dev = session::connect("sim:stm32mp157");
  EXPECT_THROW(session::write_otp(*dev, blank_image(), session::PermanentWrite{}), UsageError);
  EXPECT_THROW(session::write_pmic(*dev, Bytes(8), session::PermanentWrite{}), UsageError);
  EXPECT_EQ(dev->get_phase().phase, 0x01);  // the ROM still waits for its FSBL
}

}  // namespace
