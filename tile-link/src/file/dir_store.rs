//! A store on disk: `<root>/live` holds the verified files, `<root>/tmp` the
//! partial downloads. Both sit under one root, so on one file system, and a
//! rename from one to the other is atomic.
//!
//! Committing syncs the partial file, renames it over the live name and
//! syncs the live directory. Publishing writes a whole file into `tmp`
//! first, then does the same. A write that fails (a full disk included)
//! leaves the live directory as it was.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::name::FileName;
use super::store::{PartKey, Store, StoreError};

/// A store in a directory.
#[derive(Debug, Clone)]
pub struct DirStore {
    live: PathBuf,
    tmp: PathBuf,
}

fn io_err(path: &Path, source: std::io::Error) -> StoreError {
    if source.kind() == ErrorKind::StorageFull {
        StoreError::Full(path.display().to_string())
    } else if source.kind() == ErrorKind::NotFound {
        StoreError::NotFound(path.display().to_string())
    } else {
        StoreError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

impl DirStore {
    /// Opens (creating if needed) the store under `root`.
    ///
    /// # Errors
    /// If the directories cannot be created.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        let live = root.join("live");
        let tmp = root.join("tmp");
        for d in [&live, &tmp] {
            fs::create_dir_all(d).map_err(|e| io_err(d, e))?;
        }
        Ok(Self { live, tmp })
    }

    /// The live directory.
    pub fn live_dir(&self) -> &Path {
        &self.live
    }

    /// The temporary directory.
    pub fn tmp_dir(&self) -> &Path {
        &self.tmp
    }

    fn part_path(&self, key: &PartKey) -> PathBuf {
        self.tmp.join(key.file_name())
    }

    /// Syncs `from`, renames it to the live `name` and syncs the live dir.
    fn install(&self, from: &Path, name: &FileName) -> Result<(), StoreError> {
        let f = File::open(from).map_err(|e| io_err(from, e))?;
        f.sync_all().map_err(|e| io_err(from, e))?;
        let to = self.live.join(name.as_str());
        fs::rename(from, &to).map_err(|e| io_err(&to, e))?;
        let d = File::open(&self.live).map_err(|e| io_err(&self.live, e))?;
        d.sync_all().map_err(|e| io_err(&self.live, e))
    }
}

impl Store for DirStore {
    fn list(&self) -> Result<Vec<FileName>, StoreError> {
        let mut names = Vec::new();
        for e in fs::read_dir(&self.live).map_err(|e| io_err(&self.live, e))? {
            let e = e.map_err(|e| io_err(&self.live, e))?;
            let is_file = e.file_type().map(|t| t.is_file()).unwrap_or(false);
            if let (true, Some(n)) = (is_file, e.file_name().to_str()) {
                if let Ok(name) = FileName::new(n) {
                    names.push(name);
                }
            }
        }
        names.sort();
        Ok(names)
    }

    fn read(&self, name: &FileName) -> Result<Vec<u8>, StoreError> {
        let p = self.live.join(name.as_str());
        fs::read(&p).map_err(|e| io_err(&p, e))
    }

    fn read_at(&self, name: &FileName, offset: u64, len: usize) -> Result<Vec<u8>, StoreError> {
        let p = self.live.join(name.as_str());
        let mut f = File::open(&p).map_err(|e| io_err(&p, e))?;
        f.seek(SeekFrom::Start(offset)).map_err(|e| io_err(&p, e))?;
        let mut buf = Vec::with_capacity(len);
        f.take(len as u64)
            .read_to_end(&mut buf)
            .map_err(|e| io_err(&p, e))?;
        Ok(buf)
    }

    fn write_live(&mut self, name: &FileName, bytes: &[u8]) -> Result<(), StoreError> {
        let tmp = self.tmp.join(format!(".{name}.publish"));
        let r = fs::write(&tmp, bytes)
            .map_err(|e| io_err(&tmp, e))
            .and_then(|()| self.install(&tmp, name));
        if r.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        r
    }

    fn partial_len(&self, key: &PartKey) -> Result<u64, StoreError> {
        let p = self.part_path(key);
        match fs::metadata(&p) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(0),
            Err(e) => Err(io_err(&p, e)),
        }
    }

    fn append_partial(
        &mut self,
        key: &PartKey,
        offset: u64,
        data: &[u8],
    ) -> Result<(), StoreError> {
        let p = self.part_path(key);
        let len = self.partial_len(key)?;
        if len != offset {
            return Err(StoreError::BadOffset { offset, len });
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .map_err(|e| io_err(&p, e))?;
        if let Err(e) = f.write_all(data) {
            // Keep the partial file a clean prefix: cut what half-landed.
            let _ = f.set_len(offset);
            return Err(io_err(&p, e));
        }
        Ok(())
    }

    fn read_partial(&self, key: &PartKey) -> Result<Vec<u8>, StoreError> {
        let p = self.part_path(key);
        fs::read(&p).map_err(|e| io_err(&p, e))
    }

    fn discard_partial(&mut self, key: &PartKey) -> Result<(), StoreError> {
        let p = self.part_path(key);
        match fs::remove_file(&p) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(io_err(&p, e)),
            _ => Ok(()),
        }
    }

    fn commit_partial(&mut self, key: &PartKey) -> Result<(), StoreError> {
        self.install(&self.part_path(key), &key.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let p =
            std::env::temp_dir().join(format!("tessel-tile-dirstore-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        p
    }

    #[test]
    fn partial_stays_out_of_live_until_commit() {
        let root = scratch("commit");
        let mut s = DirStore::open(&root).unwrap();
        let k = PartKey {
            name: FileName::new("phys.mfz").unwrap(),
            hash: [7; 32],
        };
        s.append_partial(&k, 0, b"hello ").unwrap();
        s.append_partial(&k, 6, b"world").unwrap();
        assert!(matches!(
            s.append_partial(&k, 3, b"x"),
            Err(StoreError::BadOffset { .. })
        ));
        assert!(s.list().unwrap().is_empty());
        assert_eq!(fs::read_dir(s.live_dir()).unwrap().count(), 0);
        s.commit_partial(&k).unwrap();
        assert_eq!(s.list().unwrap(), vec![k.name.clone()]);
        assert_eq!(s.read(&k.name).unwrap(), b"hello world");
        assert_eq!(s.read_at(&k.name, 6, 100).unwrap(), b"world");
        assert_eq!(s.partial_len(&k).unwrap(), 0);
        assert_eq!(fs::read_dir(s.tmp_dir()).unwrap().count(), 0);
        s.write_live(&k.name, b"v2").unwrap();
        assert_eq!(s.read(&k.name).unwrap(), b"v2");
        // Stray files with invalid names are not listed.
        fs::write(s.live_dir().join(".junk"), b"x").unwrap();
        assert_eq!(s.list().unwrap().len(), 1);
        assert!(matches!(
            s.read(&FileName::new("none").unwrap()),
            Err(StoreError::NotFound(_))
        ));
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn full_disk_is_a_clear_error_and_leaves_live_alone() {
        // /dev/full fails every write with ENOSPC.
        if !Path::new("/dev/full").exists() {
            return;
        }
        let root = scratch("full");
        let mut s = DirStore::open(&root).unwrap();
        let k = PartKey {
            name: FileName::new("big").unwrap(),
            hash: [1; 32],
        };
        std::os::unix::fs::symlink("/dev/full", s.part_path(&k)).unwrap();
        let err = s.append_partial(&k, 0, b"data").unwrap_err();
        assert!(matches!(err, StoreError::Full(_)), "{err:?}");
        assert!(err.to_string().contains("full"));
        assert!(s.list().unwrap().is_empty());
        fs::remove_dir_all(&root).unwrap();
    }
}
