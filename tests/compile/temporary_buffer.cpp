// SPDX-License-Identifier: MIT
// Compile test (tests/compile/run_compile_test.cmake): APIs that keep a view of the caller's bytes
// refuse a temporary buffer. Built once as is (must compile) and once per REFUSE_* macro (must
// fail with "deleted"): the temporary would die before the engine sends it.
#include <array>
#include <string>

#include "mp1boot/bytes.hpp"
#include "mp1boot/dfu/engine.hpp"
#include "mp1boot/image/stm32_header.hpp"
#include "mp1boot/uart/engine.hpp"

namespace {
mp1boot::Bytes make() { return mp1boot::Bytes(16, 0xA5); }
}  // namespace

int main() {
  const mp1boot::Bytes kept = make();
  const std::array<std::uint8_t, 4> fixed{1, 2, 3, 4};
  mp1boot::uart::Engine uart;
  uart.download(kept);                      // an lvalue: accepted
  uart.download(mp1boot::ByteView(fixed));  // a span: the caller vouches for its lifetime
  mp1boot::dfu::Engine dfu;
  const std::array<mp1boot::usb::AltSetting, 0> alts{};
  try {
    dfu.download(0x01, alts, kept, 1024);
  } catch (...) {
  }
#if defined(REFUSE_UART)
  uart.download(make());
#elif defined(REFUSE_DFU)
  dfu.download(0x01, alts, make(), 1024);
#elif defined(REFUSE_DFU_STRING)
  dfu.download(0x01, alts, std::string("abc"), 1024);
#elif defined(REFUSE_IMAGE)
  (void)mp1boot::image::parse_image(make());
#endif
  return 0;
}
