# SPDX-License-Identifier: MIT
"""Example files for trying mp1boot on the simulated boards (the README's commands use them).

    python -m mp1boot.examples [FOLDER]

writes into FOLDER (default: the current folder):

- ``tf-a.stm32``: an FSBL for the STM32MP135 (header v2), for ``mp1boot boot``;
- ``FlashLayout.tsv`` with ``tf-a-stm32mp157.stm32``, ``fip.bin`` and ``rootfs.ext4``: a small
  SD-card layout for the STM32MP157 (TF-A and the FIP into RAM, then fsbl1, fip and rootfs on mmc0);
- ``rootfs.bmap``: the block map of ``rootfs.ext4`` (bmap format 2.0, as ``bmaptool create`` writes);
- ``blink.bin``: a raw binary for ``mp1boot image wrap``.

The payloads are patterns, not programs: the simulated boards check headers, sizes and checksums,
not code.
"""
from __future__ import annotations

import sys
from pathlib import Path

LAYOUT = ("#Opt\tId\tName\tType\tIP\tOffset\tBinary\n"
          "-\t0x01\tfsbl-boot\tBinary\tnone\t0x0\ttf-a-stm32mp157.stm32\n"
          "-\t0x03\tfip-boot\tFIP\tnone\t0x0\tfip.bin\n"
          "P\t0x04\tfsbl1\tBinary\tmmc0\t0x00004400\ttf-a-stm32mp157.stm32\n"
          "P\t0x06\tfip\tFIP\tmmc0\t0x00084400\tfip.bin\n"
          "P\t0x10\trootfs\tFileSystem\tmmc0\t0x00484400\trootfs.ext4\n")


def _pattern(size: int, seed: int) -> bytes:
    return bytes((i * seed + 11) & 0xFF for i in range(size))


def block_map(image: bytes, block_size: int = 4096) -> str:
    """A bmap 2.0 text for ``image``: every block that is not all zeros is mapped, each run of
    mapped blocks a range with its SHA-256, and the file's own checksum as bmaptool computes it
    (over the text with that field written as zeros)."""
    import hashlib
    blocks = (len(image) + block_size - 1) // block_size
    mapped = [i for i in range(blocks) if any(image[i * block_size:(i + 1) * block_size])]
    runs: list = []
    for i in mapped:
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    lines = []
    for first, last in runs:
        digest = hashlib.sha256(image[first * block_size:(last + 1) * block_size]).hexdigest()
        span = f"{first}" if first == last else f"{first}-{last}"
        lines.append(f'        <Range chksum="{digest}"> {span} </Range>\n')
    text = ('<?xml version="1.0" ?>\n<bmap version="2.0">\n'
            f"    <ImageSize> {len(image)} </ImageSize>\n    <BlockSize> {block_size} </BlockSize>\n"
            f"    <BlocksCount> {blocks} </BlocksCount>\n    <MappedBlocksCount> {len(mapped)} </MappedBlocksCount>\n"
            "    <ChecksumType> sha256 </ChecksumType>\n"
            f"    <BmapFileChecksum> {'0' * 64} </BmapFileChecksum>\n    <BlockMap>\n"
            + "".join(lines) + "    </BlockMap>\n</bmap>\n")
    return text.replace("0" * 64, hashlib.sha256(text.encode()).hexdigest(), 1)


def write(folder=".") -> list:
    """Writes the example files into ``folder``; returns their paths."""
    import mp1boot
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    fip = bytearray(_pattern(24 * 1024, 3))
    fip[0:8] = bytes.fromhex("010064aa78563412")  # the FIP ToC header TF-A checks
    files = {
        "tf-a.stm32": mp1boot.image_wrap(_pattern(16 * 1024, 37), soc="stm32mp135", load=0x2FFE0000,
                                         entry=0x2FFE0000),
        "tf-a-stm32mp157.stm32": mp1boot.image_wrap(_pattern(32 * 1024, 7), soc="stm32mp157",
                                                    load=0x2FFC2500, entry=0x2FFC2500),
        "fip.bin": bytes(fip),
        "rootfs.ext4": _pattern(96 * 1024, 13),
        "rootfs.bmap": block_map(_pattern(96 * 1024, 13)).encode(),
        "blink.bin": _pattern(4 * 1024, 5),
        "FlashLayout.tsv": LAYOUT.encode(),
    }
    paths = []
    for name, data in files.items():
        (out / name).write_bytes(data)
        paths.append(out / name)
    return paths


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    for path in write(argv[0] if argv else "."):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
