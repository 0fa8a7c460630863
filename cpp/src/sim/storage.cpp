// SPDX-License-Identifier: MIT
// Storage: sparse image files per device (POSIX pread/pwrite/ftruncate, fallocate hole punching
// for cheap MMC erases and for every whole page of zeros written) and a page map for the DDR. See storage.hpp.
#include "mp1boot/sim/storage.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "mp1boot/error.hpp"

namespace mp1boot::sim {

namespace {

constexpr std::uint64_t kib = 1024;
constexpr std::uint64_t mib = 1024 * kib;
constexpr std::uint64_t gib = 1024 * mib;
constexpr std::uint64_t page_size = 4096;

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool is_mtd(std::string_view ip) {
  return starts_with(ip, "nor") || starts_with(ip, "nand") || starts_with(ip, "spi-nand");
}

[[noreturn]] void io_error(const std::string& what, const std::filesystem::path& path, int err) {
  ErrorContext ctx;
  ctx.operation = "storage";
  ctx.file = path.string();
  throw TransportError(errc::io, what + " " + path.string() + ": " + std::generic_category().message(err), ctx);
}

[[noreturn]] void usage(const std::string& what) {
  ErrorContext ctx;
  ctx.operation = "storage";
  throw UsageError(errc::usage, what, ctx);
}

std::string key_of(std::string_view ip, int hw_partition) {
  return std::string(ip) + (hw_partition == 0 ? "" : "-boot" + std::to_string(hw_partition));
}

}  // namespace

std::map<std::string, StorageDevice> default_storage_devices() {
  return {
      {"mmc0", {8 * gib, 512, 0}},
      {"mmc1", {4 * gib, 512, 4 * mib}},
      {"nor0", {64 * mib, 64 * kib, 0}},
      {"nand0", {1 * gib, 128 * kib, 0}},
      {"spi-nand0", {512 * mib, 128 * kib, 0}},
  };
}

struct Storage::Impl {
  StorageOptions options;
  bool temporary = false;
  bool keep = false;
  std::map<std::string, int> fds;  // key_of(ip, hw) -> fd
  std::unordered_map<std::uint64_t, std::vector<std::uint8_t>> ram;  // page number -> page

  ~Impl() {
    for (auto& [key, fd] : fds) ::close(fd);
    if (temporary && !keep) {
      std::error_code ec;
      std::filesystem::remove_all(options.dir, ec);
    }
  }

  void open_image(const std::string& key, std::uint64_t size) {
    auto path = options.dir / (key + ".img");
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) io_error("cannot open the image", path, errno);
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
      int err = errno;
      ::close(fd);
      io_error("cannot size the image", path, err);
    }
    fds[key] = fd;
  }

  int fd_of(std::string_view ip, int hw) const {
    auto it = fds.find(key_of(ip, hw));
    if (it == fds.end()) usage("storage: no device " + key_of(ip, hw));
    return it->second;
  }

  void pwrite_all(int fd, std::uint64_t offset, const std::uint8_t* data, std::size_t n, const std::string& key) {
    while (n > 0) {
      ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(offset));
      if (w < 0) {
        if (errno == EINTR) continue;
        io_error("cannot write the image", options.dir / (key + ".img"), errno);
      }
      data += w;
      n -= static_cast<std::size_t>(w);
      offset += static_cast<std::uint64_t>(w);
    }
  }

  // Whole zero pages become holes (they read back as zeros and cost no disk, so multi-GiB
  // images stay cheap); the other bytes are written in runs.
  void write_sparse(int fd, std::uint64_t offset, ByteView data, const std::string& key) {
    std::size_t run = 0;  // start of the bytes not yet written
    std::size_t i = static_cast<std::size_t>((page_size - offset % page_size) % page_size);
    auto zero_page = [&](std::size_t at) {
      static const std::uint8_t zeros[page_size] = {};
      return std::memcmp(data.data() + at, zeros, page_size) == 0;
    };
    while (i + page_size <= data.size()) {
      if (!zero_page(i)) {
        i += page_size;
        continue;
      }
      std::size_t end = i + page_size;
      while (end + page_size <= data.size() && zero_page(end)) end += page_size;
      if (i > run) pwrite_all(fd, offset + run, data.data() + run, i - run, key);
      if (!punch(fd, offset + i, end - i)) pwrite_all(fd, offset + i, data.data() + i, end - i, key);
      run = i = end;
    }
    if (run < data.size()) pwrite_all(fd, offset + run, data.data() + run, data.size() - run, key);
  }

  static bool punch(int fd, std::uint64_t offset, std::uint64_t size) {
#ifdef FALLOC_FL_PUNCH_HOLE
    return ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                       static_cast<off_t>(size)) == 0;
#else
    return false;
#endif
  }

  void ram_write(std::uint64_t address, ByteView data) {
    std::size_t done = 0;
    while (done < data.size()) {
      std::uint64_t at = address + done;
      auto& page = ram[at / page_size];
      if (page.empty()) page.assign(page_size, 0);
      std::size_t in_page = static_cast<std::size_t>(at % page_size);
      std::size_t n = std::min<std::size_t>(data.size() - done, page_size - in_page);
      std::memcpy(page.data() + in_page, data.data() + done, n);
      done += n;
    }
  }

  Bytes ram_read(std::uint64_t address, std::size_t n) const {
    Bytes out(n, 0);
    std::size_t done = 0;
    while (done < n) {
      std::uint64_t at = address + done;
      std::size_t in_page = static_cast<std::size_t>(at % page_size);
      std::size_t chunk = std::min<std::size_t>(n - done, page_size - in_page);
      auto it = ram.find(at / page_size);
      if (it != ram.end()) std::memcpy(out.data() + done, it->second.data() + in_page, chunk);
      done += chunk;
    }
    return out;
  }

  void ram_erase(std::uint64_t address, std::uint64_t size) {
    std::uint64_t end = address + size;
    std::uint64_t at = address;
    while (at < end) {
      std::uint64_t page_no = at / page_size;
      std::uint64_t page_end = (page_no + 1) * page_size;
      std::uint64_t stop = std::min(end, page_end);
      if (at % page_size == 0 && stop == page_end) {
        ram.erase(page_no);
      } else if (auto it = ram.find(page_no); it != ram.end()) {
        std::memset(it->second.data() + at % page_size, 0, static_cast<std::size_t>(stop - at));
      }
      at = stop;
    }
  }
};

Storage::Storage(StorageOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  auto& dir = impl_->options.dir;
  if (dir.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "mp1boot-storage-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) io_error("cannot create a folder", pattern, errno);
    dir = pattern;
    impl_->temporary = true;
  } else {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) io_error("cannot create the folder", dir, ec.value());
  }
  for (const auto& [ip, dev] : impl_->options.devices) {
    if (dev.erase_size == 0 || (dev.erase_size & (dev.erase_size - 1)) != 0)
      usage("storage: erase size of " + ip + " must be a power of two");
    impl_->open_image(ip, dev.size);
    if (dev.boot_size != 0) {
      impl_->open_image(key_of(ip, 1), dev.boot_size);
      impl_->open_image(key_of(ip, 2), dev.boot_size);
    }
  }
}

Storage::~Storage() = default;

const std::filesystem::path& Storage::dir() const { return impl_->options.dir; }
void Storage::keep() { impl_->keep = true; }
const StorageOptions& Storage::options() const { return impl_->options; }

bool Storage::has(std::string_view ip) const {
  return ip == "ram" || impl_->options.devices.count(std::string(ip)) != 0;
}

const StorageDevice* Storage::device(std::string_view ip) const {
  auto it = impl_->options.devices.find(std::string(ip));
  return it == impl_->options.devices.end() ? nullptr : &it->second;
}

std::filesystem::path Storage::path_of(std::string_view ip, int hw_partition) const {
  impl_->fd_of(ip, hw_partition);  // throws when there is no such image
  return impl_->options.dir / (key_of(ip, hw_partition) + ".img");
}

std::uint64_t Storage::size_of(std::string_view ip, int hw_partition) const {
  if (ip == "ram") return impl_->options.ram_size;
  const StorageDevice* dev = device(ip);
  if (dev == nullptr) usage("storage: no device " + std::string(ip));
  if (hw_partition == 0) return dev->size;
  if (hw_partition == 1 || hw_partition == 2) return dev->boot_size;
  usage("storage: hardware partition " + std::to_string(hw_partition) + " of " + std::string(ip));
}

std::uint32_t Storage::erase_size_of(std::string_view ip) const {
  if (ip == "ram") return 1;
  const StorageDevice* dev = device(ip);
  if (dev == nullptr) usage("storage: no device " + std::string(ip));
  return dev->erase_size;
}

std::uint8_t Storage::erased_value(std::string_view ip) const { return is_mtd(ip) ? 0xFF : 0x00; }

void Storage::write(std::string_view ip, int hw_partition, std::uint64_t offset, ByteView data) {
  if (impl_->options.write_fault &&
      impl_->options.write_fault(StorageAccess{std::string(ip), hw_partition, offset, data.size()})) {
    ErrorContext ctx;
    ctx.operation = "storage write";
    throw DeviceError(errc::io, "injected write failure on " + key_of(ip, hw_partition) + " at " +
                                    hex32(static_cast<std::uint32_t>(offset)), ctx);
  }
  if (ip == "ram") {
    impl_->ram_write(offset, data);
    return;
  }
  int fd = impl_->fd_of(ip, hw_partition);
  std::uint64_t size = size_of(ip, hw_partition);
  if (offset > size || data.size() > size - offset)
    usage("storage: write of " + std::to_string(data.size()) + " bytes at " + std::to_string(offset) +
          " leaves " + key_of(ip, hw_partition) + " (" + std::to_string(size) + " bytes)");
  impl_->write_sparse(fd, offset, data, key_of(ip, hw_partition));
}

Bytes Storage::read(std::string_view ip, int hw_partition, std::uint64_t offset, std::size_t n) const {
  if (ip == "ram") return impl_->ram_read(offset, n);
  int fd = impl_->fd_of(ip, hw_partition);
  std::uint64_t size = size_of(ip, hw_partition);
  Bytes out(n, 0);
  if (offset >= size) return out;
  std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(n, size - offset));
  std::size_t done = 0;
  while (done < want) {
    ssize_t r = ::pread(fd, out.data() + done, want - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      io_error("cannot read the image", path_of(ip, hw_partition), errno);
    }
    if (r == 0) break;
    done += static_cast<std::size_t>(r);
  }
  return out;
}

void Storage::erase(std::string_view ip, int hw_partition, std::uint64_t offset, std::uint64_t size) {
  if (ip == "ram") {
    impl_->ram_erase(offset, size);
    return;
  }
  int fd = impl_->fd_of(ip, hw_partition);
  std::uint64_t total = size_of(ip, hw_partition);
  if (offset > total || size > total - offset)
    usage("storage: erase of " + std::to_string(size) + " bytes at " + std::to_string(offset) + " leaves " +
          key_of(ip, hw_partition));
  if (size == 0) return;
  const std::uint8_t value = erased_value(ip);
  if (value == 0 && Impl::punch(fd, offset, size)) return;
  const std::vector<std::uint8_t> chunk(static_cast<std::size_t>(std::min<std::uint64_t>(size, mib)), value);
  for (std::uint64_t done = 0; done < size;) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), size - done));
    impl_->pwrite_all(fd, offset + done, chunk.data(), n, key_of(ip, hw_partition));
    done += n;
  }
}

}  // namespace mp1boot::sim
