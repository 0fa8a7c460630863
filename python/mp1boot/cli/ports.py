# SPDX-License-Identifier: MIT
"""``mp1boot help ports``: the whole port grammar, each option explained."""
from __future__ import annotations

from .. import sim_board_keys

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
    ("reconnect_ms=N|ROM,TFA,UBOOT", "sim,usb", "how long to wait for the board to come back after each "
                                                "hand-over (one value, or one per stage)"),
]
# The simulated board's options: the one table of the library (the same keys as `mp1boot sim --set`
# and mp1boot-usbsim --set).
PORT_OPTIONS += [(f"{name}={value}", "sim" if links == "uart usb" else f"sim,{links}", what)
                 for name, value, links, what in sim_board_keys()]

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
