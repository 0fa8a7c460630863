// SPDX-License-Identifier: MIT
// Field traces: writing and reading the JSON-lines format of docs/TRACES.md.
#include "mp1boot/trace.hpp"

#include <chrono>
#include <ctime>
#include <iterator>
#include <limits>
#include <sstream>
#include <nlohmann/json.hpp>
#include <system_error>

#include "mp1boot/error.hpp"
#include "mp1boot/version.hpp"
#include "mp1boot/session/binary.hpp"   // hex_string
#include "mp1boot/session/flasher.hpp"  // sha256_hex

namespace mp1boot::trace {

namespace {

using json = nlohmann::json;

constexpr std::uintmax_t max_trace_size = 256u << 20;



constexpr const char* kind_names[] = {"w", "r", "timeout", "ctl", "alt", "reset", "enum", "note", "end"};
constexpr const char* result_names[] = {"ok", "stall", "disconnected", "timeout", "error"};

void put_data(json& j, const Data& d) {
  if (d.bytes) {
    j["hex"] = session::hex_string(*d.bytes);
  } else {
    j["n"] = d.size;
    j["sha256"] = d.sha256;
  }
}

}  // namespace

const char* kind_name(Kind k) noexcept { return kind_names[static_cast<int>(k)]; }
const char* result_name(Result r) noexcept { return result_names[static_cast<int>(r)]; }

Data Data::full(ByteView b) {
  Data d;
  d.bytes = Bytes(b.begin(), b.end());
  d.size = b.size();
  return d;
}

Data Data::hashed(ByteView b) {
  Data d;
  d.size = b.size();
  d.sha256 = session::sha256_hex(b);
  return d;
}

bool Data::matches(ByteView b) const {
  if (bytes) return std::equal(bytes->begin(), bytes->end(), b.begin(), b.end());
  if (b.size() != size) return false;
  return session::sha256_hex(b) == sha256;
}

std::string Data::describe() const {
  if (bytes) {
    if (bytes->empty()) return "nothing";
    if (bytes->size() <= 32) return to_hex(*bytes);
    return std::to_string(bytes->size()) + " bytes, " + to_hex(ByteView(bytes->data(), 16)) + " ..";
  }
  return std::to_string(size) + " bytes, sha256 " + sha256.substr(0, 16) + "..";
}

// ---- writer ---------------------------------------------------------------------------------------

Writer::Writer(const std::filesystem::path& path, Options options) : path_(path), options_(std::move(options)) {
  out_.open(path, std::ios::binary | std::ios::trunc);
  if (!out_) {
    ErrorContext c;
    c.file = path.string();
    throw TransportError(errc::io, "cannot write the trace file " + path.string(), c);
  }
  origin_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::steady_clock::now().time_since_epoch()).count();
}

Writer::~Writer() {
  std::lock_guard lock(mutex_);
  out_.flush();
}

double Writer::now() const {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch()).count() - origin_ns_;
  return static_cast<double>(ns / 1000) / 1e6;  // microseconds
}

void Writer::line(const std::string& text) {
  out_ << text << '\n';
  if (!out_) {
    ErrorContext c;
    c.file = path_.string();
    throw TransportError(errc::io, "cannot write the trace file " + path_.string() + " (disk full?)", c);
  }
}

Data Writer::data_of(ByteView bytes, bool payload) const {
  return payload && !options_.data ? Data::hashed(bytes) : Data::full(bytes);
}

void Writer::begin(std::string_view link, std::string_view port) {
  std::lock_guard lock(mutex_);
  if (begun_)
    throw UsageError(errc::usage, "the trace " + path_.string() + " already records a connection; one trace per board");
  begun_ = true;
  char created[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
  json j = {{"mp1boot_trace", format_version}, {"link", link}, {"port", port},
            {"tool", std::string("mp1boot ") + version}, {"created", created}, {"data", options_.data},
            {"argv", options_.argv}};
  line(j.dump());
  out_.flush();
}

bool Writer::begun() const {
  std::lock_guard lock(mutex_);
  return begun_;
}

namespace {
json record(double t, Kind k) { return json{{"t", t}, {"k", kind_name(k)}}; }
}  // namespace

void Writer::write(ByteView bytes, bool payload) {
  std::lock_guard lock(mutex_);
  json j = record(now(), Kind::write);
  put_data(j, data_of(bytes, payload));
  line(j.dump());
}

void Writer::read(ByteView bytes, bool payload) {
  std::lock_guard lock(mutex_);
  json j = record(now(), Kind::read);
  put_data(j, data_of(bytes, payload));
  line(j.dump());
}

void Writer::timeout(std::uint32_t ms) {
  std::lock_guard lock(mutex_);
  json j = record(now(), Kind::timeout);
  j["ms"] = ms;
  line(j.dump());
}

void Writer::control(const usb::SetupPacket& setup, std::uint16_t length, std::uint32_t timeout_ms, ByteView data,
                     bool payload, Result result) {
  std::lock_guard lock(mutex_);
  json j = record(now(), Kind::control);
  j["setup"] = {setup.request_type, setup.request, setup.value, setup.index};
  j["len"] = length;
  j["ms"] = timeout_ms;
  j["res"] = result_name(result);
  // OUT: the data stage as sent; IN: the reply, when there was one.
  if ((setup.request_type & 0x80) == 0 || result == Result::ok) put_data(j, data_of(data, payload));
  line(j.dump());
}

void Writer::set_alt(std::uint8_t alt, Result result) {
  std::lock_guard lock(mutex_);
  json j = record(now(), Kind::set_alt);
  j["alt"] = alt;
  j["res"] = result_name(result);
  line(j.dump());
}

void Writer::reset(Result result) {
  std::lock_guard lock(mutex_);
  json j = record(now(), Kind::reset);
  j["res"] = result_name(result);
  line(j.dump());
}

void Writer::enumerate(const usb::Identity& id, const std::vector<usb::AltSetting>& alts) {
  std::lock_guard lock(mutex_);
  json j = record(now(), Kind::enumerate);
  j["vid"] = id.vendor_id;
  j["pid"] = id.product_id;
  j["bus"] = id.bus;
  j["address"] = id.address;
  j["port"] = id.port_path;
  j["speed"] = id.speed;
  j["manufacturer"] = id.manufacturer;
  j["product"] = id.product;
  j["serial"] = id.serial;
  j["transfer_size"] = id.transfer_size;
  j["dfu_attributes"] = id.dfu_attributes;
  json a = json::array();
  for (const auto& s : alts) a.push_back({s.number, s.name});
  j["alts"] = std::move(a);
  line(j.dump());
}

void Writer::note(std::string_view text) {
  std::lock_guard lock(mutex_);
  json j = record(now(), Kind::note);
  j["text"] = text;
  line(j.dump());
  out_.flush();
}

void Writer::end(std::string_view result, std::string_view message) {
  std::lock_guard lock(mutex_);
  json j = record(now(), Kind::end);
  j["result"] = result;
  if (!message.empty()) j["message"] = message;
  line(j.dump());
  out_.flush();
}

void Writer::flush() {
  std::lock_guard lock(mutex_);
  out_.flush();
}

// ---- reader ---------------------------------------------------------------------------------------

namespace {

struct LineReader {
  const std::filesystem::path& path;
  int line = 0;

  [[noreturn]] void fail(const std::string& why) const {
    ErrorContext c;
    c.file = path.string();
    throw UsageError(errc::usage, path.string() + ":" + std::to_string(line) + ": " + why + " (not an mp1boot trace?)", c);
  }

  template <class T>
  T get(const json& j, const char* key) const {
    auto it = j.find(key);
    if (it == j.end()) fail(std::string("missing field \"") + key + "\"");
    try {
      return it->get<T>();
    } catch (const json::exception&) {
      fail(std::string("field \"") + key + "\" has the wrong type");
    }
  }

  template <class T>
  T get_or(const json& j, const char* key, T fallback) const {
    return j.contains(key) ? get<T>(j, key) : fallback;
  }

  // An unsigned field within the range of T (nlohmann's get<> would cut 300 to 44 in a byte).
  template <class T>
  T number(const json& j, const char* key) const {
    auto it = j.find(key);
    if (it == j.end()) fail(std::string("missing field \"") + key + "\"");
    if (!it->is_number_unsigned()) fail(std::string("field \"") + key + "\" must be a number >= 0");
    const auto v = it->get<std::uint64_t>();
    if (v > std::numeric_limits<T>::max())
      fail(std::string("field \"") + key + "\" is larger than " + std::to_string(std::numeric_limits<T>::max()));
    return static_cast<T>(v);
  }

  template <class T>
  T number_or(const json& j, const char* key, T fallback) const {
    return j.contains(key) ? number<T>(j, key) : fallback;
  }

  Data data(const json& j) const {
    if (j.contains("hex")) {
      try {
        return Data::full(from_hex(get<std::string>(j, "hex")));
      } catch (const std::invalid_argument&) {
        fail("bad hex in \"hex\"");
      }
    }
    if (j.contains("sha256")) {
      Data d;
      d.size = number<std::uint64_t>(j, "n");
      d.sha256 = get<std::string>(j, "sha256");
      if (d.sha256.size() != 64) fail("\"sha256\" must be 64 hex digits");
      return d;
    }
    return Data::full({});
  }

  Result result(const json& j) const {
    const auto r = get<std::string>(j, "res");
    for (int i = 0; i < 5; ++i)
      if (r == result_names[i]) return static_cast<Result>(i);
    fail("unknown result \"" + r + "\"");
  }
};

}  // namespace

Trace read(const std::filesystem::path& path) {
  ErrorContext c;
  c.file = path.string();
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status))
    throw LayoutError(errc::file_not_found, "trace file " + path.string() + " not found", c);
  if (!std::filesystem::is_regular_file(status))
    throw LayoutError(errc::file_not_found, "trace " + path.string() + " is not a regular file", c);
  if (std::filesystem::file_size(path, ec) > max_trace_size)
    throw UsageError(errc::usage, "trace " + path.string() + " is larger than 256 MiB", c);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TransportError(errc::io, "cannot read the trace file " + path.string(), c);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw TransportError(errc::io, "cannot read the trace file " + path.string(), c);
  return parse(text, path);
}

Trace parse(std::string_view whole, const std::filesystem::path& path) {
  std::istringstream in{std::string(whole)};
  Trace t;
  t.path = path;
  LineReader r{path};
  std::string text;
  bool have_header = false;
  while (std::getline(in, text)) {
    ++r.line;
    if (text.empty()) continue;
    json j;
    try {
      j = json::parse(text);
    } catch (const json::exception&) {
      r.fail("not a JSON line");
    }
    if (!j.is_object()) r.fail("not a JSON object");
    if (!have_header) {
      if (!j.contains("mp1boot_trace")) r.fail("the first line must be the header with \"mp1boot_trace\"");
      t.header.version = static_cast<int>(r.number<std::uint32_t>(j, "mp1boot_trace"));
      if (t.header.version != format_version)
        r.fail("trace format version " + std::to_string(t.header.version) + "; this mp1boot reads version " +
               std::to_string(format_version));
      t.header.link = r.get<std::string>(j, "link");
      if (t.header.link != "uart" && t.header.link != "usb") r.fail("link must be \"uart\" or \"usb\"");
      t.header.port = r.get_or<std::string>(j, "port", "");
      t.header.tool = r.get_or<std::string>(j, "tool", "");
      t.header.created = r.get_or<std::string>(j, "created", "");
      t.header.data = r.get_or<bool>(j, "data", false);
      t.header.argv = r.get_or<std::vector<std::string>>(j, "argv", {});
      have_header = true;
      continue;
    }
    Record rec;
    rec.line = r.line;
    rec.t = r.get<double>(j, "t");
    const auto k = r.get<std::string>(j, "k");
    int kind = -1;
    for (int i = 0; i < 9; ++i)
      if (k == kind_names[i]) kind = i;
    if (kind < 0) r.fail("unknown record kind \"" + k + "\"");
    rec.kind = static_cast<Kind>(kind);
    switch (rec.kind) {
      case Kind::write:
      case Kind::read: rec.data = r.data(j); break;
      case Kind::timeout: rec.ms = r.number<std::uint32_t>(j, "ms"); break;
      case Kind::control: {
        const json setup = r.get<json>(j, "setup");
        const std::uint64_t limits[4] = {0xFF, 0xFF, 0xFFFF, 0xFFFF};
        std::uint64_t s[4] = {};
        if (!setup.is_array() || setup.size() != 4)
          r.fail("\"setup\" must be [bmRequestType, bRequest, wValue, wIndex]");
        for (std::size_t i = 0; i < 4; ++i) {
          if (!setup[i].is_number_unsigned() || setup[i].get<std::uint64_t>() > limits[i])
            r.fail("\"setup\" must be [bmRequestType, bRequest, wValue, wIndex]");
          s[i] = setup[i].get<std::uint64_t>();
        }
        rec.setup = {static_cast<std::uint8_t>(s[0]), static_cast<std::uint8_t>(s[1]),
                     static_cast<std::uint16_t>(s[2]), static_cast<std::uint16_t>(s[3])};
        rec.length = r.number<std::uint16_t>(j, "len");
        rec.ms = r.number_or<std::uint32_t>(j, "ms", 0);
        rec.result = r.result(j);
        rec.data = r.data(j);
        break;
      }
      case Kind::set_alt:
        rec.alt = r.number<std::uint8_t>(j, "alt");
        rec.result = r.result(j);
        break;
      case Kind::reset: rec.result = r.result(j); break;
      case Kind::enumerate: {
        auto& id = rec.identity;
        id.vendor_id = r.number<std::uint16_t>(j, "vid");
        id.product_id = r.number<std::uint16_t>(j, "pid");
        id.bus = r.number_or<std::uint8_t>(j, "bus", 1);
        id.address = r.number_or<std::uint8_t>(j, "address", 1);
        id.port_path = r.get_or<std::string>(j, "port", "");
        id.speed = r.get_or<std::string>(j, "speed", "high");
        id.manufacturer = r.get_or<std::string>(j, "manufacturer", "");
        id.product = r.get<std::string>(j, "product");
        id.serial = r.get<std::string>(j, "serial");
        id.transfer_size = r.number_or<std::uint16_t>(j, "transfer_size", 1024);
        id.dfu_attributes = r.number_or<std::uint8_t>(j, "dfu_attributes", 0);
        const json alts = r.get<json>(j, "alts");
        if (!alts.is_array()) r.fail("\"alts\" must be a list of [number, name]");
        for (const auto& a : alts) {
          if (!a.is_array() || a.size() != 2 || !a[0].is_number_unsigned() || a[0].get<std::uint64_t>() > 0xFF ||
              !a[1].is_string())
            r.fail("\"alts\" must be a list of [number, name]");
          rec.alts.push_back({a[0].get<std::uint8_t>(), a[1].get<std::string>()});
        }
        break;
      }
      case Kind::note: rec.text = r.get_or<std::string>(j, "text", ""); break;
      case Kind::end:
        rec.text = r.get<std::string>(j, "result");
        rec.message = r.get_or<std::string>(j, "message", "");
        break;
    }
    t.records.push_back(std::move(rec));
  }
  if (!have_header) {
    r.line = 1;
    r.fail("empty file");
  }
  return t;
}

}  // namespace mp1boot::trace
