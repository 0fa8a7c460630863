// SPDX-License-Identifier: MIT
// PtyServer: one poll() loop over the pty master, a timerfd armed at absolute steady deadlines
// (line model, peer timers, the 50 ms keep_running check) and an eventfd that stop() signals.
#include "mp1boot/transport/pty_server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <deque>
#include <exception>
#include <system_error>
#include <thread>
#include <utility>

#include "mp1boot/error.hpp"

namespace mp1boot::transport {

namespace {

using Clock = BytePeer::Clock;

constexpr auto kIdlePeriod = std::chrono::milliseconds(50);  // keep_running() check period
constexpr std::size_t kGroup = 16;   // bytes paced together by the line model
constexpr std::size_t kReadChunk = 4096;

[[noreturn]] void throw_os(const std::string& what, int err) {
  throw TransportError(errc::io, what + ": " + std::system_category().message(err));
}

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  void reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Sets the calling thread's timer slack to 1 ns and restores it on scope exit.
class TimerSlack {
 public:
  TimerSlack() : old_(::prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0)) { ::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); }
  ~TimerSlack() {
    if (old_ > 0) ::prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(old_), 0, 0, 0);
  }
  TimerSlack(const TimerSlack&) = delete;
  TimerSlack& operator=(const TimerSlack&) = delete;

 private:
  int old_;
};

timespec to_timespec(Clock::time_point t) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  return ts;
}

// Reads the 8-byte counter of a timerfd or eventfd so that poll() stops reporting it.
void drain_counter(int fd) {
  std::uint64_t count = 0;
  [[maybe_unused]] const ssize_t n = ::read(fd, &count, sizeof count);
}

}  // namespace

struct PtyServer::Impl {
  std::shared_ptr<BytePeer> peer;
  LineTiming timing;
  Clock::duration byte_time{};
  Fd master, slave, timer_fd, wake_fd;
  std::string slave_path;
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> sent{0};
  std::atomic<bool> serving{false};
  std::atomic<bool> stop_requested{false};
  std::thread thread;
  std::exception_ptr thread_error;

  // Line model state, only touched by the serving thread.
  struct RxGroup {
    Clock::time_point due;  // when the last bit of the group has arrived at the device
    Bytes bytes;
  };
  std::deque<RxGroup> rx;            // read from the host, still on the wire
  Clock::time_point rx_line_free{};  // end of the last byte on the host->device wire
  std::deque<std::uint8_t> tx;       // produced by the device, still on the wire
  Clock::time_point tx_head_start{}; // start of tx.front() on the wire (line free when tx empty)
  std::optional<Clock::time_point> last_delivery;  // modelled arrival of the bytes delivered this round
  Bytes ready;                       // on the host's side of the wire, not yet written to master
  std::size_t ready_pos = 0;

  void serve(const std::function<bool()>& keep_running);
  void read_host();
  void deliver_due(Clock::time_point now);
  void take_device_output(Clock::time_point now);
  void move_due_tx(Clock::time_point now);
  bool write_host();  // false when the master would block
  Clock::time_point next_wake(Clock::time_point now) const;
  void wait(Clock::time_point wake, bool want_write);
};

PtyServer::PtyServer(std::shared_ptr<BytePeer> peer, LineTiming timing) : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  if (!peer) throw UsageError(errc::usage, "PtyServer needs a peer (got null)");
  if (timing.enabled && (timing.baud == 0 || timing.bits_per_byte == 0))
    throw UsageError(errc::usage, "PtyServer line timing needs a positive baud rate and bits per byte");
  d.peer = std::move(peer);
  d.timing = timing;
  if (timing.enabled) {
    // Rounded up: the host must never see bytes faster than the line would carry them.
    const std::uint64_t bits = timing.bits_per_byte;
    d.byte_time = std::chrono::nanoseconds((bits * 1'000'000'000ULL + timing.baud - 1) / timing.baud);
  }

  d.master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (d.master.get() < 0) throw_os("cannot create a pseudo-terminal (posix_openpt)", errno);
  if (::grantpt(d.master.get()) != 0) throw_os("grantpt failed", errno);
  if (::unlockpt(d.master.get()) != 0) throw_os("unlockpt failed", errno);
  char name[128];
  if (const int err = ::ptsname_r(d.master.get(), name, sizeof name); err != 0) throw_os("ptsname_r failed", err);
  d.slave_path = name;
  const int flags = ::fcntl(d.master.get(), F_GETFL);
  if (flags < 0 || ::fcntl(d.master.get(), F_SETFL, flags | O_NONBLOCK) != 0)
    throw_os("cannot make the pty master non-blocking", errno);

  // Our own slave descriptor: while it is open, a client closing the slave does not hang up the
  // master (reads would fail with EIO). Raw, or the slave's line discipline would echo the host's
  // bytes back and translate CR/LF.
  d.slave.reset(::open(name, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
  if (d.slave.get() < 0) throw_os("cannot open pty slave " + d.slave_path, errno);
  termios tio{};
  if (::tcgetattr(d.slave.get(), &tio) != 0) throw_os("tcgetattr on " + d.slave_path, errno);
  ::cfmakeraw(&tio);
  tio.c_cflag |= CLOCAL | CREAD;
  if (::tcsetattr(d.slave.get(), TCSANOW, &tio) != 0) throw_os("tcsetattr on " + d.slave_path, errno);

  d.timer_fd.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (d.timer_fd.get() < 0) throw_os("timerfd_create failed", errno);
  d.wake_fd.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (d.wake_fd.get() < 0) throw_os("eventfd failed", errno);
}

PtyServer::~PtyServer() {
  try {
    stop();
  } catch (...) {
    // Errors of the serving thread were the caller's to collect through stop().
  }
}

const std::string& PtyServer::slave_path() const { return impl_->slave_path; }
std::uint64_t PtyServer::bytes_received() const { return impl_->received.load(); }
std::uint64_t PtyServer::bytes_sent() const { return impl_->sent.load(); }
bool PtyServer::running() const { return impl_->thread.joinable() && impl_->serving.load(); }

void PtyServer::run(const std::function<bool()>& keep_running) {
  Impl& d = *impl_;
  if (d.serving.exchange(true)) throw UsageError(errc::usage, "PtyServer " + d.slave_path + " is already serving");
  struct Reset {
    std::atomic<bool>& flag;
    ~Reset() { flag = false; }
  } reset{d.serving};
  TimerSlack slack;
  d.serve(keep_running);
}

void PtyServer::start() {
  Impl& d = *impl_;
  if (d.thread.joinable() || d.serving.load())
    throw UsageError(errc::usage, "PtyServer " + d.slave_path + " is already serving");
  d.stop_requested = false;
  d.thread_error = nullptr;
  // Mark as serving before the thread starts, so a run() racing with start() is refused.
  d.serving = true;
  d.thread = std::thread([&d] {
    struct Reset {
      std::atomic<bool>& flag;
      ~Reset() { flag = false; }
    } reset{d.serving};
    TimerSlack slack;
    try {
      d.serve([&d] { return !d.stop_requested.load(); });
    } catch (...) {
      d.thread_error = std::current_exception();
    }
  });
}

void PtyServer::stop() {
  Impl& d = *impl_;
  if (!d.thread.joinable()) return;
  d.stop_requested = true;
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(d.wake_fd.get(), &one, sizeof one);
  d.thread.join();
  if (d.thread_error) std::rethrow_exception(std::exchange(d.thread_error, nullptr));
}

// ---- the serving loop ---------------------------------------------------------------------------

void PtyServer::Impl::serve(const std::function<bool()>& keep_running) {
  while (keep_running()) {
    const Clock::time_point now = Clock::now();
    read_host();
    deliver_due(now);
    take_device_output(now);
    move_due_tx(now);
    const bool blocked = !write_host();
    wait(next_wake(Clock::now()), blocked);
  }
}

constexpr std::chrono::microseconds kSpinWindow{800};

void PtyServer::Impl::read_host() {
  std::uint8_t buf[kReadChunk];
  for (int rounds = 0; rounds < 16; ++rounds) {
    const ssize_t n = ::read(master.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      throw_os("read from pty master of " + slave_path, errno);
    }
    if (n == 0) return;
    // Stamped when read, not when this round started: the host may have written them in between
    // (a thread preempted between the two), and bytes must never arrive before they were sent.
    const Clock::time_point now = Clock::now();
    const auto count = static_cast<std::size_t>(n);
    received += count;
    if (!timing.enabled) {
      peer->on_receive(ByteView(buf, count), now);
      continue;
    }
    // Line model: the bytes occupy the wire one after another from when it is free.
    Clock::time_point t = std::max(now, rx_line_free);
    for (std::size_t i = 0; i < count; i += kGroup) {
      const std::size_t m = std::min(kGroup, count - i);
      t += byte_time * static_cast<Clock::rep>(m);
      rx.push_back({t, Bytes(buf + i, buf + i + m)});
    }
    rx_line_free = t;
  }
}

void PtyServer::Impl::deliver_due(Clock::time_point now) {
  last_delivery.reset();
  while (!rx.empty() && rx.front().due <= now) {
    RxGroup g = std::move(rx.front());
    rx.pop_front();
    // The device sees the bytes when their last bit arrived (the model's time), not when this
    // thread woke up: the server's own scheduling latency must not leak into the line model.
    peer->on_receive(g.bytes, g.due);
    last_delivery = g.due;
  }
}

void PtyServer::Impl::take_device_output(Clock::time_point now) {
  Bytes out = peer->take_output(now);
  if (out.empty()) return;
  if (!timing.enabled) {
    ready.insert(ready.end(), out.begin(), out.end());
    return;
  }
  // A new burst starts after the turnaround, or right after the previous burst if still sending.
  // A reply to bytes just delivered counts its turnaround from their modelled arrival.
  const Clock::time_point base = last_delivery ? std::min(now, *last_delivery) : now;
  if (tx.empty()) tx_head_start = std::max(base + timing.turnaround, tx_head_start);
  tx.insert(tx.end(), out.begin(), out.end());
}

void PtyServer::Impl::move_due_tx(Clock::time_point now) {
  if (tx.empty() || now < tx_head_start + byte_time) return;
  const auto done = static_cast<std::size_t>((now - tx_head_start) / byte_time);
  const std::size_t k = std::min(done, tx.size());
  ready.insert(ready.end(), tx.begin(), tx.begin() + static_cast<std::ptrdiff_t>(k));
  tx.erase(tx.begin(), tx.begin() + static_cast<std::ptrdiff_t>(k));
  tx_head_start += byte_time * static_cast<Clock::rep>(k);
}

bool PtyServer::Impl::write_host() {
  while (ready_pos < ready.size()) {
    const ssize_t n = ::write(master.get(), ready.data() + ready_pos, ready.size() - ready_pos);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
      throw_os("write to pty master of " + slave_path, errno);
    }
    ready_pos += static_cast<std::size_t>(n);
    sent += static_cast<std::uint64_t>(n);
  }
  ready.clear();
  ready_pos = 0;
  return true;
}

Clock::time_point PtyServer::Impl::next_wake(Clock::time_point now) const {
  Clock::time_point wake = now + kIdlePeriod;
  if (!rx.empty()) wake = std::min(wake, rx.front().due);
  if (!tx.empty())
    wake = std::min(wake, tx_head_start + byte_time * static_cast<Clock::rep>(std::min(kGroup, tx.size())));
  if (const auto deadline = peer->next_deadline()) {
    // A deadline still due after take_output() was not advanced by the peer: do not spin on it.
    wake = std::min(wake, *deadline > now ? *deadline : now + std::chrono::milliseconds(1));
  }
  return wake;
}

void PtyServer::Impl::wait(Clock::time_point wake, bool want_write) {
  // With line timing, deadlines are met by waking a little early and polling the rest of the way:
  // a timer wake-up on a VM can be hundreds of microseconds late, which would show up as line time
  // that a real UART does not have.
  if (timing.enabled) {
    if (wake - Clock::now() <= kSpinWindow) {
      pollfd fd{master.get(), static_cast<short>(POLLIN | (want_write ? POLLOUT : 0)), 0};
      while (Clock::now() < wake)
        if (::poll(&fd, 1, 0) > 0) return;
      return;
    }
    wake -= kSpinWindow;
  }
  itimerspec spec{};
  spec.it_value = to_timespec(wake);
  if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;  // 0 disarms
  if (::timerfd_settime(timer_fd.get(), TFD_TIMER_ABSTIME, &spec, nullptr) != 0) throw_os("timerfd_settime", errno);
  pollfd fds[3] = {
      {master.get(), static_cast<short>(POLLIN | (want_write ? POLLOUT : 0)), 0},
      {timer_fd.get(), POLLIN, 0},
      {wake_fd.get(), POLLIN, 0},
  };
  const int r = ::poll(fds, 3, static_cast<int>(kIdlePeriod.count()) * 2);  // the timer fires first
  if (r < 0 && errno != EINTR) throw_os("poll on pty master of " + slave_path, errno);
  if (fds[1].revents & POLLIN) drain_counter(timer_fd.get());
  if (fds[2].revents & POLLIN) drain_counter(wake_fd.get());
  if (fds[0].revents & (POLLHUP | POLLERR) && !(fds[0].revents & POLLIN)) {
    // Cannot happen while our slave descriptor is open; never spin if it does.
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace mp1boot::transport
