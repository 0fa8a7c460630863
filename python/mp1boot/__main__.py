# SPDX-License-Identifier: MIT
"""python -m mp1boot: the command-line tool."""
import sys

from .cli import main

sys.exit(main())
