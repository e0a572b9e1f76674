//! Access tokens: issued once, stored only as a SHA-256 hash, scoped to regions and feeds, revocable.
//!
//! A token reads `hs_<id>_<secret>`: `id` is 8 hex digits that name the token in lists, logs and the
//! audit trail; `secret` is 32 random bytes in hex. The store (`tokens.json`, replaced atomically
//! under a lock file, so the server and `homeseason liaison …` can run at once) keeps the id, the
//! hash of the whole token, the holder's name and the scope. The server reads the file on every
//! request, so a revocation takes effect at once.

use std::path::{Path, PathBuf};

use homeseason_ingest::Feed;
use homeseason_schema::region::{NATIONAL, Regions};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Result, ServerError, io_err};
use crate::fsutil::{FileLock, write_atomic};

/// One stored token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Public id (8 hex digits).
    pub id: String,
    /// Holder, e.g. `浙江省商务厅 张三`.
    pub name: String,
    /// SHA-256 of the whole token, hex.
    pub sha256: String,
    /// An administrator sees and may upload everything.
    #[serde(default)]
    pub admin: bool,
    /// Region keys the holder may upload and read (empty for an administrator).
    #[serde(default)]
    pub regions: Vec<String>,
    /// Feed ids the holder may upload (empty for an administrator: every feed).
    #[serde(default)]
    pub feeds: Vec<String>,
    /// When issued (RFC 3339).
    pub created_at: String,
    /// When revoked, if it was.
    #[serde(default)]
    pub revoked_at: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokenFile {
    format: u32,
    tokens: Vec<TokenRecord>,
}

/// Who is asking, once their token checked out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// Token id.
    pub token_id: String,
    /// Holder.
    pub name: String,
    /// Administrator.
    pub admin: bool,
    /// Regions in scope (empty for an administrator, who has all).
    pub regions: Vec<String>,
    /// Feeds in scope (empty for an administrator, who has all).
    pub feeds: Vec<String>,
}

impl Principal {
    /// Whether the holder may see or upload rows of `region`.
    #[must_use]
    pub fn may_region(&self, region: &str) -> bool {
        self.admin || self.regions.iter().any(|r| r == region)
    }

    /// Whether the holder may upload `feed`.
    #[must_use]
    pub fn may_feed(&self, feed: &str) -> bool {
        self.admin || self.feeds.iter().any(|f| f == feed)
    }

    /// The feeds in scope, as ids.
    #[must_use]
    pub fn feed_ids(&self) -> Vec<&'static str> {
        Feed::ALL
            .into_iter()
            .map(Feed::id)
            .filter(|f| self.may_feed(f))
            .collect()
    }
}

/// The outcome of checking a presented token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// A valid token.
    Valid(Principal),
    /// A token that was valid but has been revoked (its id).
    Revoked(String),
    /// Not a token of this store.
    Unknown,
}

/// What to issue.
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    /// Holder.
    pub name: String,
    /// Regions (codes or names such as `浙江`; resolved against the 37 regions, or `000000`).
    pub regions: Vec<String>,
    /// Feed ids; empty means every feed.
    pub feeds: Vec<String>,
    /// Administrator token (sees everything; regions and feeds must be empty).
    pub admin: bool,
}

/// The token store, a JSON file.
#[derive(Debug, Clone)]
pub struct TokenStore {
    path: PathBuf,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compare two equal-length strings in time independent of where they differ.
fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl TokenStore {
    /// The store at `path` (created on first issue).
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> TokenStore {
        TokenStore { path: path.into() }
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock_path(&self) -> PathBuf {
        self.path.with_extension("lock")
    }

    fn load(&self) -> Result<TokenFile> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ServerError::Store {
                path: self.path.clone(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TokenFile {
                format: 1,
                tokens: Vec::new(),
            }),
            Err(e) => Err(io_err("read", &self.path)(e)),
        }
    }

    fn save(&self, file: &TokenFile) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(file).map_err(|e| ServerError::Store {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        write_atomic(&self.path, &bytes)
    }

    /// Issue a token. Returns the stored record and the token, which is shown once and never stored.
    ///
    /// # Errors
    /// [`ServerError::Invalid`] for an unknown region or feed, a liaison token without regions, or an
    /// administrator token with a scope; IO errors.
    pub fn issue(&self, new: &NewToken, now: &str) -> Result<(TokenRecord, String)> {
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(ServerError::Invalid(
                "a token needs a holder name (1–100 characters) / 令牌须注明持有人".into(),
            ));
        }
        let (regions, feeds) = if new.admin {
            if !new.regions.is_empty() || !new.feeds.is_empty() {
                return Err(ServerError::Invalid(
                    "an administrator token has no region or feed scope / 管理员令牌不限地区和数据类型"
                        .into(),
                ));
            }
            (Vec::new(), Vec::new())
        } else {
            if new.regions.is_empty() {
                return Err(ServerError::Invalid(
                    "a liaison token needs at least one region (--region 330000) / 联络员令牌须指定地区"
                        .into(),
                ));
            }
            let mut regions = Vec::new();
            for raw in &new.regions {
                let code = if raw.trim() == NATIONAL {
                    NATIONAL.to_owned()
                } else {
                    Regions::embedded()
                        .resolve(raw)
                        .map_err(|e| ServerError::Invalid(e.to_string()))?
                        .code
                        .clone()
                };
                if !regions.contains(&code) {
                    regions.push(code);
                }
            }
            let mut feeds = Vec::new();
            if new.feeds.is_empty() {
                feeds.extend(Feed::ALL.into_iter().map(|f| f.id().to_owned()));
            }
            for raw in &new.feeds {
                let feed = Feed::from_id(raw.trim()).ok_or_else(|| {
                    ServerError::Invalid(format!(
                        "unknown feed {raw:?} (one of {}) / 未知数据类型",
                        Feed::ALL.map(Feed::id).join(", ")
                    ))
                })?;
                if !feeds.iter().any(|f| f == feed.id()) {
                    feeds.push(feed.id().to_owned());
                }
            }
            (regions, feeds)
        };
        let _lock = FileLock::acquire(&self.lock_path())?;
        let mut file = self.load()?;
        let mut rng = rand::rng();
        let id = loop {
            let mut b = [0u8; 4];
            rng.fill_bytes(&mut b);
            let id = hex::encode(b);
            if !file.tokens.iter().any(|t| t.id == id) {
                break id;
            }
        };
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        let token = format!("hs_{id}_{}", hex::encode(secret));
        let record = TokenRecord {
            id,
            name: name.to_owned(),
            sha256: hash(&token),
            admin: new.admin,
            regions,
            feeds,
            created_at: now.to_owned(),
            revoked_at: None,
        };
        file.format = 1;
        file.tokens.push(record.clone());
        self.save(&file)?;
        Ok((record, token))
    }

    /// Revoke a token by id (or by holder name, when exactly one live token has it).
    ///
    /// # Errors
    /// [`ServerError::Invalid`] when nothing or more than one token matches; IO errors.
    pub fn revoke(&self, id_or_name: &str, now: &str) -> Result<TokenRecord> {
        let _lock = FileLock::acquire(&self.lock_path())?;
        let mut file = self.load()?;
        let key = id_or_name.trim();
        let matches: Vec<usize> = file
            .tokens
            .iter()
            .enumerate()
            .filter(|(_, t)| t.id == key || (t.name == key && t.revoked_at.is_none()))
            .map(|(i, _)| i)
            .collect();
        let index = match matches.as_slice() {
            [i] => *i,
            [] => {
                return Err(ServerError::Invalid(format!(
                    "no token {key:?} / 未找到该令牌"
                )));
            }
            _ => {
                return Err(ServerError::Invalid(format!(
                    "{} tokens match {key:?}: give the id / 匹配多个令牌，请给出编号",
                    matches.len()
                )));
            }
        };
        let record = &mut file.tokens[index];
        if record.revoked_at.is_none() {
            record.revoked_at = Some(now.to_owned());
        }
        let out = record.clone();
        self.save(&file)?;
        Ok(out)
    }

    /// Every token record, revoked ones included.
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn list(&self) -> Result<Vec<TokenRecord>> {
        Ok(self.load()?.tokens)
    }

    /// Check a presented token.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn verify(&self, presented: &str) -> Result<Verified> {
        let presented = presented.trim();
        let Some(id) = presented
            .strip_prefix("hs_")
            .and_then(|rest| rest.split_once('_'))
            .map(|(id, _)| id)
        else {
            return Ok(Verified::Unknown);
        };
        let file = self.load()?;
        let digest = hash(presented);
        let Some(record) = file
            .tokens
            .iter()
            .find(|t| t.id == id && constant_time_eq(&t.sha256, &digest))
        else {
            return Ok(Verified::Unknown);
        };
        if record.revoked_at.is_some() {
            return Ok(Verified::Revoked(record.id.clone()));
        }
        Ok(Verified::Valid(Principal {
            token_id: record.id.clone(),
            name: record.name.clone(),
            admin: record.admin,
            regions: record.regions.clone(),
            feeds: record.feeds.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_verify_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path().join("tokens.json"));
        let (rec, token) = store
            .issue(
                &NewToken {
                    name: "浙江 联络员".into(),
                    regions: vec!["浙江".into(), "330200".into()],
                    feeds: vec!["enterprise_sales".into()],
                    admin: false,
                },
                "2023-09-01T00:00:00Z",
            )
            .unwrap();
        assert_eq!(rec.regions, ["330000", "330200"]);
        let stored = std::fs::read_to_string(store.path()).unwrap();
        assert!(!stored.contains(&token), "the token itself is never stored");
        let Verified::Valid(p) = store.verify(&token).unwrap() else {
            panic!("valid token")
        };
        assert!(p.may_region("330000") && !p.may_region("110000"));
        assert!(p.may_feed("enterprise_sales") && !p.may_feed("activities"));
        let mut forged = token.clone();
        forged.pop();
        forged.push('x');
        assert_eq!(store.verify(&forged).unwrap(), Verified::Unknown);
        assert_eq!(store.verify("nonsense").unwrap(), Verified::Unknown);
        store.revoke(&rec.id, "2023-09-02T00:00:00Z").unwrap();
        assert_eq!(store.verify(&token).unwrap(), Verified::Revoked(rec.id));
    }

    #[test]
    fn scope_rules() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path().join("tokens.json"));
        let bad = |t: NewToken| store.issue(&t, "now").is_err();
        assert!(bad(NewToken {
            name: "x".into(),
            ..NewToken::default()
        }));
        assert!(bad(NewToken {
            name: "x".into(),
            regions: vec!["Atlantis".into()],
            ..NewToken::default()
        }));
        assert!(bad(NewToken {
            name: "x".into(),
            regions: vec!["330000".into()],
            feeds: vec!["nope".into()],
            ..NewToken::default()
        }));
        assert!(bad(NewToken {
            name: "x".into(),
            regions: vec!["330000".into()],
            admin: true,
            ..NewToken::default()
        }));
        let (rec, _) = store
            .issue(
                &NewToken {
                    name: "x".into(),
                    regions: vec!["XPCC".into()],
                    ..NewToken::default()
                },
                "now",
            )
            .unwrap();
        assert_eq!(rec.feeds.len(), Feed::ALL.len());
    }
}
