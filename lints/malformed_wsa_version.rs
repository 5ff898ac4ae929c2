use crate::facts::VersionArg;
use crate::lint::{LintCx, LintDef};
use crate::source::Span;

crate::declare_lint! {
    /// ### What it does
    /// Finds a `WSAStartup` version request that cannot mean what was meant:
    /// a float cast to an integer (`2.2 as u16` is 2, that is version 2.0), a
    /// word with its bytes swapped (`0x0201` asks for 1.2, `0x0200` for 0.2),
    /// or a Winsock 1.x request in a program that calls Winsock 2 functions.
    ///
    /// ### Why is this bad
    /// The version is a WORD whose low byte is the major version and whose
    /// high byte is the minor version: 2.2 is `0x0202` (`MAKEWORD(2, 2)`). A
    /// wrong request either fails with `WSAVERNOTSUPPORTED` or negotiates
    /// Winsock 1.1 semantics the rest of the program does not expect.
    ///
    /// ### Example
    /// ```rust,ignore
    /// fn start(data: &mut WSADATA) -> i32 {
    ///     unsafe { WSAStartup(2.2 as u16, data) }
    /// }
    /// ```
    /// Use instead:
    /// ```rust,ignore
    /// fn start(data: &mut WSADATA) -> i32 {
    ///     unsafe { WSAStartup(0x0202, data) }
    /// }
    /// ```
    ///
    /// ### Fix safety
    /// The float fix keeps the version the float spelled out and is applied by
    /// `--fix`, but only when the float can mean one version (one digit, a
    /// point, one digit: `2.2`, `1.1f32`) and the cast is written in place, not
    /// produced by a macro. `2.257`, `2.20` or `2.2e0` get no edit. The other
    /// fixes change the requested version and are only suggested.
    ///
    /// ### References
    /// - <https://learn.microsoft.com/en-us/windows/win32/api/winsock/nf-winsock-wsastartup>
    pub MALFORMED_WSA_VERSION = "malformed_wsa_version", Suspicious, Warn,
    "a malformed `WSAStartup` version request"
}

pub static DEF: LintDef = LintDef {
    lint: &MALFORMED_WSA_VERSION,
    check,
    yields_to: &[],
};

fn word(major: u16, minor: u16) -> String {
    format!("0x{:02x}{:02x}", minor & 0xff, major & 0xff)
}

/// The version a float literal spells, when it can mean only one: one digit, a point, one
/// digit (`2.2`, `1.1f32`). `2.257`, `2.20` or `2.2e0` could mean several things, so they get
/// no edit.
fn spelled_version(text: &str) -> Option<(u16, u16)> {
    let digits = ["_f32", "_f64", "f32", "f64"]
        .iter()
        .find_map(|s| text.strip_suffix(s))
        .unwrap_or(text);
    match digits.as_bytes() {
        [major @ b'0'..=b'9', b'.', minor @ b'0'..=b'9'] => {
            Some((u16::from(major - b'0'), u16::from(minor - b'0')))
        }
        _ => None,
    }
}

fn check(cx: &mut LintCx<'_>) {
    let facts = cx.facts;
    let winsock2 = facts.winsock_calls.iter().any(|c| c.api.winsock2_only);
    let mut versions: Vec<(Span, VersionArg)> = facts
        .calls
        .iter()
        .filter_map(|c| c.version.clone())
        .collect();
    versions.sort();
    versions.dedup();
    for (span, v) in versions {
        match v {
            VersionArg::Float { text, ty, value } => {
                let e = cx
                    .emit(
                        &MALFORMED_WSA_VERSION,
                        span,
                        "a float is not a Winsock version",
                        format!("this is {value}, which requests version {}.0", value & 0xff),
                    )
                    .note("the version is a WORD: low byte major, high byte minor (`MAKEWORD(major, minor)`)");
                match spelled_version(&text) {
                    Some((major, minor)) => {
                        e.fix(
                            span,
                            format!("{text} as {ty}"),
                            format!("request version {major}.{minor}"),
                            word(major, minor),
                        );
                    }
                    None => {
                        e.help(
                            "write the version as a WORD: `0x0202` (`MAKEWORD(2, 2)`) requests 2.2",
                        );
                    }
                }
            }
            VersionArg::Word(w) => {
                let (major, minor) = (w & 0xff, w >> 8);
                if major == 0 || (major == 1 && minor == 2) {
                    let swapped = (w >> 8) | ((w & 0xff) << 8);
                    cx.emit(
                        &MALFORMED_WSA_VERSION,
                        span,
                        "the bytes of this Winsock version are swapped",
                        format!("this requests version {major}.{minor}"),
                    )
                    .note("the version is a WORD: low byte major, high byte minor (`MAKEWORD(major, minor)`)")
                    .suggest(
                        span,
                        format!("request version {}.{}", swapped & 0xff, swapped >> 8),
                        format!("0x{swapped:04x}"),
                    );
                } else if major == 1 && winsock2 {
                    cx.emit(
                        &MALFORMED_WSA_VERSION,
                        span,
                        "Winsock 1.x requested by a program that uses Winsock 2",
                        format!("this requests version {major}.{minor}"),
                    )
                    .note("Winsock 2 functions are called elsewhere in this crate")
                    .suggest(span, "request version 2.2", "0x0202");
                }
            }
        }
    }
}
