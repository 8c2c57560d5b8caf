#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Plots ns per round against the number of members from bench-group's own
output: one run pinned to one CPU and one not pinned, each with the group,
the process-shared pthread barrier and the epoll floor.

    BENCH_PROGRAM=group BENCH_LINK=shared bash bench/bench.sh --pin --runs=15 \\
        --sizes=2,4,8,16,32,64 > pinned.txt
    BENCH_PROGRAM=group BENCH_LINK=shared bash bench/bench.sh --runs=15 \\
        --sizes=2,4,8,16,32,64 > unpinned.txt
    python3 bench/plot-group.py pinned.txt unpinned.txt bench/group-rounds.svg

It reads the first table of each output (the medians of the times, not the
CPU times) and the machine and load lines above it. Needs matplotlib
(pip install matplotlib). The SVG it writes has no date in it, so that the
same outputs give the same file.
"""

import re
import sys

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402

# The methods, as the table's columns name them, and how each is drawn.
METHODS = [
    ("group", "barrier group (libbarrier)", "tab:blue", "o", "-"),
    ("pthread", "process-shared pthread_barrier_t", "tab:orange", "s", "-"),
    ("floor", "epoll floor (the group's syscalls, by hand)", "tab:gray", "^", ":"),
]


def parse(path):
    """The machine line, the benchmark's first line, and for each method a
    list of (members, ns per round) from the first table."""
    machine, first, rows, header = "", "", [], None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("machine:"):
                machine = line[len("machine:"):].strip()
            elif line.startswith("libbarrier group benchmark:"):
                first = line
            elif header is None and re.match(r"members\s+rounds\s+group ns", line):
                header = line.split()
            elif header is not None:
                if not line or line.startswith("("):
                    break
                rows.append(line.split())
    if header is None or not rows:
        sys.exit(f"{path}: no table of bench-group's in it")
    # "members rounds group ns pthread ns again ns floor ns ...": the value
    # of a method is in the column after "members" and "rounds" at its
    # position among the "<method> ns" pairs.
    names = [header[i] for i in range(2, len(header) - 1, 2) if header[i + 1] == "ns"]
    series = {m: [] for m, *_ in METHODS}
    for row in rows:
        n = int(row[0])
        for i, name in enumerate(names):
            value = row[2 + i]
            if name in series and value != "-":
                series[name].append((n, float(value)))
    return machine, first, series


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: plot-group.py PINNED-OUTPUT NOT-PINNED-OUTPUT OUT.svg")
    plt.rcParams["svg.hashsalt"] = "libbarrier"
    plt.rcParams["svg.fonttype"] = "none"
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), sharey=True)
    machine = ""
    for ax, path, title in zip(axes, sys.argv[1:3], ["pinned to one CPU", "not pinned"]):
        machine_here, first, series = parse(path)
        machine = machine or machine_here
        load = re.search(r"load ([0-9.]+)", first)
        runs = re.search(r"(\d+) runs", first)
        for key, label, color, marker, style in METHODS:
            points = series[key]
            if points:
                ax.plot(*zip(*points), label=label, color=color, marker=marker, linestyle=style)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        sizes = sorted({n for points in series.values() for n, _ in points})
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.set_xlabel("members")
        detail = []
        if runs:
            detail.append(f"median of {runs.group(1)} runs")
        if load:
            detail.append(f"load {load.group(1)} at the start")
        ax.set_title(f"{title} ({', '.join(detail)})" if detail else title, fontsize=10)
        ax.grid(True, which="both", linewidth=0.3)
    axes[0].set_ylabel("ns per round")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"One round of all members, by group size\n{machine}", fontsize=10)
    fig.tight_layout()
    fig.savefig(sys.argv[3], metadata={"Date": None})


if __name__ == "__main__":
    main()
