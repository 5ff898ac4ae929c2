use crate::lint::{known_paths, per_site, LintCx, LintDef};

crate::declare_lint! {
    /// ### What it does
    /// Finds `WSAGetLastError` called on the path where `WSAStartup` has just
    /// failed, to read why it failed.
    ///
    /// ### Why is this bad
    /// `WSAStartup` returns its error code directly and does not set the
    /// last-error value; when it fails, ws2_32 may not even be initialised
    /// enough for `WSAGetLastError` to mean anything. The code reported is
    /// stale or zero.
    ///
    /// ### Known problems
    /// A crate helper that reads the last error (`io::Error::last_os_error()`,
    /// `GetLastError`) is not counted yet; only a direct `WSAGetLastError` is.
    ///
    /// ### Example
    /// ```rust,ignore
    /// fn start() -> Result<(), i32> {
    ///     let mut data: WSADATA = unsafe { std::mem::zeroed() };
    ///     if unsafe { WSAStartup(0x202, &mut data) } != 0 {
    ///         return Err(unsafe { WSAGetLastError() }); // WSAStartup sets no last error
    ///     }
    ///     Ok(())
    /// }
    /// ```
    /// Use instead:
    /// ```rust,ignore
    /// fn start() -> Result<(), i32> {
    ///     let mut data: WSADATA = unsafe { std::mem::zeroed() };
    ///     let rc = unsafe { WSAStartup(0x202, &mut data) };
    ///     if rc != 0 {
    ///         return Err(rc); // the error code is the return value
    ///     }
    ///     Ok(())
    /// }
    /// ```
    ///
    /// ### References
    /// - <https://learn.microsoft.com/en-us/windows/win32/api/winsock/nf-winsock-wsastartup#return-value>
    pub WSAGETLASTERROR_AFTER_WSASTARTUP = "wsagetlasterror_after_wsastartup", Suspicious, Warn,
    "`WSAGetLastError` used to read a `WSAStartup` failure"
}

pub static DEF: LintDef = LintDef {
    lint: &WSAGETLASTERROR_AFTER_WSASTARTUP,
    check,
    yields_to: &[],
};

fn check(cx: &mut LintCx<'_>) {
    let facts = cx.facts;
    // A read of the last error on a path where `WSAStartup` just failed.
    let reads = per_site(known_paths(&facts.calls).filter_map(|c| {
        let api = c.api()?;
        (api.effect == crate::winsock::Effect::ReadsLastError).then_some(())?;
        Some((c.span, c.before.failed_startup?))
    }));
    for (call, startup) in reads {
        cx.emit(
            &WSAGETLASTERROR_AFTER_WSASTARTUP,
            call,
            "`WSAGetLastError` does not report why `WSAStartup` failed",
            "this reads a stale last-error value",
        )
        .label(startup, "`WSAStartup` returns its error code directly")
        .help("use the value `WSAStartup` returned as the error code");
    }
}
