// SPDX-License-Identifier: MIT
// The simulated board's storage devices as raw image files in one folder, so a test or a user can
// look at exactly what a flashing session wrote: DIR/mmc0.img (SD card), DIR/mmc1.img with
// DIR/mmc1-boot1.img and DIR/mmc1-boot2.img (eMMC user area and hardware boot partitions),
// DIR/nor0.img, DIR/nand0.img, DIR/spi-nand0.img. Files are sparse (sized with ftruncate, written
// at offsets; whole 4 KiB pages of zeros become holes), so a 4 GiB card costs only its data. The DDR ("ram") is an in-memory page
// map addressed by bus address (RAM targets of a flash layout, PROTOCOL.md 5.5, and U-Boot's
// flash-layout buffer). Used by the U-Boot stm32prog model (uboot_uart.hpp); the device names are
// the flash-layout IP names (PROTOCOL.md 5.2). A new image reads as zeros, MTD devices included
// (writing 0xFF over a whole 1 GiB NAND would cost a second); erase() gives 0xFF on MTD.
//
// Not thread-safe: one owner at a time.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "mp1boot/bytes.hpp"

namespace mp1boot::sim {

/// Geometry of one storage device.
struct StorageDevice {
  std::uint64_t size = 0;           ///< bytes: MMC user area, or the whole MTD device
  std::uint32_t erase_size = 512;   ///< MMC erase group / MTD erase block, a power of two
  std::uint64_t boot_size = 0;      ///< each eMMC hardware boot partition; 0: none (SD card, MTD)
};

/// One write the fault hook is asked about.
struct StorageAccess {
  std::string ip;              ///< "mmc0", "nor0", "ram", ...
  int hw_partition = 0;        ///< 0 user area, 1 boot1, 2 boot2
  std::uint64_t offset = 0;    ///< byte offset in the device (bus address for "ram")
  std::uint64_t size = 0;
};

/// The board's devices when nothing else is said: mmc0 8 GiB SD card (erase 512 B; ST's sample SD
/// layouts place their last partition above 4 GiB), mmc1 4 GiB eMMC with two 4 MiB boot
/// partitions (erase 512 B), nor0 64 MiB (64 KiB blocks), nand0 1 GiB and spi-nand0 512 MiB
/// (128 KiB blocks).
std::map<std::string, StorageDevice> default_storage_devices();

/// Options of Storage.
struct StorageOptions {
  /// Folder of the image files; created when missing. Empty: a fresh temporary folder, removed
  /// at destruction unless Storage::keep() was called.
  std::filesystem::path dir;
  /// Devices by IP name ("mmc0", "nor0", "nand0", "spi-nand0", ...). A device not listed does
  /// not exist on the board. Existing image files are kept and resized to these sizes.
  std::map<std::string, StorageDevice> devices = default_storage_devices();
  /// DDR window of the "ram" device (bus addresses). Reads outside it return zeros.
  std::uint64_t ram_base = 0xC0000000;
  std::uint64_t ram_size = 512u * 1024u * 1024u;
  /// Fault hook for tests: return true to make that write fail (Storage::write throws).
  std::function<bool(const StorageAccess&)> write_fault;
};

class Storage {
 public:
  /// Creates the folder and one sparse image file per device (and per eMMC boot partition).
  /// @throws TransportError(errc::io) when the folder or a file cannot be created.
  explicit Storage(StorageOptions options = {});
  /// Closes the files; removes a temporary folder unless keep() was called.
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  /// The folder of the image files.
  const std::filesystem::path& dir() const;
  /// Keep a temporary folder after destruction.
  void keep();
  const StorageOptions& options() const;

  /// True for "ram" and for every configured device.
  bool has(std::string_view ip) const;
  /// Geometry of a configured device; nullptr for "ram" and unknown devices.
  const StorageDevice* device(std::string_view ip) const;
  /// Image file of a device or eMMC boot partition (hw_partition 1 or 2): DIR/mmc1-boot1.img.
  /// @throws UsageError for "ram", unknown devices and missing boot partitions.
  std::filesystem::path path_of(std::string_view ip, int hw_partition = 0) const;
  /// Bytes of the user area (0), of a boot partition (1, 2: 0 when the device has none), the
  /// DDR size for "ram". @throws UsageError for unknown devices.
  std::uint64_t size_of(std::string_view ip, int hw_partition = 0) const;
  /// Erase size (1 for "ram"). @throws UsageError for unknown devices.
  std::uint32_t erase_size_of(std::string_view ip) const;
  /// Value of erased bytes: 0xFF on NOR / NAND / SPI-NAND, 0x00 on MMC and RAM.
  std::uint8_t erased_value(std::string_view ip) const;

  /// Writes `data` at `offset`. For "ram" the offset is the bus address and any address is
  /// accepted. @throws UsageError when the range leaves the device, DeviceError(errc::io) when
  /// the fault hook fails the write, TransportError(errc::io) on a file error.
  void write(std::string_view ip, int hw_partition, std::uint64_t offset, ByteView data);
  /// Reads `n` bytes (zeros where nothing was written; the range is clipped to the device,
  /// missing bytes read as zero). @throws UsageError for unknown devices.
  Bytes read(std::string_view ip, int hw_partition, std::uint64_t offset, std::size_t n) const;
  /// Sets `size` bytes from `offset` to erased_value() (MMC and RAM: zero; cheap, the files stay
  /// sparse). @throws as write() (the fault hook is not asked).
  void erase(std::string_view ip, int hw_partition, std::uint64_t offset, std::uint64_t size);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mp1boot::sim
