//! An engine call across the network: the demo itself runs an echo engine
//! on one member behind a NAT (through that node's `engines.sock`,
//! registered under a name), then, from a member behind another NAT, calls
//! it by that name and times the reply. The caller's node resolves the
//! name to the engine's address and carries the call over the overlay to
//! the hosting node (README, "Engines").

use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tessel_overlay::driver::clock;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use tessel_actors::local::Target;
use tessel_actors::EngineAddr;
use tessel_overlay::driver::engines::socket_path;

use super::engine_socket::{Closer, EngineSocket, Incoming};
use super::narrate::Narrator;
use super::overlay_path;
use super::signals::Interrupt;
use super::state;
use super::watch::PairState;
use super::world::DemoWorld;

/// The member whose node hosts the echo engine (port-restricted NAT).
pub(crate) const HOST: &str = "portres";

/// The member that calls it (symmetric random NAT).
pub(crate) const CALLER: &str = "symrand";

/// How long the demo tries to get an answer (the first tries may come
/// before the name has reached the caller's node).
const CALL_DEADLINE: Duration = Duration::from_secs(10);

/// How long one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// How long the node may take to answer a local request.
const SOCKET_LIMIT: Duration = Duration::from_secs(5);

/// The pause between tries.
const RETRY_EVERY: Duration = Duration::from_millis(100);

/// The echo engine's registered name.
pub(crate) fn engine_name() -> String {
    format!("echo-{HOST}")
}

/// The `engines.sock` of member `name`'s node.
fn socket_of(name: &str) -> PathBuf {
    socket_path(&state::node_dir(name).join("run"))
}

/// What the engine call showed.
#[derive(Debug, Clone, Default)]
pub(crate) struct EngineCall {
    /// The echo engine's address, once it started.
    pub(crate) engine: Option<String>,
    /// The address the caller's node resolved the name to.
    pub(crate) resolved: Option<String>,
    /// What was sent.
    pub(crate) request: String,
    /// What came back.
    pub(crate) reply: Option<String>,
    /// From asking where the name is to the answer (all tries).
    pub(crate) resolve_elapsed: Option<Duration>,
    /// From sending the call to its reply (the successful try).
    pub(crate) elapsed: Option<Duration>,
    /// Requests made (a lookup and a call when all goes well).
    pub(crate) tries: u32,
    /// How the overlay carries traffic between host and caller.
    pub(crate) path: String,
    /// What failed.
    pub(crate) problems: Vec<String>,
}

impl EngineCall {
    /// True if the reply came and equals the request.
    pub(crate) fn ok(&self) -> bool {
        self.problems.is_empty() && self.reply.as_deref() == Some(self.request.as_str())
    }

    /// One line for under the table.
    pub(crate) fn summary(&self) -> String {
        let result = match (&self.reply, self.elapsed, self.resolve_elapsed) {
            (Some(reply), Some(t), Some(r)) if self.ok() => format!(
                "reply {reply:?} in {} (the name resolved in {})",
                millis(t),
                millis(r)
            ),
            _ => format!("failed: {}", self.problems.join("; ")),
        };
        format!(
            "engine call: {CALLER} -> {} on {HOST} by name, {result}, {}",
            engine_name(),
            self.path
        )
    }

    /// The JSON of `--json`.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "name": engine_name(),
            "host": HOST,
            "caller": CALLER,
            "engine": self.engine,
            "resolved": self.resolved,
            "request": self.request,
            "reply": self.reply,
            "resolve_ms": self.resolve_elapsed.map(|t| t.as_secs_f64() * 1000.0),
            "ms": self.elapsed.map(|t| t.as_secs_f64() * 1000.0),
            "tries": self.tries,
            "path": self.path,
            "ok": self.ok(),
            "problems": self.problems,
        })
    }
}

/// Starts the echo engine on [`HOST`], calls it by name from [`CALLER`]
/// and narrates it; stops the engine again. Fails only when interrupted:
/// what goes wrong is in the result's `problems`.
pub(crate) fn run(
    world: &DemoWorld,
    pairs: &[PairState],
    say: &Narrator,
    interrupt: &Interrupt,
) -> Result<EngineCall> {
    interrupt.check()?;
    let mut out = EngineCall {
        request: format!("hello from {CALLER}"),
        path: overlay_path::between(world, pairs, HOST, CALLER),
        ..EngineCall::default()
    };
    let name = engine_name();
    let echo = match EchoEngine::start(&name) {
        Ok(e) => e,
        Err(e) => {
            say.say(format!("engine {name} on {HOST}: failed to start: {e:#}"));
            out.problems
                .push(format!("starting the echo engine: {e:#}"));
            return Ok(out);
        }
    };
    out.engine = Some(echo.addr.to_string());
    say.say(format!(
        "engine {name} registered on {HOST}: an echo engine this demo runs through \
         {HOST}'s engines.sock, address {}",
        short(&echo.addr)
    ));
    if let Err(e) = call(&mut out, &name, interrupt) {
        if interrupt.raised() {
            return Err(e);
        }
        out.problems.push(format!("{e:#}"));
    }
    drop(echo);
    if out.resolved.is_some() && out.resolved != out.engine {
        out.problems.push(format!(
            "{CALLER} resolved {name} to {}, not to the echo engine",
            out.resolved.as_deref().unwrap_or("?")
        ));
    }
    if out.reply.is_some() && !out.ok() && out.problems.is_empty() {
        out.problems
            .push("the reply differs from the request".to_owned());
    }
    say.say(narration(&out, &name));
    Ok(out)
}

/// The story's line about the call.
fn narration(c: &EngineCall, name: &str) -> String {
    match (&c.reply, c.elapsed) {
        (Some(reply), Some(t)) if c.ok() => {
            let to = c.resolved.as_deref().map_or_else(String::new, short_text);
            let lookup = c
                .resolve_elapsed
                .map(|r| format!(" in {}", millis(r)))
                .unwrap_or_default();
            format!(
                "{CALLER} calls {name} by name: reply {reply:?} in {} (the name resolved \
                 to its address {to}{lookup}; carried over the overlay, {})",
                millis(t),
                c.path
            )
        }
        _ => format!(
            "{CALLER} calls {name} by name: failed: {}",
            c.problems.join("; ")
        ),
    }
}

/// From [`CALLER`]'s node: an engine of its own; the name resolved (the
/// node asks the network if it does not know it yet), then called by name,
/// each tried until it works or [`CALL_DEADLINE`] passes.
fn call(out: &mut EngineCall, name: &str, interrupt: &Interrupt) -> Result<()> {
    let mut conn = EngineSocket::connect(&socket_of(CALLER), Some(CALL_TIMEOUT + SOCKET_LIMIT))?;
    let me = conn.start(None)?;
    let deadline = clock::now() + CALL_DEADLINE;
    let asked = clock::now();
    let found = retry(deadline, interrupt, &mut out.tries, || conn.whereis(name))
        .with_context(|| format!("{CALLER} finding {name}"))?;
    out.resolve_elapsed = Some(asked.elapsed());
    out.resolved = Some(found.to_string());
    let payload = out.request.clone().into_bytes();
    let mut sent = clock::now();
    let reply = retry(deadline, interrupt, &mut out.tries, || {
        sent = clock::now();
        let target = Target::Name(name.to_owned());
        conn.call(me, target, payload.clone(), CALL_TIMEOUT)
    })
    .with_context(|| format!("{CALLER} calling {name}"))?;
    out.elapsed = Some(sent.elapsed());
    out.reply = Some(String::from_utf8_lossy(&reply).into_owned());
    Ok(())
}

/// Runs `attempt` until it succeeds, every [`RETRY_EVERY`], counting the
/// tries in `tries`; its last error once `deadline` has passed.
fn retry<T>(
    deadline: Instant,
    interrupt: &Interrupt,
    tries: &mut u32,
    mut attempt: impl FnMut() -> Result<T>,
) -> Result<T> {
    loop {
        interrupt.check()?;
        *tries += 1;
        match attempt() {
            Ok(v) => return Ok(v),
            Err(e) if clock::now() + RETRY_EVERY >= deadline => {
                bail!("nothing within {CALL_DEADLINE:?}: {e:#}")
            }
            Err(_) => interrupt.sleep(RETRY_EVERY)?,
        }
    }
}

/// An engine that answers every call with its request, served by a thread
/// of this process on [`HOST`]'s `engines.sock`; it stops when dropped.
struct EchoEngine {
    addr: EngineAddr,
    closer: Closer,
    thread: Option<JoinHandle<()>>,
}

impl EchoEngine {
    /// Starts it under `name`.
    fn start(name: &str) -> Result<Self> {
        let mut conn = EngineSocket::connect(&socket_of(HOST), Some(SOCKET_LIMIT))?;
        let addr = conn.start(Some(name))?;
        conn.set_read_limit(None)?;
        let closer = conn.closer()?;
        let thread = std::thread::spawn(move || serve(conn));
        Ok(Self {
            addr,
            closer,
            thread: Some(thread),
        })
    }
}

/// Answers calls with their request until the connection ends.
fn serve(mut conn: EngineSocket) {
    while let Ok(frame) = conn.next_incoming() {
        if let Incoming::Call { reply_to, payload } = frame {
            if conn.reply(reply_to, payload).is_err() {
                break;
            }
        }
    }
}

impl Drop for EchoEngine {
    fn drop(&mut self) {
        self.closer.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// An engine address shortened for the story: first and last hex digits.
fn short(addr: &EngineAddr) -> String {
    short_text(&addr.to_string())
}

fn short_text(hex: &str) -> String {
    match (hex.get(..8), hex.get(hex.len().saturating_sub(4)..)) {
        (Some(a), Some(b)) if hex.len() > 12 => format!("{a}…{b}"),
        _ => hex.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_is_good_only_when_the_reply_is_the_request() {
        let mut c = EngineCall {
            request: "hello".to_owned(),
            reply: Some("hello".to_owned()),
            elapsed: Some(Duration::from_millis(2)),
            resolve_elapsed: Some(Duration::from_millis(1)),
            ..EngineCall::default()
        };
        assert!(c.ok());
        assert!(c.summary().contains("reply \"hello\" in 2.0 ms"));
        c.reply = Some("hellO".to_owned());
        assert!(!c.ok());
        c.reply = None;
        c.problems.push("timed out".to_owned());
        assert!(!c.ok() && c.summary().contains("failed: timed out"));
        assert_eq!(c.to_json()["ok"], false);
    }

    #[test]
    fn addresses_are_shortened_for_the_story() {
        assert_eq!(short_text(&"ab".repeat(32)), "abababab…abab");
        assert_eq!(short_text("abc"), "abc");
    }
}
