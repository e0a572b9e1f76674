//! `homeseason serve` and `homeseason liaison …`: the upload service and its tokens.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use homeseason_server::audit::{AuditEvent, AuditLog};
use homeseason_server::tokens::{NewToken, TokenStore};
use homeseason_server::{AppState, Config};

use crate::now;

/// Options of `homeseason serve`.
pub(crate) struct ServeOptions {
    pub(crate) data: std::path::PathBuf,
    pub(crate) addr: SocketAddr,
    pub(crate) max_upload_mb: u64,
    pub(crate) sync_wait_secs: u64,
    pub(crate) on_conflict: homeseason_lake::ConflictPolicy,
}

/// Run the server until Ctrl-C.
pub(crate) fn serve(
    opts: ServeOptions,
    campaign: homeseason_schema::campaign::Campaign,
) -> Result<()> {
    if !opts.addr.ip().is_loopback() {
        bail!(
            "homeseason serve listens on loopback only (127.0.0.1 / ::1); put a TLS reverse proxy in front for other hosts / 仅监听本机回环地址"
        );
    }
    let mut config = Config::new(&opts.data);
    config.max_upload_bytes = opts.max_upload_mb.saturating_mul(1_000_000);
    config.sync_wait = Duration::from_secs(opts.sync_wait_secs);
    config.campaign = campaign;
    config.profiles = homeseason_pipeline::Profiles::from_working_dir()?;
    config.on_conflict = opts.on_conflict;
    let state = AppState::open(config).context("opening the data folder")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(opts.addr)
            .await
            .with_context(|| format!("binding {}", opts.addr))?;
        let local = listener.local_addr()?;
        let tokens = TokenStore::new(state.config().tokens_path());
        if tokens.list().map(|t| t.is_empty()).unwrap_or(true) {
            eprintln!(
                "no tokens yet 尚无令牌: homeseason liaison add --data {} --region 330000 --name …",
                opts.data.display()
            );
        }
        println!(
            "homeseason serving 服务已启动: http://{local}/  (data 数据: {})",
            opts.data.display()
        );
        homeseason_server::serve(listener, state, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("server")
    })
}

fn audit(data: &Path, action: &str, actor: &str, detail: String) {
    let log = AuditLog::new(Config::new(data).audit_path());
    let _ = log.append(&AuditEvent {
        at: now(),
        action: action.into(),
        actor: "cli".into(),
        actor_name: None,
        outcome: "ok".into(),
        detail: format!("token {actor}: {detail}"),
        ..AuditEvent::default()
    });
}

/// `homeseason liaison add`: print the token once.
pub(crate) fn liaison_add(
    data: &Path,
    name: &str,
    regions: Vec<String>,
    feeds: Vec<String>,
    admin: bool,
) -> Result<()> {
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let store = TokenStore::new(Config::new(data).tokens_path());
    let (record, token) = store.issue(
        &NewToken {
            name: name.to_owned(),
            regions,
            feeds,
            admin,
        },
        &now(),
    )?;
    audit(
        data,
        "token_issued",
        &record.id,
        format!(
            "{} admin={} regions={} feeds={}",
            record.name,
            record.admin,
            record.regions.join(","),
            record.feeds.join(",")
        ),
    );
    eprintln!(
        "token {} issued to 令牌已发给 {} ({}); it is shown once and stored only as a hash 仅显示一次:",
        record.id,
        record.name,
        if record.admin {
            "administrator 管理员".to_owned()
        } else {
            format!(
                "regions {} · feeds {}",
                record.regions.join(","),
                record.feeds.join(",")
            )
        }
    );
    println!("{token}");
    Ok(())
}

/// `homeseason liaison revoke`.
pub(crate) fn liaison_revoke(data: &Path, id: &str) -> Result<()> {
    let store = TokenStore::new(Config::new(data).tokens_path());
    let record = store.revoke(id, &now())?;
    audit(data, "token_revoked", &record.id, record.name.clone());
    println!("revoked 已吊销: {} {}", record.id, record.name);
    Ok(())
}

/// `homeseason liaison list`.
pub(crate) fn liaison_list(data: &Path, json: bool) -> Result<()> {
    let store = TokenStore::new(Config::new(data).tokens_path());
    let mut list = store.list()?;
    for t in &mut list {
        t.sha256.clear();
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    for t in &list {
        println!(
            "{}  {:<8} {:<24} {:<20} {}",
            t.id,
            if t.revoked_at.is_some() {
                "revoked"
            } else if t.admin {
                "admin"
            } else {
                "liaison"
            },
            t.name,
            t.regions.join(","),
            t.feeds.join(",")
        );
    }
    if list.is_empty() {
        println!("no tokens 无令牌");
    }
    Ok(())
}
