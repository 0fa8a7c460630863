#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Regenerates the sample STM32 images of this folder (see README.md).

Written from PROTOCOL.md section 6 independently of the C++ wrap(), so the golden test
(tests/cpp/image/stm32_samples_test.cpp) compares two implementations. Standard library only.
"""
import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent
FILE_SIZE = 4096


def payload(n: int) -> bytes:
    return bytes((i * 31 + 7) & 0xFF for i in range(n))


def header(version: int, body: bytes, load: int, entry: int, binary_type: int) -> bytes:
    major = (version >> 16) & 0xFF
    size = 256 if major == 1 else 512
    h = bytearray(size)
    struct.pack_into("<I", h, 0x00, 0x324D5453)          # 'S' 'T' 'M' 0x32
    struct.pack_into("<I", h, 0x44, sum(body) & 0xFFFFFFFF)
    struct.pack_into("<IIIIIII", h, 0x48, version, len(body), entry, 0, load, 0, 0)
    if major == 1:
        struct.pack_into("<II", h, 0x64, 1, 1)            # no signature check, P-256
        h[0xFF] = binary_type
    else:
        struct.pack_into("<III", h, 0x64, 0x80000000, 0x180, binary_type)
        struct.pack_into("<II", h, 0x80, 0xFFFF5453, 0x180)  # padding extension
    return bytes(h)


def image(version: int, load: int) -> bytes:
    size = 256 if version == 0x00010000 else 512
    body = payload(FILE_SIZE - size)
    return header(version, body, load, load, 0x10) + body


def main() -> None:
    v1 = image(0x00010000, 0x2FFC2500)
    files = {
        "v1_mp15.stm32": v1,
        "v2_mp13.stm32": image(0x00020000, 0x2FFE0000),
        "v2_2_mp25.stm32": image(0x00020200, 0x0E002600),
        # one payload byte changed: the stored checksum no longer matches
        "v1_mp15_bad_checksum.stm32": v1[:0x200] + bytes([v1[0x200] ^ 0xFF]) + v1[0x201:],
        # the payload stops 1000 bytes short of the image length
        "v1_mp15_truncated.stm32": v1[:FILE_SIZE - 1000],
        # an ELF start: no STM32 magic
        "not_stm32.bin": b"\x7fELF" + bytes(252),
    }
    for name, data in files.items():
        (HERE / name).write_bytes(data)


if __name__ == "__main__":
    main()
