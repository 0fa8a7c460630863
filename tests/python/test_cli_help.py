# SPDX-License-Identifier: MIT
"""The CLI explains itself: help on every option, the verbs on a bare call, the port grammar,
addresses in hex, -v/-q/--trace on every verb that talks to a board."""
from __future__ import annotations

import argparse
import json
import re

import pytest

import mp1boot
from mp1boot.cli import build_parser, main
from mp1boot.cli.ports import PORT_OPTIONS

BOARD_VERBS = [("info",), ("boot",), ("flash",), ("otp",), ("pmic",), ("layout", "plan")]


def all_parsers(parser=None, path=()):
    parser = parser or build_parser()
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from all_parsers(sub, path + (name,))


def parser_of(path):
    return dict(all_parsers())[path]


def test_every_option_and_argument_has_a_help_text():
    missing = [f"{' '.join(path)} {a.option_strings or a.dest}" for path, p in all_parsers() for a in p._actions
               if not isinstance(a, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction))
               and not (a.help or "").strip()]
    assert missing == []


def test_help_shows_choices_and_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["sim", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "{" + ",".join(mp1boot.soc_names()) + "}" in out
    assert "stm32mp257" in out
    assert "(default: stm32mp135)" in out and "(default: 115200)" in out and "(default: 0.0)" in out


def test_bare_mp1boot_prints_the_verbs(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    for verb in ("info", "boot", "flash", "image", "layout", "otp", "pmic", "list", "udev", "sim", "help"):
        assert re.search(rf"^\s+{verb}\s", out, re.M), verb


def test_help_ports_explains_every_option_the_library_accepts(capsys):
    assert main(["help", "ports"]) == 0
    out = capsys.readouterr().out
    documented = {o.split("=")[0] for o, _, _ in PORT_OPTIONS}
    accepted = set(re.findall(r"[?&]([a-z_]+)=", mp1boot.port_help())) - {"key"}  # key=value: the sim keys
    assert accepted and accepted <= documented, accepted - documented
    for key in documented:
        assert re.search(rf"^\s+{key}=", out, re.M), key
    for prefix in ("serial:PATH", "usb[:SELECTOR]", "sim:SOC"):
        assert prefix in out


def test_help_on_a_verb_and_on_nothing_known(capsys):
    assert main(["help", "flash"]) == 0
    assert "--resume REPORT" in capsys.readouterr().out
    assert main(["help", "nosuch"]) == 2
    assert "ports" in capsys.readouterr().err


@pytest.mark.parametrize("path", BOARD_VERBS, ids=" ".join)
def test_board_verbs_take_verbose_quiet_trace_and_point_at_the_port_grammar(path):
    p = parser_of(path)
    options = {s for a in p._actions for s in a.option_strings}
    assert {"-v", "--verbose", "-q", "--quiet", "--trace", "--port"} <= options
    port = next(a for a in p._actions if "--port" in a.option_strings)
    assert "mp1boot help ports" in port.help


def test_addresses_are_hex_with_or_without_0x(tmp_path, capsys):
    raw = tmp_path / "raw.bin"
    raw.write_bytes(bytes(range(256)) * 4)
    a, b = tmp_path / "a.stm32", tmp_path / "b.stm32"
    assert main(["image", "wrap", "--soc", "stm32mp157", "--load", "2FFC2500", "--entry", "2ffc2500",
                 str(raw), str(a)]) == 0
    assert main(["image", "wrap", "--soc", "stm32mp157", "--load", "0x2FFC2500", "--entry", "0x2FFC2500",
                 str(raw), str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()
    assert mp1boot.image_info(str(a))["load_address"] == 0x2FFC2500
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["image", "wrap", "--soc", "stm32mp157", "--load", "2FFG", "--entry", "0", str(raw), str(a)])
    assert e.value.code == 2
    assert "'2FFG' is not an address (hex, 0x optional" in capsys.readouterr().err


def test_trace_to_a_file_and_verbose_notes(tmp_path, fsbl_mp13, capsys):
    image = tmp_path / "tf-a.stm32"
    image.write_bytes(fsbl_mp13)
    trace = tmp_path / "wire.jsonl"
    assert main(["boot", str(image), "--port", "sim:stm32mp135", "-q", "-v", "-v", "--trace", str(trace)]) == 0
    lines = [json.loads(line) for line in trace.read_text().splitlines()]
    assert lines[0]["mp1boot_trace"] == 1 and lines[0]["link"] == "uart"
    assert lines[0]["argv"] == ["boot", str(image), "-q", "-v", "-v"]  # the port and --trace are the replay's
    assert any(r.get("k") == "w" and r.get("hex") == "31ce" for r in lines[1:])  # Download command
    assert lines[-1]["k"] == "end" and lines[-1]["result"] == "ok"
    err = capsys.readouterr().err
    assert "mp1boot: connected: sim:stm32mp135" in err
    assert "> 31 ce" not in err  # -q -v -v is -v: no wire exchange on stderr
    # A bare --trace prints the wire exchange on stderr only.
    assert main(["boot", str(image), "--port", "sim:stm32mp135", "-q", "--trace"]) == 0
    err = capsys.readouterr().err
    assert "> 31 ce" in err and "mp1boot: connected" not in err


def test_flash_verbose_prints_the_stages(tmp_path, fsbl_mp15, capsys):
    from test_flash import _folder
    _folder(tmp_path, fsbl_mp15)
    assert main(["flash", str(tmp_path / "flash.tsv"), "-D", "FSBL=tf-a.stm32", "--port", "sim:stm32mp157",
                 "-q", "-v", "-v"]) == 0
    err = capsys.readouterr().err
    assert "mp1boot: stage: " in err and "mp1boot: partition 0x" in err


def test_sim_usb_daemon_prints_export_lines_and_answers_help(tmp_path):
    import os
    import shlex
    import subprocess
    import sys
    proc = subprocess.Popen([sys.executable, "-m", "mp1boot", "sim", "--soc", "stm32mp157", "--usb", "--daemon"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        env = dict(os.environ)
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("export "):
                name, _, value = line[len("export "):].strip().partition("=")
                env[name] = shlex.split(value)[0]
            if "stop it with" in line:
                break
        assert any(line.startswith("export UMOCKDEV_DIR=") for line in lines), lines
        assert any(line.startswith("export LD_PRELOAD=") for line in lines), lines
        assert "kill " in "".join(lines) and "help" in lines[-1]
        r = subprocess.run([sys.executable, "-m", "mp1boot", "info", "--port", "usb"], env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "0x500 (STM32MP15x)" in r.stdout
        proc.stdin.write("help\n")
        proc.stdin.flush()
        answer = [proc.stdout.readline() for _ in range(4)]
        assert answer[0].startswith("commands: help") and answer[-1] == "OK\n", answer
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_sim_usb_needs_daemon_or_a_command(capsys):
    assert main(["sim", "--usb", "--daemon", "--", "true"]) == 2
    assert "either --daemon or -- COMMAND" in capsys.readouterr().err


def test_sim_usb_serves_several_boards_with_serial_repeated():
    import json
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "mp1boot", "sim", "--soc", "stm32mp157", "--usb",
                        "--serial", "0028004232325115383036A1", "--serial", "0028004232325115383036A2", "--",
                        sys.executable, "-m", "mp1boot", "list", "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    serials = sorted(d["serial"] for d in json.loads(r.stdout)["devices"])
    assert serials == ["0028004232325115383036A1", "0028004232325115383036A2"]
