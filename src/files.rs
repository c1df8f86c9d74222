//! Files Debrief keeps under its data directory hold incident records,
//! outgoing mail and tokens: directories are created `0700`, files `0600`,
//! so no other user of the machine can read them.

use std::{io::Write, path::Path};

/// Create `dir` (and missing parents) readable by this user only. An
/// existing directory is left as it is (it may be shared on purpose), with
/// a warning when others can read it.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    dir = %dir.display(),
                    mode = format!("{:o}", mode & 0o777),
                    "the directory can be read by other users; `chmod 700` it"
                );
            }
        }
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Write `bytes` to a new file (or replace one) readable by this user only.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    restrict(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Make an existing file readable by this user only.
pub fn restrict(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(())
}

/// Create the SQLite database file `0600` before SQLite opens it (its
/// journal and WAL files take the database file's permissions), and
/// tighten an existing one and its companions.
pub fn private_database(path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        private_dir(parent)?;
    }
    if !path.exists() {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(err),
        }
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = path.with_file_name(format!(
            "{}{suffix}",
            path.file_name().unwrap_or_default().to_string_lossy()
        ));
        if file.exists() {
            restrict(&file)?;
        }
    }
    Ok(())
}
