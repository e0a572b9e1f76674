//! `homeseason liaison add`, `homeseason serve` and `homeseason upload`: the upload service end to end,
//! through the binary, on loopback.

use crate::util::{Served, add_liaison, assert_upload_refused, homeseason, ok};

use homeseason_test_support::ACTIVITIES_HEADER as HEADER;

#[test]
fn a_liaison_uploads_through_the_binary() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    let data = data.to_str().expect("utf-8");
    let token = add_liaison(data, "浙江", "张三");
    let token = token.as_str();
    assert!(token.starts_with("hs_"), "{token}");
    let tokens = std::fs::read_to_string(tmp.path().join("data/tokens.json")).expect("tokens");
    assert!(!tokens.contains(token), "only the hash is stored");
    let list = ok(&["liaison", "list", "--data", data]);
    assert!(list.contains("张三") && list.contains("330000"), "{list}");

    let server = Served::homeseason(std::path::Path::new(data), &[]);
    let url = server.url();
    let file = tmp.path().join("activities_330000.csv");
    std::fs::write(
        &file,
        format!(
            "{HEADER}330000-2023-001,浙江省,焕新周,直播电商节,2023-09-12,2023-09-14,体育馆,商务厅,10,12,绿色,线下,否\n\
             330000-2023-002,浙江省,焕新周,直播电商节,2023-09-40,2023-09-14,体育馆,商务厅,10,12,绿色,线下,否\n"
        ),
    )
    .expect("write");
    let file = file.to_str().expect("utf-8");
    let out = ok(&["upload", "--server", &url, "--token", token, file]);
    assert!(out.contains("accepted 接收 1 + rejected 拒收 1"), "{out}");
    assert!(out.contains("line 行 3"), "{out}");
    let again = ok(&["upload", "--server", &url, "--token", token, file]);
    assert!(again.contains("already ingested"), "{again}");

    let foreign = tmp.path().join("beijing.csv");
    std::fs::write(
        &foreign,
        format!("{HEADER}110000-2023-001,北京市,焕新周,直播电商节,2023-09-12,2023-09-14,体育馆,商务厅,10,12,绿色,线下,否\n"),
    )
    .expect("write");
    assert_upload_refused(&url, token, &foreign, "110000");

    let id = token.split('_').nth(1).expect("token id");
    ok(&["liaison", "revoke", "--data", data, id]);
    let revoked = homeseason(&["upload", "--server", &url, "--token", token, file]);
    assert!(!revoked.status.success());
    let stderr = String::from_utf8_lossy(&revoked.stderr);
    assert!(
        stderr.contains("401") && stderr.contains("吊销"),
        "{stderr}"
    );
    let audit = std::fs::read_to_string(tmp.path().join("data/audit.jsonl")).expect("audit");
    for outcome in [
        "token_issued",
        "\"accepted\"",
        "\"duplicate\"",
        "\"refused\"",
        "token_revoked",
    ] {
        assert!(
            audit.contains(outcome),
            "{outcome} missing from the audit log"
        );
    }
}

/// `homeseason upload --on-conflict keep-last` against a live `homeseason serve`: the policy is sent
/// as the upload page sends it (form field `on_conflict`), and the lake stores the second file's
/// amount for the conflicting key (250.00 in place of 200.00); without the flag the server's
/// default (keep-first) keeps 200.00. Both ways the conflict is counted and the record names the
/// policy; a misspelt policy is refused by the CLI before anything is sent.
#[test]
fn upload_on_conflict_keep_last_replaces_the_held_row_through_the_cli_client() {
    let uscc = |i: usize| {
        let first17 = format!("91330100{i:09}");
        let check = homeseason_schema::uscc::check_char(&first17).expect("check character");
        format!("{first17}{check}")
    };
    let row = |i: usize, amount: &str| {
        format!(
            "{},浙江企业{i},330000,furniture,2023-03,{amount},元\n",
            uscc(i)
        )
    };
    let header = "uscc,enterprise_name,region_code,category,period,sales_amount,unit\n";
    let tmp = tempfile::tempdir().expect("temp dir");
    let (first, second) = (
        tmp.path().join("enterprise_zj_2023-03.csv"),
        tmp.path().join("enterprise_zj_2023-03_v2.csv"),
    );
    std::fs::write(
        &first,
        format!("{header}{}{}", row(0, "100.00"), row(1, "200.00")),
    )
    .expect("write");
    std::fs::write(
        &second,
        format!("{header}{}{}", row(0, "100.00"), row(1, "250.00")),
    )
    .expect("write");
    let (first, second) = (
        first.to_str().expect("utf-8"),
        second.to_str().expect("utf-8"),
    );
    for (flag, policy, stored) in [
        (None, "keep-first", 200.0),
        (Some("keep-last"), "keep-last", 250.0),
    ] {
        let data = tmp.path().join(format!("data-{policy}"));
        let data = data.to_str().expect("utf-8");
        let token = ok(&["liaison", "add", "--data", data, "--admin", "--name", "ops"]);
        let token = token.trim();
        let server = Served::homeseason(std::path::Path::new(data), &[]);
        let url = server.url();
        let base = [
            "upload",
            "--server",
            url.as_str(),
            "--token",
            token,
            "--json",
        ];
        ok(&[&base[..], &[first]].concat());
        let mut args = base.to_vec();
        if let Some(p) = flag {
            args.extend(["--on-conflict", p]);
        }
        args.push(second);
        let records: serde_json::Value =
            serde_json::from_str(&ok(&args)).expect("upload --json prints the records");
        let commit = &records[0]["commit"];
        assert_eq!(commit["conflicts"], 1, "{policy}: {records}");
        assert_eq!(commit["conflict_policy"], policy, "{records}");
        let part = homeseason_test_support::lake_file(
            &std::path::Path::new(data).join("lake"),
            "enterprise_sales/period=2023-03/330000.parquet",
        );
        let mut amounts: Vec<f64> = crate::util::read_parquet(&part)
            .column("sales_amount_yuan")
            .expect("amount")
            .f64()
            .expect("f64")
            .iter()
            .flatten()
            .collect();
        amounts.sort_by(f64::total_cmp);
        assert_eq!(amounts, [100.0, stored], "{policy}: one row per key");
    }
    let help = ok(&["upload", "--help"]);
    assert!(
        help.contains("--on-conflict") && help.contains("keep-last"),
        "{help}"
    );
    let bad = homeseason(&[
        "upload",
        "--server",
        "http://127.0.0.1:9",
        "--token",
        "x",
        "--on-conflict",
        "keep-newest",
        first,
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("keep-newest"));
}
