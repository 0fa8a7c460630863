# SPDX-License-Identifier: MIT
"""USB host verbs: list the boards, the udev rule."""
from __future__ import annotations

import sys
from pathlib import Path

from .. import errors
from . import args as a
from .output import show

EXIT_OK = 0


def cmd_list(args) -> int:
    import mp1boot
    devices = mp1boot.list_devices()

    def text():
        if not devices:
            yield "no STM32MP device in DFU mode (0483:df11) found"
            return
        yield f"{'#':>2}  {'bus':>3} {'port':<10} {'addr':>4} {'speed':<6} {'stage':<7} {'device':<20} {'rev':<6} serial"
        for i, d in enumerate(devices):
            dev = f"0x{d['device_id']:03x} {d['soc']}" if d["device_id"] else "?"
            line = (f"{i:>2}  {d['bus']:>3} {d['port_path']:<10} {d['address']:>4} {d['speed']:<6} {d['stage']:<7} "
                    f"{dev:<20} 0x{d['revision']:04x} {d['serial']}")
            if not d["accessible"]:
                line += f"   ({d['problem']}: see `mp1boot udev --print`)"
            yield line
            if d["product"]:
                yield f"      {d['product']}"
    show(args, {"devices": [dict(index=i, **d) for i, d in enumerate(devices)]}, text)
    return EXIT_OK


def cmd_udev(args) -> int:
    import mp1boot
    rules = mp1boot.udev_rules()
    if args.install:
        target = Path(args.rules_dir) / "60-mp1boot.rules"
        try:
            target.write_text(rules)
        except OSError as e:
            raise errors.TransportError(f"cannot write {target}: {e.strerror} (run with sudo)",
                                        code="permission_denied", file=str(target))
        print(f"installed {target}; reload with: udevadm control --reload-rules && udevadm trigger")
        return EXIT_OK
    sys.stdout.write(rules)
    return EXIT_OK


def register(sub) -> None:
    sp = a.subparser(sub, "list", help="list STM32MP devices in USB DFU mode (0483:df11)")
    a.add_json(sp)
    sp.set_defaults(func=cmd_list)

    sp = a.subparser(sub, "udev", help="the udev rule that gives users access to the boards")
    g = sp.add_mutually_exclusive_group()
    g.add_argument("--print", action="store_true", help="print the rules file (what it does without options)")
    g.add_argument("--install", action="store_true", help="write it to --rules-dir (needs root)")
    sp.add_argument("--rules-dir", default="/etc/udev/rules.d", metavar="DIR", help="where --install writes")
    sp.set_defaults(func=cmd_udev)
