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
