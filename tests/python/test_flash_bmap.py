# SPDX-License-Identifier: MIT
"""Block maps from the command line: `mp1boot flash` over USB on the in-process simulated board finds
rootfs.ext4.bmap beside an ext4 made by mke2fs and sends only its mapped ranges (the report gives
bytes sent and skipped and the map used, the text output says so), --bmap NAME=FILE names a map,
--no-bmap sends everything, and a malformed --bmap item or map file is a usage/layout error before
anything is sent."""
from __future__ import annotations

import json
import subprocess

import mp1boot
from mp1boot import cli
from test_flash import _folder


def _ext4(path, size_mib=8):
    content = path.parent / "content"
    content.mkdir()
    (content / "hello.bin").write_bytes(bytes(range(256)) * 1024)
    subprocess.run(["truncate", "-s", f"{size_mib}M", str(path)], check=True)
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-d", str(content), str(path)], check=True,
                   capture_output=True)
    subprocess.run(["bmaptool", "create", str(path), "-o", str(path) + ".bmap"], check=True, capture_output=True)


def _flash(tmp_path, fsbl, *extra):
    _, storage = _folder(tmp_path, fsbl)
    _ext4(tmp_path / "rootfs.ext4")
    report = tmp_path / "report.json"
    code = cli.main(["flash", str(tmp_path / "flash.tsv"), "-D", "FSBL=tf-a.stm32", "--report", str(report),
                     "--port", f"sim:stm32mp157?link=usb&storage={storage}", *extra])
    return code, (json.loads(report.read_text()) if report.exists() else None)


def _rootfs(report):
    return next(p for p in report["partitions"] if p["name"] == "rootfs")


def test_bmap_beside_the_image_is_used(tmp_path, fsbl_mp15, capsys):
    code, report = _flash(tmp_path, fsbl_mp15)
    assert code == 0
    part = _rootfs(report)
    assert part["bmap"] == str(tmp_path / "rootfs.ext4.bmap")
    assert part["size"] == 8 << 20
    assert 256 * 1024 <= part["bytes_sent"] < 4 << 20
    assert part["bytes_skipped"] == part["size"] - part["bytes_sent"]
    assert "sent (block map)" in capsys.readouterr().out


def test_named_bmap_and_no_bmap(tmp_path, fsbl_mp15):
    code, report = _flash(tmp_path, fsbl_mp15, "--no-bmap")
    assert code == 0
    assert _rootfs(report)["bmap"] == "" and _rootfs(report)["bytes_sent"] == 8 << 20
    (tmp_path / "rootfs.ext4.bmap").rename(tmp_path / "map.xml")
    (tmp_path / "report.json").unlink()
    code = cli.main(["flash", str(tmp_path / "flash.tsv"), "-D", "FSBL=tf-a.stm32", "--report",
                     str(tmp_path / "report.json"), "--bmap", f"rootfs={tmp_path / 'map.xml'}",
                     "--port", f"sim:stm32mp157?link=usb&storage={tmp_path / 'storage'}"])
    assert code == 0
    assert _rootfs(json.loads((tmp_path / "report.json").read_text()))["bmap"] == str(tmp_path / "map.xml")


def test_bad_bmap_argument_and_bad_map_file(tmp_path, fsbl_mp15, capsys):
    _, storage = _folder(tmp_path, fsbl_mp15)
    port = f"sim:stm32mp157?link=usb&storage={storage}"
    code = cli.main(["flash", str(tmp_path / "flash.tsv"), "-D", "FSBL=tf-a.stm32", "--bmap", "rootfs", "--port", port])
    assert code == mp1boot.errors.EXIT_CODES["usage"]
    assert "--bmap rootfs: expected NAME=PATH" in capsys.readouterr().err
    (tmp_path / "rootfs.ext4.bmap").write_text("<bmap version='2.0'>\n<ImageSize>12</ImageSize>\n")
    code = cli.main(["flash", str(tmp_path / "flash.tsv"), "-D", "FSBL=tf-a.stm32", "--json", "--port", port])
    err = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert code == mp1boot.errors.EXIT_CODES["bad_image"]
    assert err["event"] == "error" and "rootfs.ext4.bmap:3: XML: the file ends inside <bmap> of line 1" in err["message"]
