//! Just enough of the PE format to find and rename a module's ws2_32.dll import.
//!
//! The verifier runs a copy of the program whose import of `ws2_32.dll` names the
//! observing DLL instead (`wslint.dll`, the same length, so the name is
//! overwritten in place and nothing else in the file moves: code, debug info and
//! the other imports stay byte for byte the same).

use std::fmt;

/// The observing DLL's name; must be exactly as long as `ws2_32.dll`.
pub const PROXY_NAME: &str = "wslint.dll";
const TARGET: &str = "ws2_32.dll";

#[derive(Debug, PartialEq, Eq)]
pub enum PeError {
    NotPe(&'static str),
    /// The headers are sound but the file ends before the data they describe.
    Truncated(String),
    Unsupported(String),
}

impl std::error::Error for PeError {}

impl fmt::Display for PeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeError::NotPe(why) => write!(f, "not a Windows executable or DLL ({why})"),
            PeError::Truncated(why) => write!(
                f,
                "a damaged Windows executable or DLL: the file is truncated ({why})"
            ),
            PeError::Unsupported(why) => f.write_str(why),
        }
    }
}

/// What a module takes from ws2_32.dll.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Ws2Imports {
    /// Functions imported by name.
    pub names: Vec<String>,
    /// Functions imported by ordinal only (a forwarding DLL cannot serve those).
    pub ordinals: Vec<u16>,
    /// File offsets of each `ws2_32.dll` name string (normal and delay-load imports).
    pub name_offsets: Vec<usize>,
}

impl Ws2Imports {
    pub fn imports_winsock(&self) -> bool {
        !self.name_offsets.is_empty()
    }
}

struct Section {
    va: u32,
    vsize: u32,
    raw_ptr: u32,
    raw_size: u32,
}

struct Pe<'a> {
    data: &'a [u8],
    sections: Vec<Section>,
    dirs: Vec<(u32, u32)>,
}

fn u16_at(d: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(off..off + 2)?.try_into().ok()?))
}

fn u32_at(d: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(off..off + 4)?.try_into().ok()?))
}

fn u64_at(d: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(d.get(off..off + 8)?.try_into().ok()?))
}

/// How many leading bytes `check_signature` needs at most: the PE signature of real
/// modules sits within the first few hundred bytes.
pub const SIGNATURE_WINDOW: usize = 64 << 10;

/// Checks the DOS header and the PE signature, and returns the signature's offset. Needs
/// only the start of the file (up to `SIGNATURE_WINDOW` bytes), so a large file that is not
/// a module is turned away before it is read.
pub fn check_signature(head: &[u8]) -> Result<usize, PeError> {
    if head.get(..2) != Some(b"MZ") {
        return Err(PeError::NotPe("no MZ header"));
    }
    let pe = u32_at(head, 0x3c).ok_or(PeError::NotPe("truncated DOS header"))? as usize;
    if pe.checked_add(4).and_then(|end| head.get(pe..end)) != Some(b"PE\0\0") {
        return Err(PeError::NotPe("no PE signature"));
    }
    Ok(pe)
}

impl<'a> Pe<'a> {
    fn parse(data: &'a [u8]) -> Result<Pe<'a>, PeError> {
        let pe = check_signature(data)?;
        let coff = pe + 4;
        let machine = u16_at(data, coff).ok_or(PeError::NotPe("truncated COFF header"))?;
        if machine != 0x8664 {
            return Err(PeError::Unsupported(format!(
                "only x86_64 programs can be verified (machine type {machine:#06x}); \
                 build for x86_64-pc-windows-gnu or x86_64-pc-windows-msvc"
            )));
        }
        let nsections = u16_at(data, coff + 2).ok_or(PeError::NotPe("truncated COFF header"))?;
        let opt_size =
            u16_at(data, coff + 16).ok_or(PeError::NotPe("truncated COFF header"))? as usize;
        let opt = coff + 20;
        if u16_at(data, opt) != Some(0x20b) {
            return Err(PeError::NotPe("no PE32+ optional header"));
        }
        let ndirs = u32_at(data, opt + 108).ok_or(PeError::NotPe("truncated optional header"))?;
        let mut dirs = Vec::new();
        for i in 0..ndirs.min(16) as usize {
            let at = opt + 112 + i * 8;
            if at + 8 > opt + opt_size {
                break;
            }
            let rva = u32_at(data, at).ok_or(PeError::NotPe("truncated data directory"))?;
            let size = u32_at(data, at + 4).ok_or(PeError::NotPe("truncated data directory"))?;
            dirs.push((rva, size));
        }
        let mut sections = Vec::new();
        let table = opt + opt_size;
        for i in 0..nsections as usize {
            let s = table + i * 40;
            let field = |o| u32_at(data, s + o).ok_or(PeError::NotPe("truncated section table"));
            let section = Section {
                vsize: field(8)?,
                va: field(12)?,
                raw_size: field(16)?,
                raw_ptr: field(20)?,
            };
            // The loader maps every section's bytes from the file: one that ends past the end
            // of the file is a module Wine and Windows refuse ("Bad EXE format"), so it is
            // turned away here, with a reason, rather than run.
            let end = u64::from(section.raw_ptr) + u64::from(section.raw_size);
            if section.raw_size > 0 && end > data.len() as u64 {
                let name = data.get(s..s + 8).unwrap_or_default();
                let name = String::from_utf8_lossy(name);
                return Err(PeError::Truncated(format!(
                    "section `{}` ends at byte {end}, the file has {}",
                    name.trim_end_matches('\0'),
                    data.len()
                )));
            }
            sections.push(section);
        }
        let headers = u32_at(data, opt + 60).ok_or(PeError::NotPe("truncated optional header"))?;
        if u64::from(headers) > data.len() as u64 {
            return Err(PeError::Truncated(format!(
                "the headers end at byte {headers}, the file has {}",
                data.len()
            )));
        }
        Ok(Pe {
            data,
            sections,
            dirs,
        })
    }

    fn offset(&self, rva: u32) -> Option<usize> {
        self.sections.iter().find_map(|s| {
            let size = s.vsize.max(s.raw_size);
            (rva >= s.va && rva < s.va.checked_add(size)?).then(|| {
                let within = rva - s.va;
                (within < s.raw_size).then_some(s.raw_ptr as usize + within as usize)
            })?
        })
    }

    fn cstr(&self, rva: u32) -> Option<(usize, &'a [u8])> {
        let off = self.offset(rva)?;
        let rest = self.data.get(off..)?;
        let end = rest.iter().take(512).position(|&b| b == 0)?;
        Some((off, &rest[..end]))
    }

    fn dir(&self, i: usize) -> Option<(u32, u32)> {
        self.dirs.get(i).copied().filter(|(rva, _)| *rva != 0)
    }

    /// Names and ordinals of an import lookup table. `budget`: entries left to read in the
    /// whole image, so that many descriptors sharing one long table cannot multiply the work.
    fn thunks(&self, rva: u32, out: &mut Ws2Imports, budget: &mut usize) {
        let Some(mut off) = self.offset(rva) else {
            return;
        };
        while *budget > 0 {
            *budget -= 1;
            let Some(entry) = u64_at(self.data, off) else {
                return;
            };
            if entry == 0 {
                return;
            }
            if entry & (1 << 63) != 0 {
                out.ordinals.push(entry as u16);
            } else if let Some((_, name)) = self.cstr((entry as u32).wrapping_add(2)) {
                out.names.push(String::from_utf8_lossy(name).into_owned());
            }
            off += 8;
        }
    }

    fn ws2_imports(&self) -> Ws2Imports {
        let mut out = Ws2Imports::default();
        let mut walk = Walk {
            entries_left: MAX_IMPORT_ENTRIES,
            tables: std::collections::HashSet::new(),
        };
        // Normal imports: 20-byte descriptors; name at +12, lookup table at +0 (or IAT at +16).
        if let Some((rva, _)) = self.dir(1) {
            self.descriptors(rva, 20, 12, &[0, 16], &mut out, &mut walk);
        }
        // Delay-load imports: 32-byte descriptors; name at +4, name table at +16.
        if let Some((rva, _)) = self.dir(13) {
            self.descriptors(rva, 32, 4, &[16], &mut out, &mut walk);
        }
        out
    }

    fn descriptors(
        &self,
        rva: u32,
        size: usize,
        name_at: usize,
        tables: &[usize],
        out: &mut Ws2Imports,
        walk: &mut Walk,
    ) {
        let Some(start) = self.offset(rva) else {
            return;
        };
        for i in 0..4096 {
            let d = start + i * size;
            let Some(desc) = self.data.get(d..d + size) else {
                return;
            };
            if desc.iter().all(|&b| b == 0) {
                return;
            }
            let Some(name_rva) = u32_at(self.data, d + name_at) else {
                return;
            };
            let Some((name_off, name)) = self.cstr(name_rva) else {
                continue;
            };
            if !name.eq_ignore_ascii_case(TARGET.as_bytes()) {
                continue;
            }
            out.name_offsets.push(name_off);
            if let Some(table) = tables
                .iter()
                .filter_map(|&t| u32_at(self.data, d + t))
                .find(|&t| t != 0)
            {
                // A table already read names nothing new.
                if walk.tables.insert(table) {
                    self.thunks(table, out, &mut walk.entries_left);
                }
            }
        }
    }
}

/// Import lookup entries read per image, over all descriptors: far more than any real
/// program imports, and a bound a corrupt or hostile image cannot multiply.
const MAX_IMPORT_ENTRIES: usize = 65_536;

/// What the descriptor walk has spent.
struct Walk {
    entries_left: usize,
    tables: std::collections::HashSet<u32>,
}

/// Is `data` a DLL (`IMAGE_FILE_DLL`) rather than a program?
pub fn is_dll(data: &[u8]) -> bool {
    let Some(pe) = u32_at(data, 0x3c) else {
        return false;
    };
    let characteristics = (pe as usize)
        .checked_add(4 + 18)
        .and_then(|at| u16_at(data, at));
    data.get(..2) == Some(b"MZ") && characteristics.is_some_and(|c| c & 0x2000 != 0)
}

/// What `data` (a PE image) imports from ws2_32.dll.
pub fn ws2_imports(data: &[u8]) -> Result<Ws2Imports, PeError> {
    Ok(Pe::parse(data)?.ws2_imports())
}

/// Renames the ws2_32.dll imports of `data` to the observing DLL. Returns what
/// was imported, or an error when the module cannot be observed that way.
pub fn redirect_ws2(data: &mut [u8]) -> Result<Ws2Imports, PeError> {
    let imports = ws2_imports(data)?;
    if !imports.ordinals.is_empty() {
        return Err(PeError::Unsupported(format!(
            "it imports ws2_32.dll function{} by ordinal ({}), which a forwarding DLL cannot serve",
            if imports.ordinals.len() == 1 { "" } else { "s" },
            imports
                .ordinals
                .iter()
                .map(|o| format!("#{o}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    for &off in &imports.name_offsets {
        data[off..off + PROXY_NAME.len()].copy_from_slice(PROXY_NAME.as_bytes());
    }
    Ok(imports)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PE32+ image whose `n_desc` import descriptors all name ws2_32.dll and share one
    /// lookup table of `n_thunk` entries (found by the mutation test: before the shared
    /// budget, 4,096 x 65,535 names, about 6 GB).
    fn shared_table_image(n_desc: usize, n_thunk: usize) -> Vec<u8> {
        let (raw, va) = (0x200usize, 0x1000usize);
        let desc = 0x400;
        let name = desc + (n_desc + 1) * 20;
        let hint_name = name + 16;
        let thunks = hint_name + 16;
        let end = thunks + (n_thunk + 1) * 8;
        let rva = |off: usize| (va + off - raw) as u32;
        let mut d = vec![0u8; end];
        let put16 =
            |d: &mut Vec<u8>, at: usize, v: u16| d[at..at + 2].copy_from_slice(&v.to_le_bytes());
        let put32 =
            |d: &mut Vec<u8>, at: usize, v: u32| d[at..at + 4].copy_from_slice(&v.to_le_bytes());
        d[..2].copy_from_slice(b"MZ");
        put32(&mut d, 0x3c, 0x40);
        d[0x40..0x44].copy_from_slice(b"PE\0\0");
        let (coff, opt) = (0x44, 0x44 + 20);
        let sect = opt + 240;
        put16(&mut d, coff, 0x8664);
        put16(&mut d, coff + 2, 1);
        put16(&mut d, coff + 16, 240);
        put16(&mut d, coff + 18, 0x22);
        put16(&mut d, opt, 0x20b);
        put32(&mut d, opt + 108, 16);
        put32(&mut d, opt + 120, rva(desc));
        put32(&mut d, opt + 124, (n_desc * 20) as u32);
        d[sect..sect + 6].copy_from_slice(b".idata");
        put32(&mut d, sect + 8, (end - raw) as u32);
        put32(&mut d, sect + 12, va as u32);
        put32(&mut d, sect + 16, (end - raw) as u32);
        put32(&mut d, sect + 20, raw as u32);
        d[name..name + 10].copy_from_slice(b"ws2_32.dll");
        d[hint_name + 2] = b'A';
        for i in 0..n_thunk {
            let at = thunks + i * 8;
            d[at..at + 8].copy_from_slice(&u64::from(rva(hint_name)).to_le_bytes());
        }
        for i in 0..n_desc {
            put32(&mut d, desc + i * 20, rva(thunks));
            put32(&mut d, desc + i * 20 + 12, rva(name));
        }
        d
    }

    #[test]
    fn descriptors_sharing_a_table_cannot_multiply_the_work() {
        let image = shared_table_image(4096, 65_535);
        let imports = ws2_imports(&image).expect("a valid image");
        assert_eq!(imports.name_offsets.len(), 4096);
        assert!(
            imports.names.len() <= MAX_IMPORT_ENTRIES,
            "{}",
            imports.names.len()
        );
        // Distinct tables share one budget too.
        let small = shared_table_image(3, 10);
        assert_eq!(ws2_imports(&small).expect("a valid image").names.len(), 10);
    }

    #[test]
    fn rejects_what_is_not_pe() {
        assert_eq!(
            ws2_imports(b"#!/bin/sh\n"),
            Err(PeError::NotPe("no MZ header"))
        );
        assert_eq!(
            ws2_imports(b"MZ"),
            Err(PeError::NotPe("truncated DOS header"))
        );
        let mut fake = vec![0u8; 0x100];
        fake[..2].copy_from_slice(b"MZ");
        fake[0x3c] = 0x40;
        assert_eq!(ws2_imports(&fake), Err(PeError::NotPe("no PE signature")));
    }

    #[test]
    fn the_signature_is_checked_from_the_first_bytes_alone() {
        let mut head = vec![0u8; 0x84];
        head[..2].copy_from_slice(b"MZ");
        head[0x3c] = 0x80;
        head[0x80..0x84].copy_from_slice(b"PE\0\0");
        assert_eq!(check_signature(&head), Ok(0x80));
        // An offset past the end (or one that overflows) is no signature, not a panic.
        head[0x3c..0x40].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            check_signature(&head),
            Err(PeError::NotPe("no PE signature"))
        );
    }

    /// A minimal PE32+ image: headers and one section whose raw data ends at `raw_end`.
    fn image(raw_end: u32, len: usize) -> Vec<u8> {
        let mut d = vec![0u8; len];
        d[..2].copy_from_slice(b"MZ");
        d[0x3c] = 0x40;
        d[0x40..0x44].copy_from_slice(b"PE\0\0");
        d[0x44..0x46].copy_from_slice(&0x8664u16.to_le_bytes());
        d[0x46..0x48].copy_from_slice(&1u16.to_le_bytes());
        d[0x54..0x56].copy_from_slice(&240u16.to_le_bytes());
        let opt = 0x58;
        d[opt..opt + 2].copy_from_slice(&0x20bu16.to_le_bytes());
        d[opt + 60..opt + 64].copy_from_slice(&0x200u32.to_le_bytes());
        let s = opt + 240;
        d[s..s + 5].copy_from_slice(b".text");
        d[s + 16..s + 20].copy_from_slice(&(raw_end - 0x200).to_le_bytes());
        d[s + 20..s + 24].copy_from_slice(&0x200u32.to_le_bytes());
        d
    }

    #[test]
    fn a_truncated_image_is_refused_with_the_section_it_lacks() {
        assert!(ws2_imports(&image(0x400, 0x400)).is_ok());
        assert_eq!(
            ws2_imports(&image(0x400, 0x300)),
            Err(PeError::Truncated(
                "section `.text` ends at byte 1024, the file has 768".to_string()
            ))
        );
    }

    #[test]
    fn proxy_name_fits_in_place() {
        assert_eq!(PROXY_NAME.len(), TARGET.len());
    }
}
