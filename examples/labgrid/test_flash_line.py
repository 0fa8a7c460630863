# SPDX-License-Identifier: MIT
"""One station of a flashing line: lock the place, flash the board through the exporter's host,
check mp1boot's report. Run with labgrid's pytest plugin:

    pytest --lg-env env.yaml --lg-coordinator coordinator.example:20408 test_flash_line.py

(`labgrid-client -p stm32mp1-board-1 acquire` first, or let the job acquire it.)"""
import pytest


@pytest.fixture
def mp1boot(target):
    return target.get_driver("MP1BootDriver")


def test_flash_and_verify(mp1boot, env):
    layout = env.config.get_image_path("layout")
    report = mp1boot.flash(layout, defines={"FSBL": "tf-a-stm32mp157c-dk2-usb.stm32"}, verify=True)
    assert report["result"] == "ok", report.get("error")
    written = [p for p in report["partitions"] if p["verified"]]  # '-' lines only run from RAM
    assert written and all(p["verified"] == "ok" for p in written)
