//! The router driven with `oneshot`: no socket.

use axum::http::StatusCode;
use homeseason_server::{OPENAPI_JSON, ROUTES};

use crate::util::{Fixture, activities, call, get, manifest, upload_request};

#[tokio::test]
async fn page_openapi_and_health_are_served() {
    let f = Fixture::new();
    let (status, body) = call(&f.state, get("/", None)).await;
    assert_eq!(status, StatusCode::OK);
    let html = body.as_str().expect("html");
    assert!(html.contains("家居焕新消费季") && html.contains("English"));
    let (status, doc) = call(&f.state, get("/api/openapi.json", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let (status, health) = call(&f.state, get("/api/health", None)).await;
    assert_eq!(
        (status, health["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
}

#[test]
fn every_route_is_documented_in_openapi() {
    let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).expect("valid JSON");
    let paths = doc["paths"].as_object().expect("paths");
    for route in ROUTES {
        let (method, path) = route.split_once(' ').expect("METHOD path");
        let op = &paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not in openapi.json"))[method.to_lowercase()];
        assert!(op.is_object(), "{route} is not documented");
        assert!(op["responses"].is_object(), "{route} has no responses");
    }
    assert_eq!(paths.len(), {
        let mut p: Vec<&str> = ROUTES
            .iter()
            .filter_map(|r| r.split_once(' '))
            .map(|x| x.1)
            .collect();
        p.dedup();
        p.len()
    });
}

#[tokio::test]
async fn tokens_are_required_and_scoped() {
    let f = Fixture::new();
    let (status, body) = call(&f.state, get("/api/me", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");
    assert!(
        body["message_zh"]
            .as_str()
            .is_some_and(|m| m.contains("令牌"))
    );
    let (status, me) = f.get("/api/me", &f.zhejiang).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["regions"][0]["code"], "330000");
    assert_eq!(me["regions"][0]["name_zh"], "浙江省");
    assert_eq!(me["admin"], false);
    let (status, _) = f.get("/api/audit", &f.zhejiang).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = f.get("/api/uploads?region=110000", &f.zhejiang).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn templates_are_served_for_every_feed() {
    let f = Fixture::new();
    for feed in homeseason_ingest::Feed::ALL {
        let (status, body) = call(
            &f.state,
            get(&format!("/api/templates/{}.csv", feed.id()), None),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}", feed.id());
        let text = body
            .as_str()
            .expect("csv text")
            .trim_start_matches('\u{feff}');
        let headers: Vec<&str> = text.trim_end().split(',').collect();
        assert_eq!(homeseason_ingest::Feed::detect(&headers), Some(feed));
    }
    let (status, _) = call(&f.state, get("/api/templates/nope.csv", None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn upload_reports_the_bad_row_in_chinese_and_english() {
    let f = Fixture::new();
    let bytes = activities(&["330000"], 4, true, "a");
    let (status, r) = f.upload(&f.zhejiang, "浙江活动 9月.csv", &bytes).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["status"], "accepted");
    assert_eq!(r["feed"], "activities");
    assert_eq!(r["file"], "浙江活动 9月.csv");
    assert_eq!(r["report"]["read"], 4);
    assert_eq!(r["report"]["accepted"], 3);
    assert_eq!(r["report"]["rejected"], 1);
    assert_eq!(r["rejects_total"], 1);
    let reject = &r["rejects"][0];
    assert_eq!(reject["line"], 3, "{reject}");
    // The `rejects` contract: the source header of the failing column, as the liaison wrote it.
    assert_eq!(reject["column"], "开始日期");
    assert!(reject["message_zh"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(
        reject["raw"]
            .as_str()
            .is_some_and(|m| m.contains("2023-13-45"))
    );
    assert_eq!(r["regions"][0][0], "330000");
    // The raw bytes are stored under their hash, read-only.
    let raw = f
        .data()
        .join("raw")
        .join(r["sha256"].as_str().expect("sha"));
    assert_eq!(std::fs::read(&raw).expect("raw stored"), bytes);
    assert!(
        std::fs::metadata(&raw)
            .expect("meta")
            .permissions()
            .readonly()
    );
    // Status, the latest report and all the rejects as CSV.
    let id = r["id"].as_str().expect("id");
    let (status, again) = f.get(&format!("/api/uploads/{id}"), &f.zhejiang).await;
    assert_eq!((status, &again["report"]), (StatusCode::OK, &r["report"]));
    let (status, latest) = f
        .get("/api/uploads/latest?feed=activities", &f.zhejiang)
        .await;
    assert_eq!((status, &latest["id"]), (StatusCode::OK, &r["id"]));
    let (status, csv) = f
        .get(&format!("/api/uploads/{id}/rejects.csv"), &f.zhejiang)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        csv.as_str()
            .is_some_and(|c| c.contains("2023-13-45") && c.contains("message_zh")),
        "{csv}"
    );
    // The audit log has it.
    let (status, audit) = f.get("/api/audit", &f.admin).await;
    assert_eq!(status, StatusCode::OK);
    let events = audit["events"].as_array().expect("events");
    assert!(events.iter().any(|e| e["outcome"] == "accepted"
        && e["sha256"] == r["sha256"]
        && e["actor_name"] == "浙江 联络员"));
}

#[tokio::test]
async fn another_regions_rows_refuse_the_whole_file() {
    let f = Fixture::new();
    let bytes = activities(&["330000", "110000"], 3, false, "x");
    let (status, r) = f.upload(&f.zhejiang, "mixed.csv", &bytes).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(r["status"], "refused");
    assert_eq!(r["refusal"]["code"], "foreign_region");
    let zh = r["refusal"]["message_zh"].as_str().expect("zh");
    assert!(zh.contains("110000 北京市") && zh.contains("3 行"), "{zh}");
    let en = r["refusal"]["message_en"].as_str().expect("en");
    assert!(en.contains("3 accepted rows"), "{en}");
    let m = manifest(&f);
    assert!(m.files.is_empty(), "nothing committed");
    assert!(m.partitions.is_empty());
    assert_eq!(m.refused.len(), 1);
    // Beijing's liaison does not see Zhejiang's refused upload; the administrator does.
    let (_, list) = f.get("/api/uploads", &f.beijing).await;
    assert_eq!(list["uploads"].as_array().map(Vec::len), Some(0));
    let (_, list) = f.get("/api/uploads", &f.admin).await;
    assert_eq!(list["uploads"].as_array().map(Vec::len), Some(1));
    // The administrator may upload it.
    let (status, r) = f.upload(&f.admin, "mixed.csv", &bytes).await;
    assert_eq!(
        (status, r["status"].as_str()),
        (StatusCode::OK, Some("accepted"))
    );
}

#[tokio::test]
async fn history_is_per_region() {
    let f = Fixture::new();
    let zj = activities(&["330000"], 2, false, "z");
    let bj = activities(&["110000"], 2, false, "b");
    let (s1, _) = f.upload(&f.zhejiang, "zj.csv", &zj).await;
    let (s2, _) = f.upload(&f.beijing, "bj.csv", &bj).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    let (_, list) = f.get("/api/uploads", &f.zhejiang).await;
    let files: Vec<&str> = list["uploads"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|u| u["file"].as_str())
        .collect();
    assert_eq!(files, ["zj.csv"]);
    let (_, list) = f.get("/api/uploads?region=110000", &f.admin).await;
    assert_eq!(list["uploads"][0]["file"], "bj.csv");
    // Another region's upload by id is not found, not forbidden: its existence is not revealed.
    let bj_id = list["uploads"][0]["id"].as_str().expect("id").to_owned();
    let (status, _) = f.get(&format!("/api/uploads/{bj_id}"), &f.zhejiang).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_second_upload_of_the_same_content_is_not_ingested_again() {
    let f = Fixture::new();
    let bytes = activities(&["330000"], 3, false, "d");
    let (_, first) = f.upload(&f.zhejiang, "a.csv", &bytes).await;
    let (status, second) = f.upload(&f.zhejiang, "a (1).csv", &bytes).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["duplicate_of"], first["id"]);
    assert_eq!(second["report"], first["report"]);
    assert_eq!(second["commit"]["unchanged"], true);
    assert_eq!(manifest(&f).files.len(), 1);
    let by_sha_path = format!(
        "/api/uploads/by-sha256/{}",
        first["sha256"].as_str().expect("sha")
    );
    let (_, by_sha) = f.get(&by_sha_path, &f.zhejiang).await;
    assert_eq!(by_sha["sha256"], first["sha256"]);
    // Beijing cannot look it up by hash.
    let (status, _) = f.get(&by_sha_path, &f.beijing).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_second_file_adds_only_what_is_new_and_says_so() {
    let f = Fixture::new();
    let v1 = activities(&["330000"], 3, true, "r");
    let v2 = activities(&["330000"], 3, false, "r");
    let (_, first) = f.upload(&f.zhejiang, "v1.csv", &v1).await;
    let (status, second) = f.upload(&f.zhejiang, "v2.csv", &v2).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["report"]["rejected"], 0);
    // Files are increments: v2's two activities v1 already gave are duplicates, the one v1's bad
    // row lacked is added; nothing is replaced.
    assert_eq!(first["report"]["accepted"], 2);
    assert_eq!(second["commit"]["duplicate_rows"], 2, "{second}");
    assert_eq!(second["commit"]["conflicts"], 0);
    assert_eq!(second["commit"]["replaced"], serde_json::json!([]));
    assert!(
        second["commit"]["written"][0]
            .as_str()
            .is_some_and(|p| p.ends_with("/330000.parquet"))
    );
    // Completeness shows the week as revised.
    let (status, c) = call(
        &f.state,
        get(
            "/api/completeness?region=330000&feed=activities&from=2023-09-04&to=2023-09-24",
            Some(&f.zhejiang),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    let rows = c["rows"].as_array().expect("rows");
    let week = rows
        .iter()
        .find(|r| r["week_start"] == "2023-09-11")
        .expect("week");
    assert_eq!(week["status"], "revised");
    assert_eq!(week["rows"], 3);
    let before = rows
        .iter()
        .find(|r| r["week_start"] == "2023-09-04")
        .expect("week");
    // The register is due once per region: delivered (and revised), a week without an activity
    // starting in it is not missing, it has 0 rows.
    assert_eq!(before["status"], "revised");
    assert_eq!(before["rows"], 0);
}

#[tokio::test]
async fn completeness_is_scoped_and_downloadable() {
    let f = Fixture::new();
    let bytes = activities(&["330000"], 2, false, "c");
    f.upload(&f.zhejiang, "c.csv", &bytes).await;
    let (status, c) = f.get("/api/completeness?feed=activities", &f.beijing).await;
    assert_eq!(status, StatusCode::OK);
    let rows = c["rows"].as_array().expect("rows");
    assert!(!rows.is_empty() && rows.iter().all(|r| r["region_code"] == "110000"));
    assert!(rows.iter().all(|r| r["status"] == "missing"));
    let (status, csv) = call(
        &f.state,
        get(
            "/api/completeness?format=csv&feed=activities",
            Some(&f.zhejiang),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        csv.as_str()
            .is_some_and(|c| c.contains("330000,activities,2023-09-11,present,2,1")),
        "{csv}"
    );
}

#[tokio::test]
async fn a_feed_outside_the_token_is_refused() {
    let f = Fixture::new();
    let (_, token) = f
        .state
        .tokens()
        .issue(
            &homeseason_server::tokens::NewToken {
                name: "只报企业".into(),
                regions: vec!["330000".into()],
                feeds: vec!["enterprise_sales".into()],
                admin: false,
            },
            "now",
        )
        .expect("issue");
    let bytes = activities(&["330000"], 2, false, "f");
    let (status, r) = call(
        &f.state,
        upload_request(Some(&token), "f.csv", None, &bytes),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{r}");
    assert_eq!(r["refusal"]["code"], "feed_not_allowed");
    let (status, r) = call(
        &f.state,
        upload_request(Some(&token), "f.csv", Some("activities"), &bytes),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(r["error"], "forbidden");
    assert!(manifest(&f).files.is_empty());
}

#[tokio::test]
async fn slow_validation_answers_202_with_a_status_url() {
    let f = Fixture::new();
    let bytes = activities(&["330000"], 2, false, "s");
    let mut req = upload_request(Some(&f.zhejiang), "s.csv", None, &bytes);
    *req.uri_mut() = "/api/uploads?wait=0".parse().expect("uri");
    let (status, r) = call(&f.state, req).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    assert_eq!(r["status"], "processing");
    let url = r["status_url"].as_str().expect("status url").to_owned();
    let mut done = serde_json::Value::Null;
    for _ in 0..200 {
        let (status, body) = f.get(&url, &f.zhejiang).await;
        assert_eq!(status, StatusCode::OK);
        if body["status"] != "processing" {
            done = body;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(done["status"], "accepted", "{done}");
    assert_eq!(done["report"]["accepted"], 2);
}

#[tokio::test]
async fn outputs_and_report_say_when_there_is_nothing_yet() {
    let f = Fixture::new();
    let (status, list) = f.get("/api/outputs", &f.zhejiang).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        list["outputs"]
            .as_array()
            .is_some_and(|o| o.iter().any(|t| t["table"] == "uplift"))
    );
    let (status, _) = f.get("/api/outputs/uplift", &f.zhejiang).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = f.get("/api/outputs/rejects", &f.zhejiang).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "only output tables");
    let (status, _) = f.get("/api/report", &f.zhejiang).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_liaison_does_not_read_other_regions_rejected_rows_of_an_admin_upload() {
    let f = Fixture::new();
    // An administrator's register for Zhejiang and Beijing; the rejected row (line 3) is Zhejiang's.
    let bytes = activities(&["330000", "110000"], 3, true, "m");
    let (status, r) = call(
        &f.state,
        upload_request(Some(&f.admin), "两地活动.csv", None, &bytes),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["rejects_total"], 1);
    let id = r["id"].as_str().expect("id").to_owned();
    let rejected_raw = r["rejects"][0]["raw"].as_str().expect("raw").to_owned();
    assert!(rejected_raw.contains("330000"), "{rejected_raw}");
    // Beijing's liaison sees the upload (it committed Beijing's rows) but not the rejected row, nor
    // Zhejiang's count, through any of the routes that return the record.
    let (status, seen) = call(
        &f.state,
        get(&format!("/api/uploads/{id}"), Some(&f.beijing)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    let latest = call(
        &f.state,
        get("/api/uploads/latest?feed=activities", Some(&f.beijing)),
    )
    .await
    .1;
    let listed = call(&f.state, get("/api/uploads", Some(&f.beijing)))
        .await
        .1["uploads"][0]
        .clone();
    for (route, record) in [("by id", &seen), ("latest", &latest), ("list", &listed)] {
        assert_eq!(record["id"], id.as_str(), "{route}: {record}");
        assert_eq!(
            record["rejects"],
            serde_json::json!([]),
            "{route}: {record}"
        );
        assert_eq!(record["rejects_withheld"], true, "{route}: {record}");
        assert_eq!(
            record["regions"],
            serde_json::json!([["110000", 3]]),
            "{route}: {record}"
        );
        assert!(!record.to_string().contains(&rejected_raw), "{route}");
    }
    let (status, body) = call(
        &f.state,
        get(&format!("/api/uploads/{id}/rejects.csv"), Some(&f.beijing)),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(!body.to_string().contains(&rejected_raw));
    // Zhejiang's liaison is not the uploader either: the same.
    let (status, _) = call(
        &f.state,
        get(&format!("/api/uploads/{id}/rejects.csv"), Some(&f.zhejiang)),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The administrator reads everything.
    let (status, csv) = call(
        &f.state,
        get(&format!("/api/uploads/{id}/rejects.csv"), Some(&f.admin)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        csv.as_str().is_some_and(|c| c.contains("2023-13-45")),
        "{csv}"
    );
    let (_, own) = call(&f.state, get(&format!("/api/uploads/{id}"), Some(&f.admin))).await;
    assert_eq!(own["rejects_withheld"], false);
    assert_eq!(own["rejects"][0]["raw"], rejected_raw.as_str());
}

/// Activities `330000-2023-k001..003`; `venue` replaces the venue of the second.
fn register_with_venue(venue: &str) -> Vec<u8> {
    let text = String::from_utf8(activities(&["330000"], 3, false, "k")).expect("utf-8");
    text.replacen(
        "焕新活动k2,直播电商节,2023-09-12,2023-09-14,体育馆",
        &format!("焕新活动k2,直播电商节,2023-09-12,2023-09-14,{venue}"),
        1,
    )
    .into_bytes()
}

/// A conflict through an upload: the second file carries activity k002 with another venue (line 3).
/// The answer counts it, names the policy and lists both rows in its rejects (the received one at
/// its line with its raw text, the held one), in Chinese and English; the lake's `rejects` holds
/// the two rows; the table keeps the policy's row. Under keep-first the received row counts as
/// rejected (read = accepted + rejected + duplicates).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_is_two_rejects_rows_and_the_server_policy_decides() {
    for policy in homeseason_lake::ConflictPolicy::ALL {
        let f = Fixture::with(|c| c.on_conflict = policy);
        let (status, first) = f
            .upload(&f.zhejiang, "v1.csv", &register_with_venue("体育馆"))
            .await;
        assert_eq!(status, StatusCode::OK, "{first}");
        let (status, second) = f
            .upload(&f.zhejiang, "v2.csv", &register_with_venue("会展中心"))
            .await;
        assert_eq!(status, StatusCode::OK, "{second}");
        let commit = &second["commit"];
        assert_eq!(commit["conflicts"], 1, "{policy}: {second}");
        assert_eq!(commit["duplicate_rows"], 2, "{second}");
        assert_eq!(commit["conflict_policy"], policy.id(), "{second}");
        assert!(
            commit["conflict_keys"][0]
                .as_str()
                .is_some_and(|k| k.contains("activity_id=330000-2023-k002")),
            "{second}"
        );
        let report = &second["report"];
        let n = |k: &str| report[k].as_u64().expect(k);
        assert_eq!(
            n("read"),
            n("accepted") + n("rejected") + n("duplicates"),
            "{report}"
        );
        let stored = if policy == homeseason_lake::ConflictPolicy::KeepFirst {
            assert_eq!((n("accepted"), n("rejected")), (2, 1), "{report}");
            "体育馆"
        } else {
            assert_eq!((n("accepted"), n("rejected")), (3, 0), "{report}");
            "会展中心"
        };
        let rejects = second["rejects"].as_array().expect("rejects");
        assert_eq!(rejects.len(), 2, "{second}");
        assert_eq!(rejects[0]["reason"], "conflict");
        assert_eq!(rejects[0]["line"], 3);
        assert!(
            rejects[0]["raw"]
                .as_str()
                .is_some_and(|r| r.contains("会展中心")),
            "{second}"
        );
        assert_eq!(rejects[1]["reason"], "conflict_held");
        assert!(
            rejects[1]["raw"]
                .as_str()
                .is_some_and(|r| r.contains("venue=体育馆")),
            "{second}"
        );
        for r in rejects {
            let (zh, en) = (
                r["message_zh"].as_str().expect("zh"),
                r["message_en"].as_str().expect("en"),
            );
            for m in [zh, en] {
                assert!(
                    m.contains("activity_id=330000-2023-k002")
                        && m.contains("venue")
                        && m.contains("体育馆")
                        && m.contains("会展中心")
                        && m.contains(policy.id()),
                    "{m}"
                );
            }
            assert!(
                zh.contains("冲突") && en.starts_with("conflict:"),
                "{zh} | {en}"
            );
        }
        // The lake's rejects table holds both rows; the table the policy's venue.
        let lake_rejects = f.table(homeseason_schema::contract::tables::REJECTS);
        let reasons = homeseason_test_support::str_values(&lake_rejects, "reason");
        assert_eq!(reasons, ["conflict", "conflict_held"], "{lake_rejects}");
        let acts = f.table(homeseason_schema::contract::tables::ACTIVITIES);
        let venues = homeseason_test_support::str_values(&acts, "venue");
        assert_eq!(acts.height(), 3);
        assert!(venues.contains(&stored), "{policy}: {acts}");
        assert_eq!(
            venues.iter().filter(|v| **v == "会展中心").count(),
            usize::from(policy == homeseason_lake::ConflictPolicy::KeepLast),
            "{acts}"
        );
    }
}

/// An upload request whose multipart body carries an `on_conflict` form field before the file (as
/// the upload page sends it).
fn upload_with_policy(
    token: &str,
    file_name: &str,
    policy: &str,
    bytes: &[u8],
) -> axum::http::Request<axum::body::Body> {
    let boundary = crate::util::BOUNDARY;
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"on_conflict\"\r\n\r\n{policy}\r\n"
    )
    .into_bytes();
    body.extend_from_slice(crate::util::multipart(file_name, None, bytes).as_slice());
    axum::http::Request::post("/api/uploads")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::from(body))
        .expect("request")
}

/// The upload page's conflict-policy choice: a real multipart upload with the form field
/// `on_conflict=keep-last` to a server configured keep-first settles that upload's conflict
/// keep-last (the answer, the stored row, the manifest and the audit name it); the next upload
/// without the field is keep-first again; a policy spelled any other way (`KEEP_LAST`, `newest`,
/// empty) is refused with 400 `bad_conflict_policy` in both languages and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upload_form_chooses_the_conflict_policy_strictly() {
    let f = Fixture::new();
    for bad in ["KEEP_LAST", "newest", "", "keep-last "] {
        let (status, v) = call(
            &f.state,
            upload_with_policy(&f.zhejiang, "v0.csv", bad, &register_with_venue("体育馆")),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {v}");
        assert_eq!(v["error"], "bad_conflict_policy", "{v}");
        let (zh, en) = (
            v["message_zh"].as_str().unwrap_or_default(),
            v["message_en"].as_str().unwrap_or_default(),
        );
        assert!(zh.contains("冲突策略") && zh.contains("keep-first"), "{v}");
        assert!(en.contains("conflict policy") && !en.contains('冲'), "{v}");
    }
    assert_eq!(f.rows(homeseason_schema::contract::tables::ACTIVITIES), 0);
    let (status, first) = f
        .upload(&f.zhejiang, "v1.csv", &register_with_venue("体育馆"))
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, second) = call(
        &f.state,
        upload_with_policy(
            &f.zhejiang,
            "v2.csv",
            "keep-last",
            &register_with_venue("会展中心"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["commit"]["conflicts"], 1, "{second}");
    assert_eq!(second["commit"]["conflict_policy"], "keep-last", "{second}");
    assert_eq!(second["report"]["accepted"], 3, "{second}");
    assert_eq!(second["report"]["rejected"], 0, "{second}");
    let acts = f.table(homeseason_schema::contract::tables::ACTIVITIES);
    let venues = homeseason_test_support::str_values(&acts, "venue");
    assert_eq!(acts.height(), 3, "{acts}");
    assert_eq!(
        venues.iter().filter(|v| **v == "会展中心").count(),
        1,
        "k002 replaced: {acts}"
    );
    let m = manifest(&f);
    let entry = m
        .file(second["sha256"].as_str().expect("sha256"))
        .expect("the second file in the manifest");
    assert_eq!(entry.report["lake"]["policy"], "keep-last", "{entry:?}");
    let (status, audit) = f.get("/api/audit", &f.admin).await;
    assert_eq!(status, StatusCode::OK);
    let events = audit["events"].as_array().expect("events");
    assert!(
        events.iter().any(|e| e["sha256"] == second["sha256"]
            && e["detail"]
                .as_str()
                .is_some_and(|d| d.contains("on_conflict=keep-last"))),
        "{audit}"
    );
    // Without the field the server's policy (keep-first) applies again.
    let (status, third) = f
        .upload(&f.zhejiang, "v3.csv", &register_with_venue("图书馆"))
        .await;
    assert_eq!(status, StatusCode::OK, "{third}");
    assert_eq!(third["commit"]["conflict_policy"], "keep-first", "{third}");
    assert_eq!(third["report"]["rejected"], 1, "{third}");
}

/// With the sample profiles loaded (acq_a, bank_c, wallet_b), a well-formed institution code that
/// no profile names is a rejected row (`unknown_institution`, naming the value and the known codes),
/// in a transactions file and in a daily file; the known institution's rows are kept and no
/// `institution=` partition is created for the unknown code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_institution_is_a_rejected_row_in_an_upload() {
    let profiles = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../profiles");
    let f = Fixture::with(|c| {
        c.profiles = homeseason_pipeline::Profiles::load(None, &profiles).expect("profiles");
    });
    // A whole file of the unknown institution.
    let forms = vec!["wallet_zz".to_owned(); 3];
    let text =
        homeseason_test_support::transactions_with_institutions(&forms, "wallet_zz", "330106", 0);
    let (status, v) = f
        .upload(
            &f.admin,
            "payment_transactions_wallet_zz_2023-09.csv",
            &text,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["report"]["accepted"], 0, "{v}");
    assert_eq!(v["report"]["rejected"], 3, "{v}");
    let rejects = v["rejects"].as_array().expect("rejects");
    for r in rejects {
        assert_eq!(r["reason"], "unknown_institution", "{r}");
        assert_eq!(r["column"], "institution", "{r}");
        for m in [&r["message_zh"], &r["message_en"]] {
            let m = m.as_str().expect("text");
            assert!(
                m.contains("wallet_zz") && m.contains("acq_a, bank_c, wallet_b"),
                "{m}"
            );
        }
    }
    // A known institution's file with one stray unknown row: that row alone is rejected.
    let text = homeseason_test_support::transactions_with_institutions(
        &["acq_zz".to_owned()],
        "wallet_b",
        "330106",
        2,
    );
    let (status, v) = f
        .upload(&f.admin, "payment_transactions_wallet_b_2023-09.csv", &text)
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(accepted_rejected(&v), (Some(2), Some(1)), "{v}");
    assert_eq!(v["rejects"][0]["reason"], "unknown_institution", "{v}");
    // A daily file.
    let daily = "date,institution,region_code,mcc,channel,txn_count,amount,refund_amount,merchant_count\n\
                 2023-09-01,acq_zz,330000,5411,offline,1,10.00,0,1\n\
                 2023-09-01,acq_a,330000,5411,offline,1,10.00,0,1\n";
    let (status, v) = f
        .upload(
            &f.admin,
            "payment_daily_acq_a_2023-09.csv",
            daily.as_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(accepted_rejected(&v), (Some(1), Some(1)), "{v}");
    assert_eq!(v["rejects"][0]["reason"], "unknown_institution", "{v}");
    assert_eq!(v["rejects"][0]["line"], 2, "{v}");
    let daily = f.table(homeseason_schema::contract::tables::PAYMENT_DAILY);
    let institutions: std::collections::BTreeSet<&str> =
        homeseason_test_support::str_values(&daily, "institution")
            .into_iter()
            .collect();
    assert_eq!(
        institutions.into_iter().collect::<Vec<_>>(),
        ["acq_a", "wallet_b"],
        "only known institutions reach the lake"
    );
}

/// An upload answer's `(accepted, rejected)` row counts.
fn accepted_rejected(v: &serde_json::Value) -> (Option<u64>, Option<u64>) {
    (
        v["report"]["accepted"].as_u64(),
        v["report"]["rejected"].as_u64(),
    )
}
