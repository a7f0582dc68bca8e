//! Argon2id password hashing, bounded and run off the async executor.
//!
//! Argon2 deliberately burns ~20 MiB and tens of milliseconds per call.
//! Running it on an async worker thread would stall every other request on
//! that thread, and running unbounded numbers at once would let a login
//! flood exhaust memory. [`PasswordHasher`] therefore:
//!
//! * admits at most `max_in_flight + max_queued` calls at a time and refuses
//!   the rest immediately with [`PasswordError::Busy`] (the HTTP layer turns
//!   that into `503` + `Retry-After`), so overload sheds load instead of
//!   building an ever-growing queue;
//! * runs at most `max_in_flight` hashes concurrently, on as many threads
//!   of its own at a lower scheduling priority, so that cheap requests are
//!   not kept waiting behind hashes.

use std::fmt;
use std::sync::{Arc, PoisonError};

use argon2::password_hash::PasswordHasher as _;
use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};

use crate::token::try_random_bytes;

/// Salt length in bytes (128 bits, the PHC/argon2 recommendation).
const SALT_LEN: usize = 16;

/// Password used only to build the dummy hash for [`PasswordHasher::verify_dummy`].
/// It is not a secret: the dummy hash never authenticates anyone.
const DUMMY_PASSWORD: &str = "authn-core dummy password";

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Number of passes over memory.
    pub t_cost: u32,
    /// Degree of parallelism (lanes).
    pub p_cost: u32,
}

impl Default for Argon2Params {
    /// OWASP Password Storage Cheat Sheet minimum for argon2id:
    /// m = 19 MiB, t = 2, p = 1.
    fn default() -> Self {
        Self {
            m_cost_kib: 19_456,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

/// Errors from password hashing. Messages never contain passwords or hashes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Too many hashing requests are already admitted; retry later.
    #[error("password hasher is busy")]
    Busy,
    /// The stored hash is not a valid argon2 PHC string.
    #[error("stored password hash is malformed or unsupported")]
    InvalidHash,
    /// The configured parameters or limits are unusable.
    #[error("invalid password hasher parameters")]
    InvalidParams,
    /// Hashing failed internally (e.g. memory allocation or OS RNG failure).
    #[error("password hashing failed")]
    Hash,
    /// The blocking task could not run or did not finish (it panicked or was
    /// cancelled, or no Tokio runtime is running).
    #[error("password hashing task failed")]
    TaskFailed,
}

/// Outcome of [`PasswordHasher::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// The password matches the stored hash.
    pub matches: bool,
    /// The stored hash uses another algorithm, version or parameters than
    /// the configured ones; on a match, the caller should store a new
    /// [`PasswordHasher::hash`] of the password.
    pub needs_rehash: bool,
}

/// A place in a [`PasswordHasher`]'s admission limit, taken ahead of the
/// hash it is for ([`PasswordHasher::try_admit`]) and spent by one
/// [`verify_admitted`](PasswordHasher::verify_admitted) or
/// [`verify_dummy_admitted`](PasswordHasher::verify_dummy_admitted); dropping
/// it unused gives the place back.
pub struct Admission(OwnedSemaphorePermit);

impl fmt::Debug for Admission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Admission")
    }
}

/// Bounded argon2id hasher. Cloning is cheap and clones share the limits.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    config: Argon2Params,
    params: Params,
    max_in_flight: usize,
    /// `max_in_flight + max_queued` permits: one per admitted call.
    admission: Arc<Semaphore>,
    capacity: usize,
    /// `max_in_flight` permits: one per running argon2 computation.
    execution: Arc<Semaphore>,
    /// Hash of [`DUMMY_PASSWORD`] with the configured parameters, built on
    /// first use so construction stays cheap.
    dummy: OnceCell<PasswordHash>,
    /// Argon2 working memory of finished verifications (first blocks of
    /// each lane wiped, see `verify_with_memory`), for the
    /// next ones. A fresh 19 MiB per call costs thousands of page faults,
    /// about a tenth of the hash's time; at most `max_in_flight` are ever
    /// kept, since no more run at once, so the hasher holds up to
    /// `max_in_flight` x the configured memory cost for its lifetime.
    memory: std::sync::Mutex<Vec<Vec<Block>>>,
    /// Where the computations run.
    threads: HashThreads,
}

impl Inner {
    /// The kept working memory; a lock poisoned by a panicking holder is
    /// taken over (a list of buffers has no invariant a panic can break).
    fn kept_memory(&self) -> std::sync::MutexGuard<'_, Vec<Vec<Block>>> {
        self.memory.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for PasswordHasher {
    // Manual impl: shows configuration and load, never the dummy hash.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.inner.config)
            .field("max_in_flight", &self.inner.max_in_flight)
            .field("capacity", &self.inner.capacity)
            .field("queue_depth", &self.queue_depth())
            .finish()
    }
}

impl PasswordHasher {
    /// Creates a hasher running at most `max_in_flight` argon2 computations
    /// at once, with at most `max_queued` more calls waiting; calls beyond
    /// that fail with [`PasswordError::Busy`].
    ///
    /// Fails with [`PasswordError::InvalidParams`] if argon2 rejects `params`,
    /// `max_in_flight` is 0, or the total exceeds Tokio's semaphore limit.
    pub fn new(
        params: Argon2Params,
        max_in_flight: usize,
        max_queued: usize,
    ) -> Result<Self, PasswordError> {
        let argon_params = Params::new(params.m_cost_kib, params.t_cost, params.p_cost, None)
            .map_err(|_| PasswordError::InvalidParams)?;
        if max_in_flight == 0 {
            return Err(PasswordError::InvalidParams);
        }
        // Semaphore::new panics above MAX_PERMITS, so check first.
        let capacity = max_in_flight
            .checked_add(max_queued)
            .filter(|&c| c <= Semaphore::MAX_PERMITS)
            .ok_or(PasswordError::InvalidParams)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config: params,
                params: argon_params,
                max_in_flight,
                admission: Arc::new(Semaphore::new(capacity)),
                capacity,
                execution: Arc::new(Semaphore::new(max_in_flight)),
                dummy: OnceCell::new(),
                memory: std::sync::Mutex::new(Vec::new()),
                threads: HashThreads::new(max_in_flight),
            }),
        })
    }

    /// Sizes the limits for this machine: one running hash per available CPU
    /// (argon2 with p=1 is single-threaded) and 8× that many waiting.
    pub fn for_machine(params: Argon2Params) -> Result<Self, PasswordError> {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self::new(params, cpus, cpus.saturating_mul(8))
    }

    /// [`for_machine`](Self::for_machine) with the default (OWASP) parameters.
    pub fn default_for_machine() -> Result<Self, PasswordError> {
        Self::for_machine(Argon2Params::default())
    }

    /// The configured argon2 parameters.
    pub fn params(&self) -> Argon2Params {
        self.inner.config
    }

    /// Calls currently admitted (waiting for a slot or running), for metrics.
    pub fn queue_depth(&self) -> usize {
        self.inner
            .capacity
            .saturating_sub(self.inner.admission.available_permits())
    }

    /// Admitted calls beyond the slots (waiting for one, or about to
    /// start, like a login still reading its credentials): none while the
    /// hasher keeps up with what it is asked.
    pub fn waiting(&self) -> usize {
        self.queue_depth().saturating_sub(self.inner.max_in_flight)
    }

    /// Hashes `password` with argon2id v0x13, the configured parameters and a
    /// random 16-byte salt from the OS CSPRNG; returns the PHC string
    /// (`$argon2id$v=19$m=...,t=...,p=...$<salt>$<hash>`).
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let hash = self.hash_phc(self.admit()?, password).await?;
        Ok(hash.to_string())
    }

    async fn hash_phc(
        &self,
        admission: OwnedSemaphorePermit,
        password: &str,
    ) -> Result<PasswordHash, PasswordError> {
        let salt = try_random_bytes::<SALT_LEN>().map_err(|_| PasswordError::Hash)?;
        let params = self.inner.params.clone();
        let password = password.to_owned();
        self.run(admission, None, move || {
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password_with_salt(password.as_bytes(), &salt)
                .map_err(|_| PasswordError::Hash)
        })
        .await
    }

    /// Verifies `password` against a stored argon2 PHC string.
    ///
    /// Any valid argon2 hash is accepted (argon2id/argon2i/argon2d, any
    /// version and parameters), using the parameters recorded in it.
    /// Returns [`PasswordError::InvalidHash`] for a malformed string, before
    /// doing any expensive work.
    pub async fn verify(&self, password: &str, phc: &str) -> Result<Verification, PasswordError> {
        let parsed = PasswordHash::new(phc).map_err(|_| PasswordError::InvalidHash)?;
        let needs_rehash = self.check_stored(&parsed)?;
        let admission = self.admit()?;
        self.verify_parsed(admission, password, parsed, needs_rehash, None)
            .await
    }

    /// Takes a place for one later verification now, or fails at once with
    /// [`PasswordError::Busy`]. A flow that must do other work (store
    /// round trips) before its hash calls this first, so that a full hasher
    /// refuses the request before that work: under overload, refusals then
    /// cost next to nothing and take nothing from admitted requests.
    pub fn try_admit(&self) -> Result<Admission, PasswordError> {
        self.admit().map(Admission)
    }

    /// [`verify`](Self::verify) on a place taken earlier with
    /// [`try_admit`](Self::try_admit): never [`PasswordError::Busy`].
    pub async fn verify_admitted(
        &self,
        admission: Admission,
        password: &str,
        phc: &str,
    ) -> Result<Verification, PasswordError> {
        self.verify_admitted_started(admission, password, phc, None)
            .await
    }

    /// [`verify_admitted`](Self::verify_admitted), telling `started` when
    /// the hash gets one of the hashing threads (at once, or after waiting
    /// for one). Work done beside the hash that holds something scarce for
    /// its duration (an open database transaction) waits for that signal,
    /// so a verification waiting its turn holds nothing. `started` is
    /// dropped unsent when the verification fails before hashing.
    pub async fn verify_admitted_started(
        &self,
        admission: Admission,
        password: &str,
        phc: &str,
        started: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> Result<Verification, PasswordError> {
        let parsed = PasswordHash::new(phc).map_err(|_| PasswordError::InvalidHash)?;
        let needs_rehash = self.check_stored(&parsed)?;
        self.verify_parsed(admission.0, password, parsed, needs_rehash, started)
            .await
    }

    async fn verify_parsed(
        &self,
        admission: OwnedSemaphorePermit,
        password: &str,
        parsed: PasswordHash,
        needs_rehash: bool,
        started: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> Result<Verification, PasswordError> {
        let password = password.to_owned();
        let inner = Arc::clone(&self.inner);
        let matches = self
            .run(admission, started, move || {
                // A hash with other (larger) parameters than configured, as
                // imported ones may have, gets memory of its own: the kept
                // buffers stay at the configured size.
                let fits = Params::try_from(&parsed)
                    .is_ok_and(|p| p.block_count() <= inner.params.block_count());
                let mut memory = if fits {
                    inner.kept_memory().pop().unwrap_or_default()
                } else {
                    Vec::new()
                };
                let matches = verify_with_memory(password.as_bytes(), &parsed, &mut memory);
                if fits {
                    inner.kept_memory().push(memory);
                }
                matches
            })
            .await?;
        Ok(Verification {
            matches,
            needs_rehash,
        })
    }

    /// Checks that a parsed PHC hash is a usable argon2 hash and reports
    /// whether it differs from the configured algorithm and parameters.
    fn check_stored(&self, hash: &PasswordHash) -> Result<bool, PasswordError> {
        let (algorithm, version, params) = recorded_settings(hash)?;
        // Without salt or output there is nothing to verify against; the
        // library would report "wrong password", which would hide corruption.
        if hash.salt.is_none() || hash.hash.is_none() {
            return Err(PasswordError::InvalidHash);
        }
        let cfg = &self.inner.config;
        let current = algorithm == Algorithm::Argon2id
            && version == Some(Version::V0x13)
            && params.m_cost() == cfg.m_cost_kib
            && params.t_cost() == cfg.t_cost
            && params.p_cost() == cfg.p_cost
            && params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)
                == Params::DEFAULT_OUTPUT_LEN
            && params.keyid().is_empty()
            && params.data().is_empty();
        Ok(!current)
    }

    /// Does the work of a real [`verify`](Self::verify) (same parameters,
    /// same limits) against a fixed dummy hash and discards the result.
    ///
    /// Call it when the account does not exist, so the response time does
    /// not reveal which emails are registered. The first call builds the
    /// dummy hash instead of verifying against it: one hash either way.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), PasswordError> {
        self.verify_dummy_admitted(Admission(self.admit()?), password)
            .await
    }

    /// [`verify_dummy`](Self::verify_dummy) on a place taken earlier with
    /// [`try_admit`](Self::try_admit): never [`PasswordError::Busy`]. The
    /// first call builds the dummy hash on that place instead (one hash
    /// either way), so an unknown email is never refused where a known one
    /// would be answered.
    pub async fn verify_dummy_admitted(
        &self,
        admission: Admission,
        password: &str,
    ) -> Result<(), PasswordError> {
        if let Some(dummy) = self.inner.dummy.get() {
            return self
                .verify_parsed(admission.0, password, dummy.clone(), false, None)
                .await
                .map(|_| ());
        }
        let built = self.hash_phc(admission.0, DUMMY_PASSWORD).await?;
        // Another first call may have won the race; either hash will do.
        let _ = self.inner.dummy.set(built);
        Ok(())
    }

    /// Takes an admission permit or fails at once: waiting here would let a
    /// flood build an unbounded queue of requests.
    fn admit(&self) -> Result<OwnedSemaphorePermit, PasswordError> {
        Arc::clone(&self.inner.admission)
            .try_acquire_owned()
            .map_err(|_| PasswordError::Busy)
    }

    /// Waits for an execution slot, then runs `work` on the hasher's own
    /// threads ([`HashThreads`]), telling `started` once it has the slot
    /// (a thread is then free: there are as many as slots).
    async fn run<T, F>(
        &self,
        admission: OwnedSemaphorePermit,
        started: Option<tokio::sync::oneshot::Sender<()>>,
        work: F,
    ) -> Result<T, PasswordError>
    where
        F: FnOnce() -> Result<T, PasswordError> + Send + 'static,
        T: Send + 'static,
    {
        let slot = Arc::clone(&self.inner.execution)
            .acquire_owned()
            .await
            // Only fails if the semaphore is closed, which this type never does.
            .map_err(|_| PasswordError::TaskFailed)?;
        if let Some(started) = started {
            // Nobody may be listening any more; that is their business.
            let _ = started.send(());
        }
        let (done, result) = tokio::sync::oneshot::channel();
        self.inner.threads.run(Box::new(move || {
            // The permits move into the job so that they are released only
            // when argon2 actually finishes, even if the caller's future is
            // dropped meanwhile; otherwise cancelled requests could push the
            // real concurrency past the limit. They are released before the
            // result is sent: a client answered must find its place free
            // for its next request.
            let permits = (admission, slot);
            let out = work();
            drop(permits);
            // The caller may be gone; then nobody wants the result.
            let _ = done.send(out);
        }))?;
        // A job that panicked drops its sender unsent.
        result.await.map_err(|_| PasswordError::TaskFailed)?
    }
}

/// One argon2 computation, as the hasher's threads run it.
type Job = Box<dyn FnOnce() + Send>;

/// The threads argon2 runs on: as many as may run at once, started on
/// first use, each at a lower scheduling priority than the rest of the
/// process ([`HASH_THREAD_PRIORITY`]) where the OS allows it.
///
/// Why not Tokio's blocking pool: a hash keeps a core busy for tens of
/// milliseconds, and with every core hashing, a thread that answers a
/// cheap request (a session check, a `503` to a login the hasher has no
/// room for) would wait its turn behind them. At a lower priority, hashing
/// takes the cores only when nothing else needs them; the blocking pool's
/// threads are shared with other work, so they cannot be reniced.
struct HashThreads {
    size: usize,
    /// The queue the threads take jobs from; `None` until first use. The
    /// threads end when it is dropped (with the hasher).
    jobs: std::sync::Mutex<Option<std::sync::mpsc::Sender<Job>>>,
}

/// The hashing threads' priority on `thread_priority`'s portable 0–99
/// scale (99 highest). On Linux it is nice 5 (a test checks it): about a
/// third of a normal thread's CPU share when both want the same core
/// (scheduler weights 335 vs 1024), and a woken normal thread takes the
/// core at once. Nice 10 answered 503s as fast but let the accepted
/// logins' p99 under overload spread (cargo xtask bench, scenario 3).
const HASH_THREAD_PRIORITY: u8 = 34;

impl HashThreads {
    fn new(size: usize) -> Self {
        Self {
            size,
            jobs: std::sync::Mutex::new(None),
        }
    }

    /// Queues `job`; at most `size` are ever queued or running, since each
    /// holds an execution slot.
    fn run(&self, job: Job) -> Result<(), PasswordError> {
        // A poisoned lock only means a panic while starting threads; the
        // Option is still either a queue or none.
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let queue = match &mut *jobs {
            Some(queue) => queue,
            none => none.insert(self.start()?),
        };
        queue.send(job).map_err(|_| PasswordError::TaskFailed)
    }

    /// Starts the threads; fails only when not one could be started.
    fn start(&self) -> Result<std::sync::mpsc::Sender<Job>, PasswordError> {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let mut started = 0;
        for i in 0..self.size {
            let rx = Arc::clone(&rx);
            let spawned = std::thread::Builder::new()
                .name(format!("authn-hash-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // The lock is held while waiting: one idle thread
                        // waits on the queue, the others on the lock.
                        let job = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        let Ok(job) = job else { return };
                        // A panicking job drops its result sender (its
                        // caller gets TaskFailed); the thread lives on.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                });
            if spawned.is_ok() {
                started += 1;
            }
        }
        if started == 0 {
            return Err(PasswordError::TaskFailed);
        }
        Ok(tx)
    }
}

/// Lowers the calling thread's priority to [`HASH_THREAD_PRIORITY`]
/// (best effort: where the OS refuses, hashes run at the normal priority).
fn lower_priority() {
    use thread_priority::{ThreadPriority, ThreadPriorityValue};
    if let Ok(p) = ThreadPriorityValue::try_from(HASH_THREAD_PRIORITY) {
        let _ = thread_priority::set_current_thread_priority(ThreadPriority::Crossplatform(p));
    }
}

/// The algorithm, version (when recorded) and parameters of a stored
/// hash; [`PasswordError::InvalidHash`] when one is not argon2's.
fn recorded_settings(
    hash: &PasswordHash,
) -> Result<(Algorithm, Option<Version>, Params), PasswordError> {
    let algorithm =
        Algorithm::new(hash.algorithm.as_str()).map_err(|_| PasswordError::InvalidHash)?;
    let version = hash
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|_| PasswordError::InvalidHash)?;
    let params = Params::try_from(hash).map_err(|_| PasswordError::InvalidHash)?;
    Ok((algorithm, version, params))
}

/// Verifies `password` against `hash` as argon2's own `verify_password`
/// does (the algorithm, version and parameters recorded in the hash, the
/// outputs compared in constant time by `Output`'s `PartialEq`), but on
/// `memory`, grown once to the hash's size and reused across calls.
fn verify_with_memory(
    password: &[u8],
    hash: &PasswordHash,
    memory: &mut Vec<Block>,
) -> Result<bool, PasswordError> {
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return Err(PasswordError::InvalidHash);
    };
    let (algorithm, version, params) = recorded_settings(hash)?;
    let version = version.unwrap_or_default();
    let blocks = params.block_count();
    if memory.len() < blocks {
        // Fallible: a stored hash with a huge memory cost must fail the
        // call, not abort the process.
        memory
            .try_reserve_exact(blocks - memory.len())
            .map_err(|_| PasswordError::Hash)?;
        memory.resize(blocks, Block::default());
    }
    let memory = memory.get_mut(..blocks).ok_or(PasswordError::Hash)?;
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let out = buffer
        .get_mut(..expected.len())
        .ok_or(PasswordError::InvalidHash)?;
    let lanes = usize::try_from(params.p_cost()).map_err(|_| PasswordError::InvalidHash)?;
    let hashed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password,
        salt,
        out,
        &mut *memory,
    );
    // Memory that is kept for the next call must not keep what a guess can
    // be tested against cheaply: the first two blocks of each lane, which
    // come straight from the password and salt when t = 1 (the "garbage
    // collector" attack on argon2). Every other block takes the
    // memory-hard chain to reproduce. Wiping 2 KiB per lane instead of all
    // 19 MiB keeps the saving of the reuse.
    for lane in memory.chunks_mut((blocks / lanes.max(1)).max(1)) {
        for block in lane.iter_mut().take(2) {
            *block = Block::default();
        }
    }
    hashed.map_err(|e| match e {
        argon2::Error::OutOfMemory => PasswordError::Hash,
        _ => PasswordError::InvalidHash,
    })?;
    let computed = Output::new(out).map_err(|_| PasswordError::InvalidHash)?;
    Ok(computed == *expected)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const SMALL: Argon2Params = Argon2Params {
        m_cost_kib: 256,
        t_cost: 1,
        p_cost: 1,
    };

    fn small() -> PasswordHasher {
        PasswordHasher::new(SMALL, 2, 8).unwrap()
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let h = small();
        let phc = h.hash("correct horse").await.unwrap();
        let ok = h.verify("correct horse", &phc).await.unwrap();
        assert_eq!(
            ok,
            Verification {
                matches: true,
                needs_rehash: false
            }
        );
        let bad = h.verify("correct horsE", &phc).await.unwrap();
        assert!(!bad.matches);
        assert!(!bad.needs_rehash);
        assert!(!h.verify("", &phc).await.unwrap().matches);
        assert_eq!(h.queue_depth(), 0);
    }

    #[tokio::test]
    async fn default_params_phc_prefix() {
        let h = PasswordHasher::new(Argon2Params::default(), 1, 1).unwrap();
        let phc = h.hash("pw").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        // 16-byte salt -> 22 base64 chars; 32-byte output -> 43.
        let parts: Vec<&str> = phc.split('$').collect();
        assert_eq!(parts.len(), 6);
        assert_eq!(parts[4].len(), 22);
        assert_eq!(parts[5].len(), 43);
    }

    #[tokio::test]
    async fn salts_differ() {
        let h = small();
        let a = h.hash("same").await.unwrap();
        let b = h.hash("same").await.unwrap();
        assert_ne!(a, b);
        assert!(h.verify("same", &a).await.unwrap().matches);
        assert!(h.verify("same", &b).await.unwrap().matches);
    }

    #[tokio::test]
    async fn other_params_verify_and_need_rehash() {
        let old = PasswordHasher::new(
            Argon2Params {
                m_cost_kib: 8192,
                t_cost: 1,
                p_cost: 1,
            },
            1,
            0,
        )
        .unwrap();
        let phc = old.hash("pw").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"));
        let v = small().verify("pw", &phc).await.unwrap();
        assert_eq!(
            v,
            Verification {
                matches: true,
                needs_rehash: true
            }
        );
        let wrong = small().verify("pw2", &phc).await.unwrap();
        assert!(!wrong.matches);
        assert!(wrong.needs_rehash);
        // The old hasher itself sees no need to rehash.
        assert!(!old.verify("pw", &phc).await.unwrap().needs_rehash);
    }

    #[tokio::test]
    async fn other_variants_verify_and_need_rehash() {
        let salt = [9u8; 16];
        let params = Params::new(SMALL.m_cost_kib, 1, 1, None).unwrap();
        for (alg, ver, prefix) in [
            (Algorithm::Argon2i, Version::V0x13, "$argon2i$v=19$"),
            (Algorithm::Argon2d, Version::V0x13, "$argon2d$v=19$"),
            (Algorithm::Argon2id, Version::V0x10, "$argon2id$v=16$"),
        ] {
            let phc = Argon2::new(alg, ver, params.clone())
                .hash_password_with_salt(b"pw", &salt)
                .unwrap()
                .to_string();
            assert!(phc.starts_with(prefix), "{phc}");
            let v = small().verify("pw", &phc).await.unwrap();
            assert!(v.matches, "{phc}");
            assert!(v.needs_rehash, "{phc}");
            assert!(!small().verify("px", &phc).await.unwrap().matches);
        }
        // Same params but a longer output also needs a rehash.
        let long = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(SMALL.m_cost_kib, 1, 1, Some(64)).unwrap(),
        )
        .hash_password_with_salt(b"pw", &salt)
        .unwrap()
        .to_string();
        let v = small().verify("pw", &long).await.unwrap();
        assert!(v.matches && v.needs_rehash);
    }

    #[tokio::test]
    async fn verifies_hash_from_independent_implementation() {
        // Made once during development with argon2-cffi 25.1.0 (libargon2):
        //   argon2.PasswordHasher(time_cost=1, memory_cost=256, parallelism=1)
        //       .hash("correct horse battery staple")
        let phc = "$argon2id$v=19$m=256,t=1,p=1$9fvBYYv3sCFUukepdw/g0w\
                   $nkfWDzysHHidlXIMuyOrQWAPChFSkCTwC5wbXNquPBk";
        let h = small();
        let v = h.verify("correct horse battery staple", phc).await.unwrap();
        assert_eq!(
            v,
            Verification {
                matches: true,
                needs_rehash: false
            }
        );
        assert!(
            !h.verify("correct horse battery stapl", phc)
                .await
                .unwrap()
                .matches
        );
    }

    #[tokio::test]
    async fn malformed_phc_is_invalid_hash() {
        let h = small();
        let good = h.hash("pw").await.unwrap();
        let no_hash = good.rsplit_once('$').unwrap().0.to_owned();
        let bad_version = good.replace("v=19", "v=42");
        for bad in [
            "",
            "not a hash",
            "$argon2id$",
            "$argon2id$v=19$m=256,t=1,p=1",
            "$bcrypt$v=19$m=256,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2g",
            "$argon2id$v=19$m=256,t=1,p=1,x=5$c29tZXNhbHQ$aGFzaGhhc2g",
            "$argon2id$v=19$m=1,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2g",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            no_hash.as_str(),
            bad_version.as_str(),
        ] {
            let err = h.verify("pw", bad).await.unwrap_err();
            assert_eq!(err, PasswordError::InvalidHash, "{bad:?}");
            // The message must not echo the hash.
            assert!(!err.to_string().contains("argon2"));
        }
    }

    #[tokio::test]
    async fn admission_taken_ahead_counts_and_is_spent_once() {
        let h = PasswordHasher::new(SMALL, 1, 1).unwrap();
        let phc = h.hash("pw").await.unwrap();
        let a = h.try_admit().unwrap();
        assert_eq!((h.queue_depth(), h.waiting()), (1, 0));
        let b = h.try_admit().unwrap();
        // One slot: the second admitted call waits for it.
        assert_eq!((h.queue_depth(), h.waiting()), (2, 1));
        // Full: refused before any work, also for the plain calls.
        assert_eq!(h.try_admit().unwrap_err(), PasswordError::Busy);
        assert_eq!(h.verify("pw", &phc).await.unwrap_err(), PasswordError::Busy);
        // A place taken ahead is never refused, and is given back after.
        assert!(h.verify_admitted(a, "pw", &phc).await.unwrap().matches);
        assert!(!h.verify_admitted(b, "nope", &phc).await.unwrap().matches);
        assert_eq!(h.queue_depth(), 0);
        // Dropped unused: given back at once.
        drop(h.try_admit().unwrap());
        assert_eq!(h.queue_depth(), 0);
        // The dummy: its first use builds the hash on the caller's place
        // (no second one), so it succeeds even with room for one only.
        let one = PasswordHasher::new(SMALL, 1, 0).unwrap();
        one.verify_dummy_admitted(one.try_admit().unwrap(), "x")
            .await
            .unwrap();
        assert!(one.inner.dummy.get().is_some());
        one.verify_dummy_admitted(one.try_admit().unwrap(), "y")
            .await
            .unwrap();
        assert_eq!(one.queue_depth(), 0);
        h.verify_dummy_admitted(h.try_admit().unwrap(), "x")
            .await
            .unwrap();
        h.verify_dummy_admitted(h.try_admit().unwrap(), "y")
            .await
            .unwrap();
        assert_eq!(h.queue_depth(), 0);
        // A malformed hash is reported, and the place given back.
        let c = h.try_admit().unwrap();
        assert_eq!(
            h.verify_admitted(c, "pw", "not a hash").await.unwrap_err(),
            PasswordError::InvalidHash
        );
        assert_eq!(h.queue_depth(), 0);
    }

    #[tokio::test]
    async fn verification_memory_is_reused_and_bounded() {
        let h = PasswordHasher::new(SMALL, 2, 8).unwrap();
        let phc = h.hash("pw").await.unwrap();
        // Same answers as argon2's own verify_password, for other parameters
        // (their larger memory is not kept) and for the configured ones.
        let other = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(SMALL.m_cost_kib * 2, 1, 1, Some(24)).unwrap(),
        )
        .hash_password_with_salt(b"pw", b"0123456789abcdef")
        .unwrap()
        .to_string();
        for stored in [&other, &phc] {
            for (password, expected) in [("pw", true), ("pW", false), ("", false)] {
                let ours = h.verify(password, stored).await.unwrap().matches;
                let theirs = argon2::password_hash::PasswordVerifier::verify_password(
                    &Argon2::default(),
                    password.as_bytes(),
                    &PasswordHash::new(stored).unwrap(),
                )
                .is_ok();
                assert_eq!(
                    (ours, theirs),
                    (expected, expected),
                    "{stored} {password:?}"
                );
            }
        }
        let kept = h.inner.memory.lock().unwrap();
        assert!(!kept.is_empty() && kept.len() <= 2, "{} kept", kept.len());
        assert!(kept.iter().all(|m| m.len() == h.inner.params.block_count()));
        // The blocks a guess could be tested against cheaply are wiped
        // before the memory is kept: the first two of each lane (p = 1).
        assert!(
            kept.iter()
                .flat_map(|m| m.iter().take(2))
                .all(|b| b.as_ref().iter().all(|w| *w == 0))
        );
        assert!(kept.iter().all(|m| m[2].as_ref().iter().any(|w| *w != 0)));
    }

    #[tokio::test]
    async fn start_is_told_when_the_hash_gets_a_thread_not_before() {
        // One thread, one queued place: the second verification waits.
        let h = PasswordHasher::new(SMALL, 1, 1).unwrap();
        let phc = h.hash("pw").await.unwrap();
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let first = {
            let h = h.clone();
            let admission = h.admit().unwrap();
            tokio::spawn(async move {
                h.run(admission, None, move || {
                    blocked.recv().unwrap();
                    Ok(())
                })
                .await
            })
        };
        while h.inner.execution.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let (started, mut hash_started) = tokio::sync::oneshot::channel();
        let second = {
            let (h, phc) = (h.clone(), phc.clone());
            let admission = h.try_admit().unwrap();
            tokio::spawn(async move {
                h.verify_admitted_started(admission, "pw", &phc, Some(started))
                    .await
            })
        };
        // Queued behind the first: not started, however long it waits.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(matches!(
            hash_started.try_recv(),
            Err(tokio::sync::oneshot::error::TryRecvError::Empty)
        ));
        release.send(()).unwrap();
        first.await.unwrap().unwrap();
        hash_started.await.unwrap();
        assert!(second.await.unwrap().unwrap().matches);

        // A verification that fails before hashing never starts.
        let (started, hash_started) = tokio::sync::oneshot::channel();
        let admission = h.try_admit().unwrap();
        assert!(matches!(
            h.verify_admitted_started(admission, "pw", "not a phc", Some(started))
                .await,
            Err(PasswordError::InvalidHash)
        ));
        assert!(hash_started.await.is_err());
    }

    #[tokio::test]
    async fn busy_when_full() {
        let h = PasswordHasher::new(SMALL, 1, 0).unwrap();
        let results = tokio::join!(
            h.hash("a"),
            h.hash("b"),
            h.hash("c"),
            h.hash("d"),
            h.hash("e"),
        );
        let all = [results.0, results.1, results.2, results.3, results.4];
        let busy = all
            .iter()
            .filter(|r| matches!(r, Err(PasswordError::Busy)))
            .count();
        let ok = all.iter().filter(|r| r.is_ok()).count();
        assert!(busy >= 1, "{all:?}");
        assert!(ok >= 1, "{all:?}");
        assert_eq!(busy + ok, 5);
        // Permits are released afterwards.
        assert_eq!(h.queue_depth(), 0);
        assert!(h.hash("f").await.is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queue_depth_counts_waiting_and_running() {
        let h = PasswordHasher::new(
            Argon2Params {
                m_cost_kib: 4096,
                t_cost: 3,
                p_cost: 1,
            },
            1,
            3,
        )
        .unwrap();
        let tasks: Vec<_> = (0..3)
            .map(|i| {
                let h = h.clone();
                tokio::spawn(async move { h.hash(&format!("pw{i}")).await })
            })
            .collect();
        // Wait until all three are admitted.
        let mut seen = 0;
        for _ in 0..200 {
            seen = seen.max(h.queue_depth());
            if seen == 3 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        assert!(seen >= 2, "max depth seen {seen}");
        for t in tasks {
            assert!(t.await.unwrap().is_ok());
        }
        assert_eq!(h.queue_depth(), 0);
    }

    #[tokio::test]
    async fn verify_dummy_works() {
        let h = small();
        h.verify_dummy("whatever").await.unwrap();
        h.verify_dummy("again").await.unwrap();
        assert!(h.inner.dummy.get().is_some());
        assert_eq!(h.queue_depth(), 0);
    }

    #[tokio::test]
    async fn invalid_params_rejected() {
        assert_eq!(
            PasswordHasher::new(SMALL, 0, 1).unwrap_err(),
            PasswordError::InvalidParams
        );
        let tiny = Argon2Params {
            m_cost_kib: 1,
            t_cost: 1,
            p_cost: 1,
        };
        assert_eq!(
            PasswordHasher::new(tiny, 1, 1).unwrap_err(),
            PasswordError::InvalidParams
        );
        let no_passes = Argon2Params { t_cost: 0, ..SMALL };
        assert_eq!(
            PasswordHasher::new(no_passes, 1, 1).unwrap_err(),
            PasswordError::InvalidParams
        );
        assert_eq!(
            PasswordHasher::new(SMALL, usize::MAX, 1).unwrap_err(),
            PasswordError::InvalidParams
        );
        let m = PasswordHasher::default_for_machine().unwrap();
        assert_eq!(m.params(), Argon2Params::default());
        assert!(m.inner.max_in_flight >= 1);
        assert_eq!(m.inner.capacity, m.inner.max_in_flight * 9);
    }

    /// Drives a future to its end on the calling thread, without Tokio.
    fn block_on<F: Future>(fut: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = std::task::Context::from_waker(&waker);
        let mut fut = std::pin::pin!(fut);
        loop {
            if let std::task::Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                return out;
            }
            std::thread::park();
        }
    }

    #[test]
    fn hashes_outside_a_tokio_runtime() {
        // The hasher runs on its own threads, so any executor will do.
        let h = small();
        let phc = block_on(h.hash("pw")).unwrap();
        assert!(block_on(h.verify("pw", &phc)).unwrap().matches);
        assert_eq!(h.queue_depth(), 0);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashes_run_at_nice_5() {
        // Field 19 of /proc/thread-self/stat, read on a hashing thread.
        let h = small();
        let nice = h
            .run(h.admit().unwrap(), None, || {
                let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
                let after_name = &stat[stat.rfind(')').unwrap() + 2..];
                Ok(after_name.split(' ').nth(16).unwrap().to_owned())
            })
            .await
            .unwrap();
        assert_eq!(nice, "5");
        assert_eq!(h.queue_depth(), 0);
    }

    #[tokio::test]
    async fn a_panicking_job_fails_its_call_and_the_threads_live_on() {
        let h = PasswordHasher::new(SMALL, 1, 0).unwrap();
        let r: Result<(), _> = h
            .run(h.admit().unwrap(), None, || panic!("inside argon2"))
            .await;
        assert_eq!(r, Err(PasswordError::TaskFailed));
        // Its permits came back, and the one thread still hashes.
        assert_eq!(h.queue_depth(), 0);
        let phc = h.hash("pw").await.unwrap();
        assert!(h.verify("pw", &phc).await.unwrap().matches);
    }

    #[test]
    fn debug_has_no_hash() {
        let h = small();
        let s = format!("{h:?}");
        assert!(s.contains("PasswordHasher"));
        assert!(!s.contains('$'));
    }
}
