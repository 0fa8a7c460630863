// SPDX-License-Identifier: MIT
// SerialPort on Boost.Asio: open with errno-precise errors, exclusive lock, raw termios, line
// settings through Asio options, reads bounded by a steady_timer, best-effort low latency.
#include <utility>  // before Asio: Boost 1.74 Asio misses it under C++20 (PITFALLS.md)

#include "mp1boot/transport/serial.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/serial_port.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <fcntl.h>
#include <linux/serial.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "mp1boot/error.hpp"

namespace mp1boot::transport {

namespace asio = boost::asio;

namespace {

// ---- OS helpers -------------------------------------------------------------------------------

std::string os_message(int err) { return std::system_category().message(err); }

bool is_hangup(int err) {
  return err == EIO || err == ENXIO || err == ENODEV || err == EPIPE || err == EBADF;
}

[[noreturn]] void throw_os(const std::string& what, int err, const std::string& transport) {
  ErrorContext ctx;
  ctx.transport = transport;
  throw TransportError(is_hangup(err) ? errc::disconnected : errc::io, what + ": " + os_message(err), ctx);
}

// Asio reports OS failures in the system category (errno values) and EOF in its misc category.
[[noreturn]] void throw_asio(const std::string& what, const boost::system::error_code& ec,
                             const std::string& transport) {
  if (ec.category() == boost::system::system_category()) throw_os(what, ec.value(), transport);
  ErrorContext ctx;
  ctx.transport = transport;
  const bool hangup = ec == asio::error::eof;
  throw TransportError(hangup ? errc::disconnected : errc::io,
                       what + ": " + (hangup ? std::string("the device hung up (end of file)") : ec.message()), ctx);
}

[[noreturn]] void throw_open_error(const std::string& path, int err) {
  ErrorContext ctx;
  ctx.transport = "serial:" + path;
  switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENXIO:
    case ENODEV:
      throw TransportError(errc::no_device, "serial port " + path + " does not exist", ctx);
    case EACCES:
    case EPERM:
      throw TransportError(errc::permission_denied,
                           "no permission to open serial port " + path + " (" + os_message(err) +
                               "); add your user to the group owning it (usually dialout) and log in again",
                           ctx);
    case EBUSY:
    case EWOULDBLOCK:
      throw TransportError(errc::port_busy,
                           "serial port " + path +
                               " is busy: another process holds it (a terminal, ModemManager?)",
                           ctx);
    default:
      throw TransportError(errc::io, "cannot open serial port " + path + ": " + os_message(err), ctx);
  }
}

// Writes "1" to the first writable FTDI-style latency_timer attribute of the tty. True on success.
bool set_latency_timer(const std::string& path) {
  std::error_code ec;
  std::filesystem::path real = std::filesystem::canonical(path, ec);
  if (ec) return false;
  const std::string name = real.filename().string();
  if (name.empty() || name.find_first_not_of("0123456789") == std::string::npos) return false;
  const std::filesystem::path candidates[] = {
      "/sys/class/tty/" + name + "/device/latency_timer",
      "/sys/class/tty/" + name + "/device/../latency_timer",
      "/sys/bus/usb-serial/devices/" + name + "/latency_timer",
  };
  for (const auto& attr : candidates) {
    if (::access(attr.c_str(), W_OK) != 0) continue;
    std::ofstream out(attr);
    out << "1\n";
    out.flush();
    if (out) return true;
  }
  return false;
}

// Unix98 pty slaves (majors 136..143) force CS8 and no parity whatever is asked.
bool is_pty_slave(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode)) return false;
  const unsigned m = major(st.st_rdev);
  return m >= 136 && m <= 143;
}

// ASYNC_LOW_LATENCY through TIOCGSERIAL/TIOCSSERIAL. Ptys and many drivers refuse (ENOTTY/EINVAL).
bool set_async_low_latency(int fd) {
  serial_struct ss{};
  if (::ioctl(fd, TIOCGSERIAL, &ss) != 0) return false;
  constexpr int kLowLatency = static_cast<int>(ASYNC_LOW_LATENCY);
  if (ss.flags & kLowLatency) return true;
  ss.flags |= kLowLatency;
  return ::ioctl(fd, TIOCSSERIAL, &ss) == 0;
}

}  // namespace

// ---- SerialPort -------------------------------------------------------------------------------

struct SerialPort::Impl {
  std::string path;
  SerialOptions options;
  std::string description;
  asio::io_context io;
  asio::serial_port port{io};
  asio::steady_timer timer{io};
  bool exclusive_ioctl = false;
  bool low_latency = false;

  ErrorContext context() const {
    ErrorContext c;
    c.transport = description;
    return c;
  }
  void configure(int fd);
};

void SerialPort::Impl::configure(int fd) {
  termios tio{};
  if (::tcgetattr(fd, &tio) != 0) {
    const int err = errno;
    ErrorContext c = context();
    if (err == ENOTTY || err == EINVAL)
      throw TransportError(errc::no_device, path + " is not a serial port (" + os_message(err) + ")", c);
    throw_os("cannot read the settings of serial port " + path, err, description);
  }
  ::cfmakeraw(&tio);
  tio.c_cflag |= CLOCAL | CREAD;
  tio.c_cc[VMIN] = 1;
  tio.c_cc[VTIME] = 0;
  if (::tcsetattr(fd, TCSANOW, &tio) != 0)
    throw_os("cannot configure serial port " + path, errno, description);

  using base = asio::serial_port_base;
  const bool is_pty = is_pty_slave(fd);
  boost::system::error_code ec;
  port.set_option(base::baud_rate(options.baud), ec);
  if (ec == asio::error::invalid_argument)
    throw UsageError(errc::usage, "baud rate " + std::to_string(options.baud) + " is not supported", context());
  if (ec) throw_asio("cannot set baud rate " + std::to_string(options.baud) + " on " + path, ec, description);
  port.set_option(base::character_size(options.data_bits), ec);
  if (ec && !(is_pty && ec.value() == EINVAL)) throw_asio("cannot set " + std::to_string(options.data_bits) + " data bits on " + path, ec, description);
  const auto parity = options.parity == SerialOptions::Parity::none   ? base::parity::none
                      : options.parity == SerialOptions::Parity::even ? base::parity::even
                                                                      : base::parity::odd;
  // A pty accepts PARENB and clears it; never read it back to verify (PITFALLS.md). glibc (Debian,
  // Fedora) does read it back after TCSETS and then reports EINVAL although the rest was applied.
  port.set_option(base::parity(parity), ec);
  if (ec && !(is_pty && ec.value() == EINVAL)) throw_asio("cannot set parity on " + path, ec, description);
  port.set_option(base::stop_bits(options.stop_bits == 2 ? base::stop_bits::two : base::stop_bits::one), ec);
  if (ec) throw_asio("cannot set stop bits on " + path, ec, description);
  port.set_option(base::flow_control(base::flow_control::none), ec);
  if (ec) throw_asio("cannot disable flow control on " + path, ec, description);
}

SerialPort::SerialPort(std::string path, SerialOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  d.path = std::move(path);
  d.options = options;
  if (options.baud == 0 || options.data_bits < 5 || options.data_bits > 8 ||
      (options.stop_bits != 1 && options.stop_bits != 2)) {
    throw UsageError(errc::usage, "invalid serial settings for " + d.path + ": " +
                                      std::to_string(options.baud) + " baud " + framing_string(options));
  }
  d.description = "serial:" + d.path + "@" + std::to_string(options.baud) + " " + framing_string(options);

  const int fd = ::open(d.path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw_open_error(d.path, errno);
  // From here the port owns fd and closes it, also when a later step throws.
  boost::system::error_code ec;
  d.port.assign(fd, ec);
  if (ec) {
    ::close(fd);
    throw_asio("cannot use serial port " + d.path, ec, d.description);
  }
  if (options.exclusive) {
    // flock() like pyserial: an advisory lock other serial tools honour (root ignores TIOCEXCL).
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      throw_open_error(d.path, err == EWOULDBLOCK ? EBUSY : err);
    }
  }
  d.configure(fd);
  // TIOCEXCL last: nothing below can throw, so the destructor always clears it again.
  if (options.exclusive) d.exclusive_ioctl = ::ioctl(fd, TIOCEXCL) == 0;
  if (options.low_latency) {
    const bool async_ll = set_async_low_latency(fd);
    const bool timer_ll = set_latency_timer(d.path);
    d.low_latency = async_ll || timer_ll;
  }
}

SerialPort::~SerialPort() {
  if (!impl_) return;
  // Without TIOCNXCL the exclusive flag could outlive us while another fd keeps the tty open.
  if (impl_->exclusive_ioctl && impl_->port.is_open()) ::ioctl(impl_->port.native_handle(), TIOCNXCL);
  boost::system::error_code ignored;
  impl_->port.close(ignored);
}

void SerialPort::write(ByteView bytes) {
  if (bytes.empty()) return;
  boost::system::error_code ec;
  asio::write(impl_->port, asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec) {
    throw_asio("write of " + std::to_string(bytes.size()) + " bytes to " + impl_->path + " failed", ec,
               impl_->description);
  }
}

std::size_t SerialPort::read_some(std::span<std::uint8_t> out, std::chrono::milliseconds timeout) {
  if (out.empty()) return 0;
  Impl& d = *impl_;
  std::size_t got = 0;
  boost::system::error_code read_ec;
  bool timed_out = false;
  d.io.restart();
  d.port.async_read_some(asio::buffer(out.data(), out.size()),
                         [&](const boost::system::error_code& ec, std::size_t n) {
                           read_ec = ec;
                           got = n;
                           d.timer.cancel();
                         });
  d.timer.expires_after(timeout < std::chrono::milliseconds::zero() ? std::chrono::milliseconds::zero()
                                                                     : timeout);
  d.timer.async_wait([&](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: the read completed first
    timed_out = true;
    boost::system::error_code ignored;
    d.port.cancel(ignored);
  });
  // Both handlers always complete (the timer fires or is cancelled), so run() is bounded.
  d.io.run();
  if (got > 0) return got;
  if (read_ec == asio::error::operation_aborted && timed_out) return 0;
  if (read_ec) throw_asio("read from " + d.path + " failed", read_ec, d.description);
  return 0;
}

void SerialPort::flush_input() {
  // Reads are never left pending between calls, so Asio holds no buffered bytes of its own.
  if (::tcflush(impl_->port.native_handle(), TCIFLUSH) != 0)
    throw_os("cannot flush the input of " + impl_->path, errno, impl_->description);
}

std::string SerialPort::describe() const { return impl_->description; }
double SerialPort::line_rate() const {
  return static_cast<double>(impl_->options.baud) / bits_per_character(impl_->options);
}
std::string SerialPort::path() const { return impl_->path; }
const SerialOptions& SerialPort::options() const { return impl_->options; }
bool SerialPort::low_latency_active() const { return impl_->low_latency; }

}  // namespace mp1boot::transport
