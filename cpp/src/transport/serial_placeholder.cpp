// SPDX-License-Identifier: MIT
// Placeholder translation unit of the serial transport target (replaced by serial.cpp).
#include "mp1boot/transport/byte_stream.hpp"
