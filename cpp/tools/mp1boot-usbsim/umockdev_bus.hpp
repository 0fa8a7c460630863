// SPDX-License-Identifier: MIT
// UmockdevBus: puts one or more sim::UsbBoard on an emulated USB bus built with umockdev, so that
// unmodified libusb programs (lsusb, dfu-util, mp1boot itself) running under
// libumockdev-preload see them (spec/USB-EMULATION.md). It creates the sysfs tree (root hub usb1,
// board N on port 1-N with interface 1-N:1.0) with each board's descriptors, a FIFO device node per
// enumeration (so idle libusb event loops sleep), and answers the usbdevfs ioctls on umockdev's
// worker thread by calling UsbBoard::control(). When the board leaves the bus the device is
// removed ("remove" uevents); when the next stage enumerates it is added again with the next
// free devnum (the bus hands out 2, 3, ... in enumeration order, as the kernel does).
//
// Threads: ioctl handlers run on umockdev's worker thread; testbed changes (add/remove device)
// run on the thread that owns the default GMainContext (the caller's main loop). The board is
// shared between them behind one mutex.
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "mp1boot/sim/usb_board.hpp"

namespace mp1boot::usbsim {

struct BusOptions {
  bool verbose = false;  ///< log every control request and bus change to stderr
  /// Permissions of the device nodes. Anything but 0666 also makes the testbed directory
  /// readable by other users, so that a client running as another user gets EACCES from the
  /// node itself (tests of permission errors).
  unsigned node_mode = 0666;
};

class UmockdevBus {
 public:
  /// Creates the testbed (sets UMOCKDEV_DIR in this process) and adds the board's first
  /// enumeration. Must run under libumockdev-preload, with a GMainContext on this thread.
  /// @throws std::runtime_error when umockdev fails.
  UmockdevBus(sim::UsbBoardOptions board_options, BusOptions options);
  /// Same with several boards: boards[i] sits on port 1-(i+1) and enumerates first in that
  /// order. @throws std::runtime_error when umockdev fails or `boards` is empty.
  UmockdevBus(std::vector<sim::UsbBoardOptions> boards, BusOptions options);
  ~UmockdevBus();
  UmockdevBus(const UmockdevBus&) = delete;
  UmockdevBus& operator=(const UmockdevBus&) = delete;

  /// $UMOCKDEV_DIR of the testbed.
  std::string root_dir() const;
  /// Power-cycles every board: the devices leave and their ROMs enumerate again.
  void power_cycle();
  /// Pulls every cable: the devices leave for good.
  void unplug();
  /// One board: one line "stage tf-a generation 1 attached devnum 3". Several: one such line
  /// per board, prefixed with "1-N SERIAL: ", separated by newlines.
  std::string status();
  /// Writes every board's records (also done when the bus is destroyed).
  void write_records();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mp1boot::usbsim
