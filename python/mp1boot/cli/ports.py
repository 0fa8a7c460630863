# SPDX-License-Identifier: MIT
"""``mp1boot help ports``: the whole port grammar, each option explained."""
from __future__ import annotations

# (option, which ports take it, what it does). The library's own one-line summary
# (mp1boot.port_help()) is printed too; tests check that every option it names is explained here.
PORT_OPTIONS = [
    ("baud=N", "serial", "line rate (default 115200); the ROM uses 8E1"),
    ("parity=even|none|odd", "serial", "parity (default even, as the ROM expects)"),
    ("data_bits=5..8", "serial", "data bits (default 8)"),
    ("stop_bits=1|2", "serial", "stop bits (default 1)"),
    ("framing=8E1", "serial", "data bits, parity and stop bits at once (8E1, 8N1, ...)"),
    ("low_latency=1", "serial", "set the tty's low-latency flag (FTDI/CP210x adapters answer faster)"),
    ("exclusive=0", "serial", "do not take the port exclusively (default: exclusive)"),
    ("link=uart|usb", "sim", "how the simulated board is reached (default uart; usb: the DFU stages)"),
    ("record=DIR", "sim", "write every received image and an exchange log into DIR"),
    ("storage=DIR", "sim", "keep the board's storage images (mmc0.img, nor0.img, ...) in DIR "
                           "(default: a temporary folder, removed at the end)"),
    ("uboot=0", "sim", "no U-Boot stm32prog after TF-A (the board stops after booting TF-A and the FIP)"),
    ("uboot_version=TEXT", "sim", "the version string the simulated U-Boot reports"),
    ("tfa=0", "sim,usb", "link=usb: no TF-A DFU stage (the ROM starts U-Boot directly)"),
    ("serial=TEXT", "sim,usb", "link=usb: the board's USB serial number"),
    ("stage=tfa", "sim", "link=uart: the board starts in TF-A (as after a boot by another tool)"),
    ("rom_read_memory=1", "sim", "link=uart: the ROM also answers Read Memory"),
    ("block_us=N", "sim,usb", "link=usb: modelled ROM/TF-A time per DFU block, microseconds"),
    ("uboot_block_us=N", "sim,usb", "link=usb: modelled U-Boot time per 4096-byte block (2000 = about 2 MB/s)"),
    ("realtime=1", "sim,usb", "link=usb: wait the modelled times for real (default: virtual time)"),
    ("reset_phase=0xNN", "sim", "fault: the board resets during this phase ..."),
    ("reset_after=BYTES", "sim", "... after this many bytes of it (a power cut, a watchdog)"),
    ("reconnect_ms=N|ROM,TFA,UBOOT", "sim,usb", "how long to wait for the board to come back after each "
                                                "hand-over (one value, or one per stage)"),
]

TEXT = """\
Ports name the board a verb talks to (--port PORT, mp1boot.connect(PORT)):

  serial:PATH[?OPTION=VALUE&...]     a UART: the boot ROM, TF-A and U-Boot stm32prog over the serial
                                     line, e.g. serial:/dev/ttyUSB0, serial:/dev/ttyACM0?baud=115200
  usb[:SELECTOR][?OPTION=VALUE&...]  a board in USB DFU mode (0483:df11): the only one, or
                                     usb:SERIAL, usb:BUS-PORTPATH (e.g. usb:1-3.2), usb:VID:PID;
                                     `mp1boot list` shows them
  sim:SOC[?OPTION=VALUE&...]         the simulated board, in this process: SOC is one of {socs}

Options (OPTION=VALUE, joined with &; quote the port in a shell):
{options}

Examples:
  mp1boot info --port serial:/dev/ttyUSB0
  mp1boot flash FlashLayout.tsv --port usb:002C00283338511934383330
  mp1boot flash FlashLayout.tsv --port 'sim:stm32mp157?link=usb&storage=card'

The library's summary: {summary}
"""


def text() -> str:
    import mp1boot
    width = max(len(o) for o, _, _ in PORT_OPTIONS)
    options = "\n".join(f"  {o:<{width}}  [{where}] {what}" for o, where, what in PORT_OPTIONS)
    return TEXT.format(socs=", ".join(mp1boot.soc_names()), options=options, summary=mp1boot.port_help())
