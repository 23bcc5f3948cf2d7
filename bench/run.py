"""Run every bench/bench_*.py and write docs/benchmarks.md and docs/benchmarks.json.

    BENCH_SCALE=0.1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/run.py

Each benchmark runs in its own process (fresh Django set-up and database); each module exposes
`run(scale) -> list[BenchResult]`. Results of other scales already in docs/benchmarks.json are kept, so the
docs can show a quick (0.1) and a full (1.0) run side by side.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Skip, bench_scale, redacted  # noqa: E402

DOCS_JSON = ROOT / "docs" / "benchmarks.json"
DOCS_MD = ROOT / "docs" / "benchmarks.md"


def discover() -> list[str]:
    """Module names of every benchmark, sorted."""
    return sorted(path.stem for path in (ROOT / "bench").glob("bench_*.py"))


def run_one(name: str, out: Path) -> None:
    """Child process: run one benchmark module and write its results (or the skip reason) as JSON."""
    module = importlib.import_module(f"bench.{name}")
    try:
        payload = {
            "results": [result.as_dict() for result in module.run(bench_scale())],
            "database": server(),
        }
    except Skip as skip:
        payload = {"skipped": str(skip)}
    out.write_text(json.dumps(payload))


def server() -> str:
    """Vendor and version of the database server behind DATABASE_URL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres", "pgsql")):
        return ""
    import psycopg

    with psycopg.connect(url) as conn:
        return "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0]


def machine() -> dict:
    """uname, CPU count and Python version of this machine."""
    uname = platform.uname()
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "uname": f"{uname.system} {uname.release} {uname.machine}",
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load": " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "",
    }


def fmt(value) -> str:
    """A figure for the table."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def write_docs(runs: list[dict]) -> None:
    """docs/benchmarks.json (flat list of results) and docs/benchmarks.md (one table per scale)."""
    DOCS_JSON.parent.mkdir(exist_ok=True)
    context = ("scale", "date", "command", "machine", "database")
    flat = [
        dict(result, **{key: run.get(key) for key in context}) for run in runs for result in run["results"]
    ]
    DOCS_JSON.write_text(json.dumps(flat, indent=2, ensure_ascii=False) + "\n")
    lines = [
        "# Benchmarks",
        "",
        "Written by `bench/run.py` (`make bench`); do not edit by hand. Each figure comes with a comparison",
        "figure measured in the same run on the same machine; ratio = value / comparison.",
        "",
    ]
    for run in sorted(runs, key=lambda r: r["scale"]):
        m = run["machine"]
        lines += [
            f"## BENCH_SCALE={run['scale']}",
            "",
            f"- Date: {run['date']}",
            f"- Command: `{run['command']}`",
            f"- Machine: {m['uname']}, {m['cpus']} CPUs ({m['cpu']}), Python {m['python']}",
            f"- Load average at start (1/5/15 min): {m.get('load') or 'n/a'} (other work on the machine slows every figure)",
            f"- Database: {run.get('database') or 'n/a'}",
            "",
            "| Benchmark | Value | Unit | Comparison | Comparison value | Ratio | Target | Notes |",
            "| --- | ---: | --- | --- | ---: | ---: | --- | --- |",
        ]
        for r in run["results"]:
            note = (
                f"measured {r['measured']}, not in this run: {r['note']}" if r.get("measured") else r["note"]
            )
            lines.append(
                f"| {r['name']} | {fmt(r['value'])} | {r['unit']} | {r['comparison']} | "
                f"{fmt(r['comparison_value'])} | {fmt(r['ratio'])} | {r['target']} | {note} |"
            )
        for name, reason in run.get("skipped", {}).items():
            lines.append(f"| {name} | skipped | | {reason} | | | | |")
        lines.append("")
    DOCS_MD.write_text("\n".join(lines))


def measured_on(run: dict) -> str:
    """When and where a run was measured, for figures a later partial run keeps."""
    machine = run.get("machine") or {}
    return f"{run.get('date', '?')} on {machine.get('cpus', '?')} CPUs ({machine.get('cpu', '?')})"


def previous_runs() -> list[dict]:
    """Runs recorded in docs/benchmarks.json, regrouped by scale."""
    if not DOCS_JSON.exists():
        return []
    runs: dict[float, dict] = {}
    for entry in json.loads(DOCS_JSON.read_text()):
        run = runs.setdefault(
            entry["scale"],
            {key: entry.get(key) for key in ("scale", "date", "command", "machine", "database")}
            | {"results": []},
        )
        run["results"].append({k: v for k, v in entry.items() if k not in run or k == "results"})
    return list(runs.values())


def main() -> int:
    """Run all benchmarks (or one, in a child process) and write the docs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run one benchmark module in this process (internal)")
    parser.add_argument("--out", type=Path, help="where --only writes its JSON (internal)")
    parser.add_argument("--no-docs", action="store_true", help="print only, do not rewrite docs/")
    parser.add_argument("modules", nargs="*", help="run only these bench modules (e.g. bench_reports)")
    args = parser.parse_args()
    if args.only:
        run_one(args.only, args.out)
        return 0

    scale = bench_scale()
    url = os.environ.get("DATABASE_URL", "")
    command = f"BENCH_SCALE={scale} DATABASE_URL={redacted(url) or '(unset)'} python bench/run.py"
    run = {
        "scale": scale,
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command,
        "machine": machine(),
        "results": [],
        "skipped": {},
    }
    failed = False
    selected = discover()
    if args.modules:
        unknown = sorted(set(args.modules) - set(selected))
        if unknown:
            parser.error(f"unknown bench modules: {', '.join(unknown)}; known: {', '.join(selected)}")
        selected = [name for name in selected if name in args.modules]
    for name in selected:
        print(f"== {name} (BENCH_SCALE={scale})", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "result.json"
            child = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--only", name, "--out", str(out)]
            )
            if child.returncode != 0 or not out.exists():
                print(f"   FAILED (exit {child.returncode})", flush=True)
                run["skipped"][name] = f"failed (exit {child.returncode})"
                failed = True
                continue
            payload = json.loads(out.read_text())
        if "skipped" in payload:
            print(f"   skipped: {payload['skipped']}", flush=True)
            run["skipped"][name] = payload["skipped"]
            continue
        run["database"] = payload.get("database") or run.get("database", "")
        for r in payload["results"]:
            ratio = "" if r["ratio"] is None else f"  (ratio {r['ratio']:.3f})"
            print(
                f"   {r['name']}: {fmt(r['value'])} {r['unit']} vs {r['comparison']}: "
                f"{fmt(r['comparison_value'])}{ratio}  target {r['target'] or '—'}",
                flush=True,
            )
            if r["note"]:
                print(f"      {r['note']}", flush=True)
            run["results"].append(r)
    if not args.no_docs:
        previous = previous_runs()
        if args.modules:
            # A partial run keeps the other benchmarks' figures of the same scale.
            # Those keep the date and machine they were measured on (the header is this run's).
            fresh = {r["name"] for r in run["results"]}
            for old in previous:
                if old["scale"] == scale:
                    run["results"] = [
                        r | {"measured": r.get("measured") or measured_on(old)}
                        for r in old["results"]
                        if r["name"] not in fresh
                    ] + run["results"]
        runs = [r for r in previous if r["scale"] != scale] + [run]
        write_docs(runs)
        print(f"wrote {DOCS_MD.relative_to(ROOT)} and {DOCS_JSON.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
