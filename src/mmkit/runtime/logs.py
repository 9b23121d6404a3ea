"""Logging for runs: human-readable by default, JSON lines with ``--log-json``; always redacted."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import TextIO

from mmkit.redact import RedactingFilter


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:  # already rendered (and scrubbed) by RedactingFilter
            out["exc"] = record.exc_text
        return json.dumps(out)


HUMAN = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(
    *,
    json_lines: bool,
    log_file: Path | None,
    console_level: int | None,
    stream: TextIO | None = None,
) -> None:
    """Configure the ``mmkit`` logger tree; ``console_level=None`` keeps the console quiet."""
    root = logging.getLogger("mmkit")
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    root.setLevel(logging.INFO)
    root.propagate = False
    fmt: logging.Formatter = JsonFormatter() if json_lines else logging.Formatter(HUMAN)
    redactor = RedactingFilter()
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(log_file, encoding="utf-8")
        fh.setFormatter(fmt)
        fh.addFilter(redactor)
        root.addHandler(fh)
    if console_level is not None:
        ch = logging.StreamHandler(stream or sys.stderr)
        ch.setLevel(console_level)
        ch.setFormatter(fmt)
        ch.addFilter(redactor)
        root.addHandler(ch)
