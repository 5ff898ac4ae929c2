#!/usr/bin/env python3
"""Benchmarks wsa-lint against its floors on real third-party code.

Fetches the pinned corpus of benches/corpus/Cargo.toml with `cargo vendor` (sources only;
nothing is built), then measures, in one run and on the same machine:

  - wsa-lint end to end (wall time, peak memory) with 1 and 2 threads;
  - the rg floor: ripgrep searching the same .rs files for the Winsock names
    (the cost of reading every byte once);
  - the parse floor: reading and syn::parse_file-ing every .rs file (examples/parse_floor.rs);
  - a single-file check inside a crate.

It then does the same (without the parse floor, unless asked) on the Winsock-heavy corpus: the
74 published crates that call Winsock of `../shared/corpora/winsock-heavy` (relative to the
repository; for a git worktree, also relative to the main checkout), vendored by its `fetch.sh`
into target/winsock-heavy. When that folder is absent (or cannot be vendored), that part is
skipped with a message. Its packages are also timed one by one (one run each, 1 thread) to name
the slowest.

wsa-lint and rg are run in turn, pair by pair (A B A B ...), and "vs rg" is the median of the
ratios of the pairs: a loaded machine slows both alike.

Results go to docs/benchmarks.md (ratios against the floors) and docs/benchmarks.svg.
Usage: python3 benches/bench.py [--runs N] [--winsock-heavy DIR] [--heavy-parse-floor]
       [--no-per-package]
(DIR defaults to $WSA_LINT_WINSOCK_HEAVY, then ../shared/corpora/winsock-heavy.)
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "target" / "bench-corpus"
WSA = ROOT / "target" / "release" / "wsa-lint"
FLOOR = ROOT / "target" / "release" / "examples" / "parse_floor"
PATTERN = r"WSAStartup|WSACleanup|closesocket|shutdown|DllMain|WSAGetLastError"
HEAVY_VENDOR_DIR = ROOT / "target" / "winsock-heavy"
# Issue 13's targets, 2 threads: wall time against the rg floor, and peak memory.
TARGET_PINNED, TARGET_HEAVY, TARGET_MB = 2.5, 3.0, 150
# The first heading of docs/benchmarks.md that another script writes; it and what follows are kept.
KEPT_FROM = "\n## Generated inputs\n"


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def ensure_tools():
    if shutil.which("rg") is None:
        run(["apt-get", "install", "-y", "-qq", "ripgrep"], stdout=subprocess.DEVNULL)
    run(["cargo", "build", "--release", "-q", "--bin", "wsa-lint", "--example", "parse_floor"], cwd=ROOT)
    if not CORPUS.is_dir():
        run(
            ["cargo", "vendor", "-q", "--versioned-dirs", "--manifest-path",
             str(ROOT / "benches" / "corpus" / "Cargo.toml"), str(CORPUS)],
            stdout=subprocess.DEVNULL,
        )


def heavy_manifest_dir(arg):
    """Where the winsock-heavy corpus's manifest folder is, or None (with the places tried)."""
    if arg:
        tried = [Path(arg)]
    elif os.environ.get("WSA_LINT_WINSOCK_HEAVY"):
        tried = [Path(os.environ["WSA_LINT_WINSOCK_HEAVY"])]
    else:
        rel = Path("..") / "shared" / "corpora" / "winsock-heavy"
        tried = [ROOT / rel]
        # In a git worktree, `..` of the main checkout too.
        common = subprocess.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
                                cwd=ROOT, capture_output=True, text=True)
        if common.returncode == 0 and common.stdout.strip():
            main = Path(common.stdout.strip()).parent
            if main.resolve() != ROOT.resolve():
                tried.append(main / rel)
    for d in tried:
        if (d / "fetch.sh").is_file() and (d / "Cargo.toml").is_file():
            return d.resolve(), tried
    return None, tried


def heavy_corpus(arg):
    """The vendored winsock-heavy corpus (a folder of packages), or None with a message why not."""
    src, tried = heavy_manifest_dir(arg)
    if src is None:
        print("winsock-heavy corpus not found (tried " + ", ".join(map(str, tried)) +
              "; give --winsock-heavy DIR or WSA_LINT_WINSOCK_HEAVY): skipping that part",
              file=sys.stderr)
        return None, None
    p = subprocess.run(["bash", str(src / "fetch.sh"), str(HEAVY_VENDOR_DIR)],
                       capture_output=True, text=True)
    vendor = Path(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 and p.stdout.strip() else None
    if vendor is None or not vendor.is_dir():
        print(f"winsock-heavy corpus could not be vendored from {src} (exit {p.returncode}):\n"
              f"{p.stderr.strip()}\nskipping that part", file=sys.stderr)
        return None, None
    return vendor, src


def size_of(path: Path):
    files = bytes_ = lines = 0
    for p in path.rglob("*.rs"):
        if p.is_file():
            data = p.read_bytes()
            files += 1
            bytes_ += len(data)
            lines += data.count(b"\n")
    return files, bytes_, lines


def measure(cmd, runs, warm_up=True):
    """Median wall seconds, max peak RSS (MB) and median CPU seconds (user + system) over `runs`
    runs (after one warm-up run)."""
    walls, rss, cpus = [], [], []
    for i in range(runs + (1 if warm_up else 0)):
        start = time.perf_counter()
        p = subprocess.run(
            ["/usr/bin/time", "-f", "%M %U %S"] + cmd,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        wall = time.perf_counter() - start
        if p.returncode not in (0, 1):
            sys.exit(f"failed ({p.returncode}): {' '.join(map(str, cmd))}\n{p.stderr}")
        kb, user, system = p.stderr.strip().splitlines()[-1].split()
        if i > 0 or not warm_up:
            walls.append(wall)
            rss.append(int(kb) / 1024)
            cpus.append(float(user) + float(system))
    return statistics.median(walls), max(rss), statistics.median(cpus)


def measure_pair(a, b, runs):
    """`a` and `b` in turn (one warm-up each, then A B A B ...): each one's `measure`, and the
    pairs' wall-time ratios a/b: their median, minimum and maximum, and the median CPU ratio."""
    measure(a, 1, warm_up=False)
    measure(b, 1, warm_up=False)
    ra, rb = [], []
    for _ in range(runs):
        ra.append(measure(a, 1, warm_up=False))
        rb.append(measure(b, 1, warm_up=False))
    ratios = [x[0] / y[0] for x, y in zip(ra, rb)]
    # /usr/bin/time counts CPU time in 10 ms steps: no ratio for commands that take less.
    cpu_ratio = (statistics.median(x[2] / y[2] for x, y in zip(ra, rb))
                 if min(y[2] for y in rb) >= 0.05 else None)
    med = lambda rs: (statistics.median(r[0] for r in rs), max(r[1] for r in rs),
                      statistics.median(r[2] for r in rs))
    return med(ra), med(rb), (statistics.median(ratios), min(ratios), max(ratios), cpu_ratio)


def per_package(vendor: Path, top=8):
    """Each package folder of `vendor` linted on its own (one run, 1 thread): the slowest by CPU time
    (user + system, steadier than wall time on a loaded machine) as (cpu s, wall s, MB, name), and
    the total CPU time."""
    out = []
    for d in sorted(x for x in vendor.iterdir() if x.is_dir()):
        p = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", str(WSA), "-j", "1",
                            "--message-format", "short", str(d)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall, user, sys_, kb = p.stderr.strip().splitlines()[-1].split()
        out.append((float(user) + float(sys_), float(wall), int(kb) / 1024, d.name))
    out.sort(reverse=True)
    return out[:top], sum(x[0] for x in out)


def svg(rows):
    """A horizontal bar chart of wall times (log scale), one group per (set, threads)."""
    import math
    colors = {"rg floor": "#9e9e9e", "wsa-lint": "#1565c0", "parse floor": "#ef6c00"}
    bar_h, gap, left, width = 16, 10, 230, 520
    tmax = max(r[k] for r in rows for k in colors if r.get(k))
    tmin = min(r[k] for r in rows for k in colors if r.get(k))
    lo, hi = math.log10(tmin) - 0.2, math.log10(tmax) + 0.2

    def x(t):
        return left + (math.log10(t) - lo) / (hi - lo) * width

    out, y = [], 30
    for r in rows:
        out.append(f'<text x="10" y="{y + 28}" font-size="13">{r["label"]}</text>')
        for k, c in colors.items():
            if not r.get(k):
                out.append(f'<text x="{left + 4}" y="{y + 12}" font-size="11">{k}: not measured</text>')
                y += bar_h + 2
                continue
            out.append(f'<rect x="{left}" y="{y}" width="{x(r[k]) - left:.1f}" height="{bar_h}" fill="{c}"/>')
            out.append(f'<text x="{x(r[k]) + 4:.1f}" y="{y + 12}" font-size="11">{r[k]:.2f} s</text>')
            y += bar_h + 2
        y += gap
    legend = "".join(
        f'<rect x="{left + i * 150}" y="5" width="12" height="12" fill="{c}"/>'
        f'<text x="{left + i * 150 + 16}" y="15" font-size="12">{k}</text>'
        for i, (k, c) in enumerate(colors.items())
    )
    h = y + 10
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 90}" height="{h}" '
        f'font-family="sans-serif">{legend}{"".join(out)}'
        f'<text x="{left}" y="{h - 2}" font-size="10">wall time, log scale</text></svg>\n'
    )


def main():
    ap = argparse.ArgumentParser(description="Benchmarks wsa-lint against its floors.")
    ap.add_argument("--runs", type=int, default=3, help="counted runs of each command (default 3)")
    ap.add_argument("--winsock-heavy", metavar="DIR",
                    help="the winsock-heavy corpus's folder (with fetch.sh); default "
                         "$WSA_LINT_WINSOCK_HEAVY, then ../shared/corpora/winsock-heavy")
    ap.add_argument("--heavy-parse-floor", action="store_true",
                    help="also run the parse floor on the winsock-heavy corpus (minutes)")
    ap.add_argument("--no-per-package", action="store_true",
                    help="do not time the winsock-heavy packages one by one")
    args = ap.parse_args()
    runs = args.runs
    ensure_tools()
    heavy, heavy_src = heavy_corpus(args.winsock_heavy)
    tokio = next(CORPUS.glob("tokio-1.*"))
    single = next(CORPUS.glob("rustix-0.38.*")) / "src" / "net" / "wsa.rs"
    # (key, name in the table, path, parse floor measured)
    sets = [("pinned", "whole corpus", CORPUS, True), ("small", f"small: {tokio.name}", tokio, True)]
    if heavy is not None:
        sets.append(("heavy", "winsock-heavy", heavy, args.heavy_parse_floor))
    rows, table, ratio, mem = [], [], {}, {}
    for key, name, path, with_floor in sets:
        files, bytes_, lines = size_of(path)
        for t in (1, 2):
            wsa, rg, r = measure_pair(
                [str(WSA), "-j", str(t), "--message-format", "short", str(path)],
                ["rg", "-j", str(t), "-c", "--type", "rust", PATTERN, str(path)], runs)
            ratio[key, t], mem[key, t] = r[0], wsa[1]
            # The parse floor is slow and steady: one run is enough.
            floor = measure([str(FLOOR), str(path), str(t)], 1, warm_up=False) if with_floor else None
            mb = bytes_ / 1e6
            rows.append({"label": f"{name}, {t} thread{'s' if t > 1 else ''}",
                         "rg floor": rg[0], "wsa-lint": wsa[0],
                         "parse floor": floor[0] if floor else None})
            cpu_vs = f"{r[3]:.1f}x" if r[3] else "-"
            vs_floor = (f"{floor[0]:.2f} s | **{wsa[0] / floor[0]:.3f}x**" if floor
                        else "not measured | -")
            table.append(
                f"| {name} | {t} | {files} files, {lines / 1e6:.2f} M lines, {mb:.0f} MB "
                f"| {wsa[0]:.3f} s | {files / wsa[0]:,.0f} | {mb / wsa[0]:.0f} | {wsa[1]:.0f} MB "
                f"| {rg[0]:.3f} s | **{r[0]:.2f}x** ({r[1]:.2f}-{r[2]:.2f}) | {cpu_vs} | {vs_floor} |"
            )
    slowest, package_cpu = per_package(heavy) if heavy is not None and not args.no_per_package else (None, 0)
    one = measure([str(WSA), "--message-format", "short", str(single)], runs)
    # Warm-server re-check: the latency test of tests/lsp/test_lsp.py against the release binary.
    lsp = subprocess.run(
        ["python3", "-m", "pytest", "-s", "-q", "-p", "no:cacheprovider", "-c", "tests/lsp/pytest.ini",
         "tests/lsp/test_lsp.py", "-k", "latency"],
        cwd=ROOT, env={**os.environ, "WSA_LINT_BIN": str(WSA)}, capture_output=True, text=True,
    )
    latency = next((l.split("latency: ", 1)[1] for l in lsp.stdout.splitlines() if "latency: " in l),
                   "not measured (pytest-lsp missing?)")
    cpu = "unknown CPU"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    rg_version = subprocess.run(["rg", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    load = os.getloadavg()
    loaded = (f"The machine was loaded during this run (load average {load[0]:.1f} at its end on "
              f"{os.cpu_count()} CPUs): absolute times are inflated and noisy, the ratios against rg, "
              "taken pair by pair in the same run, are what to compare."
              if load[0] > 0.75 * (os.cpu_count() or 1) else "")
    whole = [ratio["pinned", t] for t in (1, 2)]
    small = [ratio["small", t] for t in (1, 2)]

    def target(key, name, limit):
        r, m = ratio[key, 2], mem[key, 2]
        ok = r <= limit and m < TARGET_MB
        return (f"- {name}, 2 threads: **{r:.2f}x** the rg floor (target {limit}x) and {m:.0f} MB peak "
                f"(target under {TARGET_MB} MB): **{'met' if ok else 'not met'}**"
                f" (1 thread: {ratio[key, 1]:.2f}x, {mem[key, 1]:.0f} MB).")
    targets = [target("pinned", "Pinned corpus", TARGET_PINNED)]
    if heavy is not None:
        targets.append(target("heavy", "Winsock-heavy corpus", TARGET_HEAVY))
    else:
        targets.append("- Winsock-heavy corpus: not measured in this run (the corpus was not found).")
    if heavy is not None:
        heavy_text = f"""The **winsock-heavy** set is the corpus of `../shared/corpora/winsock-heavy` ({heavy_src.name}'s
`Cargo.toml` and `Cargo.lock`: 74 published crates whose Windows code calls Winsock), vendored with
every dependency by its `fetch.sh` into `{HEAVY_VENDOR_DIR.relative_to(ROOT)}`. It finds real findings,
so its exit status is 1.{"" if args.heavy_parse_floor else " Its parse floor is not measured by default (minutes; `--heavy-parse-floor`)."}"""
    else:
        heavy_text = ("The winsock-heavy set was skipped in this run: `../shared/corpora/winsock-heavy` "
                      "was not found.")
    if slowest:
        package_rows = "\n".join(f"| {n} | {c:.2f} s | {w:.2f} s | {m:.0f} MB |" for c, w, m, n in slowest)
        package_text = f"""Winsock-heavy packages linted one by one (`wsa-lint -j 1 vendor/PACKAGE`, one run each, CPU
time = user + system; all {sum(1 for x in heavy.iterdir() if x.is_dir())} packages: {package_cpu:.1f} s of CPU), the slowest:

| package | CPU | wall | peak memory |
|---|---|---|---|
{package_rows}
"""
    else:
        package_text = ""
    doc = f"""# Benchmarks

Generated by `python3 benches/bench.py` (median of {runs} runs after a warm-up, page cache warm;
wsa-lint and rg run in turn, pair by pair: "vs rg" is the median of the pairs' wall-time ratios,
with their range, and "CPU vs rg" the median ratio of CPU time, user + system; the parse floor is
run once). Wall times include process start-up.
Machine: {os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}; {rg_version}.
{loaded}

The pinned corpus ("whole corpus") is the crates of `benches/corpus/Cargo.toml`, fetched with
`cargo vendor` (with their dependencies, including the generated `windows`, `windows-sys` and
`winapi` bindings). wsa-lint must report nothing in it but the one real finding in rustix's
`wsa_startup`.

{heavy_text}

Floors, measured in the same run:
- **rg floor**: `rg -c --type rust '{PATTERN}'` over the same tree: the cost of reading every byte once.
- **parse floor**: `examples/parse_floor.rs`, reading and `syn::parse_file`-ing every `.rs` file.

| set | threads | size | wsa-lint | files/s | MB/s | peak memory | rg floor | vs rg (range) | CPU vs rg | parse floor | vs parse |
|---|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(table)}

Targets of issue 13 (2 threads):
{chr(10).join(targets)}

{package_text}
Single-file check (`wsa-lint {single.relative_to(CORPUS)}`, a new process that reads its crate
for context): {one[0] * 1000:.0f} ms, {one[1]:.0f} MB.

Editor re-check on a warm `wsa-lint lsp` (save of `main.rs` in a generated crate of 41 files and
about 10,000 lines, from `didSave` to `publishDiagnostics`, measured by pytest-lsp): {latency}.

![wall times](benchmarks.svg)

## What changed the numbers

Profiled with `perf record` on the whole corpus:

1. Parsing every file (75 s, 2.6 GB): the first version parsed and kept everything.
2. A byte-level prefilter (`src/scan.rs`): only files with a call-shaped Winsock name,
   `DllMain`, or a renamed Winsock import are parsed; the rest are lexed for `mod`
   declarations only, and callers of crate functions that reach Winsock are pulled in by
   name afterwards. Texts of unparsed files are not kept. About 3.5 s and 80 MB.
3. The `mod` lexer kept a sliding token window with `Vec::remove(0)` (18% in memmove): small
   state machines instead; files that cannot declare a module skip the lexer. The per-file
   `Cargo.toml` lookup re-parsed manifests for every directory: cached with its ancestors.
4. The needle search walked back from every `(`: an Aho-Corasick (Teddy) search for the
   names instead. About 1.1 s.

5. Generic names (`connect(`, `send(`, `bind(`...) counted only in files that also name a
   Winsock binding (`WinSock`, `winsock2`, `ws2_32`, `SOCKET`...): tokio's `TcpStream::connect(..)`
   no longer forces a parse (tokio: 0.12 s to 0.07 s). Plain `mod name;` lines are read
   without the lexer. About 0.8 s.

6. Files that name no Winsock binding are searched with a smaller automaton of the
   distinctive names only; paths below a canonical root are no longer canonicalised one by
   one; orphan detection hashes the crate roots instead of comparing paths pairwise. About
   0.7 s.

7. Each file is read, scanned or parsed once per run (`load::VisitCache`). Every crate used to
   load its whole module tree from disk: a bin or test re-read its library, each demand round
   reloaded the crate, and the orphan files of a tree that is not followed (windows-0.58's
   `lib.rs` `include!`s its modules, so each of its `mod.rs` files is a root that loads its
   own subtree) were read once per ancestor: 684 MB read for 241 MB of source, now 253 MB.
   About 1.16 s to 0.62 s with 1 thread, 0.70 s to 0.43 s with 2. The cache keeps each
   file's module items and the parsed files' IR for the whole run: peak memory 42 MB to
   about 50 MB with 1 thread, 65 MB to about 75 MB with 2.
8. Discovery found a file's targets by testing every target of its package (quadratic in
   tokio's hundreds of test targets); targets are now indexed by their root's directory and
   looked up from the file's ancestors (72 ms to 21 ms).
9. The prefilter made a `memmem` pass per marker and another for allow comments: now the
   distinctive names are searched first, then one automaton finds the markers and the allow
   tag, and the generic names are searched only next to a marker (a unit test compares the
   answers with the single-searcher prefilter on 50,000 generated texts). Files are read into
   a per-thread buffer; a file's module children are resolved once, in the parallel part of
   the walk. About 0.55 s with 1 thread and 0.37 s with 2.
10. Every requested file is read and scanned (or parsed) in one parallel pass before the
    crates run: crates are few and uneven (one orphan root holds windows-0.58's 387 KB
    WinSock bindings), and a large one kept a thread busy while the other waited at the end
    of a phase. Function IR is shared (`Arc`) between the crates that reach a parsed file
    instead of cloned for each. About 0.54 s with 1 thread and 0.33 s with 2; peak memory
    with 2 threads fell from about 76 MB to about 55 MB.
11. With 2 or more threads, discovery runs on the worker pool and each file the walk finds is
    read and scanned by another worker while the walk and the package lookups go on (they
    took about 45 ms before any file was read). About 0.31 s with 2 threads.
12. `SOCKET` is a Winsock marker only as the whole identifiers `SOCKET`, `INVALID_SOCKET` and
    `SOCKET_ERROR`: `SOL_SOCKET` (in libc's Unix bindings and Unix socket code) and
    `_SC_RAW_SOCKETS` made libc's 246 KB `unix/bsd/apple/mod.rs`, socket2's `sys/unix.rs`,
    rustix's `sockopt` backends and tokio's `ucred.rs` count their generic names
    (`getnameinfo(`...). No file of the corpus or the fixtures that names a Winsock binding lost
    its marker (checked file by file against the old prefilter). Parsed: 45 files and 1.44 MB
    to 39 files and 0.98 MB. About 0.55 s to 0.47 s with 1 thread, 0.32 s to 0.29 s with 2.
13. The binding crates' own Winsock modules are scanned for `mod` declarations but not parsed:
    a file whose module path, from its package's library name (read from the nearest
    `Cargo.toml`) and the conventional `src/` layout, is one that `is_winsock_module` resolves
    calls into (windows and windows-sys `Win32::Networking::WinSock`, winapi's
    `um::winsock2`, `ws2tcpip`, `mswsock`, `ws2spi`, `ws2_32`). They define Winsock rather than
    use it, and calls into them are resolved by path. Asked only of files that would be
    parsed. Parsed: 36 files and 0.54 MB (windows-0.58's 387 KB bindings, which each of its
    orphan roots above them also analysed, and winapi's `winsock2.rs` and `ws2tcpip.rs`).
    About 0.47 s to 0.37 s with 1 thread and 0.29 s to 0.22 s with 2; peak memory about 49 MB
    to 26 MB with 1 thread and 55 MB to 28 MB with 2.

14. The `mod` scan's line path also takes a file whose last `mod` word opens an inline module
    (the usual `#[cfg(test)] mod tests {{ .. }}` at the end, which declares nothing inside): those
    files (7.7 MB of the corpus) went through the lexer. On every corpus file the line path
    takes, its items equal the lexer's. About 0.38 s to 0.36 s with 1 thread.

15. Fewer system calls per file: a file is opened non-blocking (a FIFO still cannot block) and
    asked for its type through the open descriptor instead of a path `stat`, then read with
    one `read` plus the one that sees the end (the generic `read_to_end` also asked for the
    size and position); a package's targets are checked with one `lstat` each instead of a
    `realpath` each (which `readlink`s every component). About 0.36 s to 0.35 s with 1 thread;
    rg's floor moves as much between runs, so the ratio stays about 3.1x.

16. Hits on comment lines are not code. A line that starts with `//` is a comment, or the
    inside of a string literal or block comment; either way it holds no call. Doc comments had
    made files parse for nothing: tokio's `WSAEMSGSIZE(10040)` in `UdpSocket`'s docs, socket2's
    `` `SOCKET` `` and `socket(2)`, rustix's links to `winsock2` pages. The same rule applies to
    the names that pull in callers on demand: mio's doc examples call `TcpListener::bind(addr)`,
    and `bind` reaches Winsock in mio, so each of them pulled its file in. Parsed: 36 files
    (0.54 MB) to 25 files (0.19 MB); in tokio alone, none. About 0.35 s to 0.31 s with 1 thread.
17. Discovery keeps the requested files in a `Vec` that it sorts once by bytes. A
    `BTreeSet<PathBuf>` compared paths component by component on every insert, and walkdir sorted
    every directory for an order the set imposed anyway. The package and the targets that can
    reach a file are worked out once per directory instead of once per file, and a manifest
    is parsed once instead of twice. `compare_components` fell from 2.5% to 1% of the profile;
    the manifests saved about 8 ms of CPU time.
18. Paths used as map keys (the visit cache, the source database, discovery's tables) are hashed
    as bytes with FxHash (`rustc-hash`). `Path`'s `Hash` walks components, and SipHash resists
    chosen keys, which a directory walk's paths are not. Display paths are stripped of the
    working directory as bytes. The command line leaves the run's memory to the end of the
    process instead of freeing every file's entry (2% of the profile). Items 17 and 18: about
    0.30 s to 0.28 s with 1 thread.
19. One vectorised pass finds the distinctive names, the markers and the allow tag; the `WSA`
    prefix gets its own `memmem` pass. Before, there were two Teddy passes, and the first used
    3-byte fingerprints because of `WSA`. With the corpus in cache the searches took 31 + 25 ms
    before and 28 + 9 ms after. In the profile they fell from about 20% to 13%. (The 22-pattern
    automaton of "tried and dropped" below was slow because it included `WSA`.)
20. The `mod` scan's line path now skips block comments itself. Before, any `/*` sent the file to
    the lexer: regex's `/*!` module docs and libc's and syn's commented-out items. Comment
    openers are judged like `mod` words and nest as rustc nests them; an unclosed one still goes
    to the lexer. The line path now takes 941 of the 1,097 corpus files that declare modules
    (816 before), and an ignored test (`WSA_LINT_MOD_TREE=target/bench-corpus cargo test --lib
    -- --ignored`) checks that it agrees with the lexer on every one. The scan over those files
    took 24.6 ms before and 14.4 ms after.
21. The per-thread read buffer only grows: it is no longer zero-filled to each file's size before
    the kernel overwrites it (241 MB of `memset` per run, 1.7% of the profile).

22. The Winsock-heavy corpus (issue 13), profiled before any change for it: `perf record -g
    --call-graph dwarf`, release build, 1 thread, the whole vendored folder, on a loaded machine
    (2,257 samples). Inclusive: the analysis (`facts::analyze`) 44%, of which the interpreter
    (`Interp::run`) 31% (`Interp::normalize` 11%) and `CallGraph::build` 10%; reading
    (`load::read_bytes`, mostly the kernel's copy) 14%; parsing 12% (syn 7.4%, lowering 3.4%);
    discovery 8%; the prefilter and `mod` scan 6%; loading and name resolution 8%. Self time:
    allocation (`malloc`, `free` and their helpers) 21% and `memmove` 5%, whose largest callers are
    `State::clone` and `Interp::normalize` (7% of all samples). wsa-lint used 5.2 s of CPU where
    rg used 0.7 s.

    The two slow packages are **monoio** and **may** (1.35 s and 1.1 s of CPU each, 2.5 s and
    2.2 s wall on the loaded machine; no other package takes 0.2 s of CPU). Together they are
    4.4 s of the 5.5 s the whole run spends in `facts::analyze`, for two reasons:
    - Every target re-analyzes its library. may declares 17 examples and 3 tests, monoio 20
      tests; their library reaches Winsock, so each target loads the whole library as context
      (`driver::run_with` keeps `c.lib`) and runs `facts::analyze` over its functions again, only
      to drop the findings in context: 63 analyses of up to 744 functions in may, 43 of up to
      1,304 in monoio, for one library each.
    - Demand rounds match bare function names. The names that reach Winsock include `get` (may's
      `WsaExtension::get` in `io/sys/windows/miow.rs` calls `WSAIoctl`), `cvt` and `last_err`,
      so `scan::Names::found_in` matches most files: round 1 parses 45 of may's 80 files
      (583 functions, from 53) and 100 of monoio's 141. Each round then re-runs `load_crate`
      and `facts::analyze` over the whole crate (`driver::load_and_analyze`), three rounds for may.

    Measured with a scratch build (not kept): giving targets no library context brings the whole
    corpus from 5.2 s to 2.3 s of CPU with the same findings; also skipping the demand rounds
    brings it to 1.5 s (but loses a note, so the rounds are needed). Suggested, in order of gain:
    1. `src/driver.rs` (`run_with`, `load_and_analyze`) with `src/facts`: analyze each library
       once and hand its targets the library's facts (summaries of its functions,
       `interesting_names`) instead of its files as context; at the least, drop the library for a
       target whose own files mention none of its interesting names. About -55% CPU on this
       corpus; may and monoio to about 0.15 s and 0.25 s.
    2. `src/facts/mod.rs` (`interesting_names`) and `load_and_analyze`: demand by qualified name:
       a method `get` of `impl WsaExtension` pulls in a file only if it also names
       `WsaExtension` (a free function: its module or a `use` of it). Fewer files parsed (parsing
       is 12%) and fewer functions analyzed in every round.
    3. `load_and_analyze`: keep the previous round's facts and analyze only the new files'
       functions and their callers, instead of the whole crate each round.
    4. `src/facts/interp.rs` (`Interp::normalize`): it deduplicates by inserting a full clone of
       every state into a `BTreeSet`; hash the states (FxHash) and compare against the kept ones
       by reference, or sort and deduplicate in place. `State::vars` is a `BTreeMap<String, _>`
       whose clones allocate every name: interned names or shared (persistent) maps, as issue 13
       asks for path states.

23. Suggestions 1 (its "at the least" part) and 2 of item 22. A bin, test or example target first
    loads and analyzes its own module tree without its library; it reads the library as context
    only when that can change its findings: a function of its own reaches Winsock, one of its
    files (parsed or only scanned) names one of the library's interesting names, kept from the
    library's own run, or an alias a `use .. as` of the library gives one, or the library has
    guard types (`driver::load_and_analyze_target` says why that suffices). Otherwise none of
    its calls resolves to a library function that reaches Winsock, and every finding in the
    library's files was dropped as context anyway. And an associated function without `self`
    (`Foo::new`, `TcpStream::connect`) is an interesting name only beside its type or an alias of
    the type (`scan::Names::qualified`): `resolve` reaches it only through a path naming the type.
    Methods stay bare names, since a method call is resolved by the method's name alone.
    monoio's interesting names included `new`, `bind` and `connect`, which nearly every test
    names. Measured before this run, 1 thread, on a machine with a load average of 2 to 4: may
    0.52 s to 0.11 s of CPU, monoio 0.67 s to 0.23 s, the whole vendored folder 2.8 s to 2.1 s of
    CPU (peak memory 106 MB to 98 MB). The JSON output is byte-identical to the binary before the
    change on the Winsock-heavy corpus, the pinned corpus and every fixture folder.

24. The Winsock-heavy corpus profiled again after item 23 (`perf record --call-graph dwarf`, 1
    thread, the whole vendored folder; inclusive shares by phase): reading 21% (the kernel's copy),
    parsing 23% (syn 12%, proc-macro2's lexer 7%, lowering 3%), discovery 11% (the walk 3%, the
    614 manifests 2.4%), the prefilter 8% and the `mod` scan 5%, loading and name resolution per
    crate 12%, the analysis 9% (the call graph 4.5%, the interpreter 2.7%), the demand rounds'
    name search and re-reads 6%. 171 of the 265 parsed files (1.5 of 2.7 MB) are parsed because a
    demand round named them. The `windows*` binding crates are not analysed at all (no file of
    theirs is parsed): they cost reading (40% of their profile), the prefilter's searches (25%),
    discovery (10%) and the `mod` scan (6%) over 114-172 MB each, about what rg spends on them;
    their 666 `impl.rs` files each (reached by `include!`, not `mod`) are orphans analysed on
    their own in a few microseconds. Two changes:
    - A *bare* target (one file, no `mod` item, nothing parsed: a typical `tests/x.rs`) that
      names one of its library's interesting names was loaded and analyzed with the whole library
      as context, in up to three demand rounds, only for its own file to stay unparsed:
      monoio's 33 tests each re-ran the analysis of 534 library functions. Until a demand round
      names the bare root, that run is the library's files under an empty root, the same for
      every bare target of the library; the first run that leaves its root unparsed keeps the
      names its rounds searched for (`LibFacts::bare_rounds`), and a later bare target whose
      text has none of them keeps its run without the library (`driver::load_and_analyze_target`
      says why the findings are the same). Runs with the library: 75 to 45; CPU time of the
      whole folder 1.68 s to 1.54 s (0.93x, 5 interleaved pairs).
    - Lowering asked every span for its byte range; proc-macro2 answers that by counting
      characters from the nearest position it has mapped, in an ordered map that gains an entry
      per new position (`FileInfo::byte` and the map were 4% of the run, 17% of parsing). In
      ASCII text the lowerer now turns the span's line and column (a binary search over line
      starts) into the offset with its own table of line starts (`Lowerer::offset`); other text
      keeps the byte range. A test compares both on this crate's sources and fixtures, and
      (`WSA_LINT_LOWER_TREE=target/winsock-heavy/vendor`) on the 19,754 ASCII files of the
      Winsock-heavy corpus. User time 0.93x, CPU time 0.95x (5 interleaved pairs).

    The JSON output is byte-identical to the binary before on the Winsock-heavy corpus (1 and 2
    threads) and the pinned corpus.

25. Facts that know no lint (issue 13): the interpreter records, at every Winsock call and
    release, what each distinct path knew there (`facts::CallFact`, `ReleaseFact`), instead of
    one list per lint; lints are queries over them. A/B against the binary before, Winsock-heavy
    corpus, 1 thread: 1.49 s and 1.50 s of user time, 101 MB both, and byte-identical JSON;
    the ladder of 20,000 arms, 60 branches and a chain of 10,000 functions the same within
    noise. Resolution now cuts glob and `use` cycles (`resolve::Budget::first_lookup`): on
    recvmsg a `use` that led back to itself spent all 256 steps of a query.

26. Issue 14 (cfg, editions, per-item parse recovery, loops, crate-wide `macro_rules!`) took the
    Winsock-heavy corpus from 1.6 s to 11.6 s with 1 thread (19.9x the rg floor) and the pinned
    corpus from 0.19 s to 0.92 s with 2 threads. Nearly all of it was the crate macro table
    (`load::macros`): each demand round of a crate lowered again every file that calls another
    file's macro, and read every scanned file of the tree again for the macros it calls; each
    target of a package (monoio has 13, may 20) did it all again; a second pass per file asked
    whether its text names Winsock, one `HashMap` lookup per word; and every file naming
    `macro_rules` or `macro_use` was turned into a proc-macro2 token tree. Now:
    - a crate keeps its macro-lowered files across its rounds (`load::MacroRounds`), and a
      bounded cache of 512 KB of text (`macros::Recent`) shares them between the targets of a
      package: mount keys leave out the number that tells a crate's tree from its library's,
      so a library file has the same macros in the library's run and as context of each bin;
    - the prefilter's passes also say whether a file names Winsock (`scan::Verdict`);
    - the macros each file calls are kept as a few hashes from its first read, and only files
      that may call a defined macro are read again;
    - a file that only defines macros (no `#[macro_use] mod`) keeps the names after its
      `macro_rules!` and is lexed when another file calls one of them, with the byte lexer of
      the `mod` scan (`scan::file_macros`), not a token tree.
    Winsock-heavy, 1 thread, the same run: 6.1 s -> 2.4 s, and JSON byte-identical. What is
    left of the macro table is mostly files lowered twice (once alone, once with the macros of
    other files), for instance the QoS bindings of `windows`, which call only `w!`.

Tried and dropped: one automaton for the distinctive names, `WSA`, the markers and the allow tag
together (22 patterns) was slower than two smaller ones; processing files in 64 KB
blocks to keep them in cache gained nothing measurable here (the L3 cache holds the corpus).
An index of the directories the walk listed answered the module probes (`x.rs` or `x/mod.rs`)
and the `#[path]` canonicalisations without the file system: 5,800 fewer `statx` and 3,000 fewer
`readlink` calls, but no measurable change in wall time (those calls hit the dentry cache, and
building the index cost as much), so it was not kept.

Remaining cost (perf, 1 thread, self time after item 21): the kernel about 42% (the kernel's copy
of 241 MB is 17%; page-cache and path lookups, opens and the directory walk make up the rest.
rg makes the same `read` calls, since it reads through `read` and not `mmap`, so the floor is
fair). The prefilter's searches take about 16%, allocation about 9%, the `mod` scan 3%, UTF-8
validation 2.4%, and the parse, the analysis and the bookkeeping per file the rest. The walk is
serial; with 2 threads it overlaps with reading, but the crates are only known after it.
On the pinned corpus, in this run the ratio is
{whole[0]:.2f}x with 1 thread and {whole[1]:.2f}x with 2 (from 11.1x and 10.2x before items
7-11, 4.6x and 4.4x before items 12-15, and 3.06x and 2.79x before items 16-21; the small tokio
set: {small[0]:.1f}x and {small[1]:.1f}x, from 10.2x and 7.9x before items 7-11 and 3.3x and
2.4x before items 16-21).
"""
    # Sections after this script's own (from `## Generated inputs` on, written by
    # benches/generated.py) are kept as they are: this run did not measure them.
    out = ROOT / "docs" / "benchmarks.md"
    old = out.read_text() if out.is_file() else ""
    kept = old.find(KEPT_FROM)
    if kept >= 0:
        doc = doc.rstrip("\n") + "\n\n" + old[kept + 1:]
    out.write_text(doc)
    (ROOT / "docs" / "benchmarks.svg").write_text(svg(rows))
    print(doc)


if __name__ == "__main__":
    main()
