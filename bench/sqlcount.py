"""Count the SQL statements and commits a process sends, for the notification bench.

``install(path)`` counts every statement (an executemany counts once) and every commit on any
engine of this process and writes the totals to ``path.<pid>`` when the process exits. Run as a
script it installs itself and then runs the app's command line, so a worker can be counted:

    SQLCOUNT_FILE=/tmp/counts .venv/bin/python bench/sqlcount.py --app wsgi jobs worker high
"""

from __future__ import annotations

import atexit
import json
import os
import sys
from pathlib import Path

COUNTS = {"statements": 0, "commits": 0}


def install(path: str | None) -> dict:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def statement(*_args, **_kwargs) -> None:
        COUNTS["statements"] += 1

    def commit(*_args, **_kwargs) -> None:
        COUNTS["commits"] += 1

    event.listen(Engine, "before_cursor_execute", statement)
    event.listen(Engine, "commit", commit)
    if path:
        atexit.register(lambda: Path(f"{path}.{os.getpid()}").write_text(json.dumps(COUNTS)))
    return COUNTS


def totals(path: str) -> dict:
    """The counts every process written under ``path`` added up."""
    out = {"statements": 0, "commits": 0}
    for file in Path(path).parent.glob(Path(path).name + ".*"):
        for key, value in json.loads(file.read_text()).items():
            out[key] += value
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    install(os.environ.get("SQLCOUNT_FILE"))
    from flask.cli import main

    sys.argv = ["flask", *sys.argv[1:]]
    main()
