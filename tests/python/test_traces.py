# SPDX-License-Identifier: MIT
"""Field traces (docs/TRACES.md): the traces of tests/data/traces, recorded from the simulated boards
for every stage of both links (scripts/record_traces.py), replayed through `sim:replay=FILE` by the
recorded command; a replay fails, naming the step, when the host deviates."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import mp1boot
from mp1boot.cli import main
from mp1boot.testing import replay, replay_test, trace_outcome

TRACES = Path(__file__).resolve().parent.parent / "data" / "traces"
ALL = sorted(p.name for p in TRACES.glob("*.jsonl"))


def test_the_traces_cover_every_stage_of_both_links():
    # The flash runner notes each step it reaches: the ROM serves "fsbl", TF-A "fip", U-Boot
    # stm32prog "layout" and "partitions".
    served_by = {"fsbl": "rom", "fip": "tf-a", "layout": "u-boot", "partitions": "u-boot"}
    seen = {"uart": set(), "usb": set()}
    for name in ALL:
        lines = [json.loads(line) for line in (TRACES / name).read_text().splitlines()]
        seen[lines[0]["link"]] |= {served_by.get(r["text"].split()[1]) for r in lines[1:]
                                   if r["k"] == "note" and r["text"].startswith("stage ")}
    assert seen["uart"] >= {"rom", "tf-a", "u-boot"}, seen
    assert seen["usb"] >= {"rom", "tf-a", "u-boot"}, seen
    for soc in ("mp13", "mp15"):
        for link in ("uart", "usb"):
            assert any(n.startswith(f"{link}-{soc}") for n in ALL), (link, soc)


@pytest.mark.parametrize("name", ALL)
def test_every_recorded_trace_replays(name):
    assert replay(TRACES / name, TRACES / "inputs") == trace_outcome(TRACES / name)


# The one-line form a user writes for a trace from the field.
test_replay_usb_lost_status = replay_test("../data/traces/usb-mp15-flash-lost-status.jsonl",
                                          inputs="../data/traces/inputs")


def test_a_failed_run_replays_to_the_same_error(capsys):
    name = TRACES / "usb-mp15-flash-stall.jsonl"
    assert trace_outcome(name) == 7
    assert replay(name, TRACES / "inputs") == 7
    assert "stalled" in capsys.readouterr().err


def test_another_input_file_fails_naming_the_step(tmp_path, capsys):
    inputs = tmp_path / "inputs"
    shutil.copytree(TRACES / "inputs", inputs)
    data = bytearray((inputs / "rootfs.ext4").read_bytes())
    data[4000] ^= 0xFF
    (inputs / "rootfs.ext4").write_bytes(bytes(data))
    for name in ("uart-mp15-flash.jsonl", "usb-mp15-flash.jsonl"):
        assert replay(TRACES / name, inputs) == mp1boot.errors.EXIT_CODES["replay_mismatch"] == 13
        err = capsys.readouterr().err
        assert "replay: at step" in err and f"{name} line" in err and "another payload" in err, err


def test_a_host_that_stops_early_fails_at_close(capsys):
    dev = mp1boot.connect(f"sim:replay={TRACES / 'usb-mp15-flash.jsonl'}")
    assert dev.get_phase().phase == 1
    with pytest.raises(mp1boot.ProtocolError) as e:
        dev.close()
    assert e.value.code == "replay_mismatch" and "the host stopped at step" in str(e.value)


def test_trace_file_records_through_the_api_and_replays(tmp_path, fsbl_mp13):
    trace = tmp_path / "api.jsonl"
    with mp1boot.connect("sim:stm32mp135?link=usb", record=trace) as dev:
        dev.boot(fsbl_mp13)
    lines = [json.loads(line) for line in trace.read_text().splitlines()]
    assert lines[0]["link"] == "usb" and lines[0]["argv"] == []
    assert lines[1]["k"] == "enum" and "DFU in HS Mode" in lines[1]["product"]
    with mp1boot.connect(f"sim:replay={trace}") as dev:
        dev.boot(fsbl_mp13)
    with pytest.raises(mp1boot.UsageError, match="keeps no command"):
        replay(trace)


def test_flash_api_writes_the_outcome(tmp_path):
    trace = tmp_path / "flash.jsonl"
    inputs = TRACES / "inputs"
    report = mp1boot.flash(inputs / "FlashLayout-mp15.tsv", port="sim:stm32mp157?link=usb", record=trace)
    assert report["result"] == "ok"
    last = json.loads(trace.read_text().splitlines()[-1])
    assert last == {"t": last["t"], "k": "end", "result": "ok"}
    report = mp1boot.flash(inputs / "FlashLayout-mp15.tsv", port=f"sim:replay={trace}")
    assert report["result"] == "ok"


def test_bad_replay_ports_are_usage_errors(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{\"mp1boot_trace\": 1, \"link\": \"uart\"}\nnot json\n")
    assert main(["info", "--port", f"sim:replay={bad}"]) == 2
    assert "bad.jsonl:2: not a JSON line" in capsys.readouterr().err
    assert main(["info", "--port", f"sim:replay={tmp_path / 'missing.jsonl'}"]) == 3
    assert "not found" in capsys.readouterr().err
    assert main(["flash", "x.tsv", "--port", "sim:stm32mp157", "--port", "sim:stm32mp135",
                 "--trace", str(tmp_path / "t.jsonl")]) == 2
    assert "--trace FILE records one board" in capsys.readouterr().err


BOARD_VERBS = [
    ["info"],
    ["boot", "tf-a-mp15.stm32", "-q"],
    ["flash", "FlashLayout-mp15.tsv", "-q"],
    ["layout", "plan", "FlashLayout-mp15.tsv"],
    ["otp", "read", "--layout", "FlashLayout-mp15.tsv", "--trace-data"],
    ["pmic", "read", "--layout", "FlashLayout-mp15.tsv", "--trace-data"],
]


@pytest.mark.parametrize("port", ["sim:stm32mp157", "sim:stm32mp157?link=usb"])
@pytest.mark.parametrize("verb", BOARD_VERBS, ids=lambda v: "-".join(v[:2]))
def test_every_board_verb_records_a_trace_that_replays(tmp_path, monkeypatch, port, verb, capsys):
    inputs = tmp_path / "inputs"
    shutil.copytree(TRACES / "inputs", inputs)
    monkeypatch.chdir(inputs)
    trace = tmp_path / "t.jsonl"
    assert main(verb + ["--port", port, "--trace", str(trace)]) == 0, capsys.readouterr().err
    lines = [json.loads(line) for line in trace.read_text().splitlines()]
    assert lines[0]["argv"] == [v for v in verb if v != "--trace-data"] and lines[-1]["result"] == "ok"
    assert len(lines) >= 3  # header, at least one exchange (USB: the enumeration), end
    assert replay(trace, inputs) == 0, capsys.readouterr().err


def test_a_uart_trace_replays_over_a_real_pty_through_the_serial_transport():
    """The same replay behind a pseudo-terminal: the host side is Boost.Asio's serial port."""
    server = mp1boot._core.UartReplayServer(str(TRACES / "uart-mp15-flash.jsonl"))
    server.start()
    try:
        report = mp1boot.flash(TRACES / "inputs" / "FlashLayout-mp15.tsv", port=f"serial:{server.path}")
        assert report["result"] == "ok"
    finally:
        server.stop()
    server.check_finished()


def test_a_pty_replay_that_sees_another_payload_reports_the_step():
    server = mp1boot._core.UartReplayServer(str(TRACES / "uart-mp15-info.jsonl"))
    server.start()
    with pytest.raises(mp1boot.Error):
        # Not the recorded command: the trace has Get (0x00) after the sync, the host sends Get ID.
        with mp1boot.connect(f"serial:{server.path}", timeout=0.2, retries=1) as dev:
            dev.get_phase()
    with pytest.raises(mp1boot.ProtocolError, match="replay: at step"):
        server.stop()
