//! The PostgreSQL backend of the state store, for workers on several hosts.
//!
//! A store is one PostgreSQL *schema* (default `rcs_mls`, chosen with the URL's
//! `schema` query parameter) holding two tables, the same as in an SQLite file:
//! `meta(id, application, schema_version, changes)` and `kv(key, value)`. One store
//! is one client, as with SQLite; several stores share a database under different
//! schema names.
//!
//! # Transactions and serialisation
//!
//! The outermost [`KvStorage`](crate::storage::KvStorage) transaction is one
//! PostgreSQL transaction (READ COMMITTED). It starts by locking the store's `meta`
//! row (`SELECT … FOR UPDATE`), so the operations of every worker on every host
//! are serialised per client the way SQLite's write lock serialises the processes
//! of one host; a lock not had within the busy timeout is
//! [`StorageError::Locked`] (PostgreSQL's `lock_timeout`). Every reading statement
//! after the lock sees everything committed before it.
//!
//! The `changes` column counts the committed transactions that wrote something. A
//! worker remembers the value it last saw; when `begin` finds another value,
//! another worker moved the store and `begin` reports it, so the caller drops
//! its in-memory groups and loads them again.
//!
//! # Lost connections
//!
//! A connection that breaks inside a transaction takes the transaction with it:
//! PostgreSQL rolls it back, nothing of it is written. The operation fails with a
//! [`StorageError`] saying so; the connection is opened again by the next
//! operation, which treats everything it holds as stale. A connection lost while
//! `COMMIT` was on its way leaves the outcome unknown (all or nothing): the error
//! says so, and the next operation reloads whatever the database has.
//!
//! # Databases that are not ours
//!
//! Opening looks before it writes: a schema holding tables without our `meta`
//! row is [`StorageError::ForeignDatabase`], a newer schema version is
//! [`StorageError::NewerSchema`], and both are left untouched. A schema is created
//! (under a transaction-level advisory lock, so concurrent first opens agree) only
//! where it is absent or empty.
//!
//! TLS is not compiled in (no OpenSSL, no libpq): connect over a private network,
//! a Unix socket or an encrypting tunnel; `sslmode=require` fails clearly.

use std::str::FromStr as _;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, Config, NoTls, SimpleQueryMessage, Statement};

use crate::storage::{Backend, KvStorage, StorageError, APPLICATION, SCHEMA_VERSION};

type Result<T> = std::result::Result<T, StorageError>;

/// The schema a store uses when the URL names none.
pub const DEFAULT_SCHEMA: &str = "rcs_mls";

/// Settings for [`open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// How long to wait for another worker's lock on the store before failing with
    /// [`StorageError::Locked`].
    pub lock_timeout: Duration,
    /// Create the store if the schema does not exist (or is empty).
    pub create: bool,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            lock_timeout: Duration::from_secs(5),
            create: true,
        }
    }
}

/// Whether `location` names a PostgreSQL store rather than an SQLite file.
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgresql://") || location.starts_with("postgres://")
}

/// Open the store at the PostgreSQL URL `url` (`postgresql://user:password@host:port/db`,
/// optionally `?schema=name` and libpq-style parameters such as `connect_timeout`).
///
/// Errors: [`StorageError::Io`] (bad URL, unreachable server, refused login),
/// [`StorageError::ForeignDatabase`], [`StorageError::NewerSchema`],
/// [`StorageError::NotFound`], [`StorageError::Corrupt`], [`StorageError::Database`].
pub fn open(url: &str, options: PgOptions) -> Result<KvStorage> {
    let db = PgDb::connect(url, options)?;
    Ok(KvStorage::with_backend(Box::new(db)))
}

/// The statements of one connection, prepared once.
struct Statements {
    get: Statement,
    range: Statement,
    range_open: Statement,
    upsert: Statement,
    delete: Statement,
    bump: Statement,
}

/// A connection and its prepared statements.
struct Conn {
    client: Client,
    stmts: Statements,
}

/// One store in one PostgreSQL schema (see the module documentation).
pub struct PgDb {
    config: Config,
    /// The validated schema name (an identifier: safe to splice into SQL).
    schema: String,
    /// The URL without its password, for messages.
    shown: String,
    lock_timeout: Duration,
    /// `None` after the connection was lost; opened again on the next use.
    conn: Option<Conn>,
    /// The `changes` counter when this connection last looked; `None` when it cannot
    /// know (a new or lost connection, or a commit whose outcome is unknown).
    seen: Option<i64>,
    in_transaction: bool,
}

impl PgDb {
    fn connect(url: &str, options: PgOptions) -> Result<Self> {
        let (rest, schema) = split_schema(url)?;
        let mut config = Config::from_str(&rest).map_err(|e| StorageError::Io {
            path: redact(url),
            message: format!("not a valid PostgreSQL URL: {e}"),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("rcs-mls");
        }
        // Notice a dead peer on an idle connection within a minute or so.
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        let shown = describe(&config, &schema);
        let mut db = Self {
            config,
            schema,
            shown,
            lock_timeout: options.lock_timeout,
            conn: None,
            seen: None,
            in_transaction: false,
        };
        let mut client = db.open_client()?;
        db.recognise(&mut client, options.create)?;
        let stmts = db.prepare(&mut client)?;
        let mut conn = Conn { client, stmts };
        let changes = conn
            .client
            .query_one(
                &format!("SELECT changes FROM {}.meta WHERE id = 1", db.q()),
                &[],
            )
            .map_err(|e| db.error(e))?
            .try_get::<_, i64>(0)
            .map_err(|e| db.error(e))?;
        db.seen = Some(changes);
        db.conn = Some(conn);
        Ok(db)
    }

    /// The schema, quoted for SQL.
    fn q(&self) -> String {
        format!("\"{}\"", self.schema)
    }

    fn open_client(&self) -> Result<Client> {
        self.config.connect(NoTls).map_err(|e| StorageError::Io {
            path: self.shown.clone(),
            message: format!("cannot connect to PostgreSQL: {}", pg_message(&e)),
        })
    }

    fn prepare(&self, client: &mut Client) -> Result<Statements> {
        let s = self.q();
        let mut p = |sql: String| client.prepare(&sql).map_err(|e| self.error(e));
        Ok(Statements {
            get: p(format!("SELECT value FROM {s}.kv WHERE key = $1"))?,
            range: p(format!(
                "SELECT key, value FROM {s}.kv WHERE key >= $1 AND key < $2"
            ))?,
            range_open: p(format!("SELECT key, value FROM {s}.kv WHERE key >= $1"))?,
            upsert: p(format!(
                "INSERT INTO {s}.kv (key, value) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            ))?,
            delete: p(format!("DELETE FROM {s}.kv WHERE key = ANY($1::bytea[])"))?,
            bump: p(format!(
                "UPDATE {s}.meta SET changes = changes + 1 WHERE id = 1 RETURNING changes"
            ))?,
        })
    }

    /// Recognise the schema without changing it; create the store where it is absent
    /// or empty (if allowed).
    fn recognise(&self, client: &mut Client, create: bool) -> Result<()> {
        if self.inspect(client)? == Found::Ours {
            return Ok(());
        }
        if !create {
            return Err(StorageError::NotFound {
                path: self.shown.clone(),
            });
        }
        let s = self.q();
        let mut tx = client.transaction().map_err(|e| self.error(e))?;
        // Concurrent first opens of one store wait here; the loser finds the schema made.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('rcs-mls:' || $1))",
            &[&self.schema],
        )
        .map_err(|e| self.error(e))?;
        if self.inspect(&mut tx)? == Found::Empty {
            tx.batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {s};
                 CREATE TABLE {s}.meta (
                     id integer PRIMARY KEY CHECK (id = 1),
                     application text NOT NULL,
                     schema_version bigint NOT NULL,
                     changes bigint NOT NULL DEFAULT 0
                 );
                 CREATE TABLE {s}.kv (
                     key bytea PRIMARY KEY,
                     value bytea NOT NULL
                 );"
            ))
            .map_err(|e| self.error(e))?;
            tx.execute(
                &format!(
                    "INSERT INTO {s}.meta (id, application, schema_version) VALUES (1, $1, $2)"
                ),
                &[&APPLICATION, &SCHEMA_VERSION],
            )
            .map_err(|e| self.error(e))?;
        }
        tx.commit().map_err(|e| self.error(e))
    }

    fn inspect(&self, client: &mut impl postgres::GenericClient) -> Result<Found> {
        let tables: Vec<String> = client
            .query(
                "SELECT c.relname::text FROM pg_catalog.pg_class c \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
                &[&self.schema],
            )
            .map_err(|e| self.error(e))?
            .iter()
            .map(|r| r.try_get::<_, String>(0))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| self.error(e))?;
        if tables.is_empty() {
            return Ok(Found::Empty);
        }
        let foreign = || StorageError::ForeignDatabase {
            path: self.shown.clone(),
        };
        if !tables.iter().any(|t| t == "meta") {
            return Err(foreign());
        }
        // Another application's `meta` table may have other columns: that is foreign.
        // A failed statement outside a transaction leaves nothing behind; inside the
        // creation transaction the schema was empty a moment ago, so it cannot fail.
        let row = client
            .query_opt(
                &format!(
                    "SELECT application, schema_version, changes FROM {}.meta WHERE id = 1",
                    self.q()
                ),
                &[],
            )
            .map_err(|_| foreign())?;
        let Some(row) = row else {
            return Err(foreign());
        };
        let application: String = row.try_get(0).map_err(|_| foreign())?;
        let version: i64 = row.try_get(1).map_err(|_| foreign())?;
        if application != APPLICATION {
            return Err(foreign());
        }
        if version > SCHEMA_VERSION {
            return Err(StorageError::NewerSchema {
                path: self.shown.clone(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version < 1 {
            return Err(StorageError::Corrupt(format!(
                "{}: invalid schema version {version}",
                self.shown
            )));
        }
        // Schema::Ours(v) with v < SCHEMA_VERSION would be migrated here.
        if !tables.iter().any(|t| t == "kv") {
            return Err(StorageError::Corrupt(format!(
                "{}: the kv table is missing",
                self.shown
            )));
        }
        Ok(Found::Ours)
    }

    /// The open connection, opening a new one if the last was lost (outside a
    /// transaction only: a transaction never survives its connection).
    fn conn(&mut self) -> Result<&mut Conn> {
        if self.conn.as_ref().is_some_and(|c| c.client.is_closed()) {
            self.lost();
        }
        if self.conn.is_none() {
            if self.in_transaction {
                return Err(self.lost_error("during the transaction"));
            }
            let mut client = self.open_client()?;
            let stmts = self.prepare(&mut client)?;
            self.conn = Some(Conn { client, stmts });
        }
        match self.conn.as_mut() {
            Some(c) => Ok(c),
            None => Err(lost_error(&self.shown, "")),
        }
    }

    /// Forget a broken connection and what it knew.
    fn lost(&mut self) {
        self.conn = None;
        self.seen = None;
    }

    fn lost_error(&self, when: &str) -> StorageError {
        lost_error(&self.shown, when)
    }

    /// Map a driver error, noticing a lost connection.
    fn error(&self, e: postgres::Error) -> StorageError {
        if is_lost(&e) {
            return self.lost_error("");
        }
        if let Some(db) = e.as_db_error() {
            let code = db.code();
            if *code == SqlState::LOCK_NOT_AVAILABLE {
                return StorageError::Locked;
            }
            if *code == SqlState::DATA_CORRUPTED || *code == SqlState::INDEX_CORRUPTED {
                return StorageError::Corrupt(format!("{}: {}", self.shown, db.message()));
            }
            return StorageError::Database(format!(
                "{}: {} (SQLSTATE {})",
                self.shown,
                db.message(),
                code.code()
            ));
        }
        StorageError::Database(format!("{}: {}", self.shown, pg_message(&e)))
    }

    /// Map an error met inside a transaction: a lost connection is forgotten, so the
    /// next operation opens a new one and reloads.
    fn tx_error(&mut self, e: postgres::Error, what: &str) -> StorageError {
        let closed = is_lost(&e) || self.conn.as_ref().is_none_or(|c| c.client.is_closed());
        if closed {
            self.lost();
            self.in_transaction = false;
            return self.lost_error(what);
        }
        self.error(e)
    }

    fn end_transaction_after_error(&mut self) {
        if let Some(c) = &mut self.conn {
            if c.client.batch_execute("ROLLBACK").is_err() {
                self.lost();
            }
        }
        self.in_transaction = false;
    }
}

impl Backend for PgDb {
    fn location(&self) -> String {
        self.shown.clone()
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let c = self.conn()?;
        let result = c.client.query_opt(&c.stmts.get, &[&key]);
        match result {
            Ok(Some(row)) => row
                .try_get::<_, Vec<u8>>(0)
                .map(Some)
                .map_err(|e| self.error(e)),
            Ok(None) => Ok(None),
            Err(e) => Err(self.tx_error(e, "while reading")),
        }
    }

    fn range(&mut self, start: &[u8], end: Option<&[u8]>) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let c = self.conn()?;
        let result = match end {
            Some(end) => c.client.query(&c.stmts.range, &[&start, &end]),
            None => c.client.query(&c.stmts.range_open, &[&start]),
        };
        let rows = result.map_err(|e| self.tx_error(e, "while reading"))?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<std::result::Result<_, postgres::Error>>()
            .map_err(|e| self.error(e))
    }

    fn begin(&mut self) -> Result<bool> {
        if self.in_transaction {
            // A transaction left open by an earlier failure: end it first.
            self.end_transaction_after_error();
        }
        // lock_timeout 0 would mean "wait forever": the shortest wait is 1 ms.
        let ms = self.lock_timeout.as_millis().clamp(1, u128::from(u32::MAX));
        let sql = format!(
            "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = {ms}; \
             SELECT changes FROM {}.meta WHERE id = 1 FOR UPDATE",
            self.q()
        );
        self.conn()?;
        self.in_transaction = true;
        let result = match &mut self.conn {
            Some(c) => c.client.simple_query(&sql),
            None => return Err(self.lost_error("")),
        };
        let messages = match result {
            Ok(m) => m,
            Err(e) => {
                let err = self.tx_error(e, "while starting a transaction");
                self.end_transaction_after_error();
                return Err(err);
            }
        };
        let changes = messages.iter().find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).and_then(|v| v.parse::<i64>().ok()),
            _ => None,
        });
        let Some(changes) = changes else {
            self.end_transaction_after_error();
            return Err(StorageError::Corrupt(format!(
                "{}: the meta row is missing",
                self.shown
            )));
        };
        let moved = self.seen != Some(changes);
        self.seen = Some(changes);
        Ok(moved)
    }

    fn commit(&mut self, changes: &[(&[u8], Option<&[u8]>)]) -> Result<()> {
        let mut keys = Vec::new();
        let mut values = Vec::new();
        let mut deleted = Vec::new();
        for (key, value) in changes {
            match value {
                Some(v) => {
                    keys.push(*key);
                    values.push(*v);
                }
                None => deleted.push(*key),
            }
        }
        let c = self.conn()?;
        let written = (|| -> std::result::Result<Option<i64>, postgres::Error> {
            if !keys.is_empty() {
                c.client.execute(&c.stmts.upsert, &[&keys, &values])?;
            }
            if !deleted.is_empty() {
                c.client.execute(&c.stmts.delete, &[&deleted])?;
            }
            if changes.is_empty() {
                return Ok(None);
            }
            let row = c.client.query_one(&c.stmts.bump, &[])?;
            Ok(Some(row.try_get(0)?))
        })();
        let counter = match written {
            Ok(counter) => counter,
            Err(e) => {
                let err = self.tx_error(e, "while writing");
                self.end_transaction_after_error();
                return Err(err);
            }
        };
        let committed = c.client.batch_execute("COMMIT");
        let closed = match &committed {
            Ok(()) => false,
            Err(e) => is_lost(e) || c.client.is_closed(),
        };
        self.in_transaction = false;
        match committed {
            Ok(()) => {
                if let Some(counter) = counter {
                    self.seen = Some(counter);
                }
                Ok(())
            }
            Err(e) => {
                if closed {
                    self.lost();
                    Err(StorageError::Io {
                        path: self.shown.clone(),
                        message: "the connection to PostgreSQL was lost while committing: the \
                                  transaction was written entirely or not at all, and the next \
                                  operation reloads whatever the database has"
                            .into(),
                    })
                } else {
                    // A refused COMMIT rolls the transaction back.
                    Err(self.error(e))
                }
            }
        }
    }

    fn rollback(&mut self) -> Result<()> {
        if !self.in_transaction {
            return Ok(());
        }
        self.in_transaction = false;
        let Some(c) = &mut self.conn else {
            // The server ended the transaction with the connection.
            return Ok(());
        };
        match c.client.batch_execute("ROLLBACK") {
            Ok(()) => Ok(()),
            Err(e) if is_lost(&e) || c.client.is_closed() => {
                self.lost();
                Ok(())
            }
            Err(e) => Err(self.error(e)),
        }
    }
}

/// The error for a connection lost before `COMMIT` was sent.
fn lost_error(shown: &str, when: &str) -> StorageError {
    let when = if when.is_empty() {
        String::new()
    } else {
        format!(" {when}")
    };
    StorageError::Io {
        path: shown.to_owned(),
        message: format!(
            "the connection to PostgreSQL was lost{when}; the transaction was rolled back \
             by the server and nothing of it was written"
        ),
    }
}

/// Whether the connection is gone: closed, or ended by the server (a FATAL error, such
/// as an administrator's termination or a shutdown, class 57P).
fn is_lost(e: &postgres::Error) -> bool {
    e.is_closed()
        || e.as_db_error().is_some_and(|d| {
            matches!(d.severity(), "FATAL" | "PANIC") || d.code().code().starts_with("57P")
        })
}

#[derive(Debug, PartialEq, Eq)]
enum Found {
    Empty,
    Ours,
}

/// Take our own `schema` parameter out of the URL's query; the rest is the driver's.
fn split_schema(url: &str) -> Result<(String, String)> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut schema = None;
    let mut kept = Vec::new();
    for part in query.into_iter().flat_map(|q| q.split('&')) {
        match part.strip_prefix("schema=") {
            Some(name) => schema = Some(name.to_owned()),
            None if part.is_empty() => {}
            None => kept.push(part),
        }
    }
    let schema = schema.unwrap_or_else(|| DEFAULT_SCHEMA.to_owned());
    let valid = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid {
        return Err(StorageError::Io {
            path: redact(url),
            message: format!(
                "schema {schema:?} is not a valid name (lower-case letters, digits and _, \
                 starting with a letter or _, at most 63)"
            ),
        });
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, schema))
}

/// `postgresql://user@host:port/db?schema=s`, without the password.
fn describe(config: &Config, schema: &str) -> String {
    use postgres::config::Host;
    let user = config.get_user().unwrap_or("");
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config
        .get_ports()
        .first()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let db = config.get_dbname().unwrap_or(user);
    let at = if user.is_empty() {
        String::new()
    } else {
        format!("{user}@")
    };
    format!("postgresql://{at}{host}{port}/{db}?schema={schema}")
}

/// A URL that may not parse: drop everything between `://` and the last `@`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(i), Some(j)) if j > i + 3 => {
            let creds = &url[i + 3..j];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}@{}", &url[..i + 3], &url[j + 1..])
        }
        _ => url.to_owned(),
    }
}

/// The driver's message with its causes (the top-level message alone is often
/// just "error connecting to server").
fn pg_message(e: &postgres::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    message
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn schema_parameter_is_ours_and_validated() {
        let (rest, schema) =
            split_schema("postgresql://u@h/db?schema=s_1&connect_timeout=3").unwrap();
        assert_eq!(rest, "postgresql://u@h/db?connect_timeout=3");
        assert_eq!(schema, "s_1");
        let (rest, schema) = split_schema("postgres://u@h/db").unwrap();
        assert_eq!(
            (rest.as_str(), schema.as_str()),
            ("postgres://u@h/db", DEFAULT_SCHEMA)
        );
        for bad in ["Upper", "1x", "a-b", "x\"; DROP TABLE kv; --", ""] {
            let url = format!("postgresql://u@h/db?schema={bad}");
            assert!(split_schema(&url).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_never_shown() {
        assert_eq!(redact("postgresql://u:secret@h/db"), "postgresql://u@h/db");
        let err = PgDb::connect("postgresql://u:secret@h:notaport/db", PgOptions::default())
            .err()
            .unwrap();
        assert!(!err.to_string().contains("secret"), "{err}");
        let (rest, schema) = split_schema("postgresql://u:secret@h:5/db").unwrap();
        let shown = describe(&Config::from_str(&rest).unwrap(), &schema);
        assert_eq!(shown, "postgresql://u@h:5/db?schema=rcs_mls");
    }

    #[test]
    fn unreachable_server_is_a_clear_error() {
        // Port 1 on loopback: nothing listens there.
        let err = open(
            "postgresql://u@127.0.0.1:1/db?connect_timeout=2",
            PgOptions::default(),
        )
        .err()
        .unwrap();
        assert!(matches!(err, StorageError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("cannot connect"), "{err}");
    }

    #[test]
    fn urls_are_recognised() {
        assert!(is_postgres_url("postgresql://h/db"));
        assert!(is_postgres_url("postgres://h/db"));
        assert!(!is_postgres_url("/tmp/postgres.db"));
        assert!(!is_postgres_url("postgresql.db"));
    }
}
