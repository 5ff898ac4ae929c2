use crate::lint::{LintCx, LintDef};

crate::declare_lint! {
    /// ### What it does
    /// Finds `WSACleanup` reachable from the exported `DllMain`, directly or
    /// through any chain of crate functions, on any `fdwReason`. `DllMain` is
    /// the function exported under that name (`#[no_mangle]`,
    /// `#[unsafe(no_mangle)]` or `#[export_name = "DllMain"]`); a method or a
    /// function that is not exported is not it.
    ///
    /// ### Why is this bad
    /// `DllMain` runs under the loader lock. Calling `WSACleanup` there is
    /// unsupported: it can unload service-provider DLLs while the loader lock is held and deadlock the process. Application Verifier stops on it
    /// (UNSUPPORTED_API_CALL_IN_DLLMAIN).
    ///
    /// ### Example
    /// ```rust,ignore
    /// #[no_mangle]
    /// extern "system" fn DllMain(_: HINSTANCE, reason: u32, _: *mut c_void) -> BOOL {
    ///     if reason == DLL_PROCESS_DETACH {
    ///         unsafe { WSACleanup() }; // may deadlock under the loader lock
    ///     }
    ///     TRUE
    /// }
    /// ```
    /// Use instead: export functions that the host calls outside the loader lock,
    /// and keep `DllMain` free of Winsock calls:
    /// ```rust,ignore
    /// #[no_mangle]
    /// pub extern "C" fn plugin_init() -> i32 {
    ///     let mut data: WSADATA = unsafe { std::mem::zeroed() };
    ///     unsafe { WSAStartup(0x202, &mut data) }
    /// }
    ///
    /// #[no_mangle]
    /// pub extern "C" fn plugin_shutdown() {
    ///     unsafe { WSACleanup() };
    /// }
    /// ```
    ///
    /// ### References
    /// - <https://learn.microsoft.com/en-us/windows/win32/dlls/dynamic-link-library-best-practices>
    pub WSA_CLEANUP_IN_DLLMAIN = "wsa_cleanup_in_dllmain", Correctness, Deny,
    "`WSACleanup` reachable from `DllMain`"
}

pub static DEF: LintDef = LintDef {
    lint: &WSA_CLEANUP_IN_DLLMAIN,
    check,
    yields_to: &[],
};

fn check(cx: &mut LintCx<'_>) {
    crate::lint::emit_dllmain_chains(
        cx,
        &WSA_CLEANUP_IN_DLLMAIN,
        crate::winsock::Effect::Cleanup,
        "it can unload service-provider DLLs while the loader lock is held and deadlock the process",
        "release Winsock from an exported shutdown function that the host calls before `FreeLibrary`",
    );
}
