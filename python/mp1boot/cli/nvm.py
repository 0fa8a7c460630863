# SPDX-License-Identifier: MIT
"""``mp1boot otp`` and ``mp1boot pmic``: non-volatile memories through U-Boot stm32prog."""
from __future__ import annotations

import sys
from pathlib import Path

from .. import errors
from . import args as a
from .output import show

EXIT_OK = 0


def _nvm_device(args):
    """Connect; with --layout, boot its '-' lines first so that U-Boot stm32prog answers."""
    import mp1boot
    dev = args.console.connect(args.port)
    args.console.note(f"connected: {dev.transport}")
    if args.layout:
        args.console.note(f"booting the '-' lines of {args.layout} to reach U-Boot stm32prog")
        dev.flash(args.layout, defines=a.defines(args.define), boot_only=True, trace=args.console.trace)
    return dev


def cmd_otp(args) -> int:
    import mp1boot
    values = {}
    if args.action == "write":  # every number is checked before the board is touched
        if not args.word:
            raise errors.UsageError("otp write needs --word N=VALUE (repeatable)", code="usage")
        for spec in args.word:
            word, value = a.word_value("--word", spec)
            values[word] = value
    dev = _nvm_device(args)
    image = dev.read_otp(trace=args.console.trace)
    if args.action == "write":
        request = mp1boot.otp_request(image, values, set(args.lock or []))  # checks the word numbers
        if not args.i_understand_this_is_permanent:
            print("mp1boot: OTP fuses cannot be cleared once blown. Words to program: " +
                  ", ".join(args.word) + ". Add --i-understand-this-is-permanent to do it.", file=sys.stderr)
            return 2
        dev.write_otp(request, i_understand_this_is_permanent=True, trace=args.console.trace)
        image = dev.read_otp(trace=args.console.trace)
    decoded = mp1boot.otp_decode(image)
    words = decoded["words"]
    if args.output:
        Path(args.output).write_bytes(image)
    def text():
        shown = [w for w in words if w["value"] or w["locked"]] if not args.all_words else words
        for w in shown:
            yield f"  OTP {w['word']:3d}: 0x{w['value']:08x}" + ("  locked" if w["locked"] else "")
        yield f"{len(words)} OTP words, {len(shown)} shown" + ("" if args.all_words else " (non-zero or locked)")
    show(args, {"bsec_state": decoded["bsec_state"], "words": words}, text)
    return EXIT_OK


def cmd_pmic(args) -> int:
    import mp1boot
    data = b""
    if args.action == "write":  # the file is checked before the board is touched
        data = mp1boot.read_input_file(args.file, 4096) if args.file else b""
        if len(data) != 8:
            raise errors.UsageError("pmic write needs FILE holding the 8 NVM bytes", code="usage")
    dev = _nvm_device(args)
    if args.action == "write":
        if not args.i_understand_this_is_permanent:
            print(f"mp1boot: writing the PMIC NVM ({data.hex(' ')}) changes the board's power-up sequence for good. "
                  "Add --i-understand-this-is-permanent to do it.", file=sys.stderr)
            return 2
        dev.write_pmic(data, i_understand_this_is_permanent=True, trace=args.console.trace)
    nvm = dev.read_pmic(trace=args.console.trace)
    show(args, {"pmic_nvm": nvm.hex()}, "PMIC NVM: " + nvm.hex(" "))
    return EXIT_OK


def _board_and_boot(sp) -> None:
    a.add_board(sp)
    sp.add_argument("--layout", metavar="TSV",
                    help="boot this layout's '-' lines (TF-A, FIP) first: needed when the board is still at "
                         "the boot ROM, since only U-Boot stm32prog serves OTP and PMIC")
    a.add_define(sp)


def register(sub) -> None:
    sp = a.subparser(sub, "otp", help="read (or, with explicit consent, program) OTP fuses through U-Boot stm32prog",
                     description="Read the OTP words through U-Boot stm32prog (phase 0xF2), or program some. "
                                 "Fuses cannot be cleared: writing needs --i-understand-this-is-permanent.")
    sp.add_argument("action", choices=["read", "write"], help="read the words, or program --word values")
    _board_and_boot(sp)
    sp.add_argument("--word", action="append", metavar="N=VALUE",
                    help="write: program word N (decimal or 0x) with VALUE (0x for hex); repeatable")
    sp.add_argument("--lock", action="append", type=a.u32, metavar="N", help="write: also lock word N for good")
    sp.add_argument("--i-understand-this-is-permanent", action="store_true",
                    help="write: required; fuses cannot be undone")
    sp.add_argument("--all-words", action="store_true", help="read: show zero words too")
    sp.add_argument("--output", "-o", metavar="FILE", help="save the raw OTP image (OP-TEE TA format)")
    a.add_json(sp)
    sp.set_defaults(func=cmd_otp)

    sp = a.subparser(sub, "pmic", help="read (or, with explicit consent, write) the STPMIC1 NVM through U-Boot stm32prog",
                     description="Read the 8 bytes of the STPMIC1 NVM through U-Boot stm32prog (phase 0xF4), or "
                                 "write them (needs --i-understand-this-is-permanent).")
    sp.add_argument("action", choices=["read", "write"], help="read the NVM, or write FILE into it")
    sp.add_argument("file", nargs="?", help="write: a file holding the 8 NVM bytes")
    _board_and_boot(sp)
    sp.add_argument("--i-understand-this-is-permanent", action="store_true",
                    help="write: required; the board's power-up sequence changes for good")
    a.add_json(sp)
    sp.set_defaults(func=cmd_pmic)
