// SPDX-License-Identifier: MIT
// The host side of the STM32MP UART serial-boot protocol as a sans-I/O engine.
//
// The caller starts one operation (sync, get, get_phase, download, start, ...) and then runs
// next_action() until it returns Done: each action says what to write, how many bytes to read and
// for how long, when to drain the line or pause. Bytes read are fed back with on_bytes(), an
// expired read with on_timeout(). The engine owns no port, clock or thread; session::drive is the
// one loop that joins it to a transport. Retry policy (PROTOCOL.md 2.3) lives here as data: on a
// NACK, an unexpected byte or a silent device, the whole command is resent after the line has been
// quiet for `RetryPolicy::quiet`, at most `attempts` times. After any error the engine is failed:
// further requests throw UsageError.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <variant>

#include "mp1boot/bytes.hpp"
#include "mp1boot/temporary_buffer.hpp"
#include "mp1boot/error.hpp"
#include "mp1boot/uart/wire.hpp"

namespace mp1boot::uart {

using ms = std::chrono::milliseconds;

// ---- actions -----------------------------------------------------------------------------
/// Write these bytes in one call. `payload`: they carry the caller's data (a Download data
/// packet), which a field trace keeps as size and hash only.
struct Write { Bytes bytes; bool payload = false; };
/// Read 1..max bytes, or time out. `payload`: the reply is memory or partition content.
struct Read { std::size_t max; ms timeout; bool payload = false; };
struct Drain { ms quiet; ms limit; };               ///< discard input until the line is quiet
struct Done {};                                     ///< the operation finished (result() holds it)
using Action = std::variant<Write, Read, Drain, Done>;

// ---- events ------------------------------------------------------------------------------
struct PacketAcked { std::uint32_t packet; std::uint64_t bytes_done; std::uint64_t bytes_total; };
struct Retrying { std::string operation; std::string reason; int attempt; };
using Event = std::variant<PacketAcked, Retrying>;

// ---- results -----------------------------------------------------------------------------
struct GetReply {
  std::uint8_t protocol_version = 0;  ///< 0x40 = protocol V4.0
  Bytes commands;                     ///< supported command codes
  bool supports(Command c) const;
};
struct VersionReply {
  std::uint8_t version = 0;
  std::optional<std::array<std::uint8_t, 2>> options;  ///< the ROM's two option bytes
};
struct Timeouts {
  ms reply{1000};        ///< each reply byte group of an ordinary command
  ms start{10000};       ///< the final reply to Start (U-Boot may flush flash first)
  ms sync{500};
};
struct RetryPolicy {
  int attempts = 3;      ///< tries per command or packet (1 = no retry)
  ms quiet{50};          ///< line quiet time before a retry (PROTOCOL.md 2.3: >= 50 ms)
  ms drain_limit{2000};  ///< longest time spent draining before a retry
};
struct EngineOptions {
  Timeouts timeouts;
  RetryPolicy retry;
};

/// Not thread-safe; one engine per session.
class Engine {
 public:
  explicit Engine(EngineOptions options = {});

  // Requests. Each starts an operation; the previous one must be Done.
  void sync();                                           ///< 0x7F -> ACK
  void get();                                            ///< 0x00
  void get_version();                                    ///< 0x01
  void get_id();                                         ///< 0x02
  void get_phase();                                      ///< 0x03
  void read_memory(std::uint32_t address, std::size_t n);              ///< 0x11, 1..256 bytes
  void read_partition(std::uint8_t id, std::uint32_t offset, std::size_t n);  ///< 0x12, 1..256
  /// 0x31: the whole phase payload in packets of <= 256 bytes, packet numbers from first_packet.
  /// `data` must stay alive until Done.
  void download(ByteView data, DownloadOp op = DownloadOp::normal, std::uint32_t first_packet = 0);
  /// Refused: the engine keeps a view of `data`, a temporary would be gone before the first packet.
  template <class C>
    requires TemporaryBuffer<C>
  void download(C&& data, DownloadOp op = DownloadOp::normal, std::uint32_t first_packet = 0) = delete;
  void start(std::uint32_t address);                     ///< 0x21
  /// 0x21 whose final reply may take `final_reply` (U-Boot erasing the layout's 'D' lines).
  void start(std::uint32_t address, ms final_reply);

  // Driver interface.
  Action next_action();
  void on_bytes(ByteView bytes);
  void on_timeout();
  std::optional<Event> next_event();

  // Results of the last finished operation.
  const GetReply& get_reply() const { return get_; }
  const VersionReply& version_reply() const { return version_; }
  std::uint16_t id() const { return id_; }
  /// The last Get Phase reply (message filled for phase 0xFF).
  const PhaseInfo& phase_info() const { return phase_; }
  const Bytes& data() const { return data_; }

  /// Context of the current operation for errors (operation, packet, bytes acknowledged).
  ErrorContext context() const;
  bool failed() const { return failed_; }
  bool busy() const { return op_ != Op::idle; }

 private:
  enum class Op { idle, sync, get, get_version, get_id, get_phase, read_memory, read_partition, download, start };
  // One step of a command: what to write, then how many reply bytes to collect and how.
  enum class Expect { ack, count_and_body, version_body, id_body, raw };

  void begin(Op op, const char* name);
  void begin_attempt();
  void arm_step();
  void plan_command();
  void plan_packet();
  void step_done();
  void packet_done();
  bool resolve_number_nack();  // true when a NACK at the packet-number stage was explained
  void finish();
  [[noreturn]] void fail_nack(const std::string& what);
  [[noreturn]] void fail(errc code, const std::string& message);
  void retry_or_fail(errc code, const std::string& reason);
  void handle_reply_byte_group();

  EngineOptions options_;
  Op op_ = Op::idle;
  const char* op_name_ = "";
  bool failed_ = false;
  int attempt_ = 0;

  // Planned steps of the current attempt: frames to write and what to expect after each.
  struct Step { Bytes write; Expect expect; std::size_t raw_count = 0; ms timeout{0}; bool payload = false; };
  std::deque<Step> steps_;
  bool step_written_ = false;
  bool draining_ = false;
  bool done_ = false;
  Bytes rx_;                 // reply bytes of the current step
  std::size_t want_ = 1;     // bytes needed to complete the current step (may grow)

  // Operation parameters.
  Command command_{};
  std::uint32_t address_ = 0;
  ms start_final_reply_{10000};  ///< the final reply timeout of the Start in progress
  std::uint8_t part_id_ = 0;
  std::size_t length_ = 0;
  ByteView payload_;
  DownloadOp download_op_ = DownloadOp::normal;
  std::uint32_t first_packet_ = 0;
  std::uint32_t packet_ = 0;       // packet being sent (index from 0 within this download)
  std::uint64_t acked_ = 0;        // payload bytes acknowledged
  // Lost final ACK (PROTOCOL.md 2.5.5): the packet whose data stage timed out without a reply
  // byte, and the packet taken as received because the device then refused its number.
  std::optional<std::uint32_t> silent_data_stage_;
  std::optional<std::uint32_t> inferred_;

  // Results.
  GetReply get_;
  VersionReply version_;
  std::uint16_t id_ = 0;
  PhaseInfo phase_;
  Bytes data_;
  std::deque<Event> events_;
};

}  // namespace mp1boot::uart
