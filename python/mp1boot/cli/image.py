# SPDX-License-Identifier: MIT
"""``mp1boot image``: STM32 image files (info, wrap)."""
from __future__ import annotations

from pathlib import Path

from .. import errors
from . import args as a
from .output import emit_json

EXIT_OK = 0


def cmd_image_info(args) -> int:
    import mp1boot
    info = mp1boot.image_info(args.file)
    if args.json:
        info = {k: v for k, v in info.items() if k != "text"}
        emit_json(info)
    else:
        print(f"file: {args.file}")
        print(info["text"].rstrip("\n"))
    return EXIT_OK if info["checksum_ok"] else 3


def cmd_image_wrap(args) -> int:
    import mp1boot
    output = Path(args.output)
    if output.is_dir():
        raise errors.LayoutError(f"{args.output}: is a directory, not a file to write", code="file_not_found",
                                 file=args.output)
    if not output.parent.is_dir():
        raise errors.LayoutError(f"{args.output}: no such folder {output.parent}", code="file_not_found",
                                 file=args.output)
    payload = mp1boot.read_input_file(args.input)
    out = mp1boot.image_wrap(payload, soc=args.soc, load=args.load, entry=args.entry,
                             binary_type=args.binary_type, image_version=args.image_version,
                             header_major=args.header_version or 0)
    try:
        output.write_bytes(out)
    except OSError as exc:
        raise errors.LayoutError(f"{args.output}: cannot write: {exc.strerror}", code="file_not_found",
                                 file=args.output) from None
    info = mp1boot.image_info(out, name=args.output)
    if args.json:
        emit_json({"output": args.output, "bytes": len(out), "header_version": info["header_version"],
                   "checksum": info["checksum"]})
    else:
        print(f"wrote {args.output}: {len(out)} bytes, header {info['header_version']}, "
              f"checksum 0x{info['checksum']:08x}")
    return EXIT_OK


def register(sub) -> None:
    sp = a.subparser(sub, "image", help="STM32 image files: show a header, wrap a binary")
    isub = sp.add_subparsers(dest="image_verb", required=True, metavar="{info,wrap}")
    ip = a.subparser(isub, "info", help="show every header field and check the checksum")
    ip.add_argument("file", help="STM32 image (header v1 or v2)")
    a.add_json(ip)
    ip.set_defaults(func=cmd_image_info)
    wp = a.subparser(isub, "wrap", help="wrap a raw binary into an STM32 image",
                     description="Wrap a raw binary into an STM32 image with the header the SoC's ROM expects "
                                 "(v1 on STM32MP15x, v2 on STM32MP13x/25x). Addresses are hex, 0x optional.")
    wp.add_argument("--soc", required=True, choices=_soc_names(), help="the SoC the image is for")
    wp.add_argument("--load", type=a.address, required=True, metavar="ADDR",
                    help="load address, hex (0x optional), e.g. 2FFC2500")
    wp.add_argument("--entry", type=a.address, required=True, metavar="ADDR",
                    help="entry point, hex (0x optional)")
    wp.add_argument("--binary-type", type=a.u32, default=0x10, metavar="N",
                    help="binary type: 0x10 TF-A BL2, 0x00 U-Boot, ...")
    wp.add_argument("--image-version", type=a.u32, default=0, metavar="N", help="image version field")
    wp.add_argument("--header-version", type=int, choices=(1, 2),
                    help="force header v1 or v2 (default: the SoC's own)")
    a.add_json(wp)
    wp.add_argument("input", help="the raw binary")
    wp.add_argument("output", help="the STM32 image to write")
    wp.set_defaults(func=cmd_image_wrap)


def _soc_names() -> list:
    import mp1boot
    return mp1boot.soc_names()
