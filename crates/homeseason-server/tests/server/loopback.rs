//! A real server on 127.0.0.1 driven by the reqwest client.

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use homeseason_client::{Client, ClientError, PullSource, Retry, pull};
use homeseason_server::registry::Status;

use crate::util::{Fixture, activities, manifest, served, spawn};

/// A client of the server at `addr` with `token`, retrying quickly.
fn client_of(addr: std::net::SocketAddr, token: &str) -> Client {
    Client::new(&format!("http://{addr}"), token, quick()).expect("client")
}

fn quick() -> Retry {
    Retry {
        attempts: 6,
        base: Duration::from_millis(100),
        max: Duration::from_secs(1),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_uploads_and_a_repeat_sends_nothing() {
    let (f, addr, _stop) = served().await;
    let file = f.file("zj_activities.csv", activities(&["330000"], 5, true, "l"));
    let client = client_of(addr, &f.zhejiang);
    let first = client.upload(&file, None).await.expect("upload");
    assert_eq!(first.record.status, Status::Accepted);
    assert!(!first.skipped);
    assert_eq!(first.record.rejects_total, 1);
    assert_eq!(first.record.rejects[0].line, 3);
    let second = client.upload(&file, None).await.expect("upload again");
    assert!(second.skipped, "recognised by its hash: nothing sent");
    assert_eq!(second.record.id, first.record.id);
    assert_eq!(f.state.registry().list(|_| true).len(), 1);
    assert_eq!(manifest(&f).files.len(), 1);
    // The attempt that sent nothing is still in the audit log, as a duplicate of the first upload.
    let audit = f.state.audit().read_all().expect("audit");
    let outcomes: Vec<&str> = audit.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes, ["accepted", "duplicate"], "{audit:?}");
    assert_eq!(audit[1].upload_id.as_ref(), Some(&first.record.id));
    assert_eq!(audit[1].sha256, audit[0].sha256);
    assert_eq!(audit[1].file.as_deref(), Some("zj_activities.csv"));
    assert_eq!(audit[1].actor_name.as_deref(), Some("浙江 联络员"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_version_is_an_increment_and_content_sent_again_changes_nothing() {
    let (f, addr, _stop) = served().await;
    let v1 = f.file("v1.csv", activities(&["330000"], 3, true, "s"));
    let v2 = f.file("v2.csv", activities(&["330000"], 3, false, "s"));
    let client = client_of(addr, &f.zhejiang);
    let first = client.upload(&v1, None).await.expect("v1");
    let second = client.upload(&v2, None).await.expect("v2");
    assert!(!first.skipped && !second.skipped);
    // v2 adds the activity v1's bad row lacked; the two v1 gave are duplicates; nothing is replaced.
    let commit = second.record.commit.clone().expect("commit");
    assert!(commit.replaced.is_empty());
    assert_eq!(commit.duplicate_rows, 2);
    assert_eq!(f.rows("activities"), 3);
    // v1 is still whole in the lake: sending it again sends nothing.
    let lookup = client
        .lookup(&first.record.sha256, None, None)
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(lookup.already_ingested, Some(true));
    let again = client.upload(&v1, None).await.expect("v1 again");
    assert!(again.skipped, "content already in the lake is not sent");
    let m = manifest(&f);
    assert!(
        m.file(&first.record.sha256)
            .is_some_and(|x| x.superseded.is_empty()),
        "v1 is current"
    );
    assert_eq!(f.rows("activities"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_whose_answer_was_lost_is_not_ingested_twice() {
    let (f, addr, _stop) = served().await;
    let bytes = activities(&["330000"], 3, false, "lost");
    let file = f.file("lost.csv", &bytes);
    // A first attempt reaches the server, but the client never reads the answer.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes.clone()).file_name("lost.csv"),
    );
    let sent = reqwest::Client::new()
        .post(format!("http://{addr}/api/uploads"))
        .bearer_auth(&f.zhejiang)
        .multipart(form)
        .send()
        .await
        .expect("first attempt");
    drop(sent);
    let client = client_of(addr, &f.zhejiang);
    let retry = client.upload(&file, None).await.expect("retry");
    assert!(retry.skipped);
    assert_eq!(retry.record.status, Status::Accepted);
    assert_eq!(manifest(&f).files.len(), 1);
    let ingested = f
        .state
        .registry()
        .list(|r| r.status == Status::Accepted && r.duplicate_of.is_none());
    assert_eq!(ingested.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_retries_until_the_server_is_up() {
    let f = Fixture::new();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let file = f.file("late.csv", activities(&["330000"], 2, false, "late"));
    let state = f.state.clone();
    let starter = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(600)).await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the reserved port");
        let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
        let _ = homeseason_server::serve(listener, state, async move {
            let _ = rx.await;
        })
        .await;
    });
    let client = Client::new(
        &format!("http://127.0.0.1:{port}"),
        &f.zhejiang,
        Retry {
            attempts: 10,
            base: Duration::from_millis(150),
            max: Duration::from_millis(800),
        },
    )
    .expect("client");
    let outcome = client
        .upload(&file, None)
        .await
        .expect("upload after retries");
    assert!(outcome.attempts > 1, "{}", outcome.attempts);
    assert_eq!(outcome.record.status, Status::Accepted);
    starter.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_polls_when_the_server_answers_202() {
    let f = Fixture::with(|c| c.sync_wait = Duration::ZERO);
    let (addr, _stop) = spawn(f.state.clone()).await;
    let file = f.file("async.csv", activities(&["330000"], 2, false, "async"));
    let client = client_of(addr, &f.zhejiang);
    let outcome = client.upload(&file, None).await.expect("upload");
    assert_eq!(outcome.record.status, Status::Accepted);
    assert_eq!(
        outcome
            .record
            .report
            .as_ref()
            .map(|r| r["accepted"].clone()),
        Some(2.into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reports_refusals_and_bad_tokens() {
    let (f, addr, _stop) = served().await;
    let file = f.file("bj_rows.csv", activities(&["110000"], 2, false, "bj"));
    let client = client_of(addr, &f.zhejiang);
    let outcome = client.upload(&file, None).await.expect("answered");
    assert_eq!(outcome.record.status, Status::Refused);
    assert_eq!(
        outcome.record.refusal.as_ref().map(|r| r.code.as_str()),
        Some("foreign_region")
    );
    let bad = client_of(addr, "hs_00000000_nope");
    match bad.upload(&file, None).await {
        Err(ClientError::Refused { status: 401, .. }) => {}
        other => panic!("expected 401, got {other:?}"),
    }
}

/// A file server on loopback whose file endpoint fails the first `failures` requests with 503.
async fn flaky_feed_server(
    body: Vec<u8>,
    checksum: String,
    failures: usize,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = Router::new()
        .route(
            "/feeds/payment_daily_acq_a_2023-09.csv",
            get(move || {
                let count = count.clone();
                let body = body.clone();
                async move {
                    if count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < failures {
                        (StatusCode::SERVICE_UNAVAILABLE, Vec::new())
                    } else {
                        (StatusCode::OK, body)
                    }
                }
            }),
        )
        .route(
            "/feeds/payment_daily_acq_a_2023-09.csv.sha256",
            get(move || {
                let c = checksum.clone();
                async move { c }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    (addr, tx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_retries_and_checks_the_published_checksum() {
    let body = b"date,institution,region_code,mcc,channel,txn_count,amount,refund_amount,merchant_count\n2023-09-01,acq_a,330000,5722,offline,10,1000.00,0,5\n".to_vec();
    let digest = homeseason_ingest::sha256_hex(&body);
    let (addr, _stop) = flaky_feed_server(
        body.clone(),
        format!("{digest}  payment_daily_acq_a_2023-09.csv\n"),
        2,
    )
    .await;
    let out = tempfile::tempdir().expect("dir");
    let http = reqwest::Client::new();
    let source = PullSource {
        name: "acq_a".into(),
        url: format!("http://{addr}/feeds/payment_daily_acq_a_2023-09.csv"),
        sha256_url: None,
        sha256: None,
        feed: Some("payment_daily".into()),
    };
    let pulled = pull(&http, &source, out.path(), &quick())
        .await
        .expect("pulled");
    assert_eq!(pulled.attempts, 3, "two 503s, then the file");
    assert_eq!(pulled.sha256, digest);
    assert_eq!(std::fs::read(&pulled.path).expect("file"), body);
    let again = pull(&http, &source, out.path(), &quick())
        .await
        .expect("again");
    assert!(again.unchanged);
    // A wrong published checksum: retried, then refused, and nothing written.
    let wrong = PullSource {
        sha256: Some("0".repeat(64)),
        ..source.clone()
    };
    let out2 = tempfile::tempdir().expect("dir");
    match pull(&http, &wrong, out2.path(), &quick()).await {
        Err(ClientError::Checksum { .. }) => {}
        other => panic!("expected a checksum error, got {other:?}"),
    }
    assert!(crate::util::files_under(out2.path()).is_empty());
    // Plain http to anything but loopback is refused before any request.
    let remote = PullSource {
        url: "http://example.invalid/a.csv".into(),
        ..source
    };
    assert!(matches!(
        pull(&http, &remote, out2.path(), &quick()).await,
        Err(ClientError::Config(_))
    ));
}

/// Read from `stream` until the server closes it (EOF or a reset) or `within` passes; how long that
/// took and what was read, or `None` when it stayed open.
async fn until_closed(
    stream: &mut tokio::net::TcpStream,
    within: Duration,
) -> Option<(Duration, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let start = std::time::Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some((start.elapsed(), got)),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_does_not_finish_its_request_head_is_closed() {
    use tokio::io::AsyncWriteExt;
    let limit = Duration::from_millis(800);
    let f = Fixture::with(|c| c.header_read_timeout = limit);
    let (addr, _stop) = spawn(f.state.clone()).await;
    // Slowloris: half a head, then nothing; one header at a time; a connection that sends nothing.
    for (case, parts) in [
        ("half a request line", vec!["GET /api/hea"]),
        (
            "a header every 300 ms",
            vec![
                "GET /api/health HTTP/1.1\r\n",
                "Host: x\r\n",
                "X-A: 1\r\n",
                "X-B: 2\r\n",
                "X-C: 3\r\n",
                "X-D: 4\r\n",
            ],
        ),
        ("nothing at all", vec![]),
    ] {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let start = std::time::Instant::now();
        for p in parts {
            if s.write_all(p.as_bytes()).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let closed = until_closed(&mut s, Duration::from_secs(10)).await;
        let total = start.elapsed();
        assert!(closed.is_some(), "{case}: still open after 10 s");
        // The server's clock starts at accept, a little before `connect` returns here: allow 50 ms.
        assert!(
            total + Duration::from_millis(50) >= limit && total < limit * 4,
            "{case}: closed after {total:?} (limit {limit:?})"
        );
    }
    // A complete head sent in two parts within the limit is answered; the idle keep-alive connection
    // that follows is closed once the next head is overdue.
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.write_all(b"\r\n").await.expect("write");
    let (after, got) = until_closed(&mut s, Duration::from_secs(10))
        .await
        .expect("an idle keep-alive connection is closed");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        after >= limit && after < limit * 4,
        "idle close after {after:?}"
    );
    // Ordinary clients are unaffected.
    let client = client_of(addr, &f.admin);
    let upload = client
        .upload(
            &f.file("ok.csv", activities(&["330000"], 2, false, "h")),
            None,
        )
        .await
        .expect("upload");
    assert_eq!(upload.record.status, Status::Accepted);
}
