//! The lint catalog: one file per lint, each carrying its documentation.
//! `ALL` is the one list the binary hands to the engine.

use crate::lint::LintDef;

pub mod closesocket_without_shutdown;
pub mod malformed_wsa_version;
pub mod missing_wsa_cleanup;
pub mod removed_winsock1_api;
pub mod socket_use_after_close;
pub mod unchecked_wsa_startup;
pub mod unmatched_wsa_cleanup;
pub mod winsock_after_cleanup;
pub mod wsa_cleanup_in_dllmain;
pub mod wsa_cleanup_with_open_sockets;
pub mod wsa_startup_in_dllmain;
pub mod wsagetlasterror_after_wsastartup;

pub static ALL: &[&LintDef] = &[
    &missing_wsa_cleanup::DEF,
    &unmatched_wsa_cleanup::DEF,
    &wsa_cleanup_in_dllmain::DEF,
    &wsa_startup_in_dllmain::DEF,
    &closesocket_without_shutdown::DEF,
    &removed_winsock1_api::DEF,
    &wsa_cleanup_with_open_sockets::DEF,
    &winsock_after_cleanup::DEF,
    &wsagetlasterror_after_wsastartup::DEF,
    &unchecked_wsa_startup::DEF,
    &socket_use_after_close::DEF,
    &malformed_wsa_version::DEF,
];
