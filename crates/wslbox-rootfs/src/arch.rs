//! Which platform a root filesystem is built for, read from the ELF header of its `/bin/sh`:
//! tarballs and SquashFS images record no platform, but their binaries do.

use wslbox_reference::Platform;

use crate::TreeView;
use crate::customize::read_resolved;

/// The platform of the tree's `/bin/sh` (following symlinks, e.g. to busybox), if it is an ELF
/// file of a machine we know.
pub fn detect_platform(view: &dyn TreeView) -> Option<Platform> {
    let elf = read_resolved(view, b"bin/sh").ok()??;
    elf_platform(&elf)
}

/// Maps an ELF header's class, byte order and `e_machine` to the OCI platform names.
pub(crate) fn elf_platform(elf: &[u8]) -> Option<Platform> {
    if elf.len() < 20 || &elf[..4] != b"\x7fELF" {
        return None;
    }
    let is64 = elf[4] == 2;
    let little = elf[5] == 1;
    let machine = if little {
        u16::from_le_bytes([elf[18], elf[19]])
    } else {
        u16::from_be_bytes([elf[18], elf[19]])
    };
    let (arch, variant) = match (machine, is64, little) {
        (62, true, _) => ("amd64", None),
        (183, true, _) => ("arm64", Some("v8")),
        (40, false, true) => ("arm", None),
        (3, false, _) => ("386", None),
        (243, true, _) => ("riscv64", None),
        (21, true, true) => ("ppc64le", None),
        (22, true, false) => ("s390x", None),
        (258, true, _) => ("loong64", None),
        _ => return None,
    };
    Some(Platform::new("linux", arch, variant))
}

#[cfg(test)]
mod tests {
    use super::elf_platform;

    fn header(class: u8, data: u8, machine: u16) -> Vec<u8> {
        let mut h = b"\x7fELF".to_vec();
        h.extend([class, data, 1, 0]);
        h.resize(18, 0);
        let m = if data == 1 {
            machine.to_le_bytes()
        } else {
            machine.to_be_bytes()
        };
        h.extend(m);
        h.resize(64, 0);
        h
    }

    #[test]
    fn elf_machines_map_to_oci_architectures() {
        let arch = |h: Vec<u8>| elf_platform(&h).map(|p| p.to_string());
        assert_eq!(arch(header(2, 1, 62)).as_deref(), Some("linux/amd64"));
        assert_eq!(arch(header(2, 1, 183)).as_deref(), Some("linux/arm64/v8"));
        assert_eq!(arch(header(2, 2, 22)).as_deref(), Some("linux/s390x"));
        assert_eq!(arch(header(2, 1, 9999)), None);
        assert_eq!(arch(b"#!/bin/sh\n".to_vec()), None);
    }
}
