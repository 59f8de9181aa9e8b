"""The results table: printed, and written to bench/results/latest.md and
latest.json with a description of the machine."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    scenario: str
    figure: str
    limit: str
    ratio: str
    target: str
    passed: bool | None
    rss: str
    # Raw numbers behind the row, for the JSON.
    numbers: dict = field(default_factory=dict)
    note: str = ""


def machine(postgres: str) -> dict:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            memory = f"{kb / 1024 / 1024:.0f} GB"
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": postgres,
    }


def verdict(passed: bool | None) -> str:
    return "n/a" if passed is None else ("pass" if passed else "FAIL")


def markdown(rows: list[Row], scale: str, host: dict, started: dt.datetime, seconds: float) -> str:
    lines = [
        f"Scale: **{scale}** · run {started:%Y-%m-%d %H:%M} UTC, {seconds / 60:.1f} min · "
        f"{host['cpu']}, {host['cores']} cores, {host['memory']} RAM · {host['os']} · "
        f"Python {host['python']} · PostgreSQL {host['postgresql']}",
        "",
        "| # | scenario | figure | limit (same run) | ratio | target | result | peak RSS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for index, row in enumerate(rows, start=1):
        number = row.scenario.split(" ", 1)[0]
        name = row.scenario.split(" ", 1)[1] if " " in row.scenario else row.scenario
        lines.append(
            f"| {number or index} | {name} | {row.figure} | {row.limit} | {row.ratio} | "
            f"{row.target} | {verdict(row.passed)} | {row.rss} |"
        )
    notes = [f"- **{row.scenario.split(' ', 1)[0]}**: {row.note}" for row in rows if row.note]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def write(rows: list[Row], scale: str, host: dict, started: dt.datetime, seconds: float) -> str:
    RESULTS.mkdir(exist_ok=True)
    text = markdown(rows, scale, host, started, seconds)
    (RESULTS / "latest.md").write_text(text)
    payload = {
        "scale": scale,
        "started": started.isoformat(),
        "seconds": round(seconds, 1),
        "machine": host,
        "command": "make bench" + (" SCALE=full" if scale == "full" else ""),
        "rows": [asdict(row) | {"result": verdict(row.passed)} for row in rows],
    }
    (RESULTS / "latest.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return text
