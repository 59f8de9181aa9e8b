"""Scenario 8: the short-link redirect (click tracking) under gunicorn with
production settings, in a database of the scale's message history
(scenario 7's when it ran in the same run, else one built the same way) with
tracked short links for a tenth of its messages, written set-based.

wrk loads it over many distinct codes (a Lua script walks through a list of
them, each thread its own share, and counts the answers by status) and the
no-op view on the same gunicorn with the same script; the figures are
redirects a second against the no-op view's requests a second, the p99, and
every click recorded: the Click rows the run wrote against wrk's count of
302 answers. Each wrk thread holds one connection and stops itself right
after an answer once its time is up, so no request is left in flight that
the server might record without wrk counting its answer.

``python -m bench.scenarios.s8_redirect history <rows>`` builds the message
history in the database ``DATABASE_URL`` names (the scenario runs it in a
process of its own when scenario 7 did not run).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

from bench import load, report
from bench.scenarios.common import GUNICORN_WORKERS, Bench, fmt, log, mb
from bench.servers import PYTHON, ROOT, children_of, cpu_seconds, free_port, peak_rss_mb

# Scenario 7's database of the scale's message history, and this one's own
# when scenario 7 did not run; both spread their rows over this many campaigns.
PAGES_DATABASE = "pages_big"
OWN_DATABASE = "redirect_big"
HISTORY_CAMPAIGNS = 10
# One message in LINK_EVERY gets a tracked link (1M of 10M at full scale).
LINK_EVERY = 10
# Codes in the list wrk walks through: at most this many, in random order.
LOAD_CODES = 200_000
# Codes kept apart to warm each gunicorn worker's redirect path.
WARM_CODES = 2_000
LINK_URL = "https://shop.example.com/spring?utm_source=sms"
# A phone's browser: the clicks are people's, not link previews.
AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
# The no-op view and the redirect are measured in turns, this many times each.
ROUNDS = 3
TARGET_RATIO = 0.5
TARGET_P99_MS = 20.0

# The wrk script. Paths come from the file BENCH_PATHS, one a line; thread i
# of BENCH_THREADS starts at its own share of the list and takes the next
# path for each request. Each request's latency is kept (wrk records none
# when the server closes the connection after each answer, as gunicorn's
# sync workers do) and each answer counted by status. A thread stops itself
# after the answer that finds its BENCH_SECONDS over.
LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *tp);
]]
local clock = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) * 1e-9
end

local threads = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

function init(args)
  paths = {}
  for line in io.lines(os.getenv("BENCH_PATHS")) do
    if line ~= "" then paths[#paths + 1] = line end
  end
  local threads_count = tonumber(os.getenv("BENCH_THREADS"))
  local round, rounds = tonumber(os.getenv("BENCH_ROUND")), tonumber(os.getenv("BENCH_ROUNDS"))
  position = math.floor(#paths * (index + round / rounds) / threads_count)
  seconds = tonumber(os.getenv("BENCH_SECONDS"))
  headers = {["User-Agent"] = os.getenv("BENCH_AGENT")}
  statuses = {}
  latencies = {}
end

function request()
  position = position % #paths + 1
  sent = now()
  if first == nil then
    first = sent
    deadline = sent + seconds
  end
  return wrk.format("GET", paths[position], headers)
end

function response(status, headers, body)
  local t = now()
  latencies[#latencies + 1] = (t - sent) * 1000
  statuses[status] = (statuses[status] or 0) + 1
  last = t
  if t >= deadline then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local all, counts = {}, {}
  local started, ended = nil, nil
  for _, thread in ipairs(threads) do
    for _, ms in ipairs(thread:get("latencies")) do all[#all + 1] = ms end
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
    local f, l = thread:get("first"), thread:get("last")
    if f ~= nil and (started == nil or f < started) then started = f end
    if l ~= nil and (ended == nil or l > ended) then ended = l end
  end
  local out = io.open(os.getenv("BENCH_LATENCIES"), "w")
  for _, ms in ipairs(all) do out:write(string.format("%.3f\n", ms)) end
  out:close()
  table.sort(all)
  local function at(p)
    if #all == 0 then return 0 end
    return all[math.max(1, math.min(#all, math.floor(p / 100 * #all + 0.5)))]
  end
  local parts = {}
  for status, n in pairs(counts) do
    parts[#parts + 1] = string.format('"%d": %d', status, n)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH-RESULT {"requests": %d, "seconds": %.6f, "p50_ms": %.3f, "p99_ms": %.3f, ' ..
    '"max_ms": %.3f, "statuses": {%s}, "errors": {"connect": %d, "read": %d, ' ..
    '"write": %d, "timeout": %d}}\n',
    #all, (ended or 0) - (started or 0), at(50), at(99), all[#all] or 0,
    table.concat(parts, ", "), e.connect, e.read, e.write, e.timeout))
end
"""


def run(bench: Bench) -> None:
    from campaigns.models import Click, Message, ShortLink

    rows = bench.size["history"]
    database, reused = _dataset(bench, rows)
    tables = {
        "links": ShortLink._meta.db_table,
        "messages": Message._meta.db_table,
        "clicks": Click._meta.db_table,
    }
    started = time.perf_counter()
    links = _shorten(bench, database, tables)
    log(
        f"8: {links:,} short links for {fmt(rows)} message rows written in "
        f"{time.perf_counter() - started:.1f} s"
    )
    codes = bench.stack.work / "redirect-codes.txt"
    warm_codes = bench.stack.work / "redirect-warm-codes.txt"
    picked = bench.stack.psql(
        f"SELECT '/l/' || code FROM {tables['links']} ORDER BY random() "  # noqa: S608 - our tables
        f"LIMIT {min(links, LOAD_CODES + WARM_CODES)}",
        database=database,
    ).split()
    warm_codes.write_text("\n".join(picked[:WARM_CODES]) + "\n")
    codes.write_text("\n".join(picked[WARM_CODES:]) + "\n")
    noop_paths = bench.stack.work / "redirect-noop.txt"
    noop_paths.write_text("/healthz\n")
    script = bench.stack.work / "redirect.lua"
    script.write_text(LUA)

    port = free_port()
    gunicorn = bench.gunicorn(
        port, env={"DATABASE_URL": bench.stack.url_of(database)}, log="gunicorn-8.log"
    )
    try:
        _warm(port, warm_codes)
        seconds = bench.size["tool_seconds"]
        parts = {"gunicorn": gunicorn.pid, "postgresql": bench.stack.postgres_pid()}
        log(
            f"8: {ROUNDS} rounds of the no-op view and the redirect over "
            f"{len(picked) - WARM_CODES:,} codes, {seconds} s each (wrk)"
        )
        before = _clicks(bench, database, tables)
        noop_runs, redirect_runs = [], []
        for index in range(ROUNDS):
            # In turns, so both meet the same load from the rest of the machine.
            noop_runs.append(_wrk(bench, port, script, noop_paths, seconds, parts, index))
            redirect_runs.append(_wrk(bench, port, script, codes, seconds, parts, index))
        noop, redirects = _together(noop_runs), _together(redirect_runs)
        noop_cpu, cpu = noop["cpu"], redirects["cpu"]
        written, people = _settled_clicks(bench, database, tables, before, redirects)
        peaks = [peak_rss_mb(pid) or 0 for pid in children_of(gunicorn.pid)]
    finally:
        bench.stack.stop(gunicorn)

    found = redirects["statuses"].get(302, 0)
    other = {s: n for s, n in redirects["statuses"].items() if s != 302}
    noop_other = {s: n for s, n in noop["statuses"].items() if s != 200}
    errors = sum(redirects["errors"].values()) + sum(noop["errors"].values())
    rate = found / redirects["seconds"] if redirects["seconds"] else 0.0
    noop_rate = noop["requests"] / noop["seconds"] if noop["seconds"] else 0.0
    ratio = rate / noop_rate if noop_rate else 0.0
    p99 = redirects["p99_ms"]
    every = written == found
    figure = (
        f"{fmt(rate)} redirects/s; p99 {p99:.1f} ms; {fmt(written)} clicks recorded for "
        f"{fmt(found)} 302s" + ("" if every else " (NOT every click)")
    )
    if other:
        figure += "; other answers: " + ", ".join(f"{n:,} × {s}" for s, n in sorted(other.items()))
    passed = (
        ratio >= TARGET_RATIO
        and p99 < TARGET_P99_MS
        and every
        and people == written
        and not other
        and not noop_other
        and errors == 0
    )
    per = {name: seconds_used * 1e6 / found for name, seconds_used in cpu.items()} if found else {}
    noop_per = {}
    if noop["requests"]:
        noop_per = {name: used * 1e6 / noop["requests"] for name, used in noop_cpu.items()}
    bench.rows.append(
        report.Row(
            f"8 Short-link redirect (click tracking, gunicorn), {fmt(rows)} message rows, "
            f"{fmt(links)} links",
            figure,
            f"no-op view {fmt(noop_rate)} requests/s (p99 {noop['p99_ms']:.1f} ms), same "
            "gunicorn and wrk script",
            f"{ratio:.2f}",
            f"≥ {TARGET_RATIO}; p99 < {TARGET_P99_MS:.0f} ms; every click recorded",
            passed,
            f"{mb(max(peaks, default=0))} per gunicorn worker",
            {
                "redirects_per_second": rate,
                "p50_ms": redirects["p50_ms"],
                "noop_p50_ms": noop["p50_ms"],
                "rounds": ROUNDS,
                "seconds": redirects["seconds"],
                "noop_seconds": noop["seconds"],
                "p99_ms": p99,
                "max_ms": redirects["max_ms"],
                "responses_302": found,
                "clicks_written": written,
                "clicks_counted_as_people": people,
                "statuses": redirects["statuses"],
                "errors": redirects["errors"],
                "noop_rate": noop_rate,
                "noop_p99_ms": noop["p99_ms"],
                "noop_statuses": noop["statuses"],
                "noop_errors": noop["errors"],
                "message_rows": rows,
                "links": links,
                "codes_loaded": len(picked) - WARM_CODES,
                "dataset": f"scenario 7's ({database})" if reused else database,
                "gunicorn_workers": GUNICORN_WORKERS,
                "connections": GUNICORN_WORKERS,
                "cpu_us_per_redirect": per,
                "cpu_us_per_noop_request": noop_per,
            },
            note=_cpu_note(per, noop_per),
        )
    )


def _dataset(bench: Bench, rows: int) -> tuple[str, bool]:
    """The database of ``rows`` message rows: scenario 7's when it holds
    them (it ran in this run), else a new one built the way it builds its own."""
    from campaigns.models import Message

    table = Message._meta.db_table
    exists = bench.stack.psql(
        f"SELECT 1 FROM pg_database WHERE datname = '{PAGES_DATABASE}'"  # noqa: S608 - a constant
    ).strip()
    if exists:
        held = int(bench.stack.psql(f"SELECT count(*) FROM {table}", database=PAGES_DATABASE))  # noqa: S608
        if held == rows:
            log(f"8: scenario 7's {rows:,} message rows ({PAGES_DATABASE})")
            return PAGES_DATABASE, True
    started = time.perf_counter()
    url = bench.stack.createdb(OWN_DATABASE)
    env = os.environ | {"DATABASE_URL": url}
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True, env=env
    )
    subprocess.run(
        [PYTHON, "-m", "bench.scenarios.s8_redirect", "history", str(rows)],
        cwd=ROOT,
        check=True,
        env=env,
    )
    log(f"8: {rows:,} message rows built in {time.perf_counter() - started:.1f} s")
    return OWN_DATABASE, False


def _shorten(bench: Bench, database: str, tables: dict[str, str]) -> int:
    """Tracked links for one message in LINK_EVERY, in one INSERT … SELECT:
    eight random characters of the links' alphabet each (a code drawn twice,
    one in many millions, is left out); returns how many links there are."""
    from campaigns.links import ALPHABET, CODE_LENGTH

    bench.stack.psql(
        f"""INSERT INTO {tables["links"]} (code, message_id, campaign_id, position, url, created_at)
            SELECT c.code, m.id, m.campaign_id, 0, '{LINK_URL}', now()
            FROM {tables["messages"]} m
            CROSS JOIN LATERAL (
                SELECT string_agg(substr('{ALPHABET}', 1 + floor(random() * {len(ALPHABET)})::int,
                                         1), '') AS code
                FROM generate_series(1, {CODE_LENGTH} + 0 * m.id)
            ) c
            WHERE m.id % {LINK_EVERY} = 0
            ON CONFLICT (code) DO NOTHING""",  # noqa: S608 - our tables and constants
        database=database,
    )
    bench.stack.psql(f"ANALYZE {tables['links']}", database=database)
    return int(bench.stack.psql(f"SELECT count(*) FROM {tables['links']}", database=database))  # noqa: S608


def _warm(port: int, warm_codes) -> None:
    """Each gunicorn worker opens its database connection on its first
    redirect: not what is measured."""
    headers = {"User-Agent": AGENT}
    paths = warm_codes.read_text().split()
    load.run(
        port,
        iter([load.Request("GET", path, headers=headers) for path in paths]),
        concurrency=GUNICORN_WORKERS,
    )


def _wrk(bench: Bench, port: int, script, paths, seconds: int, parts: dict, round_: int) -> dict:
    """One wrk run of the Lua script over ``paths`` (round ``round_`` starts
    each thread further along its share): its counts and latencies, and
    the CPU each of ``parts`` (name: pid) and wrk used meanwhile."""
    latencies = bench.stack.work / "redirect-latencies.txt"
    cpu_before = {name: cpu_seconds(pid) for name, pid in parts.items()}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [
            "wrk",
            f"-t{GUNICORN_WORKERS}",
            f"-c{GUNICORN_WORKERS}",
            # Each thread stops itself after the first answer past its time;
            # wrk's own end (which would leave requests in flight) comes later.
            f"-d{seconds + 1}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ
        | {
            "BENCH_PATHS": str(paths),
            "BENCH_THREADS": str(GUNICORN_WORKERS),
            "BENCH_ROUND": str(round_),
            "BENCH_ROUNDS": str(ROUNDS),
            "BENCH_SECONDS": str(seconds),
            "BENCH_AGENT": AGENT,
            "BENCH_LATENCIES": str(latencies),
        },
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in parts.items()}
    cpu["wrk"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH-RESULT ")]
    if not lines:
        raise RuntimeError(f"wrk gave no result:\n{done.stdout}\n{done.stderr}")
    result = json.loads(lines[-1].removeprefix("BENCH-RESULT "))
    result["statuses"] = {int(s): n for s, n in result["statuses"].items()}
    result["latencies"] = [float(x) for x in latencies.read_text().split()]
    result["cpu"] = cpu
    return result


def _together(runs: list[dict]) -> dict:
    """The rounds of one kind as one run: counts, seconds and CPU added up,
    percentiles over every request of them all."""
    out: dict = {"requests": 0, "seconds": 0.0, "statuses": {}, "errors": {}, "cpu": {}}
    latencies: list[float] = []
    for run in runs:
        out["requests"] += run["requests"]
        out["seconds"] += run["seconds"]
        latencies += run["latencies"]
        for key in ("statuses", "errors", "cpu"):
            for name, value in run[key].items():
                out[key][name] = out[key].get(name, 0) + value
    latencies.sort()

    def at(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, max(0, round(p / 100 * len(latencies)) - 1))]

    out.update(p50_ms=at(50), p99_ms=at(99), max_ms=latencies[-1] if latencies else 0.0)
    return out


def _clicks(bench: Bench, database: str, tables: dict[str, str]) -> tuple[int, int]:
    """Click rows in the database: all of them, and those counted as people's."""
    out = bench.stack.psql(
        f"SELECT count(*), count(*) FILTER (WHERE NOT is_bot) FROM {tables['clicks']}",  # noqa: S608
        database=database,
    )
    total, people = out.strip().split("|")
    return int(total), int(people)


def _settled_clicks(bench, database, tables, before, redirects) -> tuple[int, int]:
    """Click rows the measured run wrote (all, and people's): read until
    they reach the 302s counted or stop changing for a second (the redirect
    writes each click before it answers, so they are there at once)."""
    expected = redirects["statuses"].get(302, 0)
    deadline = time.monotonic() + 30
    last, still_since = None, time.monotonic()
    while True:
        total, people = _clicks(bench, database, tables)
        written = (total - before[0], people - before[1])
        if written[0] >= expected or time.monotonic() > deadline:
            return written
        if written != last:
            last, still_since = written, time.monotonic()
        elif time.monotonic() - still_since > 1.0:
            return written
        time.sleep(0.1)


def _cpu_note(per: dict, noop: dict) -> str:
    """Where the CPU went, per redirect and per no-op request, with the most
    of each a second this machine's cores give at that cost."""
    cores = os.cpu_count() or 1
    out = []
    kinds = (("redirect", "redirects", per), ("no-op request", "requests", noop))
    for label, unit, values in kinds:
        if not values:
            continue
        total = sum(values.values())
        out.append(
            f"CPU per {label}: "
            + "; ".join(f"{name} {fmt(us)} µs" for name, us in values.items())
            + f" (together {fmt(total)} µs: {cores} cores give at most "
            f"{fmt(cores * 1e6 / total)} {unit}/s at that cost)"
        )
    return ". ".join(out)


def _history(rows: str) -> None:
    """The message history of scenario 7, in the database DATABASE_URL names."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsportal.settings")
    import django

    django.setup()
    from bench import data

    data.message_history(int(rows), HISTORY_CAMPAIGNS)


if __name__ == "__main__":
    what, *arguments = sys.argv[1:]
    {"history": _history}[what](*arguments)
