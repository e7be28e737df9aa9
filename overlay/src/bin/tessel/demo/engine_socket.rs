//! A small blocking client of a node's local engine socket (`engines.sock`,
//! docs/actors.md §11) in the binary encoding, with the codec of
//! `tessel_actors::local`: what the demo needs to run an echo engine on one
//! member and to call it by name from another, with nothing outside this
//! binary. Reads wait at most the limit given at connect, so a node that
//! stops answering never holds the demo up.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tessel_actors::local::frame::{begin_frame, end_frame, BINARY_HELLO, LEN_BYTES};
use tessel_actors::local::{Answer, Request, Target, ToClient, MAX_FRAME};
use tessel_actors::EngineAddr;

/// One connection to `engines.sock`; the engines started on it stop when
/// it closes.
#[derive(Debug)]
pub(crate) struct EngineSocket {
    stream: UnixStream,
    next_id: u64,
}

/// A frame the daemon sent that was not the answer awaited.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A call to one of this connection's engines.
    Call {
        /// The token to reply with.
        reply_to: u64,
        /// The request.
        payload: Vec<u8>,
    },
    /// Anything else (casts, notices, answers nobody waits for).
    Other,
}

impl EngineSocket {
    /// Connects to the socket at `path`, saying it speaks binary; every
    /// read then waits at most `read_limit` (`None`: as long as it takes).
    pub(crate) fn connect(path: &Path, read_limit: Option<Duration>) -> Result<Self> {
        let mut stream = UnixStream::connect(path)
            .with_context(|| format!("connecting to {}", path.display()))?;
        stream.set_read_timeout(read_limit)?;
        stream.write_all(&BINARY_HELLO)?;
        Ok(Self { stream, next_id: 1 })
    }

    /// Changes how long a read may wait (`None`: as long as it takes).
    pub(crate) fn set_read_limit(&self, limit: Option<Duration>) -> Result<()> {
        Ok(self.stream.set_read_timeout(limit)?)
    }

    /// A handle that closes the connection from another thread (a reader
    /// blocked on it then sees the end).
    pub(crate) fn closer(&self) -> Result<Closer> {
        Ok(Closer(self.stream.try_clone()?))
    }

    /// Sends a request in one write; returns its id.
    fn send(&mut self, request: &Request) -> Result<u64> {
        let id = self.next_id;
        self.next_id += 1;
        let mut frame = Vec::with_capacity(LEN_BYTES + request.encoded_len());
        let start = begin_frame(&mut frame);
        request.write(id, &mut frame)?;
        end_frame(&mut frame, start)?;
        self.stream.write_all(&frame)?;
        Ok(id)
    }

    /// The next frame from the daemon.
    fn read(&mut self) -> Result<ToClient> {
        let mut len = [0u8; LEN_BYTES];
        self.stream
            .read_exact(&mut len)
            .context("the node closed the engine socket or did not answer in time")?;
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_FRAME {
            bail!("the node sent an engine frame of {len} bytes, over the limit");
        }
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body)?;
        ToClient::parse(&body).map_err(|e| anyhow!("an engine frame that does not parse: {e}"))
    }

    /// Sends `request` and waits for its answer, skipping other frames; a
    /// refusal is an error carrying the node's reason.
    fn ask(&mut self, request: &Request) -> Result<Answer> {
        let id = self.send(request)?;
        loop {
            if let ToClient::Answer { id: got, answer } = self.read()? {
                if got != id {
                    continue;
                }
                if let Answer::Refused { error } = answer {
                    bail!("{error}");
                }
                return Ok(answer);
            }
        }
    }

    /// Starts an ephemeral engine, registered under `name` if given.
    pub(crate) fn start(&mut self, name: Option<&str>) -> Result<EngineAddr> {
        let request = Request::Start {
            persistent: None,
            name: name.map(str::to_owned),
        };
        match self.ask(&request)? {
            Answer::Started {
                name_error: Some(e),
                ..
            } => bail!("the name {name:?} was refused: {e}"),
            Answer::Started { engine, .. } => Ok(engine),
            other => bail!("the node answered a start with {other:?}"),
        }
    }

    /// Calls `to` from `engine` (one of this connection's) with `payload`;
    /// returns the reply.
    pub(crate) fn call(
        &mut self,
        engine: EngineAddr,
        to: Target,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>> {
        let request = Request::Call {
            engine,
            to,
            payload,
            timeout_ms: Some(u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX)),
        };
        match self.ask(&request)? {
            Answer::Replied { payload } => Ok(payload),
            other => bail!("the node answered a call with {other:?}"),
        }
    }

    /// The engine owning `name`, as this node finds it.
    pub(crate) fn whereis(&mut self, name: &str) -> Result<EngineAddr> {
        let request = Request::Whereis {
            name: name.to_owned(),
        };
        match self.ask(&request)? {
            Answer::Found { engine } => Ok(engine),
            other => bail!("the node answered whereis with {other:?}"),
        }
    }

    /// Answers a call delivered to one of this connection's engines (the
    /// binary encoding answers a reply only when it is refused).
    pub(crate) fn reply(&mut self, reply_to: u64, payload: Vec<u8>) -> Result<()> {
        self.send(&Request::Reply { reply_to, payload })?;
        Ok(())
    }

    /// The next frame that is no answer to a request of ours: calls to
    /// answer, or anything else.
    pub(crate) fn next_incoming(&mut self) -> Result<Incoming> {
        Ok(match self.read()? {
            ToClient::Push(tessel_actors::local::Push::Call {
                reply_to, payload, ..
            }) => Incoming::Call { reply_to, payload },
            _ => Incoming::Other,
        })
    }
}

/// Closes an [`EngineSocket`] from another thread.
#[derive(Debug)]
pub(crate) struct Closer(UnixStream);

impl Closer {
    /// Shuts the connection both ways (its engines stop).
    pub(crate) fn close(&self) {
        let _ = self.0.shutdown(Shutdown::Both);
    }
}
