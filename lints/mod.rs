//! The lint catalog: one file per lint, each carrying its documentation.
//! `ALL` is the one list the binary hands to the engine.

use crate::lint::LintDef;

pub mod closesocket_without_shutdown;
pub mod missing_wsa_cleanup;
pub mod removed_winsock1_api;
pub mod unmatched_wsa_cleanup;
pub mod wsa_cleanup_in_dllmain;
pub mod wsa_startup_in_dllmain;

pub static ALL: &[&LintDef] = &[
    &missing_wsa_cleanup::DEF,
    &unmatched_wsa_cleanup::DEF,
    &wsa_cleanup_in_dllmain::DEF,
    &wsa_startup_in_dllmain::DEF,
    &closesocket_without_shutdown::DEF,
    &removed_winsock1_api::DEF,
];
