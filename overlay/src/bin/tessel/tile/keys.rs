//! Signing keys and signed files, made locally: `tessel tile keygen` and
//! `tessel tile sign`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use serde_json::json;
use tessel_overlay::driver::clock;
use tessel_overlay::driver::tile::config::{parse_signing_key, public_key_text, signing_key_text};
use tessel_tile_link::file::{signed, FileName};

use super::{KeygenArgs, SignArgs};

/// Milliseconds since the Unix epoch: the default timestamp.
pub(super) fn now_ms() -> u64 {
    clock::system_now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Reads a signing key file.
pub(super) fn read_key(path: &Path) -> Result<ed25519_dalek::SigningKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the key file {}", path.display()))?;
    parse_signing_key(&text).map_err(|e| anyhow!("{}: {e}", path.display()))
}

pub(super) fn sign(a: &SignArgs) -> Result<()> {
    let key = read_key(&a.key)?;
    let content =
        std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let name = match &a.name {
        Some(n) => n.clone(),
        None => a
            .file
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| anyhow!("{} has no usable file name; give --name", a.file.display()))?
            .to_owned(),
    };
    let name = FileName::new(&name).map_err(|e| anyhow!("file name `{name}`: {e}"))?;
    let timestamp = a.timestamp.unwrap_or_else(now_ms);
    let bytes = signed::sign(&key, &name, timestamp, &content);
    let out = a.out.clone().unwrap_or_else(|| {
        let mut p = a.file.clone().into_os_string();
        p.push(".tsf");
        PathBuf::from(p)
    });
    std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    if a.json {
        println!(
            "{}",
            json!({ "out": out.display().to_string(), "name": name.as_str(), "timestamp": timestamp, "size": bytes.len() })
        );
    } else {
        println!(
            "signed {} as {} at {timestamp} into {}",
            a.file.display(),
            name.as_str(),
            out.display()
        );
    }
    Ok(())
}

pub(super) fn keygen(a: &KeygenArgs) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut seed = [0u8; 32];
    clock::fill_random(&mut seed).map_err(|e| anyhow!("reading the OS random source: {e}"))?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&a.keyfile)
        .with_context(|| format!("creating {}", a.keyfile.display()))?;
    f.write_all(signing_key_text(&key).as_bytes())?;
    let public = public_key_text(&key.verifying_key());
    if a.json {
        println!(
            "{}",
            json!({ "keyfile": a.keyfile.display().to_string(), "public": public })
        );
    } else {
        println!("{public}");
    }
    Ok(())
}
