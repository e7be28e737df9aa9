//! Where managed files live: a small storage trait, so the file service
//! stays sans-IO, and an in-memory store for tests and simulations.
//!
//! A store has two areas. The *live* area holds verified files under their
//! names; the daemon and programs read it. The *temporary* area holds
//! partial downloads, keyed by name and version ([`PartKey`]), so a cut-off
//! transfer resumes where it stopped, from any source of the same version.
//! A partial file reaches the live area only through
//! [`Store::commit_partial`], which must be atomic: readers of the live
//! area see the old file or the whole new one, never a part.

use std::collections::BTreeMap;

use super::name::FileName;

/// A partial download: which file, which version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartKey {
    /// The file.
    pub name: FileName,
    /// The hash of the version being assembled.
    pub hash: [u8; 32],
}

impl PartKey {
    /// A name for the partial file, unique per name and version, never a
    /// valid managed file name (it starts with `.`).
    pub fn file_name(&self) -> String {
        let mut s = format!(".{}.", self.name);
        for b in &self.hash[..8] {
            s.push_str(&format!("{b:02x}"));
        }
        s.push_str(".part");
        s
    }
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No such file (live or partial).
    #[error("no such file: {0}")]
    NotFound(String),
    /// The disk (or the store's quota) is full; nothing partial reached the
    /// live area.
    #[error("storage is full while writing {0}")]
    Full(String),
    /// An append that does not continue the partial file.
    #[error("append at {offset} to a partial file of {len} bytes")]
    BadOffset {
        /// Where the append was to start.
        offset: u64,
        /// The partial file's length.
        len: u64,
    },
    /// Another I/O error.
    #[error("storage error on {path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// The storage the file service needs.
pub trait Store {
    /// The names in the live area.
    ///
    /// # Errors
    /// An I/O error.
    fn list(&self) -> Result<Vec<FileName>, StoreError>;

    /// A whole live file.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] or an I/O error.
    fn read(&self, name: &FileName) -> Result<Vec<u8>, StoreError>;

    /// Up to `len` bytes of a live file from `offset` (fewer at the end).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] or an I/O error.
    fn read_at(&self, name: &FileName, offset: u64, len: usize) -> Result<Vec<u8>, StoreError>;

    /// Puts a whole verified file into the live area atomically (publishing).
    ///
    /// # Errors
    /// [`StoreError::Full`] or an I/O error; the live area is unchanged then.
    fn write_live(&mut self, name: &FileName, bytes: &[u8]) -> Result<(), StoreError>;

    /// Bytes held for a partial download (0 if none).
    ///
    /// # Errors
    /// An I/O error.
    fn partial_len(&self, key: &PartKey) -> Result<u64, StoreError>;

    /// Appends to a partial download; `offset` must equal its length.
    ///
    /// # Errors
    /// [`StoreError::BadOffset`], [`StoreError::Full`] or an I/O error.
    fn append_partial(&mut self, key: &PartKey, offset: u64, data: &[u8])
        -> Result<(), StoreError>;

    /// The whole partial download.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] or an I/O error.
    fn read_partial(&self, key: &PartKey) -> Result<Vec<u8>, StoreError>;

    /// Forgets a partial download (no error if there is none).
    ///
    /// # Errors
    /// An I/O error.
    fn discard_partial(&mut self, key: &PartKey) -> Result<(), StoreError>;

    /// Moves a partial download into the live area under `key.name`,
    /// atomically replacing any older file.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::Full`] or an I/O error; the
    /// live area is unchanged then.
    fn commit_partial(&mut self, key: &PartKey) -> Result<(), StoreError>;
}

/// A store in memory, with an optional quota to play a full disk.
#[derive(Debug, Default, Clone)]
pub struct MemStore {
    live: BTreeMap<FileName, Vec<u8>>,
    partial: BTreeMap<PartKey, Vec<u8>>,
    quota: Option<u64>,
}

impl MemStore {
    /// An empty store without a quota.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that holds at most `bytes` bytes in both areas.
    pub fn with_quota(bytes: u64) -> Self {
        Self {
            quota: Some(bytes),
            ..Self::default()
        }
    }

    /// Bytes held in both areas.
    pub fn used(&self) -> u64 {
        let live: usize = self.live.values().map(Vec::len).sum();
        let part: usize = self.partial.values().map(Vec::len).sum();
        (live + part) as u64
    }

    /// Partial downloads held.
    pub fn partial_count(&self) -> usize {
        self.partial.len()
    }

    /// A live file, if present.
    pub fn live(&self, name: &FileName) -> Option<&[u8]> {
        self.live.get(name).map(Vec::as_slice)
    }

    /// Puts bytes straight into the live area, bypassing every check: for
    /// tests that need a bad file on disk.
    pub fn insert_unchecked(&mut self, name: FileName, bytes: Vec<u8>) {
        self.live.insert(name, bytes);
    }

    fn room(&self, extra: usize, what: &str) -> Result<(), StoreError> {
        match self.quota {
            Some(q) if self.used() + extra as u64 > q => Err(StoreError::Full(what.to_owned())),
            _ => Ok(()),
        }
    }
}

impl Store for MemStore {
    fn list(&self) -> Result<Vec<FileName>, StoreError> {
        Ok(self.live.keys().cloned().collect())
    }

    fn read(&self, name: &FileName) -> Result<Vec<u8>, StoreError> {
        self.live
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(name.to_string()))
    }

    fn read_at(&self, name: &FileName, offset: u64, len: usize) -> Result<Vec<u8>, StoreError> {
        let f = self
            .live
            .get(name)
            .ok_or_else(|| StoreError::NotFound(name.to_string()))?;
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(f.len());
        let end = start.saturating_add(len).min(f.len());
        Ok(f[start..end].to_vec())
    }

    fn write_live(&mut self, name: &FileName, bytes: &[u8]) -> Result<(), StoreError> {
        let old = self.live.get(name).map_or(0, Vec::len);
        self.room(bytes.len().saturating_sub(old), name.as_str())?;
        self.live.insert(name.clone(), bytes.to_vec());
        Ok(())
    }

    fn partial_len(&self, key: &PartKey) -> Result<u64, StoreError> {
        Ok(self.partial.get(key).map_or(0, |p| p.len() as u64))
    }

    fn append_partial(
        &mut self,
        key: &PartKey,
        offset: u64,
        data: &[u8],
    ) -> Result<(), StoreError> {
        let len = self.partial_len(key)?;
        if len != offset {
            return Err(StoreError::BadOffset { offset, len });
        }
        self.room(data.len(), &key.file_name())?;
        self.partial
            .entry(key.clone())
            .or_default()
            .extend_from_slice(data);
        Ok(())
    }

    fn read_partial(&self, key: &PartKey) -> Result<Vec<u8>, StoreError> {
        self.partial
            .get(key)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(key.file_name()))
    }

    fn discard_partial(&mut self, key: &PartKey) -> Result<(), StoreError> {
        self.partial.remove(key);
        Ok(())
    }

    fn commit_partial(&mut self, key: &PartKey) -> Result<(), StoreError> {
        let bytes = self
            .partial
            .remove(key)
            .ok_or_else(|| StoreError::NotFound(key.file_name()))?;
        self.live.insert(key.name.clone(), bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: &str) -> PartKey {
        PartKey {
            name: FileName::new(n).unwrap(),
            hash: [0x1f; 32],
        }
    }

    #[test]
    fn partial_appends_in_order_and_commits_whole() {
        let mut s = MemStore::new();
        let k = key("f");
        s.append_partial(&k, 0, b"abc").unwrap();
        assert!(matches!(
            s.append_partial(&k, 1, b"x"),
            Err(StoreError::BadOffset { offset: 1, len: 3 })
        ));
        s.append_partial(&k, 3, b"de").unwrap();
        assert_eq!(s.partial_len(&k).unwrap(), 5);
        assert!(s.list().unwrap().is_empty(), "nothing live before commit");
        s.commit_partial(&k).unwrap();
        assert_eq!(s.read(&k.name).unwrap(), b"abcde");
        assert_eq!(s.read_at(&k.name, 3, 9).unwrap(), b"de");
        assert_eq!(s.read_at(&k.name, 9, 9).unwrap(), b"");
        assert_eq!(s.partial_len(&k).unwrap(), 0);
        assert_eq!(k.file_name(), ".f.1f1f1f1f1f1f1f1f.part");
    }

    #[test]
    fn quota_reports_full() {
        let mut s = MemStore::with_quota(4);
        let k = key("g");
        s.append_partial(&k, 0, b"abcd").unwrap();
        assert!(matches!(
            s.append_partial(&k, 4, b"e"),
            Err(StoreError::Full(_))
        ));
        s.discard_partial(&k).unwrap();
        assert!(s.write_live(&k.name, b"12345").is_err());
        assert!(s.list().unwrap().is_empty());
    }
}
