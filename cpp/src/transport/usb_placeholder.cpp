// SPDX-License-Identifier: MIT
// Placeholder translation unit of the libusb transport target (replaced by usb.cpp).
#include "mp1boot/transport/usb_port.hpp"
