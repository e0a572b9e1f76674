//! The liaison's round trip in headless Chromium (tests/browser/upload.mjs, playwright-core driving
//! Debian's chromium): log in, choose the feed, upload a file with one bad row and see that row
//! reported, switch to English, drop in the fixed file and see it accepted.
//!
//! `tests/run.sh` installs chromium and playwright-core (tests/browser/install.sh) and sets
//! `HOMESEASON_BROWSER_TEST=require`, so there a missing browser fails the test. Run alone (plain
//! `cargo test`) without them, the test says so loudly and passes.

use std::process::Command;
use std::time::{Duration, Instant};

use homeseason_test_support::{browser_dir, dying_with_parent, skip_browser_test};

use crate::util::{activities, served};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liaison_round_trip_in_headless_chromium() {
    if skip_browser_test("liaison_round_trip_in_headless_chromium") {
        return;
    }
    let (f, addr, _stop) = served().await;
    let bad = f.file(
        "zhejiang_activities_2023-09.csv",
        activities(&["330000"], 4, true, "b"),
    );
    let fixed_text = String::from_utf8(activities(&["330000"], 4, false, "b")).expect("utf-8");
    let fixed = f.file("fixed.csv", &fixed_text);
    // One activity with another venue: a conflict with the fixed file's row.
    let changed_text = fixed_text.replacen(",体育馆", ",会展中心", 1);
    assert_ne!(changed_text, fixed_text, "the venue to change");
    let changed = f.file("changed.csv", &changed_text);
    let shot = std::env::var("HOMESEASON_BROWSER_SCREENSHOT").ok();
    let mut cmd = Command::new("node");
    cmd.current_dir(browser_dir())
        .arg("upload.mjs")
        .arg(format!("http://{addr}/"))
        .arg(&f.zhejiang)
        .arg(&bad)
        .arg(&fixed)
        .arg(&changed);
    if let Some(s) = &shot {
        cmd.arg(s);
    }
    let output = tokio::task::spawn_blocking(move || {
        let mut child = dying_with_parent(&cmd)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("node starts");
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if child.try_wait().expect("wait").is_some() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        child.wait_with_output().expect("output")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser test failed\nstdout: {stdout}\nstderr: {stderr}"
    );
    let result: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON result");
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["rejects"][0][0], "3");
    // The server saw the same: three uploads, each an increment (nothing replaced), the third with
    // one conflict settled under the page's choice, keep-last.
    let uploads = f.state.registry().list(|_| true);
    assert_eq!(uploads.len(), 3);
    let third = uploads
        .iter()
        .find(|u| u.file == "activities_conflict.csv")
        .expect("the conflict upload");
    let commit = third.commit.as_ref().expect("committed");
    assert_eq!(commit.conflicts, 1, "{commit:?}");
    assert_eq!(commit.conflict_policy.as_deref(), Some("keep-last"));
    assert!(
        uploads
            .iter()
            .all(|u| u.commit.as_ref().is_some_and(|c| c.replaced.is_empty()))
    );
}
