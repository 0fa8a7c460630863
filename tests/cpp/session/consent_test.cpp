// SPDX-License-Identifier: MIT
// The OTP/PMIC consent is enforced by the core: a raw Device::download of OTP (0xF2) or PMIC
// (0xF4) data, by Download operation (UART) or by phase (USB alt), is refused without
// DownloadOptions::consent, before anything is sent; with it the write goes through.
#include <gtest/gtest.h>

#include "mp1boot/error.hpp"
#include "mp1boot/session/nvm.hpp"
#include "rig.hpp"

using namespace mp1boot;

namespace {
using namespace mp1boot::test;

TEST(Consent, RawOtpAndPmicDownloadsNeedIt) {
  for (const std::string link : {"", "&link=usb"}) {
    Rig rig("consent");
    auto dev = rig.connect(link);
    session::FlashOptions boot;
    boot.boot_only = true;
    ASSERT_EQ(session::flash(*dev, rig.dir / "flash.tsv", boot).result, FlashResult::ok) << link;
    const Bytes before = session::read_pmic(*dev);

    session::DownloadOptions o;
    o.phase = phase::pmic;
    o.op = dev->link() == Link::uart ? uart::DownloadOp::pmic : uart::DownloadOp::normal;
    const Bytes nvm{1, 2, 3, 4, 5, 6, 7, 8};
    try {
      dev->download(nvm, o);
      FAIL() << "PMIC data went out without consent" << link;
    } catch (const UsageError& e) {
      EXPECT_NE(e.message().find("consent"), std::string::npos) << e.message();
      EXPECT_NE(e.message().find("nothing was sent"), std::string::npos) << e.message();
    }
    session::DownloadOptions by_op;  // the UART operation byte alone, whatever the phase says
    by_op.op = uart::DownloadOp::otp;
    EXPECT_THROW(dev->download(Bytes(776), by_op), UsageError) << link;
    EXPECT_EQ(session::read_pmic(*dev), before) << link;

    session::write_pmic(*dev, nvm, session::PermanentWrite{true});
    EXPECT_EQ(session::read_pmic(*dev), nvm) << link;
  }
}

}  // namespace
