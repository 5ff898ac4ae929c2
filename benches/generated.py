#!/usr/bin/env python3
"""Benchmarks wsa-lint on generated inputs whose size doubles: cost must grow with the input.

Generated code is real code (a 25 MB bindings file, a chain of thousands of wrappers, a huge
`match` or else-if ladder). Each family below is written into a temporary directory at a few
sizes, each a single file with one planted finding; the release binary is run on it once per
size, and the script reports wall and CPU time, peak memory (from /usr/bin/time), whether the
planted finding was reported, and the ratios between consecutive sizes (about 2 when the size
doubles and the cost is linear; about 4 when it is quadratic).

Families:
  big       N MB of small functions beside a Winsock import and one `main` that leaks;
  chain     N functions, the deepest calls `WSAStartup`, `main` leaks through the chain;
  ladder    an else-if ladder of N arms after a `WSAStartup` in `main`, which leaks;
  match     a `match` of N arms after a `WSAStartup` in `main`, which leaks;
  branches  N sequential `if`s around Winsock calls in one function (paths: 2^N), which leaks.

Usage: python3 benches/generated.py [--family NAME ...] [--quick] [--timeout S] [--write]
  --quick   the two smallest sizes of each family;
  --write   replace the "Generated inputs" section of docs/benchmarks.md with the table.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WSA = ROOT / "target" / "release" / "wsa-lint"
HEADER = "use windows_sys::Win32::Networking::WinSock::*;\n\n"
# The finding every input plants: a `WSAStartup` that `main` never balances.
PLANTED = "missing_wsa_cleanup"


def leaking_main(body_after_startup=""):
    return (
        "fn main() {\n"
        "    let mut data: WSADATA = unsafe { std::mem::zeroed() };\n"
        "    if unsafe { WSAStartup(0x202, &mut data) } != 0 {\n"
        "        return;\n"
        "    }\n"
        f"{body_after_startup}"
        "}\n"
    )


def big(mb):
    """`mb` megabytes of small functions that never touch Winsock, and one leaking `main`."""
    out = [HEADER]
    size, i = 0, 0
    while size < mb * 1_000_000:
        f = (
            f"fn helper_{i}(x: u32, y: u32) -> u32 {{\n"
            f"    let z = x.wrapping_mul({i % 97 + 3}).wrapping_add(y);\n"
            f"    if z % 7 == 0 {{ helper_{max(i - 1, 0)}_inner(z) }} else {{ z ^ {i} }}\n"
            f"}}\n"
            f"fn helper_{i}_inner(v: u32) -> u32 {{ v.rotate_left(3) + {i % 13} }}\n"
        )
        out.append(f)
        size += len(f)
        i += 1
    out.append(leaking_main())
    return "".join(out)


def chain(n):
    """`main` -> `f{n-1}` -> ... -> `f0` -> `WSAStartup`; every link hands the reference up."""
    out = [
        HEADER,
        "fn f0() -> i32 {\n"
        "    let mut data: WSADATA = unsafe { std::mem::zeroed() };\n"
        "    unsafe { WSAStartup(0x202, &mut data) }\n"
        "}\n",
    ]
    for i in range(1, n):
        out.append(f"fn f{i}() -> i32 {{ f{i - 1}() }}\n")
    out.append(
        "fn main() {\n"
        f"    if f{n - 1}() != 0 {{\n"
        "        return;\n"
        "    }\n"
        "}\n"
    )
    return "".join(out)


def ladder(n):
    """An else-if ladder of `n` arms after the startup."""
    arms = ["    let k = std::env::args().count();\n    let r = if k == 0 { 0 }\n"]
    for i in range(1, n):
        arms.append(f"    else if k == {i} {{ {i * 3} }}\n")
    arms.append("    else { 1 };\n    println!(\"{r}\");\n")
    return HEADER + leaking_main("".join(arms))


def match_(n):
    """A `match` of `n` arms after the startup."""
    arms = ["    let k = std::env::args().count();\n    let r = match k {\n"]
    for i in range(n):
        arms.append(f"        {i} => {i * 3},\n")
    arms.append("        _ => 1,\n    };\n    println!(\"{r}\");\n")
    return HEADER + leaking_main("".join(arms))


def branches(n):
    """`n` sequential `if`s, each around a Winsock call: 2^n paths through one function."""
    body = [
        "    let s = unsafe { socket(AF_INET as i32, SOCK_STREAM, 0) };\n",
        "    let k = std::env::args().count();\n",
    ]
    for i in range(n):
        # Each branch opens a socket it never closes: the paths differ in which are open, so
        # they cannot be merged and the path bound is reached.
        body.append(
            f"    if k & {1 << (i % 30)} != {i % 2} {{\n"
            f"        unsafe {{ send(s, b\"x{i}\".as_ptr(), 2, 0) }};\n"
            f"        let _s{i} = unsafe {{ socket(AF_INET as i32, SOCK_STREAM, 0) }};\n"
            f"    }}\n"
        )
    return HEADER + leaking_main("".join(body))


# (family, generator, sizes, unit of the size)
FAMILIES = [
    ("big", big, [6, 12, 25, 50], "MB"),
    ("chain", chain, [2500, 5000, 10000, 20000], "functions"),
    ("ladder", ladder, [5000, 10000, 20000, 100000, 1500000], "arms"),
    ("match", match_, [5000, 10000, 20000, 100000, 1500000], "arms"),
    ("branches", branches, [15, 30, 60, 120], "ifs"),
]


def measure(path, timeout):
    """(wall s, CPU s, peak RSS MB, findings by lint, notes, timed out) of one run, measured by
    /usr/bin/time (the machine may be shared: CPU time is steadier than wall time)."""
    out = tempfile.NamedTemporaryFile(delete=False)
    out.close()
    start = time.perf_counter()
    try:
        p = subprocess.run(
            ["/usr/bin/time", "-o", out.name, "-f", "%M %U %S", str(WSA), "--message-format", "json",
             "-j", "1", str(path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        os.unlink(out.name)
        return timeout, None, None, {}, 0, True
    wall = time.perf_counter() - start
    try:
        kb, user, sys_ = Path(out.name).read_text().strip().splitlines()[-1].split()
        rss, cpu = int(kb) / 1024, float(user) + float(sys_)
    except (ValueError, IndexError):
        rss, cpu = None, None
    os.unlink(out.name)
    lints, notes = {}, 0
    for line in p.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        m = msg.get("message")
        if not isinstance(m, dict):
            continue
        code = (m.get("code") or {}).get("code")
        if code:
            name = code.split("::")[-1]
            lints[name] = lints.get(name, 0) + 1
        elif m.get("level") == "note":
            notes += 1
    return wall, cpu, rss, lints, notes, False


def fmt_ratio(a, b):
    if a is None or b is None or b <= 0:
        return "-"
    return f"{a / b:.2f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--family", action="append")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    if not WSA.exists():
        subprocess.run(["cargo", "build", "--release", "-q", "--bin", "wsa-lint"], cwd=ROOT, check=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, gen, sizes, unit in FAMILIES:
            if args.family and name not in args.family:
                continue
            if args.quick:
                sizes = sizes[:2]
            prev = None
            for n in sizes:
                text = gen(n)
                path = Path(tmp) / f"{name}_{n}.rs"
                path.write_text(text)
                wall, cpu, rss, lints, notes, timed_out = measure(path, args.timeout)
                row = {
                    "family": name, "n": n, "unit": unit, "bytes": len(text), "wall": wall,
                    "cpu": cpu, "rss": rss, "found": lints.get(PLANTED, 0) >= 1,
                    "others": {k: v for k, v in lints.items() if k != PLANTED}, "notes": notes,
                    "timed_out": timed_out,
                    "t_ratio": fmt_ratio(cpu, prev["cpu"]) if prev and not timed_out else "-",
                    "m_ratio": fmt_ratio(rss, prev["rss"]) if prev else "-",
                }
                rows.append(row)
                print(
                    f"{name:8} {n:>7} {unit:9} {len(text) / 1e6:7.2f} MB  {shown_wall(row, args.timeout):>16} "
                    f"{shown_cpu(row):>9} {shown_rss(row):>8}  x{row['t_ratio']:>5} x{row['m_ratio']:>5}  "
                    f"planted={'yes' if row['found'] else 'NO'} notes={notes} other={row['others']}",
                    flush=True,
                )
                prev = row
                os.unlink(path)
    if args.write:
        write_doc(rows, args.timeout)


def shown_wall(r, timeout):
    return f"> {timeout:.0f} s (killed)" if r["timed_out"] else f"{r['wall']:.2f} s"


def shown_cpu(r):
    return f"{r['cpu']:.2f} s" if r["cpu"] is not None else "-"


def shown_rss(r):
    return f"{r['rss']:.0f} MB" if r["rss"] else "-"


def write_doc(rows, timeout):
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    lines = [
        "## Generated inputs",
        "",
        "Generated by `python3 benches/generated.py --write` (one run per size, release build,",
        f"`-j 1`, killed after {timeout:.0f} s). Machine: {os.cpu_count()} CPUs ({cpu}), Linux "
        f"{platform.release()}.",
        "Each input is one file with one planted `missing_wsa_cleanup` finding. CPU is user plus",
        "system time (steadier than wall time on a shared machine); \"x CPU\" and \"x memory\" are",
        "ratios to the size before (about 2 when the size doubles and the cost grows linearly; the",
        "100,000-arm ladder and match are 5 times the size before, so about 5).",
        "Notes are the \"analysis of .. stopped\" notes of budgets that were hit. The 1,500,000-arm",
        "ladder and match put `main` over the 4 MB a single item may be to be parsed",
        "(`parse::MAX_ITEM_BYTES`: a syntax tree takes about 140 bytes per byte of source): it is",
        "not analysed, and the note says so.",
        "",
        "| input | size | bytes | wall | CPU | peak memory | x CPU | x memory | planted finding | notes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["found"]:
            found = "reported"
        elif r["notes"]:
            # The function holding it was too large to analyse, and the run said so.
            found = "not analysed (said in a note)"
        else:
            found = "**missing**"
        if r["others"]:
            found += " (+ " + ", ".join(f"{v} {k}" for k, v in sorted(r["others"].items())) + ")"
        lines.append(
            f"| {r['family']} | {r['n']:,} {r['unit']} | {r['bytes'] / 1e6:.1f} MB "
            f"| {shown_wall(r, timeout)} | {shown_cpu(r)} | {shown_rss(r)} "
            f"| {r['t_ratio']} | {r['m_ratio']} | {found} | {r['notes']} |"
        )
    section = "\n".join(lines) + "\n"
    doc_path = ROOT / "docs" / "benchmarks.md"
    doc = doc_path.read_text()
    start = doc.find("## Generated inputs")
    if start < 0:
        doc = doc.rstrip("\n") + "\n\n" + section
    else:
        end = doc.find("\n## ", start + 1)
        tail = doc[end + 1:] if end >= 0 else ""
        doc = doc[:start] + section + ("\n" + tail if tail else "")
    doc_path.write_text(doc)


if __name__ == "__main__":
    sys.exit(main())
