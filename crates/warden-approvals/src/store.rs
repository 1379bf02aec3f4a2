//! Durable storage behind one trait; SQLite (a single file, zero set-up) is the default backend.
//! Every state change is a compare-and-set on the stored status, so concurrent deciders (threads or
//! replicas sharing a database) cannot both win.

use crate::model::{RequestView, Role, Status, TokenRecord, Vote};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::Mutex;

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL error: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("the database connection is gone")]
    Disconnected,
    #[error("corrupt stored record: {0}")]
    Corrupt(String),
}

/// Mutable fields set by a status transition (unset fields are left as they are).
#[derive(Debug, Clone, Default)]
pub struct Transition {
    pub reason: Option<String>,
    pub decided_at: Option<i64>,
    pub approval_expires_at: Option<i64>,
    pub consumed_at: Option<i64>,
}

/// A Slack message about a request whose outcome is written back once it is decided: one posted
/// with a bot token (`channel` and `ts`, updated with `chat.update`), or one whose button was
/// clicked (`response_url`, valid at Slack for 30 minutes). Unset parts are empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlackMessage {
    /// The approver group whose destination it was posted to (empty for a click).
    pub group: String,
    pub channel: String,
    pub ts: String,
    pub response_url: String,
}

/// How long a Slack request signature is remembered, in seconds: twice the five minutes a
/// timestamp may be away from now, so a signature is refused as stale before it is forgotten.
pub const SLACK_SEEN_SECS: i64 = 600;

/// The approval server's storage.
pub trait Store: Send + Sync {
    /// How many tokens exist (zero on first start: bootstrap an admin).
    fn token_count(&self) -> Result<u64, StoreError>;
    fn insert_token(&self, t: &TokenRecord) -> Result<(), StoreError>;
    fn find_token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError>;
    fn insert_request(&self, r: &RequestView) -> Result<(), StoreError>;
    fn get_request(&self, id: &str) -> Result<Option<RequestView>, StoreError>;
    /// Requests, newest first, optionally only those in `status`.
    fn list_requests(&self, status: Option<Status>) -> Result<Vec<RequestView>, StoreError>;
    /// Ids of pending requests whose deadline is at or before `now` (unix ms): what the
    /// server's sweeper expires. One query, so sweeping stays cheap with many pending requests.
    fn due_pending(&self, now: i64) -> Result<Vec<String>, StoreError> {
        Ok(self
            .list_requests(Some(Status::Pending))?
            .into_iter()
            .filter(|r| r.deadline <= now)
            .map(|r| r.id)
            .collect())
    }
    /// Record a vote; `false` if this approver already voted on this request.
    fn add_vote(&self, id: &str, vote: &Vote) -> Result<bool, StoreError>;
    /// Move `id` from `from` to `to`; `false` if it was not in `from` (someone else won).
    fn transition(
        &self,
        id: &str,
        from: Status,
        to: Status,
        t: &Transition,
    ) -> Result<bool, StoreError>;
    /// Record the executor's outcome once, on a consumed request.
    fn set_outcome(&self, id: &str, outcome: &serde_json::Value) -> Result<bool, StoreError>;
    /// Remember a Slack message about request `id` (the same one twice is kept once).
    fn add_slack_message(&self, id: &str, m: &SlackMessage) -> Result<(), StoreError>;
    /// The Slack messages remembered for request `id`, oldest first.
    fn slack_messages(&self, id: &str) -> Result<Vec<SlackMessage>, StoreError>;
    /// Record the signature of a verified Slack request made at `now` (unix seconds); `false`
    /// if it was seen before — a replay, also across restarts and replicas sharing the
    /// database. Signatures older than [`SLACK_SEEN_SECS`] are forgotten.
    fn slack_first_use(&self, sig: &str, now: i64) -> Result<bool, StoreError>;
}

/// SQLite backend.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    groups_json TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL,
    reason TEXT,
    decided_at INTEGER,
    approval_expires_at INTEGER,
    consumed_at INTEGER,
    outcome TEXT
);
CREATE INDEX IF NOT EXISTS requests_status ON requests(status);
CREATE TABLE IF NOT EXISTS votes (
    request_id TEXT NOT NULL,
    approver TEXT NOT NULL,
    verdict TEXT NOT NULL,
    comment TEXT,
    at INTEGER NOT NULL,
    PRIMARY KEY (request_id, approver)
);
CREATE TABLE IF NOT EXISTS slack_messages (
    request_id TEXT NOT NULL,
    grp TEXT NOT NULL,
    channel TEXT NOT NULL,
    ts TEXT NOT NULL,
    response_url TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (request_id, grp, channel, ts, response_url)
);
CREATE TABLE IF NOT EXISTS slack_seen (
    sig TEXT PRIMARY KEY,
    at INTEGER NOT NULL
);
";

/// Bring a database made by an older version up to the schema (columns added since).
fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let has_expiry: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('tokens') WHERE name = 'expires_at'",
        [],
        |r| r.get(0),
    )?;
    if !has_expiry {
        conn.execute_batch("ALTER TABLE tokens ADD COLUMN expires_at INTEGER")?;
    }
    Ok(())
}

impl SqliteStore {
    /// Open (creating if needed) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)?;
        migrate(&conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// A private in-memory database (tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(SCHEMA)?;
        migrate(&conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll
        // back), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn votes(conn: &Connection, id: &str) -> Result<Vec<Vote>, StoreError> {
        let mut st = conn.prepare(
            "SELECT approver, verdict, comment, at FROM votes WHERE request_id = ?1 ORDER BY at, approver",
        )?;
        let rows = st.query_map(params![id], |r| {
            Ok(Vote {
                approver: r.get(0)?,
                verdict: r.get(1)?,
                comment: r.get(2)?,
                at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn row_to_view(conn: &Connection, row: RawRow) -> Result<RequestView, StoreError> {
        let id = row.id.clone();
        build_view(row, Self::votes(conn, &id)?)
    }
}

/// Assemble a view from the stored immutable JSON, the mutable columns and the votes.
pub(crate) fn build_view(row: RawRow, votes: Vec<Vote>) -> Result<RequestView, StoreError> {
    let mut v: RequestView =
        serde_json::from_str(&row.data).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    v.status = Status::parse(&row.status).ok_or_else(|| StoreError::Corrupt(row.status))?;
    v.reason = row.reason;
    v.decided_at = row.decided_at;
    v.approval_expires_at = row.approval_expires_at;
    v.consumed_at = row.consumed_at;
    v.outcome = row
        .outcome
        .map(|o| serde_json::from_str(&o))
        .transpose()
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    v.votes = votes;
    Ok(v)
}

pub(crate) struct RawRow {
    pub(crate) id: String,
    pub(crate) status: String,
    pub(crate) data: String,
    pub(crate) reason: Option<String>,
    pub(crate) decided_at: Option<i64>,
    pub(crate) approval_expires_at: Option<i64>,
    pub(crate) consumed_at: Option<i64>,
    pub(crate) outcome: Option<String>,
}

const SELECT_REQ: &str = "SELECT id, status, data, reason, decided_at, approval_expires_at, consumed_at, outcome FROM requests";

fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        id: r.get(0)?,
        status: r.get(1)?,
        data: r.get(2)?,
        reason: r.get(3)?,
        decided_at: r.get(4)?,
        approval_expires_at: r.get(5)?,
        consumed_at: r.get(6)?,
        outcome: r.get(7)?,
    })
}

impl Store for SqliteStore {
    fn token_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM tokens", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn insert_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        let groups =
            serde_json::to_string(&t.groups).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.conn().execute(
            "INSERT INTO tokens (hash, name, role, groups_json, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![t.hash, t.name, t.role.as_str(), groups, t.created_at, t.expires_at],
        )?;
        Ok(())
    }

    fn find_token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = self
            .conn()
            .query_row(
                "SELECT hash, name, role, groups_json, created_at, expires_at FROM tokens WHERE hash = ?1",
                params![hash],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(hash, name, role, groups, created_at, expires_at)| {
            Ok(TokenRecord {
                hash,
                name,
                role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(role.clone()))?,
                groups: serde_json::from_str(&groups)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                created_at,
                expires_at,
            })
        })
        .transpose()
    }

    fn insert_request(&self, r: &RequestView) -> Result<(), StoreError> {
        let data = serde_json::to_string(r).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.conn().execute(
            "INSERT INTO requests (id, created_at, status, data) VALUES (?1, ?2, ?3, ?4)",
            params![r.id, r.created_at, r.status.as_str(), data],
        )?;
        Ok(())
    }

    fn get_request(&self, id: &str) -> Result<Option<RequestView>, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row(&format!("{SELECT_REQ} WHERE id = ?1"), params![id], raw)
            .optional()?;
        row.map(|row| Self::row_to_view(&conn, row)).transpose()
    }

    fn list_requests(&self, status: Option<Status>) -> Result<Vec<RequestView>, StoreError> {
        let conn = self.conn();
        let rows: Vec<RawRow> = match status {
            Some(s) => {
                let mut st = conn.prepare(&format!(
                    "{SELECT_REQ} WHERE status = ?1 ORDER BY created_at DESC LIMIT 1000"
                ))?;
                st.query_map(params![s.as_str()], raw)?
                    .collect::<Result<_, _>>()?
            }
            None => {
                let mut st =
                    conn.prepare(&format!("{SELECT_REQ} ORDER BY created_at DESC LIMIT 1000"))?;
                st.query_map([], raw)?.collect::<Result<_, _>>()?
            }
        };
        rows.into_iter()
            .map(|r| Self::row_to_view(&conn, r))
            .collect()
    }

    fn due_pending(&self, now: i64) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT id FROM requests WHERE status = 'pending' AND json_extract(data, '$.deadline') <= ?1",
        )?;
        let ids = st
            .query_map(params![now], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    fn add_vote(&self, id: &str, vote: &Vote) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "INSERT OR IGNORE INTO votes (request_id, approver, verdict, comment, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, vote.approver, vote.verdict, vote.comment, vote.at],
        )?;
        Ok(n == 1)
    }

    fn transition(
        &self,
        id: &str,
        from: Status,
        to: Status,
        t: &Transition,
    ) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE requests SET status = ?3,
                reason = COALESCE(?4, reason),
                decided_at = COALESCE(?5, decided_at),
                approval_expires_at = COALESCE(?6, approval_expires_at),
                consumed_at = COALESCE(?7, consumed_at)
             WHERE id = ?1 AND status = ?2",
            params![
                id,
                from.as_str(),
                to.as_str(),
                t.reason,
                t.decided_at,
                t.approval_expires_at,
                t.consumed_at
            ],
        )?;
        Ok(n == 1)
    }

    fn set_outcome(&self, id: &str, outcome: &serde_json::Value) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE requests SET outcome = ?2 WHERE id = ?1 AND status = 'consumed' AND outcome IS NULL",
            params![id, outcome.to_string()],
        )?;
        Ok(n == 1)
    }

    fn add_slack_message(&self, id: &str, m: &SlackMessage) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR IGNORE INTO slack_messages (request_id, grp, channel, ts, response_url, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, m.group, m.channel, m.ts, m.response_url, crate::server::now_ms()],
        )?;
        Ok(())
    }

    fn slack_messages(&self, id: &str) -> Result<Vec<SlackMessage>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT grp, channel, ts, response_url FROM slack_messages WHERE request_id = ?1 ORDER BY at",
        )?;
        let rows = st.query_map(params![id], |r| {
            Ok(SlackMessage {
                group: r.get(0)?,
                channel: r.get(1)?,
                ts: r.get(2)?,
                response_url: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn slack_first_use(&self, sig: &str, now: i64) -> Result<bool, StoreError> {
        let conn = self.conn();
        conn.execute(
            "DELETE FROM slack_seen WHERE at < ?1",
            params![now - SLACK_SEEN_SECS],
        )?;
        let n = conn.execute(
            "INSERT OR IGNORE INTO slack_seen (sig, at) VALUES (?1, ?2)",
            params![sig, now],
        )?;
        Ok(n == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: &str) -> RequestView {
        RequestView {
            id: id.into(),
            created_at: 1,
            tier: "sync".into(),
            category: "c".into(),
            rule: "r".into(),
            reasons: vec![],
            rationale: None,
            action_text: "t".into(),
            claimed: crate::model::Claimed::default(),
            discrepancies: vec![],
            action: serde_json::json!({}),
            cwd: "/".into(),
            workspace: "/".into(),
            policy_digest: "p".into(),
            action_digest: "d".into(),
            requester: "bot".into(),
            groups: vec!["g".into()],
            escalate_to: None,
            escalate_at: None,
            quorum: 1,
            allow_self_approval: false,
            deadline: 10,
            status: Status::Pending,
            reason: None,
            decided_at: None,
            approval_expires_at: None,
            consumed_at: None,
            outcome: None,
            votes: vec![],
            diff: None,
            nested_text: None,
            trace: vec![],
        }
    }

    #[test]
    fn transitions_are_compare_and_set_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        {
            let s = SqliteStore::open(&path).unwrap();
            s.insert_request(&request("r1")).unwrap();
            let t = Transition::default();
            assert!(
                s.transition("r1", Status::Pending, Status::Approved, &t)
                    .unwrap()
            );
            assert!(
                !s.transition("r1", Status::Pending, Status::Denied, &t)
                    .unwrap()
            );
            assert!(
                s.transition("r1", Status::Approved, Status::Consumed, &t)
                    .unwrap()
            );
            assert!(
                !s.transition("r1", Status::Approved, Status::Consumed, &t)
                    .unwrap()
            );
            let o = serde_json::json!({"exit_code": 0});
            assert!(s.set_outcome("r1", &o).unwrap());
            assert!(!s.set_outcome("r1", &o).unwrap());
            let v = Vote {
                approver: "a".into(),
                verdict: "approve".into(),
                comment: None,
                at: 2,
            };
            assert!(s.add_vote("r1", &v).unwrap());
            assert!(!s.add_vote("r1", &v).unwrap());
        }
        let s = SqliteStore::open(&path).unwrap();
        let r = s.get_request("r1").unwrap().unwrap();
        assert_eq!(r.status, Status::Consumed);
        assert_eq!(r.outcome, Some(serde_json::json!({"exit_code": 0})));
        assert_eq!(r.votes.len(), 1);
        assert!(s.get_request("nope").unwrap().is_none());
    }

    #[test]
    fn slack_signatures_are_refused_once_seen_even_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        {
            let s = SqliteStore::open(&path).unwrap();
            assert!(s.slack_first_use("v0=aa", 1000).unwrap());
            assert!(!s.slack_first_use("v0=aa", 1001).unwrap());
        }
        let s = SqliteStore::open(&path).unwrap();
        assert!(
            !s.slack_first_use("v0=aa", 1002).unwrap(),
            "replay after a restart"
        );
        assert!(s.slack_first_use("v0=bb", 1002).unwrap());
        // Forgotten only once it would be refused as stale anyway.
        assert!(
            s.slack_first_use("v0=aa", 1000 + SLACK_SEEN_SECS + 1)
                .unwrap()
        );
        let m = SlackMessage {
            response_url: "https://example.invalid/r".into(),
            ..SlackMessage::default()
        };
        s.add_slack_message("r1", &m).unwrap();
        s.add_slack_message("r1", &m).unwrap();
        assert_eq!(s.slack_messages("r1").unwrap(), [m]);
        assert!(s.slack_messages("r2").unwrap().is_empty());
    }

    #[test]
    fn a_database_from_before_token_expiry_is_migrated_and_its_tokens_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE tokens (hash TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,
                    groups_json TEXT NOT NULL, created_at INTEGER NOT NULL);
                 INSERT INTO tokens VALUES ('h1', 'alice', 'approver', '[\"g\"]', 5);",
            )
            .unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        let t = s.find_token("h1").unwrap().unwrap();
        assert_eq!((t.name.as_str(), t.expires_at), ("alice", None));
        s.insert_token(&TokenRecord {
            hash: "h2".into(),
            name: "bob@example.com".into(),
            role: Role::Approver,
            groups: vec![],
            created_at: 6,
            expires_at: Some(7),
        })
        .unwrap();
        drop(s);
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.find_token("h2").unwrap().unwrap().expires_at, Some(7));
    }

    #[test]
    fn tokens_are_found_by_hash_only() {
        let s = SqliteStore::in_memory().unwrap();
        assert_eq!(s.token_count().unwrap(), 0);
        let tok = crate::token::generate().unwrap();
        s.insert_token(&TokenRecord {
            hash: crate::token::hash(&tok),
            name: "alice".into(),
            role: Role::Approver,
            groups: vec!["security".into()],
            created_at: 0,
            expires_at: None,
        })
        .unwrap();
        assert_eq!(s.token_count().unwrap(), 1);
        assert!(s.find_token(&crate::token::hash(&tok)).unwrap().is_some());
        assert!(
            s.find_token(&tok).unwrap().is_none(),
            "the raw token is not a key"
        );
    }
}
