// SPDX-License-Identifier: MIT
// Our libusb transport (transport::UsbPort, list_usb_devices, open_usb, wait_for_device) against
// the simulated board on an emulated bus. Each test re-runs itself under mp1boot-usbsim (see
// usbsim_runner.hpp): the outer run checks that the inner run, which talks to the board through
// the real libusb Linux backend, passed. Built only with the libusb target (MP1BOOT_WITH_USB).
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <fstream>
#include <sstream>

#include "mp1boot/error.hpp"
#include "mp1boot/transport/usb.hpp"
#include "support/raw_dfu.hpp"
#include "support/usb_test_util.hpp"
#include "support/usbsim_runner.hpp"

#ifdef MP1BOOT_HAS_USB
namespace mp1boot::transport {
namespace {

using namespace std::chrono_literals;
constexpr const char* serial = "002800423232511538303631";

struct Caught {
  errc code_ = errc::ok;
  std::string what_ = "no error";
  std::string kind_;
  errc code() const { return code_; }
  const char* what() const { return what_.c_str(); }
  const char* kind() const { return kind_.c_str(); }
};

template <class F>
Caught error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return Caught{e.code(), e.what(), e.kind()};
  }
  return Caught{};
}

using test::download;
using test::get_phase;

TEST(UsbTransport, ListOpenAndControlTransfers) {
  if (!test::usbsim_inner()) return test::run_current_test_under_usbsim("--soc stm32mp135");
  auto list = list_usb_devices();
  ASSERT_EQ(list.size(), 1u);
  const auto& d = list[0];
  EXPECT_TRUE(d.accessible) << d.problem;
  EXPECT_EQ(d.bus, 1);
  EXPECT_EQ(d.address, 2);
  EXPECT_EQ(d.port_path, "1-1");
  EXPECT_EQ(d.speed, "high");
  EXPECT_EQ(d.manufacturer, "STMicroelectronics");
  EXPECT_EQ(d.product, "DFU in HS Mode @Device ID /0x501, @Revision ID /0x1003");
  EXPECT_EQ(d.serial, serial);
  EXPECT_EQ(d.transfer_size, 1024);
  EXPECT_EQ(d.dfu_attributes, 0x0F);
  EXPECT_TRUE(list_usb_devices(0x1d6b, 0x0002).size() == 1);  // the root hub

  auto port = open_usb("");
  EXPECT_EQ(port->describe(), "usb:1-1 (0483:df11 002800423232511538303631)");
  auto alts = port->alt_settings();
  ASSERT_EQ(alts.size(), 2u);
  EXPECT_EQ(alts[0].name, "@FSBL /0x01/1*128Ke");
  EXPECT_EQ(alts[1].name, "@virtual /0xF1/1*512Ba");
  EXPECT_EQ(get_phase(*port, 1), "01 00 fe fd 2f 00 00 00 00");
  std::array<std::uint8_t, 6> st{};
  EXPECT_EQ(port->control_in({0xA1, 3, 0, 0}, st, 1000ms), 6u);
  EXPECT_EQ(to_hex(st), "00 00 00 00 02 00");
  EXPECT_EQ(port->read_string(2), d.product);

  auto stall = error_of([&] { port->control_out({0x21, 1, 0, 0}, {}, 1000ms); });
  EXPECT_EQ(stall.code(), errc::stall) << stall.what();
  EXPECT_NE(std::string(stall.what()).find("[usb:1-1 (0483:df11 002800423232511538303631)]"), std::string::npos)
      << stall.what();
  EXPECT_EQ(error_of([&] { port->set_alt_setting(4); }).code(), errc::io);  // EINVAL from the kernel
  // The interface is claimed: a second opener is told the device is busy.
  auto busy = error_of([] { open_usb(serial); });
  EXPECT_EQ(busy.code(), errc::port_busy) << busy.what();
  port.reset();

  for (const char* sel : {"", "usb:1-1", "1-1", "0483:df11", "002800423232511538303631", "usb:002800423232511538303631"}) {
    auto p = open_usb(sel);
    EXPECT_EQ(p->identity().serial, serial) << sel;
  }
  auto none = error_of([] { open_usb("0123456789ABCDEF01234567"); });
  EXPECT_EQ(none.code(), errc::no_device);
  EXPECT_NE(std::string(none.what()).find("1-1 0483:df11 serial 002800423232511538303631"), std::string::npos)
      << none.what();
  EXPECT_EQ(error_of([] { open_usb("1-2.3"); }).code(), errc::no_device);
  EXPECT_EQ(error_of([] { open_usb("0483:0000"); }).code(), errc::no_device);
}

TEST(UsbTransport, DetachThenWaitForTheNextStage) {
  if (!test::usbsim_inner()) return test::run_current_test_under_usbsim("--soc stm32mp135");
  auto rom = open_usb("");
  download(*rom, 0, test::make_fsbl(soc_by_name("stm32mp135"), 3000));
  EXPECT_EQ(get_phase(*rom, 1), "00 ff ff ff ff 00 00 00 00 01");
  rom->control_out({0x21, 0, 1000, 0}, {}, 1000ms);  // DFU_DETACH: TF-A enumerates next

  UsbWaitOptions w;
  w.serial = serial;
  w.port_path = "1-1";
  w.skip_bus = rom->identity().bus;
  w.skip_address = rom->identity().address;
  w.timeout = 5000ms;
  auto tfa = wait_for_device(w);
  EXPECT_EQ(tfa->identity().address, 3);
  EXPECT_EQ(tfa->identity().product, "DFU @Device ID /0x501, @Revision ID /0x1003, @Name /STM32MP135F Rev.Y,");
  EXPECT_EQ(tfa->alt_settings().at(0).name, "@SSBL /0x03/1*16Me");
  EXPECT_EQ(get_phase(*tfa, 1), "03 00 00 00 c7 00 00 00 00");
  std::array<std::uint8_t, 6> st{};
  EXPECT_EQ(error_of([&] { rom->control_in({0xA1, 3, 0, 0}, st, 1000ms); }).code(), errc::disconnected);

  // TF-A -> U-Boot stand-in, this time found by polling instead of hot-plug events.
  download(*tfa, 0, test::make_fip(2000));
  EXPECT_EQ(get_phase(*tfa, 1), "00 ff ff ff ff 00 00 00 00 01");
  tfa->control_out({0x21, 0, 1000, 0}, {}, 1000ms);
  w.skip_address = tfa->identity().address;
  w.force_polling = true;
  auto uboot = wait_for_device(w);
  EXPECT_EQ(uboot->identity().address, 4);
  EXPECT_EQ(uboot->identity().transfer_size, 4096);
  EXPECT_EQ(uboot->identity().product.rfind("USB download gadget@Device ID /0x501", 0), 0u);
}

TEST(UsbTransport, WaitTellsNothingAppearedFromCouldNotOpen) {
  if (!test::usbsim_inner()) return test::run_current_test_under_usbsim("--soc stm32mp135");
  for (bool polling : {false, true}) {
    UsbWaitOptions w;
    w.serial = "0123456789ABCDEF01234567";
    w.timeout = 300ms;
    w.force_polling = polling;
    auto t0 = std::chrono::steady_clock::now();
    auto e = error_of([&] { wait_for_device(w); });
    EXPECT_EQ(e.code(), errc::timeout) << e.what();
    EXPECT_STREQ(e.kind(), "TimeoutError");
    EXPECT_NE(std::string(e.what()).find("no USB device 0483:df11 with serial 0123456789ABCDEF01234567 appeared "
                                         "within 300 ms"),
              std::string::npos)
        << e.what();
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);
  }
  // The board is there but another handle holds its interface: "appeared but could not be opened".
  auto holder = open_usb(serial);
  UsbWaitOptions w;
  w.serial = serial;
  w.timeout = 3000ms;
  w.access_grace = 200ms;
  auto e = error_of([&] { wait_for_device(w); });
  EXPECT_EQ(e.code(), errc::port_busy) << e.what();
  EXPECT_NE(std::string(e.what()).find("appeared at 1-1 while waiting for the board with serial"), std::string::npos)
      << e.what();
  CancelToken cancel;
  cancel.cancel();
  w.cancel = &cancel;
  EXPECT_EQ(error_of([&] { wait_for_device(w); }).code(), errc::cancelled);
}

// Permission errors: the node is root-only and the inner run drops to an unprivileged user
// (when it runs as root; otherwise mode 000 denies it already).
TEST(UsbTransport, PermissionDeniedNamesTheUdevRule) {
  if (!test::usbsim_inner()) return test::run_current_test_under_usbsim("--soc stm32mp135 --node-mode 000");
  if (::geteuid() == 0) {
    ASSERT_EQ(::setgid(65534), 0);
    ASSERT_EQ(::setuid(65534), 0);
  }
  auto list = list_usb_devices();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_FALSE(list[0].accessible);
  EXPECT_EQ(list[0].problem, "permission denied");
  EXPECT_EQ(list[0].port_path, "1-1");
  auto e = error_of([] { open_usb(""); });
  EXPECT_EQ(e.code(), errc::permission_denied) << e.what();
  std::string what = e.what();
  EXPECT_NE(what.find("/dev/bus/usb/001/002"), std::string::npos) << what;
  EXPECT_NE(what.find(std::string(udev_rule_line())), std::string::npos) << what;
  EXPECT_NE(what.find("mp1boot udev --install"), std::string::npos) << what;
  EXPECT_EQ(error_of([] { open_usb(serial); }).code(), errc::permission_denied);
  UsbWaitOptions w;
  w.serial = serial;
  w.timeout = 2000ms;
  w.access_grace = 100ms;
  auto we = error_of([&] { wait_for_device(w); });
  EXPECT_EQ(we.code(), errc::permission_denied) << we.what();
  EXPECT_NE(std::string(we.what()).find("appeared at 1-1"), std::string::npos) << we.what();
}

TEST(UsbTransport, UdevRulesFileMatchesTheBuiltInText) {
  std::ifstream f(std::string(MP1BOOT_SOURCE_DIR) + "/packaging/udev/60-mp1boot.rules");
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(ss.str(), std::string(udev_rules()));
  EXPECT_EQ(std::string(udev_rule_line()),
            "SUBSYSTEM==\"usb\", ATTR{idVendor}==\"0483\", ATTR{idProduct}==\"df11\", MODE=\"0660\", "
            "GROUP=\"plugdev\", TAG+=\"uaccess\"");
}


// The check every usbsim-inner test run ends with: libusb's report of devices still referenced
// at libusb_exit(), with the hub that libusb 1.0.26 itself keeps (tests/sanitizers/lsan.supp).
TEST(UsbTransport, LeakedDeviceCheckNamesAllButTheHub) {
  EXPECT_EQ(mp1boot::test::leaked_usb_devices("[ OK ]\n"), "");
  EXPECT_EQ(mp1boot::test::leaked_usb_devices("libusb: warning [libusb_exit] device 1.1 still referenced\n"), "");
  EXPECT_EQ(mp1boot::test::leaked_usb_devices("libusb: warning [libusb_exit] device 1.1 still referenced\n"
                                     "libusb: warning [libusb_exit] device 1.3 still referenced\n"
                                     "libusb: warning [libusb_exit] device 2.12 still referenced\n"),
            "1.3 2.12");
}

}  // namespace
}  // namespace mp1boot::transport
#endif  // MP1BOOT_HAS_USB
