use crate::lint::{LintCx, LintDef};

crate::declare_lint! {
    /// ### What it does
    /// Finds a `WSAStartup` whose result is thrown away (`WSAStartup(..);` or
    /// `let _ = WSAStartup(..);`).
    ///
    /// ### Why is this bad
    /// Only a successful `WSAStartup` takes a reference. Code that does not
    /// look at the result cannot know whether it owes a `WSACleanup`, nor
    /// whether the sockets it creates next can work at all.
    ///
    /// ### Known problems
    /// A result passed to any macro of another crate that is not modelled counts as
    /// used: the macro may test it.
    ///
    /// ### Example
    /// ```rust,ignore
    /// fn main() {
    ///     let mut data: WSADATA = unsafe { std::mem::zeroed() };
    ///     unsafe { WSAStartup(0x202, &mut data) };
    ///     serve();
    ///     unsafe { WSACleanup() };
    /// }
    /// ```
    /// Use instead:
    /// ```rust,ignore
    /// fn main() -> io::Result<()> {
    ///     let mut data: WSADATA = unsafe { std::mem::zeroed() };
    ///     let rc = unsafe { WSAStartup(0x202, &mut data) };
    ///     if rc != 0 {
    ///         return Err(io::Error::from_raw_os_error(rc));
    ///     }
    ///     serve();
    ///     unsafe { WSACleanup() };
    ///     Ok(())
    /// }
    /// ```
    pub UNCHECKED_WSA_STARTUP = "unchecked_wsa_startup", Pedantic, Warn,
    "the result of `WSAStartup` is ignored"
}

pub static DEF: LintDef = LintDef {
    lint: &UNCHECKED_WSA_STARTUP,
    check,
    yields_to: &[],
};

fn check(cx: &mut LintCx<'_>) {
    let facts = cx.facts;
    let startups = facts
        .discarded
        .iter()
        .filter(|d| d.api.0.effect == crate::winsock::Effect::Startup);
    for d in startups {
        cx.emit(
            &UNCHECKED_WSA_STARTUP,
            d.span,
            "the result of `WSAStartup` is ignored",
            "whether this succeeded decides whether `WSACleanup` is owed",
        )
        .help("check that `WSAStartup` returned 0 before using Winsock, and clean up only then");
    }
}
