//! The function symbols of one ELF file, demangled, with the file offsets uprobes attach at.

use anyhow::{Context, Result};
use object::{Object, ObjectSection, ObjectSymbol, SymbolFlags};
use std::collections::BTreeMap;
use std::path::Path;

use crate::cpp_names::{demangle, mangled_clone_suffixes, qualified_name};

/// One defined function symbol (`STT_FUNC`, non-zero size) of `.symtab` and/or `.dynsym`.
#[derive(Debug, Clone)]
pub struct ElfFunction {
    pub mangled: String,
    /// Demangled the way blazesym demangles stack frames (cpp_demangle, default options), so
    /// the names here and the frames of a flamegraph are the same strings.
    pub demangled: String,
    /// [`qualified_name`] of `demangled`.
    pub qualified: String,
    /// `st_value`: the virtual address in the file's own address space.
    pub address: u64,
    /// Where the first instruction is in the file: what a uprobe attaches at.
    pub file_offset: u64,
    pub size: u64,
    pub in_symtab: bool,
    pub in_dynsym: bool,
}

impl ElfFunction {
    /// GCC's `.cold` part of a function split by hot/cold partitioning: code jumped to from
    /// inside the function, never called, so it is no function entry and must not be probed.
    pub fn is_cold_part(&self) -> bool {
        mangled_clone_suffixes(&self.mangled).any(|s| s == "cold")
    }

    /// GCC's `.part.N`: the outlined rest of a partially inlined function, entered only on
    /// the path that was not inlined into the callers.
    pub fn is_partial_inline_part(&self) -> bool {
        mangled_clone_suffixes(&self.mangled).any(|s| s == "part")
    }
}

/// All function symbols of an ELF file.
#[derive(Debug, Clone)]
pub struct ElfFunctions {
    /// Sorted by address, then mangled name; one entry per (address, mangled name).
    pub functions: Vec<ElfFunction>,
    /// The file has a `.symtab` section: `strip` removes it, leaving only `.dynsym`.
    pub has_symtab: bool,
}

/// Reads the function symbols of `.symtab` and `.dynsym` of the ELF file at `path`.
pub fn read_functions(path: &Path) -> Result<ElfFunctions> {
    // A FIFO or a device would block or never end.
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if !meta.is_file() {
        anyhow::bail!("{} is not a regular file", path.display());
    }
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    parse_functions(&data, path)
}

/// The demangled names of the function symbols (not `.cold` parts) of the ELF file at `path`
/// whose mangled name `keep` accepts: only those are demangled (discovery looks at every
/// executable of a host, compilers and browsers included).
pub fn read_function_names(path: &Path, keep: impl Fn(&[u8]) -> bool) -> Result<Vec<String>> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if !meta.is_file() {
        anyhow::bail!("{} is not a regular file", path.display());
    }
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let file = object::File::parse(&*data)
        .with_context(|| format!("{} is not an ELF file object can parse", path.display()))?;
    let mut names = std::collections::BTreeSet::new();
    for sym in file.symbols().chain(file.dynamic_symbols()) {
        let SymbolFlags::Elf { st_info, .. } = sym.flags() else {
            continue;
        };
        if st_info & 0xf != object::elf::STT_FUNC || sym.is_undefined() || sym.size() == 0 {
            continue;
        }
        let Ok(mangled) = sym.name() else {
            continue;
        };
        if mangled.is_empty()
            || !keep(mangled.as_bytes())
            || mangled_clone_suffixes(mangled).any(|s| s == "cold")
        {
            continue;
        }
        names.insert(demangle(mangled));
    }
    Ok(names.into_iter().collect())
}

/// The function symbols of the ELF file `data` (read from `path`, which errors name). A
/// binary may come from a container its owner controls: a truncated or corrupt file is an
/// error, never a panic (`cargo xtask fuzz` fuzzes this).
pub fn parse_functions(data: &[u8], path: &Path) -> Result<ElfFunctions> {
    let file = object::File::parse(data)
        .with_context(|| format!("{} is not an ELF file object can parse", path.display()))?;
    if file.format() != object::BinaryFormat::Elf {
        anyhow::bail!("{} is not an ELF file", path.display());
    }
    let has_symtab = file.section_by_name(".symtab").is_some();
    let mut by_key: BTreeMap<(u64, String), ElfFunction> = BTreeMap::new();
    let tables = [(file.symbols(), true), (file.dynamic_symbols(), false)];
    for (symbols, from_symtab) in tables {
        for sym in symbols {
            let Some(f) = function_of(&file, &sym) else {
                continue;
            };
            let entry = by_key.entry((f.address, f.mangled.clone())).or_insert(f);
            if from_symtab {
                entry.in_symtab = true;
            } else {
                entry.in_dynsym = true;
            }
        }
    }
    Ok(ElfFunctions {
        functions: by_key.into_values().collect(),
        has_symtab,
    })
}

/// The function a symbol defines, or `None` for undefined, zero-size, non-`STT_FUNC` symbols
/// (IFUNC resolvers, objects, section and file symbols) and symbols outside file-backed
/// sections.
fn function_of<'data>(
    file: &object::File<'data>,
    sym: &object::Symbol<'data, '_>,
) -> Option<ElfFunction> {
    let SymbolFlags::Elf { st_info, .. } = sym.flags() else {
        return None;
    };
    if st_info & 0xf != object::elf::STT_FUNC || sym.is_undefined() || sym.size() == 0 {
        return None;
    }
    let mangled = sym.name().ok()?.to_string();
    if mangled.is_empty() {
        return None;
    }
    let section = file.section_by_index(sym.section_index()?).ok()?;
    let (section_offset, _) = section.file_range()?;
    let file_offset = file_offset(sym.address(), section.address(), section_offset)?;
    let demangled = demangle(&mangled);
    Some(ElfFunction {
        qualified: qualified_name(&demangled),
        demangled,
        mangled,
        address: sym.address(),
        file_offset,
        size: sym.size(),
        in_symtab: false,
        in_dynsym: false,
    })
}

/// The file offset of the instruction at virtual address `address` in a section loaded at
/// `section_address` from file offset `section_offset`: the translation aya's
/// `UProbeAttachLocation::from_virtual_address` documents (and the kernel's uprobe API wants
/// a file offset, not an address: in a non-PIE or prelinked file the two differ).
pub fn file_offset(address: u64, section_address: u64, section_offset: u64) -> Option<u64> {
    address
        .checked_sub(section_address)?
        .checked_add(section_offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_translate_through_the_section() {
        assert_eq!(file_offset(0x401130, 0x401000, 0x1000), Some(0x1130));
        assert_eq!(file_offset(0x10fe0, 0x6000, 0x6000), Some(0x10fe0));
        assert_eq!(file_offset(0x10, 0x20, 0), None);
    }
}
