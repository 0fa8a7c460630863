// SPDX-License-Identifier: MIT
// The U-Boot stm32prog programming service of the simulated board, below its UART framing (see
// uboot_uart.hpp for the byte protocol): the phase machine (PROTOCOL.md 4.4), the flash layout in
// its RAM buffer and U-Boot's checks (uboot_uart_layout.hpp), device preparation (GPT for a full
// MMC update, 'D' erases), the DFU back-end it writes through (an 8 MiB buffer flushed to the
// medium, 0-based block sequence, per-partition limits), end-of-phase actions (eMMC boot
// partition, NAND Binary(N) copies, RAM kernel/dtb/initrd), Read Partition with its transaction
// quirks, the OTP (OP-TEE TA format, 776 bytes) and PMIC (8 bytes) virtual partitions, and the
// errors that force phase 0xFF with U-Boot's message (PROTOCOL.md 8.3). Transport-neutral: the
// UART framing (uboot_uart.hpp) drives it through write/start/read_partition, the USB DFU gadget
// (the "u-boot" stage of usb_board.hpp) through the dfu_* calls: U-Boot's DFU back-end with one
// entity per alternate setting, the virtual command alt (Get Phase, set phase/offset, jump) and
// the end of each gadget run (usb_detach).
//
// The board's lasting state (storage images, OTP fuses, PMIC NVM, event log) is a UbootHardware
// shared with the caller: it survives the stage, as hardware survives a reset.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mp1boot/bytes.hpp"
#include "mp1boot/phase.hpp"
#include "mp1boot/sim/storage.hpp"
#include "mp1boot/sim/uart_stage.hpp"
#include "mp1boot/sim/uboot_uart_layout.hpp"
#include "mp1boot/soc.hpp"

namespace mp1boot::sim {

/// Number of OTP words of STM32MP13x / STM32MP15x (BSEC2) and the OP-TEE TA image size.
inline constexpr std::size_t uboot_otp_words = 96;
inline constexpr std::size_t uboot_otp_image_size = (uboot_otp_words * 2 + 2) * 4;  // 776
inline constexpr std::size_t uboot_pmic_size = 8;
/// Internal phase "do reset" (reported as 0xFF).
inline constexpr std::uint32_t uboot_phase_do_reset = 0x1FF;

/// One OTP word written by a Start 0xF2.
struct OtpProgramming {
  std::uint32_t word = 0;
  std::uint32_t value = 0;  ///< bits programmed (0: only a lock)
  bool lock = false;        ///< permanent lock requested (status bit 30)
};

/// Something the service did to the board, for tests and records.
struct UbootEvent {
  enum class Kind {
    layout,                  ///< layout accepted (text: devices)
    gpt_written,             ///< text: "mmc0"
    erased,                  ///< a 'D' partition erased (text: name)
    phase_done,              ///< a partition flushed (phase, text: "name: N bytes")
    boot_partition_enabled,  ///< eMMC boot partition made bootable (text: "mmc1 boot1")
    fsbl_copied,             ///< NAND Binary(N) copies written
    otp_programmed,          ///< otp: the words with the update bit
    pmic_programmed,         ///< PMIC NVM written
    error,                   ///< phase 0xFF forced (text: the message)
    script,                  ///< a U-Boot script received in phase 0x00 (run at the end)
    jump,                    ///< Start at an address >= 0x100 (the code "returned": ABORT)
    kernel_boot,             ///< end of session with a RAM kernel (text: addresses)
    reset,                   ///< end of session: the board resets (text: reason)
    console,                 ///< end of a USB session without reset: stm32prog returns to the U-Boot
                             ///< console, the gadget is gone (text: reason)
  };
  Kind kind = Kind::error;
  std::uint32_t phase = 0;
  std::string text;
  std::vector<OtpProgramming> otp;
};

/// The board's lasting state. Plain data; share it (std::shared_ptr) between the factory and
/// whoever inspects the board.
struct UbootHardware {
  explicit UbootHardware(StorageOptions storage_options = {}) : storage(std::move(storage_options)) {}
  Storage storage;
  std::array<std::uint32_t, uboot_otp_words> otp{};      ///< fuse values
  std::array<bool, uboot_otp_words> otp_locked{};        ///< permanent locks
  std::uint32_t bsec_state = 0;                          ///< informational word 1 of the OTP image
  std::array<std::uint8_t, uboot_pmic_size> pmic_nvm{};  ///< STPMIC1 NVM shadow from register 0xF8
  std::map<int, int> mmc_boot_partition;                 ///< mmc device -> boot partition enabled
  std::vector<UbootEvent> events;
};

/// A fault: the medium write covering this offset of this phase's partition fails (-EIO).
struct UbootWriteFailure {
  std::uint8_t phase = 0x10;
  std::uint64_t offset = 0;  ///< byte offset inside the partition
};

/// Modelled erase speed of each medium kind, in bytes per second (0: instant). U-Boot erases the
/// selected 'D' lines of a layout ("PD", "PED") in stm32prog_devices_init: over USB between the
/// flash-layout gadget run and the partition run (stm32prog_usb_loop -> stm32prog_dfu_init), so
/// the board stays off the bus that long; over UART at the Start that ends phase 0x00, before its
/// final ACK. Orders of magnitude: an eMMC erase (CMD35/36/38 on whole erase groups) covers GiB/s,
/// raw NAND about 50 MB/s (2-3 ms per 128 KiB block), NOR about 0.1-0.5 MB/s (sector erases of
/// 64 KiB at 150-500 ms).
struct UbootEraseRates {
  std::uint64_t mmc = 0;   ///< eMMC and SD
  std::uint64_t nand = 0;  ///< raw NAND and SPI-NAND
  std::uint64_t nor = 0;   ///< SPI-NOR
  /// The rate for a partition on `ip` (0 for RAM and for none).
  std::uint64_t of(UbootIp ip) const;
};

/// Options of the U-Boot model. Defaults reproduce upstream U-Boot (2026) on an ST board.
struct UbootOptions {
  /// UART stage: a phase image is kept for UartLine::complete_image (received_images, records)
  /// up to this many bytes; a larger one goes to storage only and is reported empty, so the
  /// simulated board's memory does not grow with the partition (the USB board's record_limit).
  std::uint64_t record_limit = 1u << 20;
  /// Storage devices (folder, sizes, erase sizes, DDR window) used when the factory creates the
  /// hardware itself.
  StorageOptions storage;
  /// U-Boot release "YYYY.MM" for parser differences (uboot_layout_rules) and the layout address
  /// before 2022.10 (DDR base); empty: current upstream.
  std::string uboot_version;
  /// Flash-layout load address (CONFIG_SYS_LOAD_ADDR) reported by Get Phase 0x00. Default: the
  /// SoC's (0xC2000000 on MP1), or the DDR base before U-Boot 2022.10.
  std::optional<std::uint32_t> layout_address;
  /// The N data bytes of a Download must all arrive within this time (TIMEOUT_SERIAL_BUFFER).
  std::chrono::milliseconds data_timeout{30};
  /// Wait after a bad data block (timeout or checksum) before flush + NACK.
  std::chrono::milliseconds bad_packet_delay{30};
  /// Wait before NACKing an unknown command or a bad complement.
  std::chrono::milliseconds bad_command_delay{3};
  /// DFU buffer (CONFIG_SYS_DFU_DATA_BUF_SIZE): data reaches the medium when it is full and at
  /// Start. Small values make write faults surface during Download instead of at Start.
  std::uint32_t dfu_buffer_size = 8u * 1024u * 1024u;
  /// Modelled medium write speed (USB: the DNLOAD completion that fills the DFU buffer holds the
  /// request while the buffer is written, PROTOCOL.md 3.11). 0: instant.
  std::uint64_t medium_bytes_per_second = 0;
  /// USB: extra time of the deferred flush after each manifestation (the GETSTATUS that follows
  /// MANIFEST blocks until it ends; seconds for a large UBI volume).
  std::chrono::milliseconds flush_time{0};
  /// Modelled erase time of 'D' lines (partition size / rate of its medium); see UbootEraseRates.
  UbootEraseRates erase_bytes_per_second;
  /// Write a GPT for a full MMC update ("gpt write"); false: partitions are only written.
  bool create_gpt = true;
  /// MTD partition tables of the board (device tree), by IP ("nor0"): a layout must match them.
  /// Devices not listed take the layout's partitions as theirs (no check) [INF choice].
  std::map<std::string, std::vector<UbootExistingPartition>> mtd_partitions;
  /// CONFIG_CMD_STM32PROG_OTP with OP-TEE's NVMEM TA (776-byte image). false: "OTP update not
  /// supported" errors.
  bool otp_supported = true;
  /// Fault: the TA refuses the OTP write ("OTP write issue -5").
  bool otp_write_fails = false;
  /// STPMIC1 present (CONFIG_PMIC_STPMIC1). false: "PMIC update not supported".
  bool pmic_supported = true;
  /// Fault: a medium write of one partition fails.
  std::optional<UbootWriteFailure> write_failure;
  /// Legacy flow (ST TF-A <= v2.4): a layout already at the load address when U-Boot starts
  /// (STM32 v1 header + TSV). Empty: none, U-Boot asks for phase 0x00.
  Bytes preloaded_layout;
  /// What the board does when U-Boot resets it (after Get Phase 0xFF, or Start at END without a
  /// RAM kernel). halt: the line goes silent (stage "halted").
  StageExit::Kind reset_exit = StageExit::Kind::halt;
};

/// One alternate setting of U-Boot's DFU gadget (stm32prog dfu_init_entities).
struct UbootDfuAlt {
  std::string name;        ///< iInterface: "@FlashLayout/0x00/1*256Ke", "@fsbl1/0x04/1*256Ke", "@virtual/0xf1/1*512Be"
  std::uint8_t phase = 0;  ///< the phase id in the name
};

/// What U-Boot does when a DFU gadget run ends on the host's DFU_DETACH (stm32prog_usb_loop).
enum class UbootUsbDetach {
  reenumerate,  ///< the gadget registers again, with the alternate settings of dfu_alts()
  reset,        ///< the board resets (phase 0xFF was reported): the boot ROM enumerates again
  leave,        ///< stm32prog ends without a reset: RAM kernel boot or the U-Boot console
};

/// stm32prog's state and operations. Return codes are U-Boot's: 0 or a negative errno; any
/// error that U-Boot reports switches the phase to 0xFF with the first message.
class UbootProgrammer {
 public:
  /// @throws UsageError when `hardware` is null.
  UbootProgrammer(const SocInfo& soc, UbootOptions options, std::shared_ptr<UbootHardware> hardware);
  ~UbootProgrammer();
  UbootProgrammer(const UbootProgrammer&) = delete;
  UbootProgrammer& operator=(const UbootProgrammer&) = delete;

  /// Current phase: 0x00..0xFF, or uboot_phase_do_reset once the session is over.
  std::uint32_t phase() const { return phase_; }
  /// Address reported by Get Phase: the layout buffer in phase 0x00, else 0xFFFFFFFF.
  std::uint32_t phase_address() const;
  /// Get Phase information text in phase 0xFF ("Unspecified" when no message was set), else "".
  std::string phase_message() const;
  /// Get Phase was answered: in phase 0xFF the board now resets.
  void phase_reported();
  /// The session is over (do reset).
  bool finished() const { return phase_ == uboot_phase_do_reset; }

  /// Download op 0x00 data of the current phase (after the UART checks).
  int write(ByteView data);
  /// Download op 0xF2 / 0xF4 at `offset` (cursor) of the OTP / PMIC image.
  int otp_write(std::uint32_t offset, ByteView data);
  int pmic_write(std::uint32_t offset, ByteView data);
  /// Start (0x21) with this address.
  int start(std::uint32_t address);
  /// Read Partition (0x12): returns the number of valid bytes copied to `out` (resized to `n`,
  /// zero padded); 0 or negative: ABORT.
  int read_partition(std::uint8_t id, std::uint32_t offset, std::size_t n, Bytes& out);
  /// Read Memory (0x11): no checks, DDR contents or zeros.
  Bytes read_memory(std::uint32_t address, std::size_t n) const;
  /// How the session ends once finished(): a RAM kernel boot (boot_next) or a reset
  /// (options.reset_exit, after running a received script). Records the event.
  StageExit finish();

  // --- USB DFU back-end (stm32prog_usb.c, drivers/dfu/dfu.c). `alt` indexes dfu_alts(). Return
  // codes as U-Boot's: 0 / a byte count, or a negative errno. The DFU class state machine itself
  // (f_dfu.c) belongs to the USB stage.

  /// The gadget's alternate settings now: @FlashLayout (no layout yet) or one per layout
  /// partition with an IP (ascending phase id; size rule of PROTOCOL.md 3.3.2, 'e' for P without
  /// E, else 'a'), then @virtual/0xf1, @OTP/0xf2 (options.otp_supported), @PMIC/0xf4
  /// (options.pmic_supported).
  std::vector<UbootDfuAlt> dfu_alts() const;
  /// DFU_DNLOAD block `block` (wValue) on `alt` (dfu_write from the USB completion handler):
  /// block numbers run 0, 1, 2... per transaction ("Wrong sequence number", a phase error on the
  /// current partition's alt); the data waits in the DFU buffer. A zero-length block ends the
  /// transfer: the buffer goes to the medium.
  int dfu_download(int alt, std::uint16_t block, ByteView data);
  /// The deferred flush after the manifestation (dfu_flush): the medium write, then stm32prog's
  /// flush callback: layout parse (FlashLayout alt), end of phase + next phase (current
  /// partition's alt), OTP / PMIC programming, the virtual command (set phase/offset, jump).
  /// Non-zero: the flush failed (U-Boot then leaves its gadget loop and resets the board).
  int dfu_manifest(int alt);
  /// DFU_UPLOAD block `block` of at most `n` bytes on `alt` (dfu_read): a read starts at block 0,
  /// the blocks must follow; a reply shorter than `n` ends it. The virtual alt answers Get Phase
  /// (stm32prog_cmd_read; in phase 0xFF reading it arms the reset). Returns the byte count
  /// (`out` resized to it) or -1 (the host sees a STALL).
  int dfu_upload(int alt, std::uint16_t block, std::size_t n, Bytes& out);
  /// DFU_DETACH ended a gadget run. The first run (phase 0x00) prepares the devices of a parsed
  /// layout (stm32prog_dfu_init: devices, GPT, 'D' erases, next phase) and re-enumerates; after the
  /// partition run the session ends: reset after an error was reported, else leave (kernel boot
  /// event when the layout loaded one, else console). Records the end as an event.
  UbootUsbDetach usb_detach();

  /// The accepted layout (empty before, and after an error that dropped it).
  const std::optional<UbootLayout>& layout() const { return layout_; }
  /// The first error message ("" while none).
  const std::string& error() const { return error_; }
  /// Bytes written to the media so far (drives the USB stage's time model).
  std::uint64_t medium_bytes() const { return medium_bytes_; }
  /// Modelled device time of the erases run since the last call ('D' lines, per
  /// options().erase_bytes_per_second), reset to 0: the USB stage takes it after usb_detach() to keep
  /// the board off the bus that long, the UART stage after start() to hold the final ACK.
  std::chrono::microseconds take_erase_time() { return std::exchange(erase_time_, std::chrono::microseconds(0)); }
  UbootHardware& hardware() { return *hw_; }
  const UbootOptions& options() const { return options_; }

 private:
  struct Txn;  // one DFU entity's transaction
  void fail(std::string message);
  void event(UbootEvent::Kind kind, std::uint32_t phase, std::string text);
  int current_entity() const;
  int part_of_entity(int alt) const;
  Txn& txn(int alt);
  void cleanup(int alt);
  void initiate(int alt, bool read);
  void error_callback(int alt, const char* message);
  int dfu_write(int alt, ByteView data, int seq);
  int drain(int alt);
  int dfu_flush(int alt);
  void flush_callback(int alt);
  int medium_write(int alt, std::uint64_t offset, ByteView data);
  int medium_read(int alt, std::uint64_t offset, std::size_t& len, Bytes& out);
  std::uint64_t medium_size(int alt) const;
  void end_phase(std::uint64_t size);
  void next_phase();
  void parse_layout(ByteView data);
  void dfu_init();
  void devices_init();
  bool create_gpt();
  bool part_delete(const UbootPart& part);
  bool copy_fsbl(const UbootPart& part);
  void make_entities();
  int otp_read(std::uint32_t offset, std::size_t& n, Bytes& out);
  int pmic_read(std::uint32_t offset, std::size_t& n, Bytes& out);
  int otp_start();
  int pmic_start();
  std::uint32_t virtual_of(int alt) const;
  bool valid_alt(int alt) const;
  int dfu_read(int alt, std::size_t n, int seq, Bytes& out);
  int cmd_read(std::uint32_t offset, std::size_t& len, Bytes& out);
  int cmd_write(std::uint32_t offset, ByteView data);
  int set_phase(std::uint32_t phase, std::uint32_t offset);

  const SocInfo& soc_;
  UbootOptions options_;
  std::shared_ptr<UbootHardware> hw_;
  UbootLayoutRules rules_;
  std::uint32_t load_address_;

  std::uint32_t phase_ = 0x00;
  std::string error_;
  std::string reset_reason_;
  std::optional<UbootLayout> layout_;
  int cur_part_ = -1;                 ///< index in layout_->parts
  std::vector<int> alt_parts_;        ///< alt id -> part index (-1: the FlashLayout alt)
  std::map<int, std::unique_ptr<Txn>> txns_;
  int dfu_seq_ = 0;
  std::uint32_t data_offset_ = 0;     ///< stm32prog_data.offset (read position, forced on writes)
  std::uint32_t read_phase_ = 0xFF;
  std::optional<Bytes> otp_part_;
  std::array<std::uint8_t, uboot_pmic_size> pmic_part_{};
  std::uint64_t uimage_ = 0, dtb_ = 0, initrd_ = 0, initrd_size_ = 0;
  std::uint64_t script_ = 0;
  bool usb_partitions_run_ = false;
  std::uint64_t medium_bytes_ = 0;   ///< USB: the layout gadget run is over (stm32prog_usb_loop)
  std::chrono::microseconds erase_time_{0};
};

}  // namespace mp1boot::sim
