// SPDX-License-Identifier: MIT
// Precise or sleeping, cancellable waits.
#include "mp1boot/wait.hpp"

#include <algorithm>
#include <thread>

#ifdef __linux__
#include <sys/prctl.h>
#endif

namespace mp1boot {

namespace {

using Clock = std::chrono::steady_clock;

// The calling thread's timer slack at 1 ns while it lives (Linux; elsewhere nothing): a sleep
// then ends as soon as the kernel can wake the thread instead of up to 50 us later.
class FineTimerSlack {
 public:
#ifdef __linux__
  FineTimerSlack() : old_(::prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0)) {
    if (old_ > 1) ::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  }
  ~FineTimerSlack() {
    if (old_ > 1) ::prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(old_), 0, 0, 0);
  }
#else
  FineTimerSlack() = default;
#endif
  FineTimerSlack(const FineTimerSlack&) = delete;
  FineTimerSlack& operator=(const FineTimerSlack&) = delete;

 private:
#ifdef __linux__
  int old_;
#endif
};

// A hint to the CPU inside a spin loop (the thread keeps its core: a sched_yield() on a busy
// machine hands it to another process for a whole time slice, milliseconds past the deadline).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Sleeps until `until` in slices of at most 50 ms, calling `check` before each.
void sleep_in_slices(Clock::time_point until, const std::function<void()>& check) {
  constexpr auto slice = std::chrono::milliseconds(50);
  for (;;) {
    if (check) check();
    const auto now = Clock::now();
    if (now >= until) return;
    std::this_thread::sleep_until(std::min(until, now + slice));
  }
}

}  // namespace

void wait_until(Clock::time_point deadline, const std::function<void()>& check, WaitMode mode) {
  FineTimerSlack slack;
  if (mode == WaitMode::sleep) return sleep_in_slices(deadline, check);
  // Covers a timer wake-up on a VM with 1 ns slack: 54 us late at the median, 78 us at p90 with
  // compilers on both cores. Longer spins cost the cores that parallel boards share.
  constexpr auto margin = std::chrono::microseconds(250);
  sleep_in_slices(deadline - margin, check);
  while (Clock::now() < deadline) cpu_relax();
}

}  // namespace mp1boot
