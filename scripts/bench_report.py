#!/usr/bin/env python3
"""Writes the results of `make bench` into docs/benchmarks.md and a plot.

scripts/bench.sh runs each benchmark, saving its markdown output as
OUT/<name>.md and the command that produced it as OUT/<name>.cmd.  This
script replaces the part of docs/benchmarks.md between the two make-bench
markers with: the machine the run used, a table of every figure that has a
goal, the plot, and each benchmark's output with its command.  The prose
sections after the markers explain the methods and older runs; they are
written by hand and left alone.

A benchmark declares a figure with a goal by a line (or a part of a line
between semicolons) of the form

    LABEL: VALUE [x|ms] (goal >= GOAL [ms])

Ratios and rates ("goal >=") go into the throughput panel of the plot,
milliseconds into the latency panel.  The plot is an SVG written without
any plotting library, so the report needs nothing beyond Python.
"""

import argparse
import datetime
import html
import os
import platform
import re
import subprocess
import sys

BEGIN = "<!-- make-bench:begin -->"
END = "<!-- make-bench:end -->"
ORDER = ["producer", "gateway", "processor", "api", "notifier"]
TITLES = {
    "producer": "Producer library and ma-produce",
    "gateway": "Gateway",
    "processor": "Processor",
    "api": "Query API",
    "notifier": "Notifier",
}
FIGURE = re.compile(
    r"^\s*[-*]?\s*(?P<label>[^:]+?):\s*(?P<value>[0-9]+(?:\.[0-9]+)?)\s*"
    r"(?P<unit>ms|x)?\s*\(goal\s*(?P<op>>=|<=)\s*(?P<goal>[0-9]+(?:\.[0-9]+)?)"
    r"\s*(?:ms|x)?\s*\)")


def run(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (out.stdout or out.stderr).strip()


def machine():
    cpu = ""
    for line in run(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            cpu = line.split(":", 1)[1].strip()

    mem_kib = 0
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])

    debian = ""
    if os.path.exists("/etc/debian_version"):
        with open("/etc/debian_version", encoding="ascii") as version:
            debian = version.read().strip()

    kafka = ""
    kafka_dir = "/opt/mina-arenden"
    if os.path.isdir(kafka_dir):
        for root, _dirs, files in os.walk(kafka_dir):
            for name in files:
                match = re.match(r"kafka-clients-([0-9.]+)\.jar$", name)
                if match:
                    kafka = match.group(1)
                    break
            if kafka:
                break

    with open("/proc/loadavg", encoding="ascii") as loadavg:
        load = " ".join(loadavg.read().split()[:3])
    mosquitto = run(["mosquitto", "-h"]).splitlines()
    return [
        ("date (UTC)", datetime.datetime.now(datetime.timezone.utc)
         .strftime("%Y-%m-%d %H:%M")),
        ("commit", run(["git", "rev-parse", "--short", "HEAD"]) or "unknown"),
        ("CPU", f"{cpu}, {os.cpu_count()} logical CPUs"),
        ("memory", f"{mem_kib / 1048576:.1f} GiB"),
        ("system", f"Debian {debian}, Linux {platform.release()}"),
        ("load average at the end", load),
        ("Kafka", kafka or "unknown"),
        ("PostgreSQL", run(["pg_config", "--version"]) or "unknown"),
        ("Mosquitto", mosquitto[0] if mosquitto else "unknown"),
        ("librdkafka", run(["pkg-config", "--modversion", "rdkafka"])),
        ("compiler", run(["cc", "--version"]).splitlines()[0]
         if run(["cc", "--version"]) else "unknown"),
    ]


def figures(name, text):
    found = []
    for line in text.splitlines():
        for part in line.split(";"):
            match = FIGURE.match(part)
            if match:
                found.append({
                    "bench": name,
                    "label": match.group("label").strip(),
                    "value": float(match.group("value")),
                    "unit": match.group("unit") or "",
                    "op": match.group("op"),
                    "goal": float(match.group("goal")),
                })
    return found


def met(fig):
    if fig["op"] == ">=":
        return fig["value"] >= fig["goal"]
    return fig["value"] <= fig["goal"]


def fmt(value):
    return f"{value:g}"


def bars(svg, x0, y0, width, title, items, unit):
    """Draws one panel of horizontal bars, each with a goal mark."""
    label_w = 300
    bar_w = width - label_w - 190
    row_h = 30
    top = max([1.0] + [max(f["value"], f["goal"]) for f in items]) * 1.1
    svg.append(f'<text x="{x0}" y="{y0}" font-size="15" '
               f'font-weight="bold">{html.escape(title)}</text>')
    for i, fig in enumerate(items):
        y = y0 + 20 + i * row_h
        value_w = bar_w * fig["value"] / top
        goal_x = x0 + label_w + bar_w * fig["goal"] / top
        colour = "#2e7d32" if met(fig) else "#c62828"
        label = f'{TITLES.get(fig["bench"], fig["bench"])}: {fig["label"]}'
        if len(label) > 46:
            label = label[:45] + "…"
        svg.append(f'<text x="{x0}" y="{y + 17}" font-size="12">'
                   f'{html.escape(label)}</text>')
        svg.append(f'<rect x="{x0 + label_w}" y="{y + 4}" '
                   f'width="{value_w:.1f}" height="18" fill="{colour}"/>')
        svg.append(f'<line x1="{goal_x:.1f}" y1="{y}" x2="{goal_x:.1f}" '
                   f'y2="{y + 26}" stroke="#000" stroke-width="2" '
                   f'stroke-dasharray="4 2"/>')
        sign = "≥" if fig["op"] == ">=" else "≤"
        svg.append(f'<text x="{x0 + label_w + value_w + 6:.1f}" '
                   f'y="{y + 17}" font-size="12">{fmt(fig["value"])}{unit}'
                   f' (goal {sign} {fmt(fig["goal"])}{unit})</text>')
    return y0 + 20 + len(items) * row_h + 30


def plot(path, figs):
    ratios = [f for f in figs if f["unit"] != "ms" and f["goal"] <= 2]
    times = [f for f in figs if f["unit"] == "ms"]
    width = 900
    svg = []
    y = 30
    if ratios:
        y = bars(svg, 20, y, width - 40,
                 "Throughput: rate divided by its baseline's rate "
                 "(dashed line: goal)", ratios, "")
    if times:
        y = bars(svg, 20, y, width - 40,
                 "Latency in milliseconds (dashed line: goal)", times, " ms")
    if not ratios and not times:
        svg.append('<text x="20" y="40" font-size="14">'
                   'No benchmark printed a figure with a goal.</text>')
        y = 70
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{y}" viewBox="0 0 {width} {y}" '
            f'font-family="DejaVu Sans, Arial, sans-serif">'
            f'<rect width="100%" height="100%" fill="#fff"/>')
    with open(path, "w", encoding="utf-8") as out:
        out.write(head + "\n" + "\n".join(svg) + "\n</svg>\n")


def section(out_dir, doc_dir, plot_path):
    lines = [BEGIN, "", "## Latest `make bench` run", ""]
    lines.append("Written by `scripts/bench_report.py` at the end of "
                 "`make bench`; the sections after this one explain how "
                 "each benchmark measures and keep earlier runs.")
    lines.append("")
    lines.append("| machine | |")
    lines.append("|---|---|")
    for key, value in machine():
        lines.append(f"| {key} | {value} |")
    lines.append("")

    texts = {}
    for name in ORDER + sorted(set(
            f[:-3] for f in os.listdir(out_dir) if f.endswith(".md")) -
            set(ORDER)):
        path = os.path.join(out_dir, name + ".md")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as text:
                texts[name] = text.read().strip()

    figs = [f for name, text in texts.items() for f in figures(name, text)]
    if figs:
        lines.append("| benchmark | figure | value | goal | met |")
        lines.append("|---|---|---:|---|---|")
        for fig in figs:
            lines.append(
                f'| {TITLES.get(fig["bench"], fig["bench"])} | '
                f'{fig["label"]} | {fmt(fig["value"])}{fig["unit"] and " " + fig["unit"]} | '
                f'{fig["op"]} {fmt(fig["goal"])}{fig["unit"] and " " + fig["unit"]} | '
                f'{"yes" if met(fig) else "no"} |')
        lines.append("")

    plot(plot_path, figs)
    rel = os.path.relpath(plot_path, doc_dir)
    lines.append(f"![Figures with goals: green met, red not met]({rel})")
    lines.append("")
    for name, text in texts.items():
        lines.append(f"### {TITLES.get(name, name)}")
        lines.append("")
        cmd_path = os.path.join(out_dir, name + ".cmd")
        if os.path.exists(cmd_path):
            with open(cmd_path, encoding="utf-8") as cmd:
                lines.append("```sh")
                lines.append(cmd.read().strip())
                lines.append("```")
                lines.append("")
        lines.append(text)
        lines.append("")

    missing = [name for name in ORDER if name not in texts]
    if missing:
        lines.append("Not run this time: " + ", ".join(
            TITLES[name] for name in missing) + " (see scripts/bench.sh's "
            "output).")
        lines.append("")
    lines.append(END)
    return "\n".join(lines), figs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/out/bench",
                        help="folder of the benchmarks' <name>.md outputs")
    parser.add_argument("--doc", default="docs/benchmarks.md")
    parser.add_argument("--plot", default="docs/benchmarks.svg")
    args = parser.parse_args()
    if not os.path.isdir(args.out):
        sys.exit(f"bench_report: no results folder {args.out}; "
                 "run `make bench` first")
    with open(args.doc, encoding="utf-8") as doc:
        current = doc.read()
    block, figs = section(args.out, os.path.dirname(args.doc) or ".",
                          args.plot)
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        updated = head + block + tail
    else:
        # First run: after the introduction, before the first section.
        cut = current.find("\n## ")
        if cut < 0:
            updated = current.rstrip("\n") + "\n\n" + block + "\n"
        else:
            updated = current[:cut + 1] + block + "\n" + current[cut:]
    with open(args.doc, "w", encoding="utf-8") as doc:
        doc.write(updated)
    unmet = [f for f in figs if not met(f)]
    print(f"bench_report: {args.doc} and {args.plot} written; "
          f"{len(figs)} figures with goals, {len(unmet)} not met")


if __name__ == "__main__":
    main()
