//! Symbolization on the reporter thread: program addresses to function names.
//!
//! Loaded objects are listed with `dl_iterate_phdr`; an object's ELF symbol table is read the
//! first time one of its addresses is seen. The files are memory-mapped and only the symbol
//! index (24 bytes per function) is kept on the heap; names are demangled on lookup, and
//! lookups go through a bounded cache. Reading symbol tables rather than DWARF keeps memory to a
//! few MiB even for binaries with full debug info; the price is no inlined frames and no line
//! numbers, which per-feature CPU attribution does not need.

use object::{Object, ObjectSymbol, SymbolKind};
use std::collections::{HashMap, HashSet};
use std::ffi::CStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Entries kept in the address cache before it is cleared; bounds its memory (about 5 MiB).
const CACHE_LIMIT: usize = 65_536;

/// An executable segment of a loaded object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    /// Runtime address range.
    pub start: usize,
    pub end: usize,
    /// Offset of `start` in the file.
    pub file_offset: u64,
    /// Index of the object in [`Symbolizer::objects`].
    pub object: usize,
}

/// A loaded object (the executable or a shared library).
pub(crate) struct LoadedObject {
    /// Path of the file.
    pub path: PathBuf,
    /// Difference between runtime and link-time addresses.
    bias: usize,
    /// Its function symbols: `None` until first used, then `Some(None)` if unreadable.
    symbols: Option<Option<SymbolTable>>,
}

/// A read-only memory map of a file, unmapped on drop.
struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
}

impl Mapped {
    fn open(path: &Path) -> Option<Mapped> {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(path).ok()?;
        let len = usize::try_from(file.metadata().ok()?.len()).ok()?;
        if len == 0 {
            return None;
        }
        // SAFETY: maps `len` bytes of an open file read-only and private; checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        (ptr != libc::MAP_FAILED).then_some(Mapped { ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes and lives as long as `self`. Binaries are
        // not modified in place while running (replacing them creates a new inode).
        unsafe { std::slice::from_raw_parts(self.ptr.cast(), self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping created in `open`.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

// SAFETY: the mapping is read-only and owned; nothing else unmaps it.
unsafe impl Send for Mapped {}

/// One function symbol; the name is a range of the mapped file.
struct Symbol {
    /// Link-time address.
    address: u64,
    size: u32,
    name_offset: u32,
    name_len: u32,
}

/// The function symbols of one object, sorted by address.
struct SymbolTable {
    file: Mapped,
    symbols: Vec<Symbol>,
}

impl SymbolTable {
    fn read(path: &Path) -> Option<SymbolTable> {
        let file = Mapped::open(path)?;
        let data = file.bytes();
        let parsed = object::File::parse(data).ok()?;
        let base = data.as_ptr() as usize;
        let collect = |symbols: &mut dyn Iterator<Item = object::Symbol<'_, '_>>| {
            symbols
                .filter(|sym| sym.kind() == SymbolKind::Text && sym.size() > 0)
                .filter_map(|sym| {
                    let name = sym.name_bytes().ok()?;
                    Some(Symbol {
                        address: sym.address(),
                        size: u32::try_from(sym.size()).ok()?,
                        name_offset: u32::try_from(name.as_ptr() as usize - base).ok()?,
                        name_len: u32::try_from(name.len()).ok()?,
                    })
                })
                .collect::<Vec<_>>()
        };
        let mut symbols = collect(&mut parsed.symbols());
        if symbols.is_empty() {
            // Stripped libraries keep only their dynamic symbols.
            symbols = collect(&mut parsed.dynamic_symbols());
        }
        symbols.sort_unstable_by_key(|sym| sym.address);
        symbols.shrink_to_fit();
        Some(SymbolTable { file, symbols })
    }

    /// The demangled name of the function containing link-time address `address`.
    fn lookup(&self, address: u64) -> Option<String> {
        let index = self.symbols.partition_point(|sym| sym.address <= address);
        let sym = &self.symbols[index.checked_sub(1)?];
        if address >= sym.address + u64::from(sym.size) {
            return None;
        }
        let start = sym.name_offset as usize;
        let raw = self
            .file
            .bytes()
            .get(start..start + sym.name_len as usize)?;
        let name = String::from_utf8_lossy(raw);
        Some(format!("{:#}", rustc_demangle::demangle(&name)))
    }
}

/// What an address resolved to.
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    /// The function name, or a placeholder naming the object when no symbol covers it.
    pub function: Arc<str>,
    /// Index of the segment in [`Symbolizer::segments`], when the address is in one.
    pub segment: Option<usize>,
}

/// Address-to-name resolution with a bounded cache.
pub(crate) struct Symbolizer {
    objects: Vec<LoadedObject>,
    segments: Vec<Segment>,
    cache: HashMap<usize, Resolved>,
    /// Interned names, so equal names share one allocation.
    names: HashSet<Arc<str>>,
    /// Whether the object list was refreshed for a miss since the last cache clear; bounds the
    /// cost of addresses that belong to no object at all.
    refreshed: bool,
}

impl Symbolizer {
    /// Lists the loaded objects.
    pub(crate) fn new() -> Symbolizer {
        let (objects, segments) = loaded_objects();
        Symbolizer {
            objects: objects
                .into_iter()
                .map(|(path, bias)| LoadedObject {
                    path,
                    bias,
                    symbols: None,
                })
                .collect(),
            segments,
            cache: HashMap::new(),
            names: HashSet::new(),
            refreshed: false,
        }
    }

    /// Executable segments of the loaded objects (pprof mappings).
    pub(crate) fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The object a segment belongs to.
    pub(crate) fn object(&self, segment: &Segment) -> &LoadedObject {
        &self.objects[segment.object]
    }

    /// Resolves `address` (an instruction address: callers subtract one from return addresses).
    pub(crate) fn resolve(&mut self, address: usize) -> Resolved {
        if let Some(hit) = self.cache.get(&address) {
            return hit.clone();
        }
        if self.cache.len() >= CACHE_LIMIT {
            self.cache.clear();
            self.names.clear();
            self.refreshed = false;
        }
        let mut segment = self.segment_of(address);
        if segment.is_none() && !self.refreshed {
            // A library loaded after start (dlopen): list the objects again, once.
            self.refreshed = true;
            let fresh = Symbolizer::new();
            self.objects = fresh.objects;
            self.segments = fresh.segments;
            segment = self.segment_of(address);
        }
        let name = match segment {
            Some(index) => {
                let object = &mut self.objects[self.segments[index].object];
                let table = object
                    .symbols
                    .get_or_insert_with(|| SymbolTable::read(&object.path));
                let address = (address - object.bias) as u64;
                let name = table.as_ref().and_then(|table| table.lookup(address));
                name.unwrap_or_else(|| {
                    let file = object.path.file_name().unwrap_or(object.path.as_os_str());
                    format!("[{}]", file.to_string_lossy())
                })
            }
            None => "[unknown]".to_owned(),
        };
        let function = match self.names.get(name.as_str()) {
            Some(interned) => interned.clone(),
            None => {
                let interned: Arc<str> = name.into();
                self.names.insert(interned.clone());
                interned
            }
        };
        let resolved = Resolved { function, segment };
        self.cache.insert(address, resolved.clone());
        resolved
    }

    fn segment_of(&self, address: usize) -> Option<usize> {
        self.segments
            .iter()
            .position(|segment| (segment.start..segment.end).contains(&address))
    }
}

/// Lists the loaded objects (path and load bias) and their executable segments.
fn loaded_objects() -> (Vec<(PathBuf, usize)>, Vec<Segment>) {
    struct Found {
        /// Entries visited so far (the first is the executable).
        visited: usize,
        objects: Vec<(PathBuf, usize)>,
        segments: Vec<Segment>,
    }
    /// The `dl_iterate_phdr` callback: records one loaded object and its executable segments.
    ///
    /// # Safety
    ///
    /// `info` must point to a valid `dl_phdr_info` and `data` to the live `Found` that was
    /// passed to `dl_iterate_phdr`, as `dl_iterate_phdr` guarantees for its callback.
    unsafe extern "C" fn each(
        info: *mut libc::dl_phdr_info,
        _size: usize,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: dl_iterate_phdr passes a valid info and our `Found` back to us.
        let (info, found) = unsafe { (&*info, &mut *data.cast::<Found>()) };
        let name = if info.dlpi_name.is_null() {
            c""
        } else {
            // SAFETY: a non-null dlpi_name is a NUL-terminated string.
            unsafe { CStr::from_ptr(info.dlpi_name) }
        };
        found.visited += 1;
        let path = if found.visited == 1 && name.is_empty() {
            // The first entry, with no name, is the executable itself.
            std::fs::read_link("/proc/self/exe").unwrap_or_default()
        } else {
            PathBuf::from(std::ffi::OsStr::from_bytes(name.to_bytes()))
        };
        if path.as_os_str().is_empty() {
            // The vDSO and similar: no file to read symbols from.
            return 0;
        }
        let bias = info.dlpi_addr as usize;
        let object = found.objects.len();
        let headers: &[libc::Elf64_Phdr] = if info.dlpi_phdr.is_null() {
            &[]
        } else {
            // SAFETY: dlpi_phdr points to dlpi_phnum program headers.
            unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) }
        };
        for header in headers {
            if header.p_type == libc::PT_LOAD && header.p_flags & libc::PF_X != 0 {
                let start = bias + header.p_vaddr as usize;
                found.segments.push(Segment {
                    start,
                    end: start + header.p_memsz as usize,
                    file_offset: header.p_offset,
                    object,
                });
            }
        }
        found.objects.push((path, bias));
        0
    }
    let mut found = Found {
        visited: 0,
        objects: Vec::new(),
        segments: Vec::new(),
    };
    // SAFETY: `each` matches the callback signature and only uses `found` during the call.
    unsafe { libc::dl_iterate_phdr(Some(each), (&raw mut found).cast()) };
    (found.objects, found.segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn a_function_with_a_distinctive_name() -> usize {
        a_function_with_a_distinctive_name as *const () as usize
    }

    #[test]
    fn resolves_its_own_functions_and_caches() {
        let mut symbolizer = Symbolizer::new();
        let address = a_function_with_a_distinctive_name() + 1;
        let resolved = symbolizer.resolve(address);
        assert!(
            resolved
                .function
                .ends_with("a_function_with_a_distinctive_name"),
            "{}",
            resolved.function
        );
        assert!(resolved.segment.is_some());
        let again = symbolizer.resolve(address);
        assert!(Arc::ptr_eq(&resolved.function, &again.function));
        assert_eq!(&*symbolizer.resolve(8).function, "[unknown]");
    }
}
