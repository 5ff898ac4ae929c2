//! Mutation testing on the stable toolchain, bounded in time, on every `cargo test`.
//!
//! `fuzz/` holds the coverage-guided fuzzer, but it needs nightly, which CI does not have. These
//! tests mutate seed inputs with a small deterministic generator instead, over four targets:
//!
//! - `pipeline`: every `fixtures/**/*.rs`, mutated, through `wsa_lint::fuzzing::run_bytes` in
//!   process (scan, parse, resolve, analysis, every lint, every renderer). Must not panic, hang
//!   or allocate more than [`PIPELINE_CAP`] bytes.
//! - `fix`: a fixture with a machine-applicable suggestion, mutated, through the real
//!   `wsa-lint --fix`. The result must parse with syn if the input did, and differ from the input
//!   only inside the spans of the machine-applicable suggestions that a `--message-format json`
//!   run reported before the fix.
//! - `lsp`: hostile framing and bodies written to the real `wsa-lint lsp` after a valid
//!   `initialize`. A request after well-framed garbage must be answered; after garbage that
//!   breaks the framing the server may give up, but must exit cleanly (no panic, no abort).
//! - `pe`: mutated PE images (built here, see [`pe_seed`]) through `wsa_lint::verify::pe`. Must
//!   not panic, hang or allocate more than [`PE_CAP`] bytes, and `redirect_ws2` may change only
//!   the name strings it reports.
//!
//! Environment:
//! - `WSA_LINT_MUTATION_SECS`: seconds per target (default [`DEFAULT_SECS`]; the four targets
//!   run as parallel tests). To search longer: `WSA_LINT_MUTATION_SECS=600 cargo test --test
//!   mutation`, or one target: `... cargo test --test mutation pipeline_mutations` (the tests
//!   are `pipeline_mutations`, `fix_mutations`, `lsp_mutations`, `pe_mutations`).
//! - `WSA_LINT_MUTATION_SEED`: the base seed (default: from the clock). A failure prints the
//!   seed and the iteration, so the same run can be repeated.
//!
//! Every input that ever failed is kept in `tests/data/mutation-regressions/<target>/` and
//! replayed before any new input. A failure writes the input there (named by its hash) and
//! prints the path: commit the file with the fix. An input that killed the whole test process
//! (stack overflow, the allocation cap) cannot be written at that moment, so each in-process
//! input is first written to `target/tmp/mutation-inflight/<target>`. A run that finds one left
//! there keeps it as a regression before anything else.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Seconds per target when `WSA_LINT_MUTATION_SECS` is unset: `cargo test` runs the targets
/// two at a time on CI's two cores, so the whole test takes about a minute.
const DEFAULT_SECS: f64 = 25.0;
/// How long one in-process input may take before it counts as a hang (debug build, busy CI).
const IN_PROCESS_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one spawned `wsa-lint` may take before it counts as a hang.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes one pipeline run may hold at once (inputs are at most [`MAX_TEXT`]).
const PIPELINE_CAP: usize = 1 << 30;
/// Bytes one PE read may hold at once (inputs are at most [`MAX_PE`]).
const PE_CAP: usize = 256 << 20;
const MAX_TEXT: usize = 128 << 10;
const MAX_PE: usize = 256 << 10;

// ---------------------------------------------------------------------------------------------
// Allocation accounting: per thread, so parallel tests do not see each other's memory. The
// in-process targets run single-threaded, so what their worker thread holds is what one input
// costs. An allocation past the thread's cap cannot unwind out of the allocator; it writes a
// message (without allocating) and fails, which aborts the process. The in-flight file keeps
// the input for the next run.

struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
    static CAP: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn grow(size: usize) -> bool {
    let live = LIVE.try_with(|l| l.get()).unwrap_or(0);
    let cap = CAP.try_with(|c| c.get()).unwrap_or(usize::MAX);
    let now = live.saturating_add(size);
    if now > cap {
        const MSG: &[u8] =
            b"\nmutation test: an allocation took this thread past its cap; the input \
            being tried is in target/tmp/mutation-inflight/ and the next run keeps it as a \
            regression\n";
        // SAFETY: writing a static buffer to fd 2; no allocation.
        unsafe { libc::write(2, MSG.as_ptr().cast(), MSG.len()) };
        return false;
    }
    let _ = LIVE.try_with(|l| l.set(now));
    let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    true
}

fn shrink(size: usize) {
    // Memory freed by another thread than the one that took it only makes that count low.
    let _ = LIVE.try_with(|l| l.set(l.get().saturating_sub(size)));
}

// SAFETY: delegates to `System`; the counters never change what is allocated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !grow(layout.size()) {
            return std::ptr::null_mut();
        }
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !grow(layout.size()) {
            return std::ptr::null_mut();
        }
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrink(layout.size());
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            if !grow(new_size - layout.size()) {
                return std::ptr::null_mut();
            }
        } else {
            shrink(layout.size() - new_size);
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

// ---------------------------------------------------------------------------------------------
// The generator: xorshift64*, enough for mutation and reproducible from one number.

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // xorshift has one fixed point: zero.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// In `0..n`; 0 when `n` is 0.
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
    /// A length biased to small values, at most `max`.
    fn len(&mut self, max: usize) -> usize {
        let bits = self.below(usize::BITS as usize - max.leading_zeros() as usize + 1);
        self.below((1usize << bits).min(max) + 1)
    }
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// One base seed for the whole test process, so one number reproduces every target.
fn base_seed() -> u64 {
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SEED.get_or_init(|| match std::env::var("WSA_LINT_MUTATION_SEED") {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("WSA_LINT_MUTATION_SEED is not a number: {s:?}")),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    })
}

fn budget() -> Duration {
    let secs = match std::env::var("WSA_LINT_MUTATION_SECS") {
        Ok(s) => s
            .trim()
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("WSA_LINT_MUTATION_SECS is not a number: {s:?}")),
        Err(_) => DEFAULT_SECS,
    };
    Duration::from_secs_f64(secs.max(0.0))
}

// ---------------------------------------------------------------------------------------------
// The loop shared by the targets: keep what a dead run left, replay the regressions, then
// mutate until the budget is spent; stop at the first failure and keep its input.

fn regressions_dir(target: &str) -> PathBuf {
    common::root()
        .join("tests/data/mutation-regressions")
        .join(target)
}

fn inflight_path(target: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("mutation-inflight")
        .join(target)
}

/// Writes a failing input into the regressions (named by its hash) and returns the path.
fn keep(target: &str, ext: &str, data: &[u8]) -> PathBuf {
    let dir = regressions_dir(target);
    std::fs::create_dir_all(&dir).expect("the regressions directory can be created");
    let p = dir.join(format!("{:016x}.{ext}", fnv(data)));
    std::fs::write(&p, data).expect("the regression can be written");
    p
}

fn regressions(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(rd) = std::fs::read_dir(regressions_dir(target)) else {
        return Vec::new();
    };
    let mut out: Vec<_> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_none_or(|x| x != "md"))
        .map(|p| {
            let data = std::fs::read(&p).expect("a regression is readable");
            (p, data)
        })
        .collect();
    out.sort();
    out
}

struct Target<'a> {
    name: &'a str,
    /// Extension of kept inputs.
    ext: &'a str,
    seeds: &'a [Vec<u8>],
    /// Write each input to the in-flight file before trying it (in-process targets, whose
    /// failure can take the test process down with it).
    inflight: bool,
}

fn mutation_run(
    t: &Target<'_>,
    mut mutate: impl FnMut(&mut Rng, &[Vec<u8>]) -> Vec<u8>,
    mut check: impl FnMut(&[u8]) -> Result<(), String>,
) {
    assert!(!t.seeds.is_empty(), "{}: no seeds", t.name);
    let inflight = inflight_path(t.name);
    if let Ok(data) = std::fs::read(&inflight) {
        let p = keep(t.name, t.ext, &data);
        eprintln!(
            "mutation {}: a previous run died while trying {}; kept as {} (delete it if that \
             run was only interrupted)",
            t.name,
            inflight.display(),
            p.display()
        );
        let _ = std::fs::remove_file(&inflight);
    }
    let replayed = regressions(t.name);
    for (p, data) in &replayed {
        if let Err(why) = check(data) {
            panic!(
                "mutation {}: the regression {} fails again: {why}",
                t.name,
                p.display()
            );
        }
    }
    let base = base_seed();
    let seed = base ^ fnv(t.name.as_bytes());
    let mut rng = Rng::new(seed);
    let budget = budget();
    let start = Instant::now();
    let mut n = 0u64;
    // Kept open and rewritten in place: reopening per input costs more than the PE reader.
    let held = t.inflight.then(|| {
        std::fs::create_dir_all(inflight.parent().expect("in-flight path has a parent"))
            .expect("the in-flight directory can be created");
        std::fs::File::create(&inflight).expect("the in-flight file can be created")
    });
    while start.elapsed() < budget {
        let input = mutate(&mut rng, t.seeds);
        if let Some(f) = &held {
            use std::os::unix::fs::FileExt;
            f.set_len(input.len() as u64)
                .and_then(|()| f.write_all_at(&input, 0))
                .expect("the in-flight input can be written");
        }
        if let Err(why) = check(&input) {
            let p = keep(t.name, t.ext, &input);
            let _ = std::fs::remove_file(&inflight);
            panic!(
                "mutation {}: input {n} fails: {why}\n  kept as {} (commit it with the fix)\n  \
                 reproduce: WSA_LINT_MUTATION_SEED={base} cargo test --test mutation {}_mutations",
                t.name,
                p.display(),
                t.name
            );
        }
        n += 1;
    }
    drop(held);
    let _ = std::fs::remove_file(&inflight);
    eprintln!(
        "mutation {}: {} regressions, {n} mutated inputs in {:.1?} (WSA_LINT_MUTATION_SEED={base})",
        t.name,
        replayed.len(),
        start.elapsed()
    );
}

/// Runs `f` on inputs on its own thread, with the large stack the real binary gives its
/// workers (deep nesting recurses), an allocation cap, and a timeout per input.
struct Worker {
    jobs: mpsc::Sender<Vec<u8>>,
    done: mpsc::Receiver<Result<(), String>>,
}

impl Worker {
    fn new(cap: usize, f: fn(&[u8]) -> Result<(), String>) -> Worker {
        // A panic's report (with RUST_BACKTRACE, symbolizing a backtrace takes many megabytes)
        // is not the input's cost: lift the cap before the report is made.
        static HOOK: std::sync::Once = std::sync::Once::new();
        HOOK.call_once(|| {
            let report = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let _ = CAP.try_with(|c| c.set(usize::MAX));
                report(info)
            }));
        });
        let (jobs, rx) = mpsc::channel::<Vec<u8>>();
        let (tx, done) = mpsc::channel();
        std::thread::Builder::new()
            .name("mutation-worker".into())
            .stack_size(1 << 30)
            .spawn(move || {
                for data in rx {
                    CAP.with(|c| c.set(usize::MAX));
                    let base = LIVE.with(|l| l.get());
                    CAP.with(|c| c.set(base.saturating_add(cap)));
                    let r = std::panic::catch_unwind(|| f(&data))
                        .unwrap_or_else(|p| Err(format!("panicked: {}", panic_text(&p))));
                    CAP.with(|c| c.set(usize::MAX));
                    if tx.send(r).is_err() {
                        return;
                    }
                }
            })
            .expect("the worker thread starts");
        Worker { jobs, done }
    }

    fn check(&self, data: &[u8]) -> Result<(), String> {
        self.jobs
            .send(data.to_vec())
            .map_err(|_| "the worker is gone".to_string())?;
        // A worker stuck on an input stays stuck; the test fails and the process exits.
        self.done
            .recv_timeout(IN_PROCESS_TIMEOUT)
            .map_err(|_| format!("no result after {IN_PROCESS_TIMEOUT:?} (a hang?)"))?
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string payload".into())
}

// ---------------------------------------------------------------------------------------------
// Mutations of text (Rust source) and of bytes.

const WINSOCK_SNIPPETS: &[&str] = &[
    "WSAStartup(0x202, &mut data);",
    "if WSAStartup(0x0202, &mut d) != 0 { return; }",
    "let rc = WSAStartup(2.2 as u16, &mut data);",
    "WSAStartup(MAKEWORD(2, 2), &mut wsa)?;",
    "WSACleanup();",
    "let _g = scopeguard::guard((), |_| unsafe { WSACleanup(); });",
    "closesocket(s);",
    "shutdown(s, SD_SEND);",
    "let s = socket(AF_INET as i32, SOCK_STREAM as i32, 0);",
    "let e = WSAGetLastError();",
    "connect(s, &addr as *const _ as *const SOCKADDR, len);",
    "gethostbyname(name.as_ptr());",
    "inet_addr(p);",
    "getaddrinfo(host, port, &hints, &mut res);",
    "WSASend(s, &buf, 1, &mut n, 0, null_mut(), None);",
    "extern \"system\" fn DllMain(_: HINSTANCE, reason: u32, _: *mut c_void) -> BOOL { WSACleanup(); 1 }",
    "extern \"system\" { fn WSAStartup(v: u16, d: *mut WSADATA) -> i32; fn WSACleanup() -> i32; }",
    "use windows_sys::Win32::Networking::WinSock::*;",
    "use winapi::um::winsock2::{WSAStartup as start, WSACleanup as stop};",
    "match WSAStartup(0x202, &mut d) { 0 => {}, _ => return }",
    "loop { closesocket(s); }",
    "fn helper() { unsafe { WSAStartup(0x202, &mut D); } }",
    "helper()?;",
    "return;",
    "// wsa-lint: allow(missing_wsa_cleanup)",
];

const TEXT_BYTES: &[u8] = b"{}()[]<>;:,.'\"#!/\\*&|=?-_0 \n\r\t\x00\xff\xc3";
const WIDE: &[&str] = &["é", "𝄞", "\u{feff}", "\u{2028}", "日本", "\u{200b}", "\t"];

fn ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn line_starts(d: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            d.iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .filter(|&i| i <= d.len())
        .collect()
}

/// One of the byte-level mutations every target uses.
fn mutate_bytes_once(rng: &mut Rng, seeds: &[Vec<u8>], d: &mut Vec<u8>) {
    let len = d.len();
    match rng.below(6) {
        0 if len > 0 => {
            let i = rng.below(len);
            d[i] ^= 1 << rng.below(8);
        }
        1 => {
            let at = rng.below(len + 1);
            let n = rng.len(16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            d.splice(at..at, bytes);
        }
        2 if len > 0 => {
            let at = rng.below(len);
            let n = rng.len(64).min(len - at);
            d.drain(at..at + n);
        }
        3 if len > 0 => {
            let at = rng.below(len);
            let n = rng.len(256).min(len - at);
            let piece = d[at..at + n].to_vec();
            let to = rng.below(len + 1);
            d.splice(to..to, piece);
        }
        4 => {
            let other = rng.pick(seeds);
            if !other.is_empty() {
                let at = rng.below(other.len());
                let n = rng.len(512).min(other.len() - at);
                let to = rng.below(len + 1);
                if rng.one_in(4) {
                    // Splice: this input's head, the other's tail.
                    d.truncate(to);
                    d.extend_from_slice(&other[at..]);
                } else {
                    d.splice(to..to, other[at..at + n].iter().copied());
                }
            }
        }
        _ if len > 0 => d.truncate(rng.below(len)),
        _ => {}
    }
}

fn mutate_text_once(rng: &mut Rng, seeds: &[Vec<u8>], d: &mut Vec<u8>, deep: usize) {
    let len = d.len();
    match rng.below(12) {
        0 if len > 0 => {
            let i = rng.below(len);
            d[i] = *rng.pick(TEXT_BYTES);
        }
        1 if len > 0 => {
            // Duplicate a token (identifier or one punctuation byte).
            let mut lo = rng.below(len);
            let mut hi = lo + 1;
            if ident_byte(d[lo]) {
                while lo > 0 && ident_byte(d[lo - 1]) {
                    lo -= 1;
                }
                while hi < len && ident_byte(d[hi]) {
                    hi += 1;
                }
            }
            let mut tok = d[lo..hi].to_vec();
            if rng.one_in(2) {
                tok.push(b' ');
            }
            d.splice(hi..hi, tok);
        }
        2 => {
            // Deep nesting, balanced or not.
            let (open, close) = *rng.pick(&[("(", ")"), ("{", "}"), ("[", "]"), ("<", ">")]);
            let n = if rng.one_in(8) {
                rng.below(deep)
            } else {
                rng.below(200)
            };
            let at = rng.below(len + 1);
            let mut s = open.repeat(n);
            if rng.below(3) != 0 {
                s.push_str(&close.repeat(n));
            }
            d.splice(at..at, s.into_bytes());
        }
        3 | 4 => {
            // A Winsock call at the start of a line (where a statement is likeliest to fit).
            let starts = line_starts(d);
            let at = *rng.pick(&starts);
            let mut s = rng.pick(WINSOCK_SNIPPETS).to_string();
            s.push('\n');
            d.splice(at..at, s.into_bytes());
        }
        5 | 6 => {
            // Line operations keep the file parseable more often than byte edits.
            let starts = line_starts(d);
            let i = rng.below(starts.len());
            let lo = starts[i];
            let hi = starts.get(i + 1).copied().unwrap_or(len);
            let line = d[lo..hi].to_vec();
            match rng.below(3) {
                0 => {
                    d.splice(hi..hi, line);
                }
                1 => {
                    d.drain(lo..hi);
                }
                _ => {
                    let to = *rng.pick(&starts);
                    if to <= lo {
                        d.drain(lo..hi);
                        d.splice(to..to, line);
                    }
                }
            }
        }
        7 => {
            let at = rng.below(len + 1);
            let w = rng.pick(WIDE).as_bytes().to_vec();
            d.splice(at..at, w);
        }
        8 => match rng.below(3) {
            0 => {
                let s = String::from_utf8_lossy(d).replace('\n', "\r\n");
                *d = s.into_bytes();
            }
            1 => {
                d.splice(0..0, "\u{feff}".bytes());
            }
            _ => {
                d.splice(0..0, b"#!/usr/bin/env run-cargo-script\n".iter().copied());
            }
        },
        _ => mutate_bytes_once(rng, seeds, d),
    }
}

/// `ops`: at most this many mutations; `deep`: at most this much nesting inserted.
fn mutate_text(rng: &mut Rng, seeds: &[Vec<u8>], ops: usize, deep: usize) -> Vec<u8> {
    let mut d = rng.pick(seeds).clone();
    for _ in 0..1 + rng.below(ops) {
        mutate_text_once(rng, seeds, &mut d, deep);
    }
    d.truncate(MAX_TEXT);
    // Most of the pipeline sees only valid UTF-8 (the loader reports the rest).
    if rng.below(8) != 0 {
        if let std::borrow::Cow::Owned(s) = String::from_utf8_lossy(&d) {
            d = s.into_bytes();
        }
    }
    d
}

fn fixtures() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = common::rs_files(&common::root().join("fixtures"))
        .iter()
        .map(|p| std::fs::read(p).expect("a fixture is readable"))
        .collect();
    seeds.sort();
    seeds
}

// ---------------------------------------------------------------------------------------------
// pipeline

fn check_pipeline(data: &[u8]) -> Result<(), String> {
    wsa_lint::fuzzing::run_bytes(data, wsa_lint::lints::ALL);
    Ok(())
}

#[test]
fn pipeline_mutations() {
    let mut seeds = fixtures();
    seeds.extend(regressions("pipeline").into_iter().map(|(_, d)| d));
    let worker = Worker::new(PIPELINE_CAP, check_pipeline);
    mutation_run(
        &Target {
            name: "pipeline",
            ext: "rs",
            seeds: &seeds,
            inflight: true,
        },
        |rng, seeds| mutate_text(rng, seeds, 4, 20_000),
        |d| worker.check(d),
    );
}

// ---------------------------------------------------------------------------------------------
// Spawned processes, with a timeout.

struct Ran {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

fn run_timed(cmd: &mut Command) -> Result<Ran, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start wsa-lint: {e}"))?;
    let out = drain(child.stdout.take().expect("piped"));
    let err = drain(child.stderr.take().expect("piped"));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if start.elapsed() > PROCESS_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still running after {PROCESS_TIMEOUT:?} (a hang?)"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ok(Ran {
        code: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr: String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned(),
    })
}

/// A crash of the binary: a panic (101, or caught and reported as an internal error), an
/// abort (134), a signal, or an exit status outside the documented 0..=2.
fn crashed(what: &str, r: &Ran) -> Result<(), String> {
    // JSON output carries the caught panic's report on stdout, human output on stderr.
    let internal = "internal error while analyzing";
    if !matches!(r.code, Some(0..=2))
        || r.stderr.contains("panicked")
        || r.stderr.contains(internal)
        || String::from_utf8_lossy(&r.stdout).contains(internal)
    {
        return Err(format!(
            "{what}: exit status {:?}, stderr:\n{}",
            r.code, r.stderr
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// fix

/// Machine-applicable edits `(lo, hi, replacement)` in `file` from `--message-format json`.
fn machine_edits(json: &[u8], file: &str) -> Result<Vec<(usize, usize, String)>, String> {
    let mut out = Vec::new();
    for line in String::from_utf8_lossy(json).lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("output is not JSON ({e}): {line}"))?;
        let m = &v["message"];
        let children = m["children"].as_array().cloned().unwrap_or_default();
        let spans = m["spans"]
            .as_array()
            .into_iter()
            .chain(children.iter().filter_map(|c| c["spans"].as_array()))
            .flatten();
        for s in spans {
            if s["suggestion_applicability"] != "MachineApplicable" || s["file_name"] != file {
                continue;
            }
            let (Some(lo), Some(hi), Some(rep)) = (
                s["byte_start"].as_u64(),
                s["byte_end"].as_u64(),
                s["suggested_replacement"].as_str(),
            ) else {
                return Err(format!("a machine-applicable span without its fields: {s}"));
            };
            out.push((lo as usize, hi as usize, rep.to_string()));
        }
    }
    out.sort();
    Ok(out)
}

/// Does syn parse `text`? On a large stack, as the binary parses, so deep nesting is fine.
fn syn_parses(text: &str) -> bool {
    let text = text.to_string();
    std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(move || syn::parse_file(&text).is_ok())
        .expect("the parse thread starts")
        .join()
        .unwrap_or(false)
}

/// `out` must be `input` with each span replaced by its replacement; where spans overlap or
/// touch (only some of them can apply) the region may hold anything, but the bytes between
/// regions must be the input's.
fn differs_only_in_spans(
    input: &[u8],
    out: &[u8],
    edits: &[(usize, usize, String)],
) -> Result<(), String> {
    let text = std::str::from_utf8(input).map_err(|_| "suggestions on a non-UTF-8 file")?;
    // Regions: merged overlapping or touching edits, with how many edits each holds.
    let mut regions: Vec<(usize, usize, usize)> = Vec::new();
    for (lo, hi, _) in edits {
        let (lo, hi) = (*lo, *hi);
        if lo > hi || hi > text.len() || !text.is_char_boundary(lo) || !text.is_char_boundary(hi) {
            return Err(format!(
                "suggestion span {lo}..{hi} is not on character boundaries of the {}-byte file",
                text.len()
            ));
        }
        match regions.last_mut() {
            Some(r) if lo <= r.1 => {
                r.1 = r.1.max(hi);
                r.2 += 1;
            }
            _ => regions.push((lo, hi, 1)),
        }
    }
    let context = |at: usize| {
        let lo = at.saturating_sub(40);
        format!(
            "at output byte {at}: {:?}",
            String::from_utf8_lossy(&out[lo.min(out.len())..(at + 40).min(out.len())])
        )
    };
    let mut pos = 0;
    let mut prev_hi = 0;
    for (i, &(lo, hi, count)) in regions.iter().enumerate() {
        let gap = &input[prev_hi..lo];
        if !out[pos..].starts_with(gap) {
            return Err(format!(
                "bytes {prev_hi}..{lo}, outside every suggestion, changed; {}",
                context(pos)
            ));
        }
        pos += gap.len();
        let next_lo = regions.get(i + 1).map_or(input.len(), |r| r.0);
        let next_gap = &input[hi..next_lo];
        if count == 1 {
            let rep = &edits
                .iter()
                .find(|e| e.0 == lo && e.1 == hi)
                .expect("its edit")
                .2;
            if !out[pos..].starts_with(rep.as_bytes()) {
                return Err(format!(
                    "the suggestion for {lo}..{hi} (`{rep}`), which overlaps no other, was not \
                     applied as reported; {}",
                    context(pos)
                ));
            }
            pos += rep.len();
        } else {
            // The next gap is the first place after the region where the input resumes (the
            // last gap must end the file).
            let found = if i + 1 == regions.len() {
                (out.len() >= pos + next_gap.len() && out.ends_with(next_gap))
                    .then(|| out.len() - next_gap.len())
            } else {
                out[pos..]
                    .windows(next_gap.len().max(1))
                    .position(|w| next_gap.is_empty() || w == next_gap)
                    .map(|p| pos + p)
            };
            pos = found.ok_or_else(|| {
                format!(
                    "after the overlapping suggestions at {lo}..{hi}, the input's bytes \
                     {hi}..{next_lo} are gone; {}",
                    context(pos)
                )
            })?;
        }
        prev_hi = hi;
    }
    if out[pos.min(out.len())..] != input[prev_hi..] {
        return Err(format!(
            "bytes after {prev_hi}, outside every suggestion, changed; {}",
            context(pos)
        ));
    }
    Ok(())
}

/// Returns how many machine-applicable edits the input had.
fn check_fix(dir: &Path, input: &[u8]) -> Result<usize, String> {
    let file = dir.join("input.rs");
    std::fs::write(&file, input).map_err(|e| e.to_string())?;
    let lint = |extra: &[&str]| {
        let mut c = common::wsa_lint();
        c.current_dir(dir)
            .args(extra)
            .args(["--message-format", "json", "input.rs"]);
        run_timed(&mut c)
    };
    let before = lint(&[])?;
    crashed("wsa-lint --message-format json", &before)?;
    let edits = machine_edits(&before.stdout, "input.rs")?;
    let fixed = lint(&["--fix"])?;
    crashed("wsa-lint --fix", &fixed)?;
    let out = std::fs::read(&file).map_err(|e| format!("the fixed file is unreadable: {e}"))?;
    if edits.is_empty() {
        return if out == input {
            Ok(0)
        } else {
            Err("no machine-applicable suggestion, yet --fix changed the file".into())
        };
    }
    differs_only_in_spans(input, &out, &edits)?;
    if let Ok(text) = std::str::from_utf8(input) {
        if syn_parses(text) {
            let fixed = std::str::from_utf8(&out).map_err(|_| "--fix wrote invalid UTF-8")?;
            if !syn_parses(fixed) {
                return Err(format!(
                    "the input parses but the fixed file does not:\n{fixed}"
                ));
            }
        }
    }
    Ok(edits.len())
}

/// The fixtures with a suggestion, found by linting them all once: those with a
/// machine-applicable one, and those whose suggestions `--fix` must leave alone.
fn fix_seeds() -> Vec<Vec<u8>> {
    let r = run_timed(common::wsa_lint().args(["--message-format", "json", "fixtures"]))
        .expect("wsa-lint runs on the fixtures");
    // (file, machine-applicable)
    let mut files: Vec<(String, bool)> = String::from_utf8_lossy(&r.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .flat_map(|v| {
            let children = v["message"]["children"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            children
                .iter()
                .filter_map(|c| c["spans"].as_array())
                .flatten()
                .filter(|s| s["suggestion_applicability"].is_string())
                .filter_map(|s| {
                    let machine = s["suggestion_applicability"] == "MachineApplicable";
                    Some((s["file_name"].as_str()?.to_string(), machine))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    files.sort();
    files.dedup();
    let mut seeds = Vec::new();
    for (f, machine) in &files {
        let text = std::fs::read(common::root().join(f)).expect("a fixture is readable");
        // Weighted: the machine-applicable ones are what most inputs should exercise.
        seeds.extend(std::iter::repeat_n(text, if *machine { 4 } else { 1 }));
    }
    seeds
}

#[test]
fn fix_mutations() {
    let mut seeds = fix_seeds();
    assert!(!seeds.is_empty(), "no fixture has a suggestion");
    seeds.extend(regressions("fix").into_iter().map(|(_, d)| d));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut with_edits = 0;
    mutation_run(
        &Target {
            name: "fix",
            ext: "rs",
            seeds: &seeds,
            inflight: false,
        },
        // Few edits, so most inputs keep their suggestion, and little nesting: every input
        // costs two processes, better spent on other shapes.
        |rng, seeds| mutate_text(rng, seeds, 2, 1_000),
        |d| {
            with_edits += (check_fix(dir.path(), d)? > 0) as usize;
            Ok(())
        },
    );
    // Inputs without a suggestion only check that --fix leaves them alone.
    eprintln!("mutation fix: {with_edits} inputs had machine-applicable suggestions");
}

#[test]
fn the_span_oracle_allows_only_the_reported_edits() {
    let input = b"let a = 2.2 as u16; let b = 2.2 as u16;";
    let edits = [
        (8, 18, "0x0202".to_string()),
        (28, 38, "0x0202".to_string()),
    ];
    let fixed = b"let a = 0x0202; let b = 0x0202;";
    assert_eq!(differs_only_in_spans(input, fixed, &edits), Ok(()));
    // Changed outside the spans, or not applied as reported.
    let outside = b"let x = 0x0202; let b = 0x0202;";
    assert!(differs_only_in_spans(input, outside, &edits).is_err());
    let half = b"let a = 0x0202; let b = 2.2 as u16;";
    assert!(differs_only_in_spans(input, half, &edits).is_err());
    let tail = b"let a = 0x0202; let b = 0x0202;\n";
    assert!(differs_only_in_spans(input, tail, &edits).is_err());
    // Overlapping edits: either may win, nothing else may change.
    let overlapping = [(8, 18, "0x0202".to_string()), (8, 11, "2".to_string())];
    let first = b"let a = 0x0202; let b = 2.2 as u16;";
    assert_eq!(differs_only_in_spans(input, first, &overlapping), Ok(()));
    let other = b"let a = 2 as u16; let b = 2.2 as u16;";
    assert_eq!(differs_only_in_spans(input, other, &overlapping), Ok(()));
    let beyond = b"let a = 2 as u16; let b = 2.2 as u32;";
    assert!(differs_only_in_spans(input, beyond, &overlapping).is_err());
    // A span inside a character is a bug of the lint, reported as such.
    assert!(differs_only_in_spans("é".as_bytes(), b"x", &[(1, 2, "x".into())]).is_err());
}

// ---------------------------------------------------------------------------------------------
// lsp

fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    v.extend_from_slice(body);
    v
}

const LSP_BODIES: &[&str] = &[
    r#"{"jsonrpc":"2.0","id":100,"method":"textDocument/codeAction","params":{"textDocument":{"uri":"file:///nowhere/x.rs"},"range":{"start":{"line":0,"character":0},"end":{"line":0,"character":0}},"context":{"diagnostics":[]}}}"#,
    r#"{"jsonrpc":"2.0","id":101,"method":"textDocument/codeAction","params":"nope"}"#,
    r#"{"jsonrpc":"2.0","id":"str","method":"workspace/symbol","params":{"query":""}}"#,
    r#"{"jsonrpc":"2.0","id":102,"method":"initialize","params":{"capabilities":{}}}"#,
    r#"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///nowhere/a.rs","languageId":"rust","version":1,"text":"fn main() { unsafe { WSAStartup(0x202, &mut d); } }"}}}"#,
    r#"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":5,"text":[]}}}"#,
    r#"{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"file:///nowhere/b.rs","version":2},"contentChanges":[{"text":"fn f() {"}]}}"#,
    r#"{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"contentChanges":null}}"#,
    r#"{"jsonrpc":"2.0","method":"textDocument/didSave","params":{"textDocument":{"uri":"not a uri"}}}"#,
    r#"{"jsonrpc":"2.0","method":"textDocument/didClose","params":{"textDocument":{"uri":"file:///%zz%"}}}"#,
    r#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":100}}"#,
    r#"{"jsonrpc":"2.0","method":"unknown/notification"}"#,
    r#"{"jsonrpc":"2.0","id":103,"result":null}"#,
    r#"{"jsonrpc":"2.0","id":{},"method":5}"#,
    r#"{"jsonrpc":"2.0","id":[1],"method":"textDocument/codeAction"}"#,
    r#"{"jsonrpc":"1.0","id":1.5,"method":"x","params":[1,2,3]}"#,
    r#"{"id":true}"#,
    r#"{}"#,
    r#"[]"#,
    r#"null"#,
    r#"5"#,
    r#""Content-Length: 5""#,
    r#"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///nowhere/deep.rs","languageId":"rust","version":1,"text":"fn f() { ((((((((((((((((((((((((((((((((((((((((((((((((( }"}}}"#,
];

/// Header values no reader can take for a length, even trimmed.
const BAD_LENGTHS: &[&str] = &[
    "", "-1", "-99999", "abc", "0x10", "12abc", "1e3", "five", "--",
];
/// Lengths no message here comes close to.
const HUGE_LENGTHS: &[&str] = &[
    "99999999999999999999999999",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "4294967296",
    "1099511627776",
    "67108864",
    "1000000",
];

/// One piece of garbage and whether a robust reader can find the next message after it: a
/// well-framed bad body, or a header block with no usable length and no body.
fn lsp_piece(rng: &mut Rng) -> (Vec<u8>, bool) {
    let template = |rng: &mut Rng| rng.pick(LSP_BODIES).as_bytes().to_vec();
    match rng.below(14) {
        // Well framed: truncated JSON, mutated JSON, random bytes, an empty body, odd headers.
        0 | 1 => {
            let mut b = template(rng);
            b.truncate(rng.below(b.len()));
            (frame(&b), true)
        }
        2 | 3 => {
            let mut b = template(rng);
            for _ in 0..1 + rng.below(3) {
                let other = [template(rng)];
                mutate_bytes_once(rng, &other, &mut b);
            }
            (frame(&b), true)
        }
        4 => {
            let n = rng.len(300);
            let b: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            (frame(&b), true)
        }
        5 => {
            let b = template(rng);
            let mut v = match rng.below(3) {
                0 => format!("content-length: {}\r\n\r\n", b.len()),
                1 => format!(
                    "Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
                    b.len()
                ),
                _ => format!("Content-Length: {}\r\nX-Odd: \u{1F600}\r\n\r\n", b.len()),
            }
            .into_bytes();
            v.extend_from_slice(&b);
            (v, true)
        }
        6 => (frame(b""), true),
        // A header block without a usable length, and nothing after it.
        7 => {
            let v = if rng.one_in(3) {
                "Content-Type: text/plain\r\n\r\n".to_string()
            } else {
                format!("Content-Length: {}\r\n\r\n", rng.pick(BAD_LENGTHS))
            };
            (v.into_bytes(), true)
        }
        // Framing that swallows what follows: a length no message has, a wrong length,
        // duplicated lengths, a header that does not end, a header line without a colon,
        // bytes before any header.
        8 => {
            let mut v = format!("Content-Length: {}\r\n\r\n", rng.pick(HUGE_LENGTHS)).into_bytes();
            if rng.one_in(2) {
                v.extend_from_slice(&template(rng));
            }
            (v, false)
        }
        9 => {
            let b = template(rng);
            let n = if rng.one_in(2) {
                b.len() + 1 + rng.len(64)
            } else {
                b.len().saturating_sub(1 + rng.len(64))
            };
            let mut v = format!("Content-Length: {n}\r\n\r\n").into_bytes();
            v.extend_from_slice(&b);
            (v, false)
        }
        10 => {
            let b = template(rng);
            let second = if rng.one_in(2) { b.len() } else { b.len() + 7 };
            let mut v = format!(
                "Content-Length: {}\r\nContent-Length: {second}\r\n\r\n",
                b.len()
            )
            .into_bytes();
            v.extend_from_slice(&b);
            (v, false)
        }
        11 => {
            let b = template(rng);
            let sep = *rng.pick(&["\r\n", "\n\n", "\n", "", "\r\r"]);
            let mut v = format!("Content-Length: {}{sep}", b.len()).into_bytes();
            v.extend_from_slice(&b);
            (v, false)
        }
        12 => {
            let b = template(rng);
            let head = *rng.pick(&["Content-Length {}", "Content-Length:{}", "{}", ": {}"]);
            let mut v = head.replace("{}", &b.len().to_string()).into_bytes();
            v.extend_from_slice(b"\r\n\r\n");
            v.extend_from_slice(&b);
            (v, false)
        }
        _ => {
            let n = 1 + rng.len(200);
            let mut v: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            if rng.one_in(2) {
                v.extend_from_slice(b"\r\n");
            }
            (v, false)
        }
    }
}

/// Garbage as kept in the regressions: a first line `recoverable` or `unrecoverable`, then the
/// bytes written between `initialized` and the final request.
fn lsp_input(rng: &mut Rng) -> Vec<u8> {
    let mut garbage = Vec::new();
    let mut recoverable = true;
    for _ in 0..1 + rng.below(3) {
        let (piece, ok) = lsp_piece(rng);
        garbage.extend(piece);
        recoverable &= ok;
    }
    let mut v = if recoverable {
        b"recoverable\n".to_vec()
    } else {
        b"unrecoverable\n".to_vec()
    };
    v.extend(garbage);
    v
}

/// The ids of the responses in what the server wrote (its framing is trusted).
fn response_ids(out: &[u8]) -> Vec<serde_json::Value> {
    let mut ids = Vec::new();
    let mut rest = out;
    while let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&rest[..end]);
        let Some(n) = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|n| n.trim().parse::<usize>().ok())
        else {
            break;
        };
        let Some(body) = rest.get(end + 4..end + 4 + n) else {
            break;
        };
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
            if v.get("method").is_none() {
                ids.push(v["id"].clone());
            }
        }
        rest = &rest[end + 4 + n..];
    }
    ids
}

fn check_lsp(input: &[u8]) -> Result<(), String> {
    let (kind, garbage) = match input.iter().position(|&b| b == b'\n') {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (&b""[..], input),
    };
    let strict = kind == b"recoverable";
    let mut cmd = common::wsa_lint();
    cmd.arg("lsp")
        // One analysis thread keeps the server's address space small for the limit below.
        .env("RAYON_NUM_THREADS", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // A reader that believes a huge Content-Length must fail to allocate, not take the
    // machine's memory: 4 GiB of address space is ample for one 1 GiB-stack worker.
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 4 << 30,
                rlim_max: 4 << 30,
            };
            libc::setrlimit(libc::RLIMIT_AS, &lim);
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start wsa-lint lsp: {e}"))?;
    let mut stdin = child.stdin.take().expect("piped");
    let mut stream = frame(
        br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":null,"rootUri":null,"capabilities":{}}}"#,
    );
    stream.extend(frame(
        br#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#,
    ));
    stream.extend_from_slice(garbage);
    stream.extend(frame(br#"{"jsonrpc":"2.0","id":2,"method":"shutdown"}"#));
    stream.extend(frame(br#"{"jsonrpc":"2.0","method":"exit"}"#));
    // Written from a thread: a server that stops reading must not block the test.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&stream);
        // Dropping stdin: end of input.
    });
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let mut stdout = child.stdout.take().expect("piped");
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let err = drain(child.stderr.take().expect("piped"));
    let mut out = Vec::new();
    let start = Instant::now();
    let status = loop {
        while let Ok(chunk) = rx.try_recv() {
            out.extend(chunk);
        }
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if start.elapsed() > PROCESS_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "`wsa-lint lsp` still running {PROCESS_TIMEOUT:?} after its input ended"
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = writer.join();
    // The stdout thread ends at the pipe's end; collect what it still has.
    while let Ok(chunk) = rx.recv_timeout(Duration::from_secs(2)) {
        out.extend(chunk);
    }
    let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    if matches!(status.code(), None | Some(101) | Some(134)) || stderr.contains("panicked") {
        return Err(format!(
            "`wsa-lint lsp` crashed on the garbage: exit status {status:?}, stderr:\n{stderr}"
        ));
    }
    // After garbage that breaks the framing, giving up (cleanly) is all that can be asked.
    if strict {
        let ids = response_ids(&out);
        for (id, what) in [(1, "`initialize`"), (2, "the `shutdown` after the garbage")] {
            if !ids.contains(&serde_json::json!(id)) {
                return Err(format!(
                    "well-framed garbage, yet {what} was not answered (exit status {:?}), \
                     stderr:\n{stderr}",
                    status.code()
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn lsp_mutations() {
    mutation_run(
        &Target {
            name: "lsp",
            ext: "lsp",
            // The garbage is generated, not mutated from seeds.
            seeds: &[Vec::new()],
            inflight: false,
        },
        |rng, _| lsp_input(rng),
        check_lsp,
    );
}

// ---------------------------------------------------------------------------------------------
// pe

fn put16(d: &mut [u8], at: usize, v: u16) {
    d[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(d: &mut [u8], at: usize, v: u32) {
    d[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put64(d: &mut [u8], at: usize, v: u64) {
    d[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

const COFF: usize = 0x44;
const OPT: usize = COFF + 20;
const SECTIONS: usize = OPT + 240;
/// File offset and RVA of the one section, `.idata`.
const RAW: usize = 0x200;
const VA: u32 = 0x1000;

fn rva(file_off: usize) -> u32 {
    VA + (file_off - RAW) as u32
}

/// A minimal x86_64 PE32+ image with one section holding a normal import of ws2_32.dll
/// (`WSAStartup`, `closesocket`, optionally ordinal 23) and of KERNEL32.dll, and a delay-load
/// import of WS2_32.dll (`send`).
fn pe_seed(dll: bool, ordinal: bool) -> Vec<u8> {
    let mut d = vec![0u8; RAW + 0x200];
    d[..2].copy_from_slice(b"MZ");
    put32(&mut d, 0x3c, 0x40);
    d[0x40..0x44].copy_from_slice(b"PE\0\0");
    put16(&mut d, COFF, 0x8664);
    put16(&mut d, COFF + 2, 1);
    put16(&mut d, COFF + 16, 240);
    put16(&mut d, COFF + 18, if dll { 0x2022 } else { 0x0022 });
    put16(&mut d, OPT, 0x20b);
    put32(&mut d, OPT + 108, 16);
    let (imports, delay) = (RAW, RAW + 0x40);
    put32(&mut d, OPT + 112 + 8, rva(imports));
    put32(&mut d, OPT + 112 + 8 + 4, 60);
    put32(&mut d, OPT + 112 + 13 * 8, rva(delay));
    put32(&mut d, OPT + 112 + 13 * 8 + 4, 64);
    d[SECTIONS..SECTIONS + 8].copy_from_slice(b".idata\0\0");
    put32(&mut d, SECTIONS + 8, 0x200);
    put32(&mut d, SECTIONS + 12, VA);
    put32(&mut d, SECTIONS + 16, 0x200);
    put32(&mut d, SECTIONS + 20, RAW as u32);
    let (ws2_ilt, ws2_iat, k32_ilt, delay_int) = (RAW + 0x80, RAW + 0xa0, RAW + 0xc0, RAW + 0xd0);
    let hint_names = [
        (RAW + 0x100, "WSAStartup"),
        (RAW + 0x110, "closesocket"),
        (RAW + 0x120, "ExitProcess"),
        (RAW + 0x130, "send"),
    ];
    for (at, name) in hint_names {
        d[at + 2..at + 2 + name.len()].copy_from_slice(name.as_bytes());
    }
    let (ws2, k32, ws2_upper) = (RAW + 0x180, RAW + 0x190, RAW + 0x1a0);
    d[ws2..ws2 + 10].copy_from_slice(b"ws2_32.dll");
    d[k32..k32 + 12].copy_from_slice(b"KERNEL32.dll");
    d[ws2_upper..ws2_upper + 10].copy_from_slice(b"WS2_32.dll");
    // Import descriptors: lookup table at +0, name at +12, address table at +16.
    put32(&mut d, imports, rva(ws2_ilt));
    put32(&mut d, imports + 12, rva(ws2));
    put32(&mut d, imports + 16, rva(ws2_iat));
    put32(&mut d, imports + 20, rva(k32_ilt));
    put32(&mut d, imports + 20 + 12, rva(k32));
    put32(&mut d, imports + 20 + 16, rva(k32_ilt));
    for table in [ws2_ilt, ws2_iat] {
        put64(&mut d, table, rva(hint_names[0].0) as u64);
        put64(&mut d, table + 8, rva(hint_names[1].0) as u64);
        if ordinal {
            put64(&mut d, table + 16, (1 << 63) | 23);
        }
    }
    put64(&mut d, k32_ilt, rva(hint_names[2].0) as u64);
    // Delay-load descriptor: attributes, name at +4, name table at +16.
    put32(&mut d, delay, 1);
    put32(&mut d, delay + 4, rva(ws2_upper));
    put32(&mut d, delay + 16, rva(delay_int));
    put64(&mut d, delay_int, rva(hint_names[3].0) as u64);
    d
}

/// Offsets of the fields the reader follows, in the seeds' layout.
const PE_FIELDS: &[usize] = &[
    0x3c,
    COFF,
    COFF + 2,
    COFF + 16,
    COFF + 18,
    OPT,
    OPT + 108,
    OPT + 112 + 8,
    OPT + 112 + 12,
    OPT + 112 + 13 * 8,
    OPT + 112 + 13 * 8 + 4,
    SECTIONS + 8,
    SECTIONS + 12,
    SECTIONS + 16,
    SECTIONS + 20,
    RAW,
    RAW + 12,
    RAW + 16,
    RAW + 32,
    RAW + 0x44,
    RAW + 0x50,
    RAW + 0x80,
    RAW + 0x88,
    RAW + 0x90,
    RAW + 0xd0,
];

fn mutate_pe(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut d = rng.pick(seeds).clone();
    for _ in 0..1 + rng.below(4) {
        if rng.one_in(3) {
            mutate_bytes_once(rng, seeds, &mut d);
            continue;
        }
        // Overwrite a field the reader follows (or any aligned word) with an edge value.
        let at = if rng.one_in(4) {
            rng.below(d.len() / 4 + 1) * 4
        } else {
            *rng.pick(PE_FIELDS)
        };
        let len = d.len() as u64;
        let v = match rng.below(12) {
            0 => 0,
            1 => 1,
            2 => u64::MAX,
            3 => 0x7fff_ffff,
            4 => 0x8000_0000,
            5 => 0xffff,
            6 => len,
            7 => len.wrapping_sub(rng.below(16) as u64),
            8 => (VA as u64).wrapping_add(rng.below(0x400) as u64),
            9 => 1 << 63 | rng.below(0x10000) as u64,
            10 => rng.below(0x400) as u64,
            _ => rng.next(),
        };
        let width = *rng.pick(&[2usize, 4, 4, 8]);
        if at + width <= d.len() {
            d[at..at + width].copy_from_slice(&v.to_le_bytes()[..width]);
        }
    }
    d.truncate(MAX_PE);
    d
}

fn check_pe(data: &[u8]) -> Result<(), String> {
    use wsa_lint::verify::pe;
    let _ = pe::is_dll(data);
    let Ok(imports) = pe::ws2_imports(data) else {
        return Ok(());
    };
    let name_len = pe::PROXY_NAME.len();
    for &off in &imports.name_offsets {
        if off + name_len > data.len() {
            return Err(format!(
                "a ws2_32.dll name at {off} runs past the {}-byte file",
                data.len()
            ));
        }
    }
    let mut copy = data.to_vec();
    match pe::redirect_ws2(&mut copy) {
        Ok(again) if again != imports => Err(format!(
            "redirect_ws2 saw other imports than ws2_imports: {again:?} vs {imports:?}"
        )),
        Ok(_) => {
            for (i, (a, b)) in data.iter().zip(&copy).enumerate() {
                let renamed = imports
                    .name_offsets
                    .iter()
                    .any(|&o| (o..o + name_len).contains(&i));
                if a != b && !renamed {
                    return Err(format!("redirect_ws2 changed byte {i}, outside every name"));
                }
            }
            Ok(())
        }
        Err(e) if copy != data => Err(format!("redirect_ws2 failed ({e}) but changed the image")),
        Err(_) if imports.ordinals.is_empty() => {
            Err("redirect_ws2 refused an image that imports nothing by ordinal".to_string())
        }
        Err(_) => Ok(()),
    }
}

#[test]
fn pe_seeds_are_what_they_claim() {
    use wsa_lint::verify::pe;
    let plain = pe::ws2_imports(&pe_seed(false, false)).expect("the seed is a PE image");
    assert_eq!(plain.names, ["WSAStartup", "closesocket", "send"]);
    assert_eq!(plain.name_offsets, [RAW + 0x180, RAW + 0x1a0]);
    assert!(plain.ordinals.is_empty());
    let by_ordinal = pe::ws2_imports(&pe_seed(true, true)).expect("the seed is a PE image");
    assert_eq!(by_ordinal.ordinals, [23]);
    assert!(pe::is_dll(&pe_seed(true, false)));
    assert!(!pe::is_dll(&pe_seed(false, false)));
}

#[test]
fn pe_mutations() {
    let mut seeds: Vec<Vec<u8>> = [(false, false), (true, false), (false, true), (true, true)]
        .into_iter()
        .map(|(dll, ordinal)| pe_seed(dll, ordinal))
        .collect();
    seeds.extend(regressions("pe").into_iter().map(|(_, d)| d));
    let worker = Worker::new(PE_CAP, check_pe);
    mutation_run(
        &Target {
            name: "pe",
            ext: "bin",
            seeds: &seeds,
            inflight: true,
        },
        mutate_pe,
        |d| worker.check(d),
    );
}
