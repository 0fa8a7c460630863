// SPDX-License-Identifier: MIT
// UART host engine.
//
// Theory of operation. Every command is a fixed list of steps (the table below); a step writes
// one frame (or nothing) and then expects a reply shape. The engine walks the steps; a reply that
// breaks the expected shape makes the whole command (for Download: the current packet) start
// again after the line has been quiet, up to RetryPolicy::attempts times.
//
//   command         steps: frame written -> reply expected
//   sync            7F -> ACK
//   Get             00 FF -> ACK ; - -> N, N+1 bytes ; - -> ACK
//   Get Version     01 FE -> ACK ; - -> version, [opt1 opt2], ACK      (ROM sends two option bytes)
//   Get ID          02 FD -> ACK ; - -> L, 2 id bytes (L ignored: TF-A sends 02) ; - -> ACK
//   Get Phase       03 FC -> ACK ; - -> N, N+1 bytes (phase, LE32 address, X, X info) ; - -> ACK
//   Read Memory     11 EE -> ACK ; BE32 address + xor -> ACK ; N-1 ~(N-1) -> ACK ; - -> N bytes
//   Read Partition  12 ED -> ACK ; id BE32 offset + xor -> ACK ; N-1 ~(N-1) -> ACK|ABORT ; - -> N bytes
//   Start           21 DE -> ACK ; BE32 address + xor -> ACK|NACK|ABORT
//   Download        per packet: 31 CE -> ACK ; op P2 P1 P0 xor -> ACK ; N-1 data xor -> ACK
//
// NACK, a timeout or an unexpected byte -> retry (the unsolicited NACK a stage sends when it starts
// is absorbed this way, PROTOCOL.md 2.3). ABORT -> DeviceError at once: the device says the
// accepted operation failed and a retry cannot help.
//
// Lost final ACK. When the data stage of packet k times out without a byte and the resend of k
// is refused at the packet-number stage (ROM and TF-A check the number before that ACK and keep
// their counter at k+1), the device has packet k: the engine goes on with k+1. That inference is
// confirmed when k+1 passes its packet-number stage; a NACK there instead means the device did
// not have k after all, and k is sent again. U-Boot checks the number after the ACK, so its
// refusal is indistinguishable from a checksum NACK: no inference there, the retries run out into
// a NackError naming the packet (and --resume recovers the partition).
// Packet 0. U-Boot takes packet number 0 as the start of the phase again, but its DFU write goes on
// where it was (PROTOCOL.md 2.5.5): a resend of a packet 0 it stored (final ACK lost or garbled)
// would be written twice and shift the rest. So when the data stage of packet 0 fails the first
// time (no reply, NACK, another byte) and more packets follow, the engine sends packet 1: a device
// that had packet 0 takes it; one that did not refuses it (ROM and TF-A at the packet number,
// U-Boot at the data stage), and packet 0 is sent again.
#include "mp1boot/uart/engine.hpp"

#include <algorithm>

namespace mp1boot::uart {

namespace {
Bytes command_frame(Command c) {
  auto b = static_cast<std::uint8_t>(c);
  return {b, static_cast<std::uint8_t>(b ^ 0xFF)};
}
Bytes word_frame(std::uint8_t b3, std::uint8_t b2, std::uint8_t b1, std::uint8_t b0) {
  return {b3, b2, b1, b0, static_cast<std::uint8_t>(b3 ^ b2 ^ b1 ^ b0)};
}
Bytes be32_frame(std::uint32_t v) {
  return word_frame(static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                    static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v));
}
Bytes length_frame(std::size_t n) {
  auto l = static_cast<std::uint8_t>(n - 1);
  return {l, static_cast<std::uint8_t>(l ^ 0xFF)};
}
std::string byte_text(std::uint8_t b) {
  auto name = reply_name(b);
  return hex8(b) + (name.empty() ? "" : " (" + std::string(name) + ")");
}
}  // namespace

bool GetReply::supports(Command c) const {
  return std::find(commands.begin(), commands.end(), static_cast<std::uint8_t>(c)) != commands.end();
}

Engine::Engine(EngineOptions options) : options_(options) {}

void Engine::begin(Op op, const char* name) {
  if (failed_) throw UsageError(errc::usage, "UART engine is failed after an earlier error; reconnect");
  if (op_ != Op::idle) throw UsageError(errc::usage, std::string("UART engine busy with ") + op_name_);
  op_ = op;
  op_name_ = name;
  attempt_ = 0;
  done_ = false;
  events_.clear();
  begin_attempt();
}

void Engine::begin_attempt() {
  ++attempt_;
  steps_.clear();
  if (op_ == Op::download) plan_packet();
  else plan_command();
  arm_step();
}

// Prepares the reply buffer for the step at the front: how many bytes complete it so far.
void Engine::arm_step() {
  rx_.clear();
  step_written_ = false;
  if (steps_.empty()) return;
  switch (steps_.front().expect) {
    case Expect::ack: want_ = 1; break;
    case Expect::count_and_body: want_ = 1; break;  // grows once N is known
    case Expect::version_body: want_ = 2; break;    // version + ACK or first option byte
    case Expect::id_body: want_ = 3; break;         // L, then always two id bytes
    case Expect::raw: want_ = steps_.front().raw_count; break;
  }
}

void Engine::plan_command() {
  const ms reply = options_.timeouts.reply;
  auto cmd = [&](Command c) { steps_.push_back({command_frame(c), Expect::ack, 0, reply}); };
  auto then = [&](Expect e, std::size_t raw = 0, ms t = ms{0}) {
    steps_.push_back({{}, e, raw, t.count() ? t : reply});
  };
  switch (op_) {
    case Op::sync: steps_.push_back({Bytes{uart::sync}, Expect::ack, 0, options_.timeouts.sync}); break;
    case Op::get: cmd(Command::get); then(Expect::count_and_body); then(Expect::ack); break;
    case Op::get_version: cmd(Command::get_version); then(Expect::version_body); break;
    case Op::get_id: cmd(Command::get_id); then(Expect::id_body); then(Expect::ack); break;
    case Op::get_phase: cmd(Command::get_phase); then(Expect::count_and_body); then(Expect::ack); break;
    case Op::read_memory:
      cmd(Command::read_memory);
      steps_.push_back({be32_frame(address_), Expect::ack, 0, reply});
      steps_.push_back({length_frame(length_), Expect::ack, 0, reply});
      then(Expect::raw, length_);
      break;
    case Op::read_partition:
      cmd(Command::read_partition);
      {
        Bytes frame{part_id_};
        for (std::uint8_t b : be32_frame(address_)) frame.push_back(b);
        frame.back() = static_cast<std::uint8_t>(frame.back() ^ part_id_);  // xor covers the id too
        steps_.push_back({std::move(frame), Expect::ack, 0, reply});
      }
      steps_.push_back({length_frame(length_), Expect::ack, 0, reply});
      then(Expect::raw, length_);
      break;
    case Op::start:
      cmd(Command::start);
      steps_.push_back({be32_frame(address_), Expect::ack, 0, start_final_reply_});
      break;
    case Op::download:
    case Op::idle: break;
  }
}

void Engine::plan_packet() {
  const ms reply = options_.timeouts.reply;
  const std::size_t offset = std::size_t(packet_) * max_packet;
  const std::size_t n = std::min(max_packet, payload_.size() - offset);
  const std::uint32_t number = first_packet_ + packet_;
  steps_.push_back({command_frame(Command::download), Expect::ack, 0, reply});
  steps_.push_back({word_frame(static_cast<std::uint8_t>(download_op_), static_cast<std::uint8_t>(number >> 16),
                               static_cast<std::uint8_t>(number >> 8), static_cast<std::uint8_t>(number)),
                    Expect::ack, 0, reply});
  Bytes frame;
  frame.reserve(n + 2);
  frame.push_back(static_cast<std::uint8_t>(n - 1));
  frame.insert(frame.end(), payload_.begin() + static_cast<std::ptrdiff_t>(offset),
               payload_.begin() + static_cast<std::ptrdiff_t>(offset + n));
  frame.push_back(xor_of(frame));
  steps_.push_back({std::move(frame), Expect::ack, 0, reply, true});
}

void Engine::sync() { begin(Op::sync, "sync"); }
void Engine::get() { begin(Op::get, "get"); }
void Engine::get_version() { begin(Op::get_version, "get_version"); }
void Engine::get_id() { begin(Op::get_id, "get_id"); }
void Engine::get_phase() { begin(Op::get_phase, "get_phase"); }

void Engine::read_memory(std::uint32_t address, std::size_t n) {
  if (n == 0 || n > max_packet) throw UsageError(errc::usage, "read_memory: length must be 1..256");
  address_ = address;
  length_ = n;
  begin(Op::read_memory, "read_memory");
}

void Engine::read_partition(std::uint8_t id, std::uint32_t offset, std::size_t n) {
  if (n == 0 || n > max_packet) throw UsageError(errc::usage, "read_partition: length must be 1..256");
  part_id_ = id;
  address_ = offset;
  length_ = n;
  begin(Op::read_partition, "read_partition");
}

void Engine::download(ByteView data, DownloadOp op, std::uint32_t first_packet) {
  if (data.empty()) throw UsageError(errc::usage, "download: nothing to send");
  const std::uint64_t packets = (data.size() + max_packet - 1) / max_packet;
  if (first_packet + packets - 1 > 0xFFFFFF)
    throw UsageError(errc::usage, "download: more than 2^24 packets; the packet number has 24 bits");
  payload_ = data;
  download_op_ = op;
  first_packet_ = first_packet;
  packet_ = 0;
  acked_ = 0;
  silent_data_stage_.reset();
  inferred_.reset();
  begin(Op::download, "download");
}

void Engine::start(std::uint32_t address) { start(address, options_.timeouts.start); }

void Engine::start(std::uint32_t address, ms final_reply) {
  address_ = address;
  start_final_reply_ = final_reply;
  begin(Op::start, "start");
}

Action Engine::next_action() {
  if (failed_) throw UsageError(errc::usage, "UART engine is failed after an earlier error; reconnect");
  if (op_ == Op::idle) {
    if (done_) return Done{};
    throw UsageError(errc::usage, "UART engine: no operation in progress");
  }
  if (draining_) {
    draining_ = false;
    return Drain{options_.retry.quiet, options_.retry.drain_limit};
  }
  Step& s = steps_.front();
  if (!step_written_) {
    step_written_ = true;
    if (!s.write.empty()) return Write{s.write, s.payload};
  }
  return Read{want_ - rx_.size(), s.timeout, s.expect == Expect::raw};
}

void Engine::on_timeout() {
  if (op_ == Op::idle || draining_) throw UsageError(errc::usage, "UART engine: unexpected timeout input");
  std::string what = "no reply";
  if (!rx_.empty()) what = "incomplete reply (" + to_hex(rx_) + ")";
  if (op_ == Op::download && steps_.size() == 1 && rx_.empty()) silent_data_stage_ = packet_;
  retry_or_fail(errc::timeout, what);
}

void Engine::on_bytes(ByteView bytes) {
  if (op_ == Op::idle || draining_) throw UsageError(errc::usage, "UART engine: unexpected input");
  for (std::uint8_t b : bytes) {
    rx_.push_back(b);
    if (op_ == Op::idle || draining_) throw UsageError(errc::usage, "UART engine: more bytes than requested");
    Step& s = steps_.front();
    const std::size_t n = rx_.size();
    if (s.expect == Expect::count_and_body && n == 1) want_ = std::size_t(rx_[0]) + 2;  // N, then N+1 bytes
    if (s.expect == Expect::version_body && n == 2 && rx_[1] != ack) want_ = 4;       // two option bytes, ACK
    if (n >= want_) handle_reply_byte_group();
  }
}

void Engine::handle_reply_byte_group() {
  Step& s = steps_.front();
  switch (s.expect) {
    case Expect::ack: {
      const std::uint8_t b = rx_[0];
      if (b == ack) break;
      if (b == abort_byte) fail(errc::abort, std::string(op_name_) + " aborted by device (ABORT)");
      if (b == nack && op_ == Op::download && steps_.size() <= 2 && resolve_number_nack()) return;
      if (b == nack) return retry_or_fail(errc::nack, "NACK");
      return retry_or_fail(errc::unexpected_byte, "unexpected byte " + byte_text(b) + " instead of ACK");
    }
    case Expect::count_and_body:
      if (op_ == Op::get_phase) {
        // N = 5 + X: phase, 4 address bytes, X, X info bytes.
        if (rx_.size() < 7 || std::size_t(rx_[6]) + 6 != rx_.size() - 1)
          return retry_or_fail(errc::unexpected_byte, "malformed Get Phase reply (" + to_hex(rx_) + ")");
        phase_ = PhaseInfo{};
        phase_.phase = rx_[1];
        phase_.address = load_le32(&rx_[2]);
        phase_.info.assign(rx_.begin() + 7, rx_.end());
        if (phase_.phase == phase::reset) phase_.message.assign(phase_.info.begin(), phase_.info.end());
      } else {
        get_.protocol_version = rx_[1];
        get_.commands.assign(rx_.begin() + 2, rx_.end());
      }
      break;
    case Expect::version_body:
      version_.version = rx_[0];
      version_.options.reset();
      if (rx_.size() == 4) {
        if (rx_[3] != ack)
          return retry_or_fail(errc::unexpected_byte, "Get Version reply not ended by ACK (" + to_hex(rx_) + ")");
        version_.options = std::array<std::uint8_t, 2>{rx_[1], rx_[2]};
      }
      break;
    case Expect::id_body:
      id_ = static_cast<std::uint16_t>(rx_[1] << 8 | rx_[2]);
      break;
    case Expect::raw:
      data_ = rx_;
      break;
  }
  step_done();
}

void Engine::step_done() {
  steps_.pop_front();
  // k+1 got past its packet-number stage: the device did have packet k (ROM, TF-A; U-Boot ACKs
  // any number, so packet 1 sent for packet 0 is judged at its data stage, in packet_done()).
  if (op_ == Op::download && steps_.size() == 1 && inferred_ && *inferred_ + 1 == packet_ &&
      !(first_packet_ == 0 && *inferred_ == 0))
    inferred_.reset();
  arm_step();
  if (!steps_.empty()) return;
  if (op_ == Op::download) return packet_done();
  finish();
}

void Engine::packet_done() {
  const std::size_t offset = std::size_t(packet_) * max_packet;
  acked_ += std::min(max_packet, payload_.size() - offset);
  events_.push_back(PacketAcked{first_packet_ + packet_, acked_, payload_.size()});
  silent_data_stage_.reset();
  ++packet_;
  if (inferred_ && *inferred_ + 1 < packet_) inferred_.reset();
  if (acked_ < payload_.size()) {
    attempt_ = 0;
    begin_attempt();
    return;
  }
  finish();
}

bool Engine::resolve_number_nack() {
  const std::uint32_t number = first_packet_ + packet_;
  // U-Boot checks the number after the ACK of the number frame: its refusal of packet 1, sent
  // instead of a resend of packet 0, comes at the data stage (a device that had packet 0 and got
  // packet 1 garbled would need a second fault on the line).
  const bool at_data_stage = steps_.size() == 1;
  if (at_data_stage && !(inferred_ == 0u && first_packet_ == 0)) return false;
  if (!at_data_stage && silent_data_stage_ == packet_ && attempt_ > 1) {
    // The resend of a packet whose final ACK never came is refused: the device has it.
    events_.push_back(Retrying{op_name_, "final ACK of packet " + std::to_string(number) +
                                   " lost; the device refuses its resend, so it has it: going on with packet " +
                                   std::to_string(number + 1), attempt_});
    inferred_ = packet_;
    steps_.clear();
    packet_done();
    if (op_ == Op::download) draining_ = true;
    return true;
  }
  if (inferred_ && *inferred_ + 1 == packet_ && attempt_ == 1) {
    // The device refuses k+1 as well: it did not have k. Send k again.
    const std::size_t offset = std::size_t(*inferred_) * max_packet;
    acked_ -= std::min(max_packet, payload_.size() - offset);
    packet_ = *inferred_;
    inferred_.reset();
    silent_data_stage_.reset();
    events_.push_back(Retrying{op_name_, "packet " + std::to_string(number) + " refused too: sending packet " +
                                   std::to_string(number - 1) + " again", attempt_});
    attempt_ = 1;
    steps_.clear();
    begin_attempt();
    draining_ = true;
    return true;
  }
  return false;
}

void Engine::finish() {
  op_ = Op::idle;
  done_ = true;
}

void Engine::retry_or_fail(errc code, const std::string& reason) {
  std::string where;
  if (op_ == Op::download) {
    static const char* stage[] = {"command", "packet number", "data"};
    where = std::string(" at the ") + stage[std::min<std::size_t>(2, 3 - steps_.size())] + " stage";
  }
  if (op_ == Op::download && steps_.size() == 1 && first_packet_ + packet_ == 0 && attempt_ == 1 &&
      payload_.size() > max_packet && attempt_ < options_.retry.attempts) {
    // The data stage of packet 0 failed: never resend packet 0 when it may have been stored (see
    // the top); packet 1 tells, and a refusal of it sends packet 0 again.
    events_.push_back(Retrying{op_name_, reason + where + " of packet 0: going on with packet 1 (a resend of "
                                                          "packet 0 would restart the phase in U-Boot and write it twice)",
                               attempt_});
    inferred_ = packet_;
    steps_.clear();
    packet_done();
    draining_ = true;
    return;
  }
  if (attempt_ < options_.retry.attempts) {
    events_.push_back(Retrying{op_name_, reason + where, attempt_});
    begin_attempt();
    draining_ = true;
    return;
  }
  const std::string tries = " (" + std::to_string(attempt_) + (attempt_ == 1 ? " attempt)" : " attempts)");
  if (code == errc::nack) fail_nack(reason + where + tries);
  fail(code, reason + where + tries);
}

[[noreturn]] void Engine::fail_nack(const std::string& what) {
  const ErrorContext c = context();
  failed_ = true;
  // A ROM or TF-A in step with the host never refuses a query, nor the first packet number of a
  // download: such a board is still inside an earlier download (interrupted by Ctrl-C or a lost
  // host), counting the new bytes as that download's.
  const bool out_of_step = op_ == Op::get || op_ == Op::get_version || op_ == Op::get_id || op_ == Op::get_phase ||
                           (op_ == Op::download && packet_ == 0 && what.find("packet number") != std::string::npos);
  const std::string hint = out_of_step ? "; the board is probably still inside an earlier, interrupted download: "
                                         "reset it (reset button or power cycle) and try again"
                                       : "";
  throw NackError(errc::nack, std::string(op_name_) + " refused by device (" + what + ")" + hint, c);
}

[[noreturn]] void Engine::fail(errc code, const std::string& message) {
  const ErrorContext c = context();
  failed_ = true;
  std::string text = message;
  if (message.rfind(op_name_, 0) != 0) text = std::string(op_name_) + ": " + message;
  switch (code) {
    case errc::timeout: throw TimeoutError(code, text, c);
    case errc::abort: throw DeviceError(code, text, c);
    default: throw ProtocolError(code, text, c);
  }
}

std::optional<Event> Engine::next_event() {
  if (events_.empty()) return std::nullopt;
  Event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

ErrorContext Engine::context() const {
  ErrorContext c;
  c.operation = op_name_;
  if (op_ == Op::download) {
    c.packet = first_packet_ + packet_;
    c.bytes_sent = acked_;
    c.bytes_total = payload_.size();
  }
  if (op_ == Op::read_partition) c.phase = part_id_;
  return c;
}

}  // namespace mp1boot::uart
