//! A blocking client of the tile socket, for `tessel tile send` and
//! `tessel tile listen`.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use tessel_overlay::driver::tile::socket_path;
use tessel_tile_link::channel::Frame;

/// One connection to the tile socket.
pub(crate) struct TileSocket {
    stream: UnixStream,
    buf: Vec<u8>,
}

impl TileSocket {
    /// Connects to the tile socket of the node with state dir `state_dir`.
    pub(crate) fn connect(state_dir: &Path) -> Result<Self> {
        let path = socket_path(state_dir);
        let stream = UnixStream::connect(&path).with_context(|| {
            format!(
                "no tile socket at {} (is `tessel up --tile …` running with this state dir?)",
                path.display()
            )
        })?;
        Ok(Self {
            stream,
            buf: Vec::new(),
        })
    }

    /// Sends one frame.
    pub(crate) fn send(&mut self, frame: &Frame<'_>) -> Result<()> {
        let bytes = frame.to_vec().map_err(|e| anyhow!("{e}"))?;
        self.stream
            .write_all(&bytes)
            .context("writing to the tile socket")
    }

    /// Says no more frames will be sent.
    pub(crate) fn finish(&mut self) -> Result<()> {
        self.stream
            .shutdown(Shutdown::Write)
            .context("closing the tile socket for writing")
    }

    /// The next whole frame's bytes; `None` at the end of the stream.
    pub(crate) fn next(&mut self) -> Result<Option<Vec<u8>>> {
        loop {
            if let Some((_, len)) = Frame::decode(&self.buf).map_err(|e| anyhow!("{e}"))? {
                return Ok(Some(self.buf.drain(..len).collect()));
            }
            let mut chunk = [0u8; 4096];
            let n = self
                .stream
                .read(&mut chunk)
                .context("reading from the tile socket")?;
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}
