// SPDX-License-Identifier: MIT
// list_boards(): the USB enumeration (libusb) described as boards (see board.hpp).
#include "mp1boot/session/board.hpp"

#ifdef MP1BOOT_HAS_USB
#include "mp1boot/transport/usb.hpp"
#endif

namespace mp1boot::session {

std::vector<BoardListing> list_boards() {
  std::vector<BoardListing> out;
#ifdef MP1BOOT_HAS_USB
  for (const auto& d : transport::list_usb_devices()) {
    BoardListing b = describe_board(d);
    b.accessible = d.accessible;
    b.problem = d.problem;
    out.push_back(std::move(b));
  }
#endif
  return out;
}

}  // namespace mp1boot::session
