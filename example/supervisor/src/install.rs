// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! `install DIR`: copy this binary into DIR. The sandbox pod's init container runs it to put
//! the supervisor into a shared emptyDir (OpenShell's init-container sideload); the image is
//! `FROM scratch`, so there is no `cp` to do it.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The running executable, even if its file was replaced since it started.
pub const SELF_EXE: &str = "/proc/self/exe";

/// Copy `src` to `dir/name` (mode 0755), creating `dir`. The copy goes to a temporary name
/// first and is renamed into place, so a container starting the binary never sees half of it.
pub fn install(src: &Path, dir: &Path, name: &str) -> io::Result<PathBuf> {
    let context = |what: &str, path: &Path, err: io::Error| {
        io::Error::new(err.kind(), format!("{what} {}: {err}", path.display()))
    };
    fs::create_dir_all(dir).map_err(|e| context("creating", dir, e))?;
    let target = dir.join(name);
    let partial = dir.join(format!(".{name}.partial"));
    fs::copy(src, &partial).map_err(|e| context("copying the supervisor to", &partial, e))?;
    fs::set_permissions(&partial, fs::Permissions::from_mode(0o755))
        .map_err(|e| context("making executable", &partial, e))?;
    fs::rename(&partial, &target).map_err(|e| context("moving into place", &target, e))?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(test: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("openshell-sandbox-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn install_copies_an_executable_into_a_new_dir() {
        let root = scratch("install");
        let src = root.join("src-bin");
        fs::create_dir_all(&root).unwrap();
        fs::write(&src, b"\x7fELF pretend").unwrap();
        let target = install(&src, &root.join("opt/bin"), "openshell-sandbox").unwrap();
        assert_eq!(target, root.join("opt/bin/openshell-sandbox"));
        assert_eq!(fs::read(&target).unwrap(), b"\x7fELF pretend");
        let mode = fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        assert!(!root.join("opt/bin/.openshell-sandbox.partial").exists());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn install_replaces_an_older_copy() {
        let root = scratch("replace");
        fs::create_dir_all(&root).unwrap();
        fs::write(root.join("new"), b"new").unwrap();
        fs::write(root.join("openshell-sandbox"), b"old").unwrap();
        install(&root.join("new"), &root, "openshell-sandbox").unwrap();
        assert_eq!(fs::read(root.join("openshell-sandbox")).unwrap(), b"new");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_missing_source_names_the_target() {
        let root = scratch("missing");
        let err = install(&root.join("nope"), &root, "openshell-sandbox").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "copying the supervisor to {}: ",
                root.join(".openshell-sandbox.partial").display()
            )),
            "{msg}"
        );
        fs::remove_dir_all(&root).unwrap();
    }
}
