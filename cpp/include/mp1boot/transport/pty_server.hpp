// SPDX-License-Identifier: MIT
// PtyServer: serves a BytePeer (a simulated board) on a pseudo-terminal, so any serial tool,
// including our own SerialPort, can open slave_path() as if a board were plugged in. An optional
// line model paces both directions at the configured baud rate.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "mp1boot/transport/byte_peer.hpp"

namespace mp1boot::transport {

/// UART line model of a PtyServer. Disabled: bytes are forwarded as soon as they are read.
/// Enabled: each character takes bits_per_byte / baud seconds on each direction of the wire; the
/// device receives a byte only when its last bit has arrived, and its reply starts `turnaround`
/// after the device produced it (or when the line is free) and reaches the host no faster than
/// the line allows.
struct LineTiming {
  bool enabled = false;
  unsigned baud = 115200;
  unsigned bits_per_byte = 11;  ///< start + 8 data + parity + stop (8E1)
  std::chrono::microseconds turnaround{0};
};

/// Serves one BytePeer on the master side of a new pseudo-terminal.
///
/// The server keeps its own descriptor of the slave open (raw mode), so clients may open and
/// close slave_path() any number of times without the master seeing a hang-up. Bytes the device
/// sends while no client is reading stay in the slave's input queue (clients usually flush it).
///
/// The peer is only called from the serving thread (the caller of run(), or the thread of
/// start()); do not drive it from elsewhere while the server runs.
class PtyServer {
 public:
  /// Creates the pseudo-terminal (posix_openpt, grantpt, unlockpt) and sets the slave raw.
  /// @throws UsageError when `peer` is null or the timing is invalid (baud or bits_per_byte 0).
  /// @throws TransportError (errc::io) when the OS refuses a pseudo-terminal.
  explicit PtyServer(std::shared_ptr<BytePeer> peer, LineTiming timing = {});
  /// Stops the background thread if any (errors of the thread are discarded here).
  ~PtyServer();
  PtyServer(const PtyServer&) = delete;
  PtyServer& operator=(const PtyServer&) = delete;

  /// "/dev/pts/N": the path a client opens.
  const std::string& slave_path() const;

  /// Serves in the calling thread until keep_running() returns false. keep_running is checked at
  /// least every 50 ms; the loop sleeps in poll() when idle. Sets the calling thread's timer slack
  /// to 1 ns while it runs (restored on return) so the line model's deadlines are kept closely.
  /// @throws UsageError when the server already runs; TransportError on a pty failure;
  ///   anything the peer throws.
  void run(const std::function<bool()>& keep_running);

  /// run() in a background thread. @throws UsageError when already running.
  void start();
  /// Stops and joins the background thread (returns within about one poll period). Rethrows the
  /// exception that ended the thread, if any. No effect when not started.
  void stop();
  /// True while the background thread serves.
  bool running() const;

  /// Bytes read from the host (master side) so far.
  std::uint64_t bytes_received() const;
  /// Bytes written to the host so far.
  std::uint64_t bytes_sent() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mp1boot::transport
