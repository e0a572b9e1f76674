//! The abuse suite, against a real server on loopback: each attempt is refused or deduplicated, and
//! nothing already stored is lost.

use std::io::Write;
use std::time::Duration;

use homeseason_server::registry::Status;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::util::{Fixture, activities, files_under, manifest, served};

async fn post(
    addr: std::net::SocketAddr,
    token: Option<&str>,
    name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, serde_json::Value) {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
    );
    let mut req = reqwest::Client::new()
        .post(format!("http://{addr}/api/uploads"))
        .multipart(form);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("answered");
    let status = res.status();
    (status, res.json().await.unwrap_or_default())
}

fn raw_files(f: &Fixture) -> Vec<std::path::PathBuf> {
    files_under(&f.data().join("raw"))
}

/// Post `bytes` as `name` with `token`, check the answer is 200, and return the upload record.
async fn accepted(
    addr: std::net::SocketAddr,
    token: &str,
    name: &str,
    bytes: Vec<u8>,
) -> serde_json::Value {
    let (status, r) = post(addr, Some(token), name, bytes).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    r
}

/// Seed the lake with one accepted Zhejiang file, to check that nothing below loses it.
async fn seeded(addr: std::net::SocketAddr, f: &Fixture) -> serde_json::Value {
    let bytes = activities(&["330000"], 3, false, "seed");
    accepted(addr, &f.zhejiang, "seed.csv", bytes).await
}

fn assert_seed_intact(f: &Fixture, seed: &serde_json::Value) {
    let m = manifest(f);
    let entry = m
        .file(seed["sha256"].as_str().expect("sha"))
        .expect("seed still in the manifest");
    assert!(entry.superseded.is_empty(), "seed still current");
    let rows = f.table("activities");
    assert_eq!(rows.height(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_garbage_or_revoked_token() {
    let (f, addr, _stop) = served().await;
    let seed = seeded(addr, &f).await;
    let raw_before = raw_files(&f);
    let bytes = activities(&["330000"], 2, false, "anon");
    let (status, body) = post(addr, None, "a.csv", bytes.clone()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let (status, _) = post(addr, Some("hs_deadbeef_0000"), "a.csv", bytes.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = post(
        addr,
        Some(&format!("{}x", f.zhejiang)),
        "a.csv",
        bytes.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Revoke Zhejiang's token: refused at once, with its own message.
    let id = f.zhejiang.split('_').nth(1).expect("id").to_owned();
    f.state.tokens().revoke(&id, "now").expect("revoke");
    let (status, body) = post(addr, Some(&f.zhejiang), "a.csv", bytes).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_revoked"))
    );
    let res = reqwest::Client::new()
        .get(format!("http://{addr}/api/uploads"))
        .bearer_auth(&f.zhejiang)
        .send()
        .await
        .expect("answered");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        raw_files(&f),
        raw_before,
        "nothing stored from refused requests"
    );
    assert_seed_intact(&f, &seed);
    let events = f.state.audit().read_all().expect("audit");
    let outcomes: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.actor.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        outcomes
            .iter()
            .filter(|(a, o)| *a == "anonymous" && *o == "unauthorized")
            .count(),
        3
    );
    assert!(
        outcomes.contains(&(id.as_str(), "token_revoked")),
        "{outcomes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_regions_data_and_partitions() {
    let (f, addr, _stop) = served().await;
    let seed = seeded(addr, &f).await;
    // Beijing's liaison sends Zhejiang rows: refused whole, and Zhejiang's data untouched.
    let (status, r) = post(
        addr,
        Some(&f.beijing),
        "zj.csv",
        activities(&["330000"], 5, false, "evil"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r["refusal"]["code"], "foreign_region");
    assert!(
        r["refusal"]["message_en"]
            .as_str()
            .is_some_and(|m| m.contains("330000") && m.contains("5 accepted rows"))
    );
    assert_seed_intact(&f, &seed);
    // Payment partitions are per institution × month: the administrator stores a month with two
    // regions; a file is an increment, so Zhejiang's liaison adding a Zhejiang day to that month
    // leaves Beijing's row as it was (before, this upload was refused because it would have
    // replaced the whole partition).
    let header =
        "date,institution,region_code,mcc,channel,txn_count,amount,refund_amount,merchant_count\n";
    let both = format!(
        "{header}2023-09-01,acq_a,330000,5211,offline,10,1000.00,0,5\n2023-09-01,acq_a,110000,5211,offline,20,2000.00,0,6\n"
    );
    let (status, r) = post(addr, Some(&f.admin), "acq_a_2023-09.csv", both.into_bytes()).await;
    assert_eq!(
        (status, r["status"].as_str()),
        (StatusCode::OK, Some("accepted")),
        "{r}"
    );
    let only_zj = format!("{header}2023-09-02,acq_a,330000,5211,offline,11,1100.00,0,5\n");
    let (status, r) = post(
        addr,
        Some(&f.zhejiang),
        "acq_a_2023-09_zj.csv",
        only_zj.into_bytes(),
    )
    .await;
    assert_eq!(
        (status, r["status"].as_str()),
        (StatusCode::OK, Some("accepted")),
        "{r}"
    );
    let daily = f.table("payment_daily");
    assert_eq!(
        daily.height(),
        3,
        "the administrator's two rows and Zhejiang's new day"
    );
    let beijing = polars::prelude::IntoLazy::lazy(daily)
        .filter(polars::prelude::col("region_code").eq(polars::prelude::lit("110000")))
        .collect()
        .expect("filter");
    assert_eq!(beijing.height(), 1);
    assert_eq!(
        beijing
            .column("amount_yuan")
            .expect("amount_yuan")
            .f64()
            .expect("f64")
            .get(0),
        Some(2000.0)
    );
}

/// A Zhejiang liaison uploads transactions whose institution is each traversal form: every such
/// row is a rejected row with its reason, the good rows are stored, nothing is written outside the
/// lake's partitions, Beijing's activities stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_institution_value_becomes_a_path_through_upload() {
    let (f, addr, _stop) = served().await;
    accepted(
        addr,
        &f.beijing,
        "bj.csv",
        activities(&["110000"], 4, false, "bj"),
    )
    .await;
    let beijing_before = f.table("activities");
    let outside = f.file("outside.txt", b"keep me");
    // A NUL byte makes the upload binary: refused whole before any row is read (nothing stored).
    let (forms, nul): (Vec<String>, Vec<String>) = homeseason_test_support::traversal_forms()
        .into_iter()
        .partition(|v| !v.contains('\u{0}'));
    assert_eq!(nul.len(), 1);
    let (status, r) = post(
        addr,
        Some(&f.zhejiang),
        "payment_transactions_wallet_b_2023-09-nul.csv",
        homeseason_test_support::transactions_with_institutions(&nul, "wallet_b", "330106", 1),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{r}");
    assert!(f.rows("payment_daily") == 0, "nothing stored");
    let body =
        homeseason_test_support::transactions_with_institutions(&forms, "wallet_b", "330106", 3);
    let (status, r) = post(
        addr,
        Some(&f.zhejiang),
        "payment_transactions_wallet_b_2023-09.csv",
        body,
    )
    .await;
    assert_eq!(
        (status, r["status"].as_str()),
        (StatusCode::OK, Some("accepted")),
        "{r}"
    );
    assert_eq!(r["report"]["accepted"], 3, "{r}");
    assert_eq!(
        r["report"]["rejected"].as_u64(),
        Some(forms.len() as u64),
        "{r}"
    );
    let reasons: Vec<&str> = r["rejects"]
        .as_array()
        .expect("rejects")
        .iter()
        .map(|x| x["reason"].as_str().unwrap_or_default())
        .collect();
    assert!(reasons.iter().all(|x| *x == "bad_pattern"), "{reasons:?}");
    homeseason_test_support::assert_tree_is_clean(&f.data());
    assert_eq!(std::fs::read(&outside).expect("outside"), b"keep me");
    let after = f.table("activities");
    assert!(
        after.equals_missing(&beijing_before),
        "Beijing's activities unchanged"
    );
    let daily = f.table("payment_daily");
    let institutions = homeseason_test_support::str_values(&daily, "institution");
    assert!(
        institutions.iter().all(|i| *i == "wallet_b"),
        "{institutions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_wrong_type_and_gzip_bombs() {
    let (f, addr, _stop) = served().await;
    let seed = seeded(addr, &f).await;
    let raw_before = raw_files(&f);
    // Over the 1 MB limit of the fixture.
    let mut big = activities(&["330000"], 1, false, "big");
    big.resize(1_500_000, b'\n');
    let (status, body) = post(addr, Some(&f.zhejiang), "big.csv", big).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large"))
    );
    // Wrong content under a CSV name, wrong names, a workbook name on text.
    for (name, bytes) in [
        ("report.csv", b"%PDF-1.7\n%binary".to_vec()),
        ("data.csv", b"MZ\x90\x00\x03\x00\x00\x00".to_vec()),
        ("data.csv", [b"a,b\n".as_slice(), &[0u8; 64]].concat()),
        (
            "data.csv",
            vec![0xff, 0xfe, 0x80, 0x81, 0xfe, 0xff, 0x80, 0x30],
        ),
        ("tool.exe", b"a,b\n1,2\n".to_vec()),
        ("fake.xlsx", b"a,b\n1,2\n".to_vec()),
        ("archive.zip", b"PK\x03\x04....".to_vec()),
    ] {
        let (status, body) = post(addr, Some(&f.zhejiang), name, bytes).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{name}: {body}");
        assert_eq!(body["error"], "wrong_type", "{name}");
    }
    assert_eq!(raw_files(&f), raw_before, "refused types are not stored");
    // A gzip bomb: 40 KB that inflates past the 5 MB ceiling. Stored (it was within the limits and
    // looked like gzip), then refused whole before ingest.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(crate::util::ACTIVITIES_HEADER.as_bytes())
        .expect("gz");
    enc.write_all(&vec![b' '; 20_000_000]).expect("gz");
    let bomb = enc.finish().expect("gz");
    assert!(bomb.len() < 100_000);
    let (status, body) = post(addr, Some(&f.zhejiang), "bomb.csv.gz", bomb).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(body["refusal"]["code"], "wrong_type");
    // No partial files are left behind.
    assert!(files_under(&f.data().join("raw/.partial")).is_empty());
    assert_seed_intact(&f, &seed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_traversal_names_never_reach_the_filesystem() {
    let (f, addr, _stop) = served().await;
    let bytes = activities(&["330000"], 2, false, "path");
    for name in [
        "../../../../tmp/evil.csv",
        "..\\..\\evil.csv",
        "/etc/passwd.csv",
        "sub/dir.csv",
        "..",
        "x..csv",
        "evil\t.csv",
    ] {
        let (status, body) = post(addr, Some(&f.zhejiang), name, bytes.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}: {body}");
        assert_eq!(body["error"], "bad_name", "{name:?}");
    }
    // reqwest sends the name raw in the part header; a NUL (or another control character the HTTP
    // header grammar forbids) makes the part header itself malformed, so the multipart parser refuses
    // the request before any name is read. Either way: 400, and nothing is stored.
    for name in ["evil\u{0}.csv", "evil\u{1}.csv", "evil\u{7f}.csv"] {
        let (status, body) = post(addr, Some(&f.zhejiang), name, bytes.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}: {body}");
        assert!(
            matches!(body["error"].as_str(), Some("bad_name" | "bad_multipart")),
            "{name:?}: {body}"
        );
    }
    assert!(raw_files(&f).is_empty());
    let outside: Vec<_> = files_under(f.dir.path())
        .into_iter()
        .filter(|p| !p.starts_with(f.data()))
        .collect();
    assert!(outside.is_empty(), "{outside:?}");
    // A name with odd characters is cleaned and used only as a label.
    let r = accepted(addr, &f.zhejiang, "浙江<活动>;$(rm -rf).csv", bytes).await;
    assert_eq!(r["file"], "浙江_活动___(rm -rf).csv");
    let raw = raw_files(&f);
    assert_eq!(raw.len(), 1);
    assert_eq!(
        raw[0].file_name().and_then(|n| n.to_str()),
        r["sha256"].as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_file_sent_concurrently_is_ingested_once() {
    let (f, addr, _stop) = served().await;
    let bytes = activities(&["330000"], 50, true, "twice");
    let sends: Vec<_> = (0..6)
        .map(|i| {
            let token = f.zhejiang.clone();
            let bytes = bytes.clone();
            tokio::spawn(
                async move { post(addr, Some(&token), &format!("copy{i}.csv"), bytes).await },
            )
        })
        .collect();
    let mut answers = Vec::new();
    for s in sends {
        answers.push(s.await.expect("task"));
    }
    assert!(
        answers
            .iter()
            .all(|(s, r)| *s == StatusCode::OK && r["status"] == "accepted"),
        "{answers:?}"
    );
    let originals: Vec<_> = answers
        .iter()
        .filter(|(_, r)| r["duplicate_of"].is_null())
        .collect();
    assert_eq!(originals.len(), 1, "exactly one ingest");
    let id = &originals[0].1["id"];
    assert!(
        answers
            .iter()
            .filter(|(_, r)| !r["duplicate_of"].is_null())
            .all(|(_, r)| &r["duplicate_of"] == id)
    );
    assert!(
        answers
            .iter()
            .all(|(_, r)| r["report"]["rejected"] == 1 && r["rejects"][0]["line"] == 3)
    );
    assert_eq!(manifest(&f).files.len(), 1);
    assert_eq!(f.rows("activities"), 49);
    assert_eq!(raw_files(&f).len(), 1);
    let audit = f.state.audit().read_all().expect("audit");
    assert_eq!(audit.iter().filter(|e| e.outcome == "accepted").count(), 1);
    assert_eq!(audit.iter().filter(|e| e.outcome == "duplicate").count(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_of_different_regions_all_land() {
    let (f, addr, _stop) = served().await;
    let regions = [
        "110000", "120000", "130000", "140000", "150000", "210000", "310000", "320000",
    ];
    let sends: Vec<_> = regions
        .iter()
        .map(|r| {
            let token = f.admin.clone();
            let bytes = activities(&[r], 4, false, "cc");
            let name = format!("{r}.csv");
            tokio::spawn(async move { post(addr, Some(&token), &name, bytes).await })
        })
        .collect();
    for s in sends {
        let (status, r) = s.await.expect("task");
        assert_eq!(status, StatusCode::OK, "{r}");
    }
    let m = manifest(&f);
    assert_eq!(m.files.len(), regions.len());
    assert_eq!(f.rows("activities"), 4 * regions.len());
    let history = f.state.registry().list(|r| r.status == Status::Accepted);
    assert_eq!(history.len(), regions.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_transfer_and_a_stalled_client_are_refused() {
    let (f, addr, _stop) = served().await;
    let bytes = activities(&["330000"], 2, false, "dmg");
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name("d.csv"),
    );
    let res = reqwest::Client::new()
        .post(format!("http://{addr}/api/uploads"))
        .bearer_auth(&f.zhejiang)
        .header("X-Content-SHA256", "0".repeat(64))
        .multipart(form)
        .send()
        .await
        .expect("answered");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(manifest(&f).files.is_empty());
    // A client that sends half a body and stalls gets 408 after the idle timeout (2 s here).
    let mut sock = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let boundary = crate::util::BOUNDARY;
    let head = format!(
        "POST /api/uploads HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: 100000\r\n\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.csv\"\r\n\r\n{}",
        f.zhejiang,
        crate::util::ACTIVITIES_HEADER
    );
    sock.write_all(head.as_bytes()).await.expect("write");
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut answer))
        .await
        .expect("answered before 10 s")
        .expect("read");
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(files_under(&f.data().join("raw/.partial")).is_empty());
}
