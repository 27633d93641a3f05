"""The ``llm-digest`` command."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    print("llm-digest: no subcommand yet", file=sys.stderr)
    return 2
