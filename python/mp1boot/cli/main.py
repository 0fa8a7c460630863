# SPDX-License-Identifier: MIT
"""The parser of ``mp1boot`` and the dispatch to the verbs; errors become exit codes."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from .. import errors, progress
from . import args as a
from . import device, flash, image, layout, nvm, ports, sim, usb
from .output import Console, emit_json, paint

EXIT_USAGE = 2
EXIT_UNEXPECTED = 1
EXIT_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a program stopped by a closed pipe

# The verb modules, in the order their verbs appear in the help.
VERB_MODULES = (device, image, layout, flash, nvm, usb, sim)

# `mp1boot help TOPIC`: topics that are not verbs.
TOPICS = {"ports": ports.text}

EPILOG = """\
exit codes: 0 success, 1 unexpected error, 2 usage, 3 bad input file, 4 port or device not
available, 5 device disconnected or reset, 6 timeout, 7 refused by the device, 8 device-reported
failure, 9 verify found a difference, 130 interrupted, 141 stdout closed (a pipe's reader left).

`mp1boot help ports` gives the whole port grammar; `mp1boot VERB --help` each verb's options.
"""


def _version() -> str:
    try:
        import mp1boot
        return mp1boot.__version__
    except ImportError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mp1boot", formatter_class=a.HelpFormatter, epilog=EPILOG,
                                description="Boot and flash STM32MP1 boards over UART and USB.")
    p.add_argument("--version", action="version", version=f"mp1boot {_version()}")
    sub = p.add_subparsers(dest="verb", metavar="VERB", title="verbs")
    for module in VERB_MODULES:
        module.register(sub)
    hp = a.subparser(sub, "help", help="help on a verb, or on a topic: ports")
    hp.add_argument("topic", nargs="?", help="a verb, or 'ports' (the port grammar)")
    return p


def _help(parser: argparse.ArgumentParser, topic: Optional[str]) -> int:
    if topic is None:
        parser.print_help()
        return 0
    if topic in TOPICS:
        sys.stdout.write(TOPICS[topic]())
        return 0
    verbs = parser._subparsers._group_actions[0].choices  # noqa: SLF001 - argparse keeps them only here
    if topic in verbs:
        verbs[topic].print_help()
        return 0
    print(f"mp1boot: no help on {topic!r}; verbs: {', '.join(v for v in verbs if v != 'help')}; "
          f"topics: {', '.join(TOPICS)}", file=sys.stderr)
    return EXIT_USAGE


def _pipe_closed() -> int:
    """The reader of stdout went away (`mp1boot ... | head`): stop quietly, as `cat` would."""
    import os
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush must not fail again
    except (OSError, ValueError):
        pass
    return EXIT_PIPE


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verb is None:  # bare `mp1boot`: what it can do
        parser.print_help()
        return EXIT_USAGE
    if args.verb == "help":
        return _help(parser, args.topic)
    try:
        args.console = Console(args, sys.argv[1:] if argv is None else list(argv))
    except errors.Error as e:  # --trace FILE cannot be written
        print(paint("mp1boot: error:", "bad", sys.stderr) + f" {e}", file=sys.stderr)
        return errors.EXIT_CODES.get(e.code, EXIT_UNEXPECTED)
    outcome = ("ok", "")
    try:
        code = args.func(args)
        args.console.close_devices()
        if code:
            outcome = (f"exit {code}", "")
        return code
    except BrokenPipeError:
        return _pipe_closed()
    except errors.Error as e:
        outcome = (e.code or "error", str(e))
        progress.end_line()
        if getattr(args, "json", False):
            emit_json({"event": "error", **e.to_dict()})
        else:
            print(paint("mp1boot: error:", "bad", sys.stderr) + f" {e}", file=sys.stderr)
        return errors.EXIT_CODES.get(e.code, EXIT_UNEXPECTED)
    except KeyboardInterrupt:
        outcome = ("cancelled", "interrupted")
        progress.end_line()
        print("mp1boot: interrupted", file=sys.stderr)
        return 130
    finally:
        args.console.close(*outcome)
