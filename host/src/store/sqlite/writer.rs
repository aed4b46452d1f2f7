//! Group commit: every write of the job store goes through one thread that
//! owns the only writing connection and commits whatever writes are waiting
//! in one transaction.
//!
//! SQLite runs one writer at a time, and what a write costs is mostly the
//! transaction around it and the trips between threads, not the row. Under
//! load many writes wait at once; committing them together turns N
//! transactions into one, while a lone write still commits at once. The
//! writes run synchronously on the writer's own thread (rusqlite), so a
//! batch costs two thread hand-offs, not two per statement as through an
//! async driver. Callers get their answer only after the commit that holds
//! their write, so nothing is reported done that a crash could lose.
//!
//! Checkpoints, which copy the WAL into the database file and are the only
//! step that waits for the disk (`synchronous = NORMAL`), run on a thread of
//! their own so that commits never wait for them.

use super::StoreError;
use rusqlite::Connection;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Most writes committed in one transaction, so that one commit's latency
/// stays bounded when a flood of writes is queued.
const MAX_BATCH: usize = 256;

/// How often the WAL is copied into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Long enough to ride out a checkpoint or a reader holding a lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs after the batch holding a write has committed (with `None`), or
/// failed to (with the error), and before any later write is answered.
type Completion = Box<dyn FnOnce(Option<&Arc<StoreError>>) + Send>;

/// One write: runs its statements on the writer's connection, inside the
/// batch transaction, and says how to answer once the batch is done.
type Op = Box<dyn FnOnce(&Connection) -> Completion + Send>;

/// The sending side of the writer thread. Cheap to clone.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    ops: mpsc::UnboundedSender<Op>,
    stopped: Arc<AtomicBool>,
    /// Set by the last write [`close`](Writer::close) queues: the writer
    /// stops once the batch holding it has committed.
    quit: Arc<AtomicBool>,
}

impl Writer {
    /// Opens the writing connection to the database at `path` (whose schema
    /// is already up to date) and starts the writer and checkpoint threads.
    /// They end when every `Writer` is dropped.
    pub(super) fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = open(path)?;
        // Checkpoints are ours to run, off the commit path.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let checkpointer = open(path)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let stopped = Arc::new(AtomicBool::new(false));
        let stop = stopped.clone();
        let quit = Arc::new(AtomicBool::new(false));
        let quitting = quit.clone();
        std::thread::Builder::new()
            .name("wades-db-writer".into())
            .spawn(move || {
                run(conn, rx, &quitting);
                stop.store(true, Ordering::Release);
            })?;
        let stop = stopped.clone();
        std::thread::Builder::new()
            .name("wades-db-checkpoint".into())
            .spawn(move || checkpoints(checkpointer, &stop))?;
        Ok(Writer {
            ops: tx,
            stopped,
            quit,
        })
    }

    /// Runs `f` in the next batch and returns its result once that batch has
    /// committed.
    ///
    /// `f` shares the transaction with other writes, so it must leave it
    /// usable: one statement is atomic by itself, and an error in it undoes
    /// only that statement; a write of several statements that must be all
    /// or nothing goes through [`savepoint`].
    pub(super) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_then(f, |_| {}).await
    }

    /// Like [`write`](Self::write), and calls `committed` with the result
    /// once it is durable, before any write queued after this one is
    /// answered. That ordering lets a caller publish what it wrote (say, a
    /// claimed job's cancel handle) before anyone else can act on it.
    pub(super) async fn write_then<T, F, C>(&self, f: F, committed: C) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        C: FnOnce(&T) + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.submit(f, move |answer| {
            if let Ok(value) = &answer {
                committed(value);
            }
            let _ = tx.send(answer);
        })?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Queues `f` for the next batch and returns at once; `done` gets its
    /// result on the writer thread, once the batch has committed (or
    /// failed), before any later write is answered.
    ///
    /// For a caller whose answer is for someone else: the writer hands the
    /// result straight to them instead of waking the caller only for it to
    /// pass the result on, which saves a thread hand-off per write.
    pub(super) fn submit<T, F, D>(&self, f: F, done: D) -> Result<(), StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        D: FnOnce(Result<T, StoreError>) + Send + 'static,
    {
        let op: Op = Box::new(move |conn| {
            let result = f(conn);
            Box::new(move |batch: Option<&Arc<StoreError>>| {
                done(match batch {
                    Some(e) => Err(StoreError::Batch(e.clone())),
                    None => result,
                })
            })
        });
        self.ops.send(op).map_err(|_| StoreError::WriterGone)
    }

    /// Stops the writer once every write queued so far has committed, and
    /// waits for it; later writes fail with [`StoreError::WriterGone`].
    pub(super) async fn close(&self) {
        let quit = self.quit.clone();
        let op: Op = Box::new(move |_| {
            quit.store(true, Ordering::Release);
            Box::new(|_| {})
        });
        if self.ops.send(op).is_ok() {
            while !self.stopped.load(Ordering::Acquire) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
}

/// Runs `f` between `SAVEPOINT` and `RELEASE`, rolling back to the savepoint
/// if it fails, so that a write of several statements is all or nothing
/// within the shared batch transaction.
pub(super) fn savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.execute_batch("SAVEPOINT write")?;
    match f(conn) {
        Ok(value) => {
            conn.execute_batch("RELEASE write")?;
            Ok(value)
        }
        Err(e) => {
            conn.execute_batch("ROLLBACK TO write; RELEASE write")?;
            Err(e)
        }
    }
}

fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "wal")?;
    conn.pragma_update(None, "synchronous", "normal")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // The writer prepares the same few statements over and over.
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

fn run(conn: Connection, mut rx: mpsc::UnboundedReceiver<Op>, quit: &AtomicBool) {
    let mut ops = Vec::with_capacity(MAX_BATCH);
    let mut done: Vec<Completion> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        ops.push(first);
        while ops.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            // Without a transaction each write commits on its own and
            // reports its own error, which is the best that can be said.
            tracing::error!(error = %e, "starting a job store transaction failed");
            for op in ops.drain(..) {
                op(&conn)(None);
            }
            continue;
        }
        for op in ops.drain(..) {
            done.push(op(&conn));
        }
        let outcome = conn
            .execute_batch("COMMIT")
            .err()
            .map(|e| Arc::new(StoreError::from(e)));
        if let Some(e) = &outcome {
            tracing::error!(error = %e, writes = done.len(), "committing a batch of job store writes failed");
            let _ = conn.execute_batch("ROLLBACK");
        }
        for complete in done.drain(..) {
            complete(outcome.as_ref());
        }
        if quit.load(Ordering::Acquire) {
            return;
        }
    }
}

fn checkpoints(conn: Connection, stopped: &AtomicBool) {
    while !stopped.load(Ordering::Acquire) {
        std::thread::sleep(CHECKPOINT_EVERY);
        // PASSIVE never blocks writers or readers; it copies what it can.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "checkpointing the job store failed");
        }
    }
}
