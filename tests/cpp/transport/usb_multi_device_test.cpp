// SPDX-License-Identifier: MIT
// Several boards on the bus and no selector: mp1boot-usbsim serves two boards (two --serial, ports
// 1-1 and 1-2) and our libusb transport, re-run under it (usbsim_runner.hpp), must refuse to guess
// (errc::multiple_devices listing both and telling how to choose) and open the right one by
// serial number and by port path. Built only with the libusb target (MP1BOOT_WITH_USB).
#include <gtest/gtest.h>

#include <string>

#include "mp1boot/error.hpp"
#include "mp1boot/transport/usb.hpp"
#include "support/usbsim_runner.hpp"

#ifdef MP1BOOT_HAS_USB
namespace mp1boot::transport {
namespace {

constexpr const char* serial_a = "002800423232511538303631";
constexpr const char* serial_b = "0031003A3133510638303933";

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(UsbMultiDevice, NoSelectorListsThemAndSelectorsPickOne) {
  if (!test::usbsim_inner())
    return test::run_current_test_under_usbsim(std::string("--soc stm32mp135 --serial ") + serial_a +
                                               " --serial " + serial_b);
  auto list = list_usb_devices();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].port_path, "1-1");
  EXPECT_EQ(list[0].serial, serial_a);
  EXPECT_EQ(list[1].port_path, "1-2");
  EXPECT_EQ(list[1].serial, serial_b);
  EXPECT_NE(list[0].address, list[1].address);

  try {
    open_usb("");
    FAIL() << "open_usb(\"\") chose one of two devices";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.code(), errc::multiple_devices) << e.what();
    const std::string what = e.what();
    EXPECT_TRUE(has(what, "2 USB devices 0483:df11")) << what;
    EXPECT_TRUE(has(what, "usb:SERIAL")) << what;
    EXPECT_TRUE(has(what, "usb:BUS-PORT")) << what;
    EXPECT_TRUE(has(what, "1-1")) << what;
    EXPECT_TRUE(has(what, "1-2")) << what;
    EXPECT_TRUE(has(what, serial_a)) << what;
    EXPECT_TRUE(has(what, serial_b)) << what;
  }

  auto by_serial = open_usb(serial_b);
  EXPECT_EQ(by_serial->identity().serial, serial_b);
  EXPECT_EQ(by_serial->identity().port_path, "1-2");
  by_serial.reset();

  auto by_port = open_usb("1-2");
  EXPECT_EQ(by_port->identity().serial, serial_b);
  EXPECT_EQ(by_port->identity().port_path, "1-2");
  by_port.reset();

  auto first = open_usb("1-1");
  EXPECT_EQ(first->identity().serial, serial_a);
}

}  // namespace
}  // namespace mp1boot::transport
#endif  // MP1BOOT_HAS_USB
