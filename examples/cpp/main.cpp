// SPDX-License-Identifier: MIT
// Boots the simulated STM32MP157 from C++: connect, identify, wrap a payload into an FSBL, boot
// it with a progress callback, and read the phase TF-A asks for next.
#include <cstdio>
#include <mp1boot/mp1boot.hpp>  // everything; or the headers one by one (mp1boot/session/connect.hpp, ...)

int main(int argc, char** argv) {
  const char* port = argc > 1 ? argv[1] : "sim:stm32mp157";
  try {
    auto dev = mp1boot::session::connect(port);
    const std::uint16_t id = dev->get_id();
    auto phase = dev->get_phase();
    std::printf("mp1boot %s: %s, device 0x%03x (%s), phase 0x%02x at 0x%08x\n", mp1boot::version,
                dev->describe().c_str(), id, mp1boot::device_id_name(id).c_str(), phase.phase, phase.address);

    mp1boot::Bytes payload(4096);
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i);
    auto options = mp1boot::image::wrap_options_for(*dev->soc());
    options.load_address = options.entry_point = 0x2FFC2500;
    const mp1boot::Bytes fsbl = mp1boot::image::wrap(payload, options);

    auto result = dev->boot(fsbl, "example.stm32", [](const mp1boot::Progress& p) {
      std::printf("  %s %llu/%llu\n", p.stage.c_str(), static_cast<unsigned long long>(p.bytes_done),
                  static_cast<unsigned long long>(p.bytes_total));
    });
    phase = dev->get_phase();
    std::printf("booted %llu bytes on %s; next phase 0x%02x\n",
                static_cast<unsigned long long>(result.transfer.bytes), result.soc.c_str(), phase.phase);
    return phase.phase == 0x03 ? 0 : 1;
  } catch (const mp1boot::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
