//! The CI formats: SARIF validated against the official 2.1.0 schema by a real validator
//! (python `jsonschema`, installed by .ci/run), and GitHub workflow commands.

mod common;

use common::*;

const CASES: &[&str] = &[
    "fixtures/missing_wsa_cleanup/caller_leaks_across_files",
    "fixtures/wsa_cleanup_in_dllmain/cleanup_through_call_chain.rs",
    "fixtures/closesocket_without_shutdown",
    "fixtures/malformed_wsa_version/float_version_cast.rs",
    "fixtures/unmatched_wsa_cleanup/cleanup_after_failed_startup.rs",
];

#[test]
fn sarif_validates_against_the_2_1_0_schema() {
    for case in CASES {
        let o = run(wsa_lint().args(["--message-format", "sarif", case]));
        let text = String::from_utf8(o.stdout).unwrap();
        validate_sarif(&text);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let run0 = &v["runs"][0];
        let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), wsa_lint::lints::ALL.len());
        for r in rules {
            assert!(r["helpUri"].as_str().unwrap().contains("docs/lints.md#"));
            assert!(r["shortDescription"]["text"].is_string());
            assert!(r["fullDescription"]["text"].as_str().unwrap().len() > 20);
            assert!(r["defaultConfiguration"]["level"].is_string());
        }
        let json = run(wsa_lint().args(["--message-format", "json", case]));
        let findings = findings(&String::from_utf8_lossy(&json.stdout));
        let results = run0["results"].as_array().unwrap();
        assert_eq!(results.len(), findings.len(), "{case}");
        for (r, f) in results.iter().zip(&findings) {
            let idx = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[idx]["id"], r["ruleId"]);
            assert_eq!(r["ruleId"], format!("wsa_lint::{}", f.2));
            let loc = &r["locations"][0]["physicalLocation"];
            assert_eq!(loc["artifactLocation"]["uriBaseId"], "%SRCROOT%");
            assert_eq!(loc["artifactLocation"]["uri"], f.0.as_str());
            assert_eq!(loc["region"]["startLine"], f.1);
        }
    }
    // Notes become related locations.
    let o = run(wsa_lint().args(["--message-format", "sarif", CASES[1]]));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["runs"][0]["results"][0]["relatedLocations"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn github_workflow_commands_one_per_finding_escaped() {
    let o = run(wsa_lint().args(["--message-format", "github", CASES[0]]));
    let out = String::from_utf8(o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with(
        "::error file=fixtures/missing_wsa_cleanup/caller_leaks_across_files/src/main.rs,line=14,col=5,endLine=14,endColumn=17,title=wsa_lint%3A%3Amissing_wsa_cleanup::`WSAStartup` is not balanced by `WSACleanup` on every path%0Ahelp: "
    ), "{out}");
    // Property values escape `,` and `:`; messages escape newlines and `%`.
    let t = tempfile::tempdir().unwrap();
    let name = "odd,name:100%.rs";
    std::fs::write(
        t.path().join(name),
        "use windows_sys::Win32::Networking::WinSock::*;\nfn main() { unsafe { WSACancelBlockingCall() }; }\n",
    )
    .unwrap();
    let o = run(wsa_lint()
        .current_dir(t.path())
        .args(["--message-format", "github", name]));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.starts_with("::error file=odd%2Cname%3A100%25.rs,line=2,col=22,"),
        "{out}"
    );
    assert!(!out.trim_end().contains('\n'), "{out}");
}
