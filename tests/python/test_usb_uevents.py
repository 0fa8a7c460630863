# SPDX-License-Identifier: MIT
"""The simulated USB bus delivers every hot-plug event to every process that listens, as the
kernel multicasts uevents to every netlink listener. Listeners are udev monitors (libudev through
ctypes), identical processes started one after the other: under plain libumockdev-preload they
get the same socket name ($UMOCKDEV_DIR/event<FD>) and only the last one hears anything; with
mp1boot-usbsim's fan-out library each gets its own. Every run has a timeout."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from test_usb_many_processes import UsbBus

LISTENER = r"""
import ctypes, json, select, sys, time
udev = ctypes.CDLL("libudev.so.1")
udev.udev_new.restype = ctypes.c_void_p
udev.udev_monitor_new_from_netlink.restype = ctypes.c_void_p
udev.udev_monitor_new_from_netlink.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
udev.udev_monitor_enable_receiving.argtypes = [ctypes.c_void_p]
udev.udev_monitor_get_fd.argtypes = [ctypes.c_void_p]
udev.udev_monitor_receive_device.restype = ctypes.c_void_p
udev.udev_monitor_receive_device.argtypes = [ctypes.c_void_p]
for f in ("udev_device_get_action", "udev_device_get_devtype", "udev_device_get_sysname"):
    getattr(udev, f).restype = ctypes.c_char_p
    getattr(udev, f).argtypes = [ctypes.c_void_p]
mon = udev.udev_monitor_new_from_netlink(udev.udev_new(), b"udev")
assert udev.udev_monitor_enable_receiving(mon) == 0
fd = udev.udev_monitor_get_fd(mon)
print(json.dumps({"fd": fd}), flush=True)
events, deadline = [], time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline and not any(e[0] == "add" and e[1] == "usb_device" for e in events):
    if select.select([fd], [], [], 0.1)[0]:
        d = udev.udev_monitor_receive_device(mon)
        if d:
            events.append([udev.udev_device_get_action(d).decode(), (udev.udev_device_get_devtype(d) or b"").decode(),
                           udev.udev_device_get_sysname(d).decode()])
print(json.dumps({"events": events}), flush=True)
"""


PROPERTY_LISTENER = r"""
import ctypes, json, select, sys
udev = ctypes.CDLL("libudev.so.1")
vp, cp = ctypes.c_void_p, ctypes.c_char_p
for name, res, args in [("udev_new", vp, []), ("udev_monitor_new_from_netlink", vp, [vp, cp]),
                        ("udev_monitor_enable_receiving", ctypes.c_int, [vp]), ("udev_monitor_get_fd", ctypes.c_int, [vp]),
                        ("udev_monitor_receive_device", vp, [vp]), ("udev_device_get_action", cp, [vp]),
                        ("udev_device_get_sysname", cp, [vp]), ("udev_device_get_properties_list_entry", vp, [vp]),
                        ("udev_list_entry_get_next", vp, [vp]), ("udev_list_entry_get_name", cp, [vp]),
                        ("udev_list_entry_get_value", cp, [vp])]:
    getattr(udev, name).restype = res
    getattr(udev, name).argtypes = args
mon = udev.udev_monitor_new_from_netlink(udev.udev_new(), b"udev")
assert udev.udev_monitor_enable_receiving(mon) == 0
fd = udev.udev_monitor_get_fd(mon)
print("LISTENING", flush=True)
adds = []
while True:
    ready = select.select([fd, sys.stdin], [], [], 60)[0]
    if not ready or sys.stdin in ready:
        break
    d = udev.udev_monitor_receive_device(mon)
    if d and udev.udev_device_get_action(d) == b"add":
        props, e = {}, udev.udev_device_get_properties_list_entry(d)
        while e:
            props[udev.udev_list_entry_get_name(e).decode()] = udev.udev_list_entry_get_value(e).decode()
            e = udev.udev_list_entry_get_next(e)
        adds.append([udev.udev_device_get_sysname(d).decode(), props])
print(json.dumps(adds), flush=True)
"""


def test_every_stage_carries_the_udev_properties_labgrid_matches(tmp_path, fsbl_mp15):
    """ROM, TF-A and U-Boot enumerations on port 1-2 each come with what udev's usb_id and
    path_id would give them (labgrid's DFUDevice matches ':fe0102:' and ID_PATH)."""
    from test_flash import _folder
    _, storage = _folder(tmp_path, fsbl_mp15)
    serials = ["002800423232511538303631", "002800423232511538303632"]
    bus = UsbBus("stm32mp157", serials, storage)
    listener = subprocess.Popen([sys.executable, "-c", PROPERTY_LISTENER], env=bus.env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout.readline().strip() == "LISTENING"
        r = subprocess.run([sys.executable, "-m", "mp1boot", "flash", str(tmp_path / "flash.tsv"), "-D",
                            "FSBL=tf-a.stm32", "--port", "usb:1-2", "-q"], env=bus.env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        out, _ = listener.communicate("stop\n", timeout=30)
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()
        bus.close()
    adds = json.loads(out.splitlines()[-1])
    devices = [p for name, p in adds if name == "1-2"]
    interfaces = [p for name, p in adds if name == "1-2:1.0"]
    assert len(devices) >= 2 and len(interfaces) == len(devices), adds  # TF-A, U-Boot (+ partitions gadget)
    models = set()
    for p in devices:
        assert (p["ID_VENDOR_ID"], p["ID_MODEL_ID"], p["ID_BUS"]) == ("0483", "df11", "usb")
        assert p["ID_SERIAL_SHORT"] == serials[1]
        assert p["ID_SERIAL"].endswith("_" + serials[1])
        assert ":fe0102:" in p["ID_USB_INTERFACES"]
        assert p["ID_PATH"] == "platform-mp1boot-usbsim-usb-0:2"
        assert p["ID_PATH_TAG"] == "platform-mp1boot-usbsim-usb-0_2"
        assert "ID_USB_INTERFACE_NUM" not in p
        assert " " not in p["ID_MODEL"]
        models.add(p["ID_MODEL"])
    assert any("USB_download_gadget" in m for m in models), models
    for p in interfaces:
        assert p["ID_USB_INTERFACE_NUM"] == "00" and p["ID_PATH"] == "platform-mp1boot-usbsim-usb-0:2:1.0"
        assert p["ID_SERIAL_SHORT"] == serials[1] and ":fe0102:" in p["ID_USB_INTERFACES"]


def test_first_enumeration_carries_the_udev_properties(tmp_path):
    script = ("import ctypes, json\n"
              "u = ctypes.CDLL('libudev.so.1')\n"
              "vp, cp = ctypes.c_void_p, ctypes.c_char_p\n"
              "u.udev_new.restype = vp\n"
              "u.udev_device_new_from_syspath.restype = vp; u.udev_device_new_from_syspath.argtypes = [vp, cp]\n"
              "u.udev_device_get_property_value.restype = cp; u.udev_device_get_property_value.argtypes = [vp, cp]\n"
              "d = u.udev_device_new_from_syspath(u.udev_new(), b'/sys/devices/usb1/1-1')\n"
              "print(json.dumps({k: (u.udev_device_get_property_value(d, k.encode()) or b'').decode() for k in\n"
              "  ['ID_VENDOR_ID', 'ID_MODEL_ID', 'ID_SERIAL_SHORT', 'ID_USB_INTERFACES', 'ID_PATH', 'ID_MODEL']}))\n")
    r = subprocess.run(["mp1boot-usbsim", "--soc", "stm32mp135", "--", sys.executable, "-c", script],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    p = json.loads(r.stdout)
    assert p["ID_VENDOR_ID"] == "0483" and p["ID_MODEL_ID"] == "df11"
    assert p["ID_SERIAL_SHORT"] == "002800423232511538303631" and p["ID_USB_INTERFACES"] == ":fe0102:"
    assert p["ID_PATH"] == "platform-mp1boot-usbsim-usb-0:1"
    assert p["ID_MODEL"].startswith("DFU_in_HS_Mode")


def _listen_then_power_cycle(bus, env, n, wait_s):
    listeners = []
    try:
        for _ in range(n):  # one after the other: each is listening before the next starts
            p = subprocess.Popen([sys.executable, "-c", LISTENER, str(wait_s)], env=env, stdout=subprocess.PIPE,
                                 text=True)
            listeners.append(p)
            first = p.stdout.readline()
            assert first, "listener ended before listening"
        bus.proc.stdin.write("power-cycle\n")
        bus.proc.stdin.flush()
        results = []
        for p in listeners:
            out, _ = p.communicate(timeout=wait_s + 30)
            results.append(json.loads(out.splitlines()[-1])["events"])
        return results
    finally:
        for p in listeners:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()


def test_every_listener_gets_every_uevent(tmp_path):
    bus = UsbBus("stm32mp157", ["002800423232511538303631"], tmp_path)
    try:
        assert "libmp1boot-uevent-fanout.so" in bus.env["LD_PRELOAD"]
        results = _listen_then_power_cycle(bus, bus.env, 4, wait_s=20)
    finally:
        bus.close()
    for events in results:
        assert ["remove", "usb_device", "1-1"] in events, events
        assert ["add", "usb_device", "1-1"] in events, events


def test_without_the_fanout_a_later_listener_takes_the_socket_name(tmp_path):
    """Why the fan-out library exists: the same listeners under libumockdev-preload alone lose
    events (the first listener's socket name is taken over by the second)."""
    bus = UsbBus("stm32mp157", ["002800423232511538303631"], tmp_path)
    try:
        env = dict(bus.env)
        env["LD_PRELOAD"] = ":".join(p for p in env["LD_PRELOAD"].split(":") if "uevent-fanout" not in p)
        results = _listen_then_power_cycle(bus, env, 2, wait_s=3)
    finally:
        bus.close()
    assert ["add", "usb_device", "1-1"] in results[1]
    assert results[0] == [], "both listeners heard the events: the preload no longer names sockets by fd"
