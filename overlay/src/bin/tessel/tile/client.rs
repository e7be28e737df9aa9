//! A blocking client of the tile socket, for `tessel tile send` and
//! `tessel tile listen`.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;

use anyhow::{anyhow, bail, Context, Result};
use tessel_overlay::driver::tile::socket_path;
use tessel_tile_link::channel::Frame;

use crate::cli::NodeDirs;
use crate::local::Unreachable;

/// One connection to the tile socket.
pub(crate) struct TileSocket {
    stream: UnixStream,
    buf: Vec<u8>,
}

impl TileSocket {
    /// Connects to the tile socket of the node that `dirs` name.
    pub(crate) fn connect(dirs: &NodeDirs) -> Result<Self> {
        let stream = match crate::local::connect(dirs, socket_path) {
            Ok(s) => s,
            Err(Unreachable::NotRunning { dir }) => bail!(
                "no tile socket in {} (is `tessel up --tile …` running with this runtime dir?)",
                dir.display()
            ),
            Err(e) => return Err(e.into()),
        };
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
