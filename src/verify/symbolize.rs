//! Return addresses to source locations, from the DWARF debug info that
//! `x86_64-pc-windows-gnu` builds carry inside the executable or DLL.

use std::collections::HashMap;
use std::path::PathBuf;

/// One source-level frame (inlined calls give several per return address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub file: PathBuf,
    pub line: u32,
    pub function: Option<String>,
}

pub struct Symbolizer {
    /// Lower-cased file name of each module we ran -> the file to read debug info from.
    modules: HashMap<String, PathBuf>,
    loaders: HashMap<String, Option<addr2line::Loader>>,
}

/// The file-name part of a Windows path.
pub fn windows_basename(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

impl Symbolizer {
    /// `modules`: the staged modules (by file name) and the file with their debug info.
    pub fn new(modules: HashMap<String, PathBuf>) -> Symbolizer {
        Symbolizer {
            modules,
            loaders: HashMap::new(),
        }
    }

    /// The debug info of a staged module (by its path or file name), read once.
    fn loader(&mut self, module: &str) -> Option<&addr2line::Loader> {
        let key = windows_basename(module).to_ascii_lowercase();
        let path = self.modules.get(&key)?.clone();
        self.loaders
            .entry(key)
            .or_insert_with(|| addr2line::Loader::new(&path).ok())
            .as_ref()
    }

    /// Does the staged module have DWARF line information at all?
    pub fn has_line_info(&mut self, module: &str) -> bool {
        self.loader(module)
            .is_some_and(|l| l.get_section_range(b".debug_line").is_some())
    }

    /// Source frames for a return address, innermost first. Empty for modules we did
    /// not stage (system DLLs) and addresses without line information.
    pub fn locate(&mut self, module: &str, rva: u64) -> Vec<Loc> {
        let Some(loader) = self.loader(module) else {
            return Vec::new();
        };
        // A return address points after the call; the call itself is one byte earlier.
        let probe = loader.relative_address_base() + rva.saturating_sub(1);
        let mut out = Vec::new();
        if let Ok(mut frames) = loader.find_frames(probe) {
            while let Ok(Some(frame)) = frames.next() {
                let function = frame
                    .function
                    .as_ref()
                    .and_then(|f| f.demangle().ok())
                    .map(|f| f.into_owned());
                if let Some(loc) = frame.location {
                    if let (Some(file), Some(line)) = (loc.file, loc.line) {
                        out.push(Loc {
                            file: PathBuf::from(file),
                            line,
                            function,
                        });
                    }
                }
            }
        }
        out
    }
}
