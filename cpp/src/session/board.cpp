// SPDX-License-Identifier: MIT
// Board identity (see board.hpp).
#include "mp1boot/session/board.hpp"

#include <algorithm>

#include "mp1boot/dfu/wire.hpp"
#include "mp1boot/soc.hpp"

namespace mp1boot::session {

namespace {
bool blank_serial(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0' || c == ' '; });
}
}  // namespace

std::string BoardIdentity::key() const {
  if (link == Link::usb && !port_path.empty()) return "usb:" + port_path;
  return port_path.empty() ? serial : port_path;
}

std::string BoardIdentity::describe() const {
  if (link != Link::usb) return port_path.empty() ? "(unknown board)" : port_path;
  return "USB port " + (port_path.empty() ? std::string("?") : port_path) + " (serial " +
         (serial.empty() ? std::string("none") : serial) + ")";
}

bool BoardIdentity::same_board(const BoardIdentity& other) const {
  if (link != other.link || port_path != other.port_path) return false;
  return serial == other.serial || blank_serial(serial) || blank_serial(other.serial);
}

BoardIdentity identity_of(const LinkInfo& link) {
  return BoardIdentity{link.link, link.port_path, link.serial};
}

BoardListing describe_board(const usb::Identity& id) {
  BoardListing b;
  b.identity = BoardIdentity{Link::usb, id.port_path, id.serial};
  b.usb = id;
  const auto p = dfu::parse_product(id.product);
  b.stage = p.stage;
  b.device_id = p.device_id;
  b.revision = p.revision;
  b.soc = p.device_id ? device_id_name(p.device_id) : std::string();
  b.soc_name = p.soc_name;
  return b;
}

}  // namespace mp1boot::session
