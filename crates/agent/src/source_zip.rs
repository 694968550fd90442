//! An S3 source's zip unpacked as a build's source directory, as CodeBuild unpacks it.
//!
//! Zip-slip safe: an entry whose name is absolute or climbs out with `..` is refused, and
//! nothing of the zip is written outside the directory (entries are only files and
//! directories; a symbolic link's entry becomes a file holding its target, so that no later
//! entry can be written through a link). Files keep their Unix permission bits (a script
//! stays executable).

use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};

/// Unpacks the zip `zip` into the directory `into` (which exists); how many files it held.
pub fn unzip_source(zip: &Path, into: &Path) -> Result<usize, String> {
    let file = std::fs::File::open(zip)
        .map_err(|err| format!("cannot open the source zip {}: {err}", zip.display()))?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|err| format!("the source is not a zip file: {err}"))?;
    let mut files = 0;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|err| format!("cannot read entry {index} of the source zip: {err}"))?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let relative = inside(&name).ok_or_else(|| {
            format!("the source zip's entry {name} would leave the source directory; it is refused")
        })?;
        let path = into.join(&relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&path)
                .map_err(|err| format!("cannot create {}: {err}", path.display()))?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|err| format!("cannot create {}: {err}", parent.display()))?;
        }
        let mut out = std::fs::File::create(&path)
            .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
        std::io::copy(&mut entry.by_ref().take(u64::MAX), &mut out)
            .map_err(|err| format!("cannot unpack {name} from the source zip: {err}"))?;
        #[cfg(unix)]
        if let Some(mode) = entry.unix_mode() {
            use std::os::unix::fs::PermissionsExt;
            let permissions = std::fs::Permissions::from_mode(mode & 0o777 | 0o600);
            std::fs::set_permissions(&path, permissions)
                .map_err(|err| format!("cannot set the mode of {}: {err}", path.display()))?;
        }
        files += 1;
    }
    Ok(files)
}

/// The entry `name` as a path inside the directory: `None` when it is absolute, climbs out
/// with `..`, or names nothing.
fn inside(name: &str) -> Option<PathBuf> {
    let name = name.replace('\\', "/");
    if name.starts_with('/') {
        return None;
    }
    let mut path = PathBuf::new();
    for component in Path::new(&name).components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!path.as_os_str().is_empty()).then_some(path)
}

#[cfg(test)]
mod tests;
