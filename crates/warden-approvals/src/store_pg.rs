//! PostgreSQL backend, for several `warden serve` replicas sharing one database. The synchronous
//! `postgres` client lives on its own thread (it must not run inside the server's async runtime);
//! calls are shipped to it over a channel. Status changes are the same compare-and-set `UPDATE`s
//! as on SQLite, so replicas racing on one request cannot both win.

use crate::model::{RequestView, Role, Status, TokenRecord, Vote};
use crate::store::{
    RawRow, SLACK_SEEN_SECS, SlackMessage, Store, StoreError, Transition, build_view,
};
use postgres::{Client, NoTls};
use std::sync::Mutex;
use std::sync::mpsc;

type Job = Box<dyn FnOnce(&mut Client) + Send>;

/// PostgreSQL store.
#[derive(Debug)]
pub struct PgStore {
    tx: Mutex<mpsc::Sender<Job>>,
}

const SCHEMA: &str = "
SELECT pg_advisory_lock(7415001);
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    groups_json TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
ALTER TABLE tokens ADD COLUMN IF NOT EXISTS expires_at BIGINT;
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL,
    reason TEXT,
    decided_at BIGINT,
    approval_expires_at BIGINT,
    consumed_at BIGINT,
    outcome TEXT
);
CREATE INDEX IF NOT EXISTS requests_status ON requests(status);
CREATE TABLE IF NOT EXISTS votes (
    request_id TEXT NOT NULL,
    approver TEXT NOT NULL,
    verdict TEXT NOT NULL,
    comment TEXT,
    at BIGINT NOT NULL,
    PRIMARY KEY (request_id, approver)
);
CREATE TABLE IF NOT EXISTS slack_messages (
    request_id TEXT NOT NULL,
    grp TEXT NOT NULL,
    channel TEXT NOT NULL,
    ts TEXT NOT NULL,
    response_url TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (request_id, grp, channel, ts, response_url)
);
CREATE TABLE IF NOT EXISTS slack_seen (
    sig TEXT PRIMARY KEY,
    at BIGINT NOT NULL
);
SELECT pg_advisory_unlock(7415001);
";

const SELECT_REQ: &str = "SELECT id, status, data, reason, decided_at, approval_expires_at, consumed_at, outcome FROM requests";

fn raw(r: &postgres::Row) -> Result<RawRow, postgres::Error> {
    Ok(RawRow {
        id: r.try_get(0)?,
        status: r.try_get(1)?,
        data: r.try_get(2)?,
        reason: r.try_get(3)?,
        decided_at: r.try_get(4)?,
        approval_expires_at: r.try_get(5)?,
        consumed_at: r.try_get(6)?,
        outcome: r.try_get(7)?,
    })
}

fn votes(c: &mut Client, id: &str) -> Result<Vec<Vote>, postgres::Error> {
    c.query(
        "SELECT approver, verdict, comment, at FROM votes WHERE request_id = $1 ORDER BY at, approver",
        &[&id],
    )?
    .iter()
    .map(|r| {
        Ok(Vote {
            approver: r.try_get(0)?,
            verdict: r.try_get(1)?,
            comment: r.try_get(2)?,
            at: r.try_get(3)?,
        })
    })
    .collect()
}

/// The votes of every request in `ids`, in one query (a list of many requests would otherwise
/// cost a round trip each).
fn votes_of(
    c: &mut Client,
    ids: &[String],
) -> Result<std::collections::HashMap<String, Vec<Vote>>, postgres::Error> {
    let mut by_request: std::collections::HashMap<String, Vec<Vote>> =
        std::collections::HashMap::new();
    for r in c.query(
        "SELECT request_id, approver, verdict, comment, at FROM votes WHERE request_id = ANY($1) ORDER BY at, approver",
        &[&ids],
    )? {
        by_request.entry(r.try_get(0)?).or_default().push(Vote {
            approver: r.try_get(1)?,
            verdict: r.try_get(2)?,
            comment: r.try_get(3)?,
            at: r.try_get(4)?,
        });
    }
    Ok(by_request)
}

impl PgStore {
    /// Connect to `url` (`postgres://user@host:port/db`) and create the schema if missing.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), StoreError>>();
        let url = url.to_owned();
        std::thread::Builder::new()
            .name("warden-pg".into())
            .spawn(move || {
                let mut client = match Client::connect(&url, NoTls)
                    .and_then(|mut c| c.batch_execute(SCHEMA).map(|()| c))
                {
                    Ok(c) => {
                        let _ = ready_tx.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                for job in rx {
                    if client.is_closed()
                        && let Ok(c) = Client::connect(&url, NoTls)
                    {
                        client = c;
                    }
                    job(&mut client);
                }
            })
            .map_err(|_| StoreError::Disconnected)?;
        ready_rx.recv().map_err(|_| StoreError::Disconnected)??;
        Ok(Self { tx: Mutex::new(tx) })
    }

    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (rtx, rrx) = mpsc::channel();
        self.tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(Box::new(move |c| {
                let _ = rtx.send(f(c));
            }))
            .map_err(|_| StoreError::Disconnected)?;
        rrx.recv().map_err(|_| StoreError::Disconnected)?
    }
}

impl Store for PgStore {
    fn token_count(&self) -> Result<u64, StoreError> {
        self.run(|c| {
            let n: i64 = c
                .query_one("SELECT COUNT(*) FROM tokens", &[])?
                .try_get(0)?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    fn insert_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        let t = t.clone();
        self.run(move |c| {
            let groups =
                serde_json::to_string(&t.groups).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            c.execute(
                "INSERT INTO tokens (hash, name, role, groups_json, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&t.hash, &t.name, &t.role.as_str(), &groups, &t.created_at, &t.expires_at],
            )?;
            Ok(())
        })
    }

    fn find_token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let hash = hash.to_owned();
        self.run(move |c| {
            let Some(r) = c.query_opt(
                "SELECT hash, name, role, groups_json, created_at, expires_at FROM tokens WHERE hash = $1",
                &[&hash],
            )?
            else {
                return Ok(None);
            };
            let role: String = r.try_get(2)?;
            let groups: String = r.try_get(3)?;
            Ok(Some(TokenRecord {
                hash: r.try_get(0)?,
                name: r.try_get(1)?,
                role: Role::parse(&role).ok_or(StoreError::Corrupt(role))?,
                groups: serde_json::from_str(&groups)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                created_at: r.try_get(4)?,
                expires_at: r.try_get(5)?,
            }))
        })
    }

    fn insert_request(&self, r: &RequestView) -> Result<(), StoreError> {
        let data = serde_json::to_string(r).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let (id, at, st) = (r.id.clone(), r.created_at, r.status.as_str());
        self.run(move |c| {
            c.execute(
                "INSERT INTO requests (id, created_at, status, data) VALUES ($1, $2, $3, $4)",
                &[&id, &at, &st, &data],
            )?;
            Ok(())
        })
    }

    fn get_request(&self, id: &str) -> Result<Option<RequestView>, StoreError> {
        let id = id.to_owned();
        self.run(move |c| {
            let Some(r) = c.query_opt(&format!("{SELECT_REQ} WHERE id = $1"), &[&id])? else {
                return Ok(None);
            };
            let row = raw(&r)?;
            let v = votes(c, &id)?;
            build_view(row, v).map(Some)
        })
    }

    fn list_requests(&self, status: Option<Status>) -> Result<Vec<RequestView>, StoreError> {
        self.run(move |c| {
            let rows = match status {
                Some(s) => c.query(
                    &format!("{SELECT_REQ} WHERE status = $1 ORDER BY created_at DESC LIMIT 1000"),
                    &[&s.as_str()],
                )?,
                None => c.query(
                    &format!("{SELECT_REQ} ORDER BY created_at DESC LIMIT 1000"),
                    &[],
                )?,
            };
            let rows = rows.iter().map(raw).collect::<Result<Vec<_>, _>>()?;
            let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
            let mut votes = votes_of(c, &ids)?;
            rows.into_iter()
                .map(|row| {
                    let v = votes.remove(&row.id).unwrap_or_default();
                    build_view(row, v)
                })
                .collect()
        })
    }

    fn due_pending(&self, now: i64) -> Result<Vec<String>, StoreError> {
        self.run(move |c| {
            let rows = c.query(
                "SELECT id FROM requests WHERE status = 'pending' AND (data::jsonb ->> 'deadline')::BIGINT <= $1",
                &[&now],
            )?;
            rows.iter()
                .map(|r| r.try_get::<_, String>(0).map_err(StoreError::from))
                .collect()
        })
    }

    fn add_vote(&self, id: &str, vote: &Vote) -> Result<bool, StoreError> {
        let (id, v) = (id.to_owned(), vote.clone());
        self.run(move |c| {
            let n = c.execute(
                "INSERT INTO votes (request_id, approver, verdict, comment, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &[&id, &v.approver, &v.verdict, &v.comment, &v.at],
            )?;
            Ok(n == 1)
        })
    }

    fn transition(
        &self,
        id: &str,
        from: Status,
        to: Status,
        t: &Transition,
    ) -> Result<bool, StoreError> {
        let (id, t) = (id.to_owned(), t.clone());
        self.run(move |c| {
            let n = c.execute(
                "UPDATE requests SET status = $3,
                    reason = COALESCE($4::TEXT, reason),
                    decided_at = COALESCE($5::BIGINT, decided_at),
                    approval_expires_at = COALESCE($6::BIGINT, approval_expires_at),
                    consumed_at = COALESCE($7::BIGINT, consumed_at)
                 WHERE id = $1 AND status = $2",
                &[
                    &id,
                    &from.as_str(),
                    &to.as_str(),
                    &t.reason,
                    &t.decided_at,
                    &t.approval_expires_at,
                    &t.consumed_at,
                ],
            )?;
            Ok(n == 1)
        })
    }

    fn set_outcome(&self, id: &str, outcome: &serde_json::Value) -> Result<bool, StoreError> {
        let (id, o) = (id.to_owned(), outcome.to_string());
        self.run(move |c| {
            let n = c.execute(
                "UPDATE requests SET outcome = $2 WHERE id = $1 AND status = 'consumed' AND outcome IS NULL",
                &[&id, &o],
            )?;
            Ok(n == 1)
        })
    }

    fn add_slack_message(&self, id: &str, m: &SlackMessage) -> Result<(), StoreError> {
        let (id, m, at) = (id.to_owned(), m.clone(), crate::server::now_ms());
        self.run(move |c| {
            c.execute(
                "INSERT INTO slack_messages (request_id, grp, channel, ts, response_url, at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[&id, &m.group, &m.channel, &m.ts, &m.response_url, &at],
            )?;
            Ok(())
        })
    }

    fn slack_messages(&self, id: &str) -> Result<Vec<SlackMessage>, StoreError> {
        let id = id.to_owned();
        self.run(move |c| {
            let rows = c.query(
                "SELECT grp, channel, ts, response_url FROM slack_messages WHERE request_id = $1 ORDER BY at",
                &[&id],
            )?;
            rows.iter()
                .map(|r| {
                    Ok(SlackMessage {
                        group: r.try_get(0)?,
                        channel: r.try_get(1)?,
                        ts: r.try_get(2)?,
                        response_url: r.try_get(3)?,
                    })
                })
                .collect()
        })
    }

    fn slack_first_use(&self, sig: &str, now: i64) -> Result<bool, StoreError> {
        let sig = sig.to_owned();
        self.run(move |c| {
            c.execute(
                "DELETE FROM slack_seen WHERE at < $1",
                &[&(now - SLACK_SEEN_SECS)],
            )?;
            let n = c.execute(
                "INSERT INTO slack_seen (sig, at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&sig, &now],
            )?;
            Ok(n == 1)
        })
    }
}
