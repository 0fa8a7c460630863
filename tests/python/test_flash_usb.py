# SPDX-License-Identifier: MIT
"""A full flash over USB DFU on the in-process simulated STM32MP157 (ROM -> TF-A -> U-Boot
stm32prog gadget, with its re-enumerations): verify by DFU upload, the report's USB fields, the
board resetting mid-partition, the board not coming back after TF-A or the ROM (with the likely
cause), and OTP/PMIC reads plus the opt-in that guards their writes."""
from __future__ import annotations

import hashlib
import json

import pytest

import mp1boot
from mp1boot import cli
from test_flash import _folder

DEFINES = {"FSBL": "tf-a.stm32"}


def _usb(storage, extra=""):
    return f"sim:stm32mp157?link=usb&storage={storage}{extra}"


def test_usb_flash_with_verify(tmp_path, fsbl_mp15):
    rootfs, storage = _folder(tmp_path, fsbl_mp15)
    stages = []
    report = mp1boot.flash(tmp_path / "flash.tsv", port=_usb(storage), defines=DEFINES, verify=True,
                           events=lambda e: stages.append(e["stage"]) if e["event"] == "stage" else None)
    assert report["result"] == "ok", report["error"]
    assert stages == ["check", "fsbl", "fip", "layout", "partitions", "verify", "done"]
    assert report["link"] == "usb" and report["speed"] == "high"
    assert report["serial"] == "002800423232511538303631" and report["port_path"] == "1-1"
    assert "STM32MP157" in report["revision"]
    parts = {p["name"]: p for p in report["partitions"]}
    assert parts["rootfs"]["verified"] == "ok"
    assert parts["rootfs"]["readback_sha256"] == hashlib.sha256(rootfs).hexdigest()
    with open(storage / "mmc0.img", "rb") as f:
        f.seek(0x100000)
        assert f.read(len(rootfs)) == rootfs


def test_usb_reset_mid_partition(tmp_path, fsbl_mp15):
    _, storage = _folder(tmp_path, fsbl_mp15)
    with pytest.raises(mp1boot.DeviceError) as info:
        mp1boot.flash(tmp_path / "flash.tsv", port=_usb(storage, "&reset_phase=0x10&reset_after=4096"),
                      defines=DEFINES)
    e = info.value
    assert e.code == "device_reset"
    assert e.phase == 0x10 and e.partition == "rootfs" and e.layout_line == 5
    assert "boot ROM answers again" in e.message
    assert {p["name"]: p["result"] for p in e.report["partitions"]}["fsbl1"] == "ok"


def test_usb_uboot_never_comes_back_names_the_likely_cause(tmp_path, fsbl_mp15, capsys):
    _, storage = _folder(tmp_path, fsbl_mp15)
    code = cli.main(["flash", str(tmp_path / "flash.tsv"), "-D", "FSBL=tf-a.stm32", "--json",
                     "--port", _usb(storage, "&uboot=0&reconnect_ms=300")])
    assert code == mp1boot.errors.EXIT_CODES["timeout"]
    err = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert err["event"] == "error" and err["code"] == "timeout"
    assert "after the tf-a stage and did not come back" in err["message"]
    assert "CONFIG_CMD_STM32PROG" in err["message"]
    assert "within 300 ms" in err["message"]


def test_usb_tfa_without_usb_programmer_names_the_likely_cause(tmp_path, fsbl_mp15):
    # STM32MP13x: the ROM waits for DETACH and the FSBL must enumerate on its own (FIELD.md 5).
    from test_flash import LAYOUT
    fsbl = mp1boot.image_wrap(bytes(4096), soc="stm32mp135", load=0x2FFE0000, entry=0x2FFE0000)
    _, storage = _folder(tmp_path, fsbl)
    with pytest.raises(mp1boot.TimeoutError) as info:
        mp1boot.flash(tmp_path / "flash.tsv", port=f"sim:stm32mp135?link=usb&tfa=0&reconnect_ms=300",
                      defines=DEFINES)
    assert "after the rom stage" in info.value.message
    assert "STM32MP_USB_PROGRAMMER" in info.value.message
    assert LAYOUT  # the same layout file, served up to the FSBL


def test_otp_and_pmic_read_and_guarded_writes(tmp_path, fsbl_mp15):
    _folder(tmp_path, fsbl_mp15)
    for port in (_usb(tmp_path / "s1"), f"sim:stm32mp157?storage={tmp_path / 's2'}"):
        dev = mp1boot.connect(port)
        report = dev.flash(tmp_path / "flash.tsv", defines=DEFINES, boot_only=True)
        assert report["result"] == "ok"
        otp = dev.read_otp()
        assert len(otp) == 776 and otp[:4] == bytes([2, 0, 0, 0])
        assert dev.read_pmic() == bytes(8)
        with pytest.raises(mp1boot.UsageError, match="i_understand_this_is_permanent"):
            dev.write_pmic(bytes(range(8)))
        assert dev.read_pmic() == bytes(8), "nothing was written without the opt-in"
        dev.write_pmic(bytes(range(8)), i_understand_this_is_permanent=True)
        assert dev.read_pmic() == bytes(range(8)), port
        word = 60  # a user word: value 0x1234
        image = mp1boot._core.otp_request(otp, {word: 0x1234})
        assert int.from_bytes(image[12 + 8 * word:16 + 8 * word], "little") == 1 << 31  # update request
        with pytest.raises(mp1boot.UsageError):
            dev.write_otp(image)
        dev.write_otp(image, i_understand_this_is_permanent=True)
        after = dev.read_otp()
        assert int.from_bytes(after[8 + 8 * word:12 + 8 * word], "little") == 0x1234, port
        assert mp1boot._core.otp_decode(after)["words"][word] == {"word": word, "value": 0x1234, "locked": False}
        with pytest.raises(mp1boot.UsageError, match="OTP word 96 does not exist"):
            mp1boot._core.otp_request(after, {96: 1})


def test_cli_otp_and_pmic(tmp_path, fsbl_mp15, capsys):
    """`mp1boot otp|pmic` boot the layout's '-' lines to reach U-Boot; writes need the opt-in."""
    _folder(tmp_path, fsbl_mp15)
    base = ["--port", _usb(tmp_path / "s"), "--layout", str(tmp_path / "flash.tsv"), "-D", "FSBL=tf-a.stm32"]
    assert cli.main(["otp", "read", *base, "--json", "-o", str(tmp_path / "otp.bin")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["words"]) == 96 and (tmp_path / "otp.bin").stat().st_size == 776
    assert cli.main(["otp", "write", *base, "--word", "60=0x1234"]) == 2
    assert "--i-understand-this-is-permanent" in capsys.readouterr().err
    (tmp_path / "nvm.bin").write_bytes(bytes(range(8)))
    assert cli.main(["pmic", "write", str(tmp_path / "nvm.bin"), *base]) == 2
    assert "--i-understand-this-is-permanent" in capsys.readouterr().err
    assert cli.main(["pmic", "write", str(tmp_path / "nvm.bin"), *base, "--i-understand-this-is-permanent"]) == 0
    assert capsys.readouterr().out.strip() == "PMIC NVM: 00 01 02 03 04 05 06 07"
