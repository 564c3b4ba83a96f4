//! YAML → AST: documents, collections (`action: global|reset|repeat`), rules, filters and
//! correlation rules.
//!
//! Documents are read with `serde_yaml` into a borrowed YAML value (one pass, order kept,
//! duplicate keys rejected, alias expansion and nesting bounded by the parser) and then
//! converted by hand, so every error names the YAML path of the offending node; positions
//! are filled in afterwards by [`crate::locate`], only for files that have errors.

use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::Deserialize;
use yv::{Mapping, Y};

use crate::ast::*;
use crate::condition;
use crate::error::{Error, ErrorKind};
use crate::modifiers::{check_chain, Modifier};

mod fast;

/// Largest file the loader reads (Sigma rules are a few KiB; the largest SigmaHQ rule is
/// under 100 KiB).
pub const MAX_FILE_SIZE: usize = 4 * 1024 * 1024;

/// Most YAML documents in one file.
pub const MAX_DOCUMENTS: usize = 10_000;

/// Most values in one detection item (after the YAML is read; bounds later expansion).
pub const MAX_VALUES: usize = 100_000;

/// Everything read from one file: the documents that loaded and the errors of those that
/// did not (each error located).
#[derive(Debug, Clone, Default)]
pub struct LoadedFile {
    pub path: Arc<str>,
    /// The file's text, kept to locate errors found later (lowering, validators). A
    /// leading UTF-8 byte-order mark is not part of it (see `bom`).
    pub source: Arc<str>,
    /// The file began with a UTF-8 byte-order mark (as editors on Windows write), removed
    /// before reading; whoever rewrites the file (`check --fix`) puts it back.
    pub bom: bool,
    pub documents: Vec<Document>,
    pub errors: Vec<Error>,
}

impl LoadedFile {
    /// Fill in line and column of this file's errors found after loading (one marked
    /// re-parse, only if some error needs it). Located errors are left as they are.
    pub fn resolve_errors(&self, errors: &mut [Error]) {
        let mut locator = None;
        for e in errors
            .iter_mut()
            .filter(|e| e.span.is_none() && e.path.is_some() && e.file == self.path)
        {
            e.resolve(locator.get_or_insert_with(|| crate::locate::Locator::new(&self.source)));
        }
    }
}

/// Read and load a file. I/O, size and encoding problems become errors of the result.
pub fn load_file(path: &Path) -> LoadedFile {
    load_file_with(&mut Opener::default(), path)
}

/// Opens files, relative to the directory of the previous one when they share it. A
/// corpus run opens thousands of files a few directories deep; a path open walks every
/// component again (opening was a twelfth of a SigmaHQ check's CPU, about half of it the
/// kernel's path lookup), an open relative to an open directory looks up one name. Keep
/// one for a batch of files (one per thread): the directory is resolved once, when the
/// opener meets it.
/// Files are opened without updating their access time where the kernel allows it (the
/// caller owns them): reading rules is not a use worth a metadata write, and the check
/// was ~1.5% of a corpus check; a file owned by someone else turns that off for the
/// opener.
pub struct Opener {
    #[cfg(target_os = "linux")]
    dir: Option<(std::path::PathBuf, rustix::fd::OwnedFd)>,
    #[cfg(target_os = "linux")]
    noatime: bool,
}

impl Default for Opener {
    fn default() -> Self {
        Opener {
            #[cfg(target_os = "linux")]
            dir: None,
            #[cfg(target_os = "linux")]
            noatime: true,
        }
    }
}

impl Opener {
    pub fn open(&mut self, path: &Path) -> std::io::Result<std::fs::File> {
        #[cfg(target_os = "linux")]
        if let Some((parent, name)) = split_last(path) {
            use rustix::fs::{Mode, OFlags};
            let dir = match &self.dir {
                // Compared as bytes: a differently spelled same directory is opened again.
                Some((p, fd)) if p.as_os_str() == parent.as_os_str() => fd,
                _ => {
                    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
                    let fd = rustix::fs::open(parent, flags, Mode::empty())?;
                    &self.dir.insert((parent.to_path_buf(), fd)).1
                }
            };
            let flags = OFlags::RDONLY | OFlags::CLOEXEC;
            if self.noatime {
                match rustix::fs::openat(dir, name, flags | OFlags::NOATIME, Mode::empty()) {
                    Err(rustix::io::Errno::PERM) => self.noatime = false,
                    r => return Ok(r?.into()),
                }
            }
            return Ok(rustix::fs::openat(dir, name, flags, Mode::empty())?.into());
        }
        std::fs::File::open(path)
    }
}

/// A path's directory and last name when the path is `dir/name` with a plain name (not
/// empty, `.` or `..`) and a non-empty directory: split at the last `/`, without
/// `Path`'s component parsing (a corpus run opens thousands of files). Anything else is
/// opened as given.
#[cfg(target_os = "linux")]
fn split_last(path: &Path) -> Option<(&Path, &std::ffi::OsStr)> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    let slash = memchr::memrchr(b'/', bytes)?;
    let (dir, name) = (&bytes[..slash], &bytes[slash + 1..]);
    if dir.is_empty() || matches!(name, b"" | b"." | b"..") {
        return None;
    }
    Some((
        Path::new(std::ffi::OsStr::from_bytes(dir)),
        std::ffi::OsStr::from_bytes(name),
    ))
}

/// [`load_file`], opening the file with `opener`.
pub fn load_file_with(opener: &mut Opener, path: &Path) -> LoadedFile {
    // `to_str` first: `to_string_lossy` walks the name in UTF-8 chunks, a slower check.
    let name: Arc<str> = match path.to_str() {
        Some(s) => Arc::from(s),
        None => Arc::from(path.to_string_lossy().as_ref()),
    };
    let fail = |kind| LoadedFile {
        path: name.clone(),
        source: Arc::from(""),
        bom: false,
        documents: vec![],
        errors: vec![Error {
            file: name.clone(),
            ..Error::new(kind)
        }],
    };
    // One open and the reads, no fstat (a corpus run is thousands of small files, so the
    // syscalls count): read into spare capacity that fits nearly every rule (not zeroed:
    // `Take<File>` reads into uninitialised memory), at most one byte past the limit; the
    // size is asked for only when the limit is passed (for the message).
    use std::io::Read;
    let file = match opener.open(path) {
        Ok(f) => f,
        Err(e) => return fail(ErrorKind::Io(e.to_string())),
    };
    let mut bytes = Vec::with_capacity(16 * 1024);
    let mut limited = (&file).take(MAX_FILE_SIZE as u64 + 1);
    if let Err(e) = limited.read_to_end(&mut bytes) {
        return fail(ErrorKind::Io(e.to_string()));
    }
    if bytes.len() > MAX_FILE_SIZE {
        let size = file
            .metadata()
            .map_or(bytes.len(), |m| (m.len() as usize).max(bytes.len()));
        return fail(ErrorKind::TooLarge {
            size,
            limit: MAX_FILE_SIZE,
        });
    }
    match String::from_utf8(bytes) {
        Ok(text) => load_str(&text, name),
        Err(_) => fail(ErrorKind::NotUtf8),
    }
}

/// Load Sigma documents from text; `path` names the source in errors.
pub fn load_str(src: &str, path: impl Into<Arc<str>>) -> LoadedFile {
    let path: Arc<str> = path.into();
    // YAML allows a byte-order mark at the start of the stream; serde_yaml's `from_str`
    // would read it into the first key. Positions are counted without it, as editors show.
    let (src, bom) = match src.strip_prefix('\u{feff}') {
        Some(rest) => (rest, true),
        None => (src, false),
    };
    let mut out = LoadedFile {
        path: path.clone(),
        source: Arc::from(src),
        bom,
        ..Default::default()
    };
    if src.len() > MAX_FILE_SIZE {
        out.errors.push(Error::new(ErrorKind::TooLarge {
            size: src.len(),
            limit: MAX_FILE_SIZE,
        }));
    } else {
        let docs = read_documents(src, &mut out.errors);
        let docs = apply_collection_actions(docs, &mut out.errors);
        out.documents.reserve_exact(docs.len());
        if docs.is_empty() && out.errors.is_empty() {
            out.errors.push(Error::new(ErrorKind::Empty));
        }
        for (index, doc) in docs {
            match convert_document(
                &doc,
                &Source {
                    path: path.clone(),
                    document: index,
                },
            ) {
                Ok(d) => out.documents.push(d),
                Err(errs) => out.errors.extend(errs.into_iter().map(|mut e| {
                    e.document = index;
                    e
                })),
            }
        }
    }
    if !out.errors.is_empty() {
        let locator = crate::locate::Locator::new(src);
        for e in &mut out.errors {
            e.file = path.clone();
            e.resolve(&locator);
        }
    }
    out
}

fn read_documents<'a>(src: &'a str, errors: &mut Vec<Error>) -> Vec<(usize, Y<'a>)> {
    match fast::read(src) {
        Ok(docs) => docs,
        Err(fast::Decline) => read_documents_serde(src, errors),
    }
}

/// Test support for the fast YAML reader: `None` when it declines `src`; otherwise
/// `Some(Ok(()))` when its documents are exactly those `serde_yaml` reads (same indexes,
/// same values, and `serde_yaml` reports no error), or `Some(Err(why))`.
#[doc(hidden)]
pub fn fast_reader_agrees(src: &str) -> Option<Result<(), String>> {
    let fast = fast::read(src).ok()?;
    let mut errors = Vec::new();
    let reference = read_documents_serde(src, &mut errors);
    if !errors.is_empty() {
        return Some(Err(format!(
            "serde_yaml reports {:?}, the fast reader read {} documents",
            errors[0].kind,
            fast.len()
        )));
    }
    let show = |docs: &[(usize, Y)]| -> Vec<(usize, serde_yaml::Value)> {
        docs.iter().map(|(i, y)| (*i, y.to_yaml())).collect()
    };
    let (a, b) = (show(&fast), show(&reference));
    if a == b {
        Some(Ok(()))
    } else {
        Some(Err(format!("fast reader: {a:?}\nserde_yaml: {b:?}")))
    }
}

/// The reference reader (and the only one that reports YAML errors).
fn read_documents_serde<'a>(src: &'a str, errors: &mut Vec<Error>) -> Vec<(usize, Y<'a>)> {
    let mut docs = Vec::new();
    for (index, de) in serde_yaml::Deserializer::from_str(src).enumerate() {
        if index >= MAX_DOCUMENTS {
            errors.push(Error::new(ErrorKind::Collection(format!(
                "more than {MAX_DOCUMENTS} YAML documents in one file"
            ))));
            break;
        }
        match Y::deserialize(de) {
            Ok(Y::Null) => {} // an empty document (e.g. a trailing `---`)
            Ok(v) => docs.push((index, v)),
            Err(e) => {
                let mut err = Error::new(ErrorKind::Yaml(strip_location(&e.to_string())));
                err.document = index;
                if let Some(loc) = e.location() {
                    err.span = Some(Span {
                        line: loc.line() as u32,
                        column: loc.column() as u32,
                    });
                }
                errors.push(err);
                // The stream cannot be trusted after a syntax error.
                break;
            }
        }
    }
    docs
}

/// serde_yaml appends " at line X column Y"; we print positions ourselves.
fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// pySigma's collection semantics: `global` replaces the template, `reset` clears it,
/// `repeat` deep-merges into the previous rule; other rule documents get the template
/// deep-merged *over* them. Correlations and filters are not merged.
fn apply_collection_actions<'a>(
    docs: Vec<(usize, Y<'a>)>,
    errors: &mut Vec<Error>,
) -> Vec<(usize, Y<'a>)> {
    let has_action = docs
        .iter()
        .any(|(_, d)| d.as_mapping().is_some_and(|m| m.contains_key("action")));
    if !has_action {
        return docs;
    }
    let mut out = Vec::new();
    let mut global: Option<Mapping> = None;
    let mut prev: Option<Y> = None;
    for (index, doc) in docs {
        let Some(map) = doc.as_mapping() else {
            out.push((index, doc));
            continue;
        };
        match map.get("action") {
            Some(Y::String(a)) if a == "global" => {
                let mut m = map.clone();
                m.remove("action");
                global = Some(m);
            }
            Some(Y::String(a)) if a == "reset" => global = None,
            Some(Y::String(a)) if a == "repeat" => match &prev {
                Some(p) => {
                    let mut merged = p.clone();
                    deep_update(&mut merged, &doc);
                    prev = Some(merged.clone());
                    out.push((index, merged));
                }
                None => errors.push(Error {
                    document: index,
                    ..Error::at(
                        ErrorKind::Collection(
                            "'action: repeat' without a previous rule to repeat".into(),
                        ),
                        YamlPath::of(&["action"]),
                    )
                }),
            },
            Some(other) => errors.push(Error {
                document: index,
                ..Error::at(
                    ErrorKind::Collection(format!(
                        "unknown collection action {}; expected global, reset or repeat",
                        short(other)
                    )),
                    YamlPath::of(&["action"]),
                )
            }),
            None => {
                let is_meta = map.contains_key("correlation") || map.contains_key("filter");
                let mut d = doc.clone();
                if let (Some(g), false) = (&global, is_meta) {
                    deep_update(&mut d, &Y::Mapping(g.clone()));
                }
                if !is_meta {
                    prev = Some(d.clone());
                }
                out.push((index, d));
            }
        }
    }
    out
}

/// Merge `src` into `dst`: maps recursively, everything else replaced.
fn deep_update<'a>(dst: &mut Y<'a>, src: &Y<'a>) {
    match (dst, src) {
        (Y::Mapping(d), Y::Mapping(s)) => {
            for (k, v) in s {
                match d.get_mut_key(k) {
                    Some(existing) if existing.is_mapping() && v.is_mapping() => {
                        deep_update(existing, v)
                    }
                    _ => {
                        d.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (d, s) => *d = s.clone(),
    }
}

fn type_name(v: &Y) -> &'static str {
    match v {
        Y::Null => "null",
        Y::Bool(_) => "a boolean",
        Y::Number(_) => "a number",
        Y::String(_) => "a string",
        Y::Sequence(_) => "a list",
        Y::Mapping(_) => "a map",
        Y::Tagged(_) => "a tagged value",
    }
}

fn short(v: &Y) -> String {
    match v {
        Y::String(s) => format!("'{s}'"),
        Y::Number(n) => n.to_string(),
        Y::Bool(b) => b.to_string(),
        other => type_name(other).to_string(),
    }
}

type Errs = Vec<Error>;

fn type_err(key: &str, expected: &'static str, found: &Y, path: YamlPath) -> Error {
    Error::at(
        ErrorKind::Type {
            key: key.to_string(),
            expected,
            found: type_name(found),
        },
        path,
    )
}

/// Collects errors while converting one document, so a user sees all of them at once.
struct Conv {
    errors: Errs,
}

impl Conv {
    fn push(&mut self, e: Error) {
        self.errors.push(e);
    }

    fn string(&mut self, map: &Mapping, key: &str, path: &YamlPath) -> Option<String> {
        match map.get(key)? {
            Y::String(s) => Some(s.to_string()),
            Y::Null => None,
            other => {
                self.push(type_err(key, "a string", other, path.key(key)));
                None
            }
        }
    }

    fn string_list(&mut self, map: &Mapping, key: &str, path: &YamlPath) -> Vec<String> {
        match map.get(key) {
            None | Some(Y::Null) => vec![],
            Some(Y::Sequence(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| match scalar_text(v) {
                    Some(s) => Some(s),
                    None => {
                        self.push(type_err(
                            key,
                            "a list of strings",
                            v,
                            path.key(key).index(i),
                        ));
                        None
                    }
                })
                .collect(),
            Some(other) => {
                self.push(type_err(key, "a list of strings", other, path.key(key)));
                vec![]
            }
        }
    }

    fn date(&mut self, map: &Mapping, key: &str, path: &YamlPath) -> Option<Date> {
        let text = self.string(map, key, path)?;
        match parse_date(&text) {
            Some(d) => Some(d),
            None => {
                self.push(Error::at(
                    ErrorKind::Invalid {
                        what: "date",
                        value: text,
                        reason: "expected YYYY-MM-DD".into(),
                    },
                    path.key(key),
                ));
                None
            }
        }
    }
}

/// Scalars that read naturally as strings in string lists (`references`, `falsepositives`).
fn scalar_text(v: &Y) -> Option<String> {
    match v {
        Y::String(s) => Some(s.to_string()),
        Y::Number(n) => Some(n.to_string()),
        Y::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `YYYY-MM-DD`, or the legacy `YYYY/MM/DD` that pySigma still accepts.
pub fn parse_date(s: &str) -> Option<Date> {
    // `YYYY-MM-DD` (nearly every date) read in place; anything else takes the general way.
    if let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *s.as_bytes() {
        let digits = [y0, y1, y2, y3, m0, m1, d0, d1];
        if digits.iter().all(u8::is_ascii_digit) {
            let n = |ds: &[u8]| ds.iter().fold(0u16, |a, d| a * 10 + u16::from(d - b'0'));
            let (year, month, day) = (n(&digits[..4]), n(&digits[4..6]), n(&digits[6..]));
            return valid_date(year, month as u8, day as u8, false);
        }
    }
    parse_date_split(s)
}

/// [`parse_date`] for any text: split at the separator.
fn parse_date_split(s: &str) -> Option<Date> {
    let (sep, legacy) = if s.contains('/') {
        ('/', true)
    } else {
        ('-', false)
    };
    let mut it = s.split(sep);
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || y.len() != 4 || (!legacy && (m.len() != 2 || d.len() != 2)) {
        return None;
    }
    let all_digits =
        |x: &str| !x.is_empty() && x.len() <= 2 && x.bytes().all(|b| b.is_ascii_digit());
    if !y.bytes().all(|b| b.is_ascii_digit()) || !all_digits(m) || !all_digits(d) {
        return None;
    }
    let (year, month, day): (u16, u8, u8) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    valid_date(year, month, day, legacy)
}

fn valid_date(year: u16, month: u8, day: u8, legacy: bool) -> Option<Date> {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1000..=3999).contains(&year) || day == 0 || day > days {
        return None;
    }
    Some(Date {
        year,
        month,
        day,
        legacy_slashes: legacy,
    })
}

/// A UUID in its canonical hyphenated form.
pub fn parse_uuid(s: &str) -> Option<uuid::Uuid> {
    if s.len() != 36 {
        return None;
    }
    uuid::Uuid::try_parse(s).ok()
}

const META_KEYS: [&str; 17] = [
    "title",
    "id",
    "name",
    "taxonomy",
    "related",
    "status",
    "description",
    "license",
    "references",
    "tags",
    "author",
    "date",
    "modified",
    "falsepositives",
    "level",
    "scope",
    "fields",
];

fn convert_meta(c: &mut Conv, map: &Mapping, source: &Source, extra_known: &[&str]) -> RuleMeta {
    let root = YamlPath::root();
    let mut meta = RuleMeta {
        source: source.clone(),
        ..Default::default()
    };
    match map.get("title") {
        Some(Y::String(t)) if !t.trim().is_empty() => meta.title = t.to_string(),
        Some(Y::String(_)) => c.push(Error::at(
            ErrorKind::Invalid {
                what: "title",
                value: String::new(),
                reason: "the title is empty".into(),
            },
            root.key("title"),
        )),
        Some(other) => c.push(type_err("title", "a string", other, root.key("title"))),
        None => c.push(Error::at(ErrorKind::Missing("title"), root.clone())),
    }
    if meta.title.chars().count() > 256 {
        c.push(Error::at(
            ErrorKind::Invalid {
                what: "title",
                value: format!("{}...", meta.title.chars().take(40).collect::<String>()),
                reason: "longer than 256 characters".into(),
            },
            root.key("title"),
        ));
    }
    if let Some(id) = c.string(map, "id", &root) {
        match parse_uuid(&id) {
            Some(u) => meta.id = Some(u),
            None => c.push(Error::at(
                ErrorKind::Invalid {
                    what: "id",
                    value: id,
                    reason: "expected a UUID such as 929a690e-bef0-4204-a928-ef5e620d6fcc".into(),
                },
                root.key("id"),
            )),
        }
    }
    meta.name = c.string(map, "name", &root);
    meta.taxonomy = c.string(map, "taxonomy", &root);
    meta.description = c.string(map, "description", &root);
    meta.license = c.string(map, "license", &root);
    meta.author = c.string(map, "author", &root);
    meta.references = c.string_list(map, "references", &root);
    meta.falsepositives = match map.get("falsepositives") {
        // Correlation schema allows a single string.
        Some(Y::String(s)) => vec![s.to_string()],
        _ => c.string_list(map, "falsepositives", &root),
    };
    meta.scope = c.string_list(map, "scope", &root);
    meta.date = c.date(map, "date", &root);
    meta.modified = c.date(map, "modified", &root);
    if let Some(s) = c.string(map, "status", &root) {
        match Status::ALL
            .iter()
            .find(|x| x.name().eq_ignore_ascii_case(&s))
        {
            Some(st) => meta.status = Some(*st),
            None => c.push(Error::at(
                ErrorKind::Invalid {
                    what: "status",
                    value: s,
                    reason: "expected stable, test, experimental, deprecated or unsupported".into(),
                },
                root.key("status"),
            )),
        }
    }
    if let Some(s) = c.string(map, "level", &root) {
        match Level::ALL
            .iter()
            .find(|x| x.name().eq_ignore_ascii_case(&s))
        {
            Some(l) => meta.level = Some(*l),
            None => c.push(Error::at(
                ErrorKind::Invalid {
                    what: "level",
                    value: s,
                    reason: "expected informational, low, medium, high or critical".into(),
                },
                root.key("level"),
            )),
        }
    }
    for (i, t) in c.string_list(map, "tags", &root).into_iter().enumerate() {
        match t.split_once('.') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() => meta.tags.push(Tag {
                namespace: ns.to_string(),
                name: name.to_string(),
            }),
            _ => c.push(Error::at(
                ErrorKind::Invalid {
                    what: "tag",
                    value: t,
                    reason: "expected namespace.name, e.g. attack.t1059".into(),
                },
                root.key("tags").index(i),
            )),
        }
    }
    match map.get("related") {
        None | Some(Y::Null) => {}
        Some(Y::Sequence(items)) => {
            for (i, item) in items.iter().enumerate() {
                let p = root.key("related").index(i);
                let Some(m) = item.as_mapping() else {
                    c.push(type_err("related", "a list of {id, type} maps", item, p));
                    continue;
                };
                let id = c.string(m, "id", &p);
                let ty = c.string(m, "type", &p);
                let (Some(id), Some(ty)) = (id, ty) else {
                    c.push(Error::at(
                        ErrorKind::Invalid {
                            what: "related entry",
                            value: String::new(),
                            reason: "needs both 'id' and 'type'".into(),
                        },
                        p,
                    ));
                    continue;
                };
                let kind = match ty.to_ascii_lowercase().as_str() {
                    "derived" => RelationType::Derived,
                    "obsolete" | "obsoletes" => RelationType::Obsolete,
                    "merged" => RelationType::Merged,
                    "renamed" => RelationType::Renamed,
                    "similar" => RelationType::Similar,
                    "correlation" => RelationType::Correlation,
                    _ => {
                        c.push(Error::at(
                            ErrorKind::Invalid {
                                what: "related type",
                                value: ty,
                                reason: "expected derived, obsolete, merged, renamed or similar"
                                    .into(),
                            },
                            p.key("type"),
                        ));
                        continue;
                    }
                };
                match parse_uuid(&id) {
                    Some(id) => meta.related.push(Related { id, kind }),
                    None => c.push(Error::at(
                        ErrorKind::Invalid {
                            what: "related id",
                            value: id,
                            reason: "expected a UUID".into(),
                        },
                        p.key("id"),
                    )),
                }
            }
        }
        Some(other) => c.push(type_err("related", "a list", other, root.key("related"))),
    }
    for (k, v) in map {
        let Y::String(k) = k else { continue };
        if META_KEYS.contains(&k.as_ref()) || extra_known.contains(&k.as_ref()) {
            continue;
        }
        match serde_json::to_value(v.to_yaml()) {
            Ok(j) => {
                meta.custom.insert(k.to_string(), j);
            }
            Err(e) => c.push(Error::at(
                ErrorKind::Invalid {
                    what: "attribute",
                    value: k.to_string(),
                    reason: e.to_string(),
                },
                root.key(k),
            )),
        }
    }
    meta
}

fn convert_logsource(c: &mut Conv, map: &Mapping) -> LogSource {
    let path = YamlPath::of(&["logsource"]);
    let mut ls = LogSource::default();
    match map.get("logsource") {
        Some(Y::Mapping(m)) => {
            for (k, v) in m {
                let key = match k {
                    Y::String(k) => k.as_ref(),
                    other => {
                        c.push(type_err("logsource key", "a string", other, path.clone()));
                        continue;
                    }
                };
                let val = match v {
                    Y::String(s) => s.to_string(),
                    Y::Null => continue,
                    other => match scalar_text(other) {
                        Some(s) => s,
                        None => {
                            c.push(type_err(key, "a string", other, path.key(key)));
                            continue;
                        }
                    },
                };
                match key {
                    "category" => ls.category = Some(val),
                    "product" => ls.product = Some(val),
                    "service" => ls.service = Some(val),
                    "definition" => ls.definition = Some(val),
                    _ => ls.custom.push((key.to_string(), val)),
                }
            }
            if ls.category.is_none() && ls.product.is_none() && ls.service.is_none() {
                c.push(Error::at(
                    ErrorKind::Invalid {
                        what: "logsource",
                        value: String::new(),
                        reason: "needs at least one of category, product, service".into(),
                    },
                    path,
                ));
            }
        }
        Some(other) => c.push(type_err("logsource", "a map", other, path)),
        None => c.push(Error::at(ErrorKind::Missing("logsource"), YamlPath::root())),
    }
    ls
}

fn convert_document(doc: &Y, source: &Source) -> Result<Document, Errs> {
    let root = YamlPath::root();
    let Some(map) = doc.as_mapping() else {
        return Err(vec![Error::at(
            ErrorKind::Type {
                key: "document".into(),
                expected: "a map of rule attributes",
                found: type_name(doc),
            },
            root,
        )]);
    };
    for k in map.keys() {
        if !k.is_string() {
            return Err(vec![type_err("top-level key", "a string", k, root)]);
        }
    }
    let mut c = Conv { errors: vec![] };
    let doc = if map.contains_key("correlation") {
        convert_correlation(&mut c, map, source).map(Document::Correlation)
    } else if map.contains_key("filter") {
        convert_filter(&mut c, map, source).map(Document::Filter)
    } else {
        convert_rule(&mut c, map, source).map(Document::Rule)
    };
    match doc {
        Some(d) if c.errors.is_empty() => Ok(d),
        _ => {
            if c.errors.is_empty() {
                c.errors.push(Error::at(
                    ErrorKind::Detection("invalid document".into()),
                    YamlPath::root(),
                ));
            }
            Err(c.errors)
        }
    }
}

fn convert_rule(c: &mut Conv, map: &Mapping, source: &Source) -> Option<Rule> {
    let meta = convert_meta(c, map, source, &["logsource", "detection"]);
    let logsource = convert_logsource(c, map);
    let fields = c.string_list(map, "fields", &YamlPath::root());
    let detection = match map.get("detection") {
        Some(Y::Mapping(d)) => convert_detection(c, d, &YamlPath::of(&["detection"]), &[]),
        Some(other) => {
            c.push(type_err(
                "detection",
                "a map",
                other,
                YamlPath::of(&["detection"]),
            ));
            None
        }
        None => {
            c.push(Error::at(ErrorKind::Missing("detection"), YamlPath::root()));
            None
        }
    }?;
    Some(Rule {
        meta: Arc::new(meta),
        logsource,
        detection,
        fields,
    })
}

/// Convert a `detection` (or `filter`) map. `reserved` are keys that are not searches.
fn convert_detection(
    c: &mut Conv,
    d: &Mapping,
    path: &YamlPath,
    reserved: &[&str],
) -> Option<Detection> {
    let mut searches = IndexMap::new();
    let mut cond_values: Vec<(String, YamlPath)> = vec![];
    let before = c.errors.len();
    for (k, v) in d {
        let Some(name) = k.as_str() else {
            c.push(type_err("search identifier", "a string", k, path.clone()));
            continue;
        };
        if reserved.contains(&name) {
            continue;
        }
        let p = path.key(name);
        if name == "condition" {
            match v {
                Y::String(s) => cond_values.push((s.to_string(), p)),
                Y::Sequence(items) if !items.is_empty() => {
                    for (i, it) in items.iter().enumerate() {
                        match it {
                            Y::String(s) => cond_values.push((s.to_string(), p.index(i))),
                            other => c.push(type_err("condition", "a string", other, p.index(i))),
                        }
                    }
                }
                other => c.push(type_err(
                    "condition",
                    "a string or a list of strings",
                    other,
                    p,
                )),
            }
            continue;
        }
        if let Some(s) = convert_search(c, name, v, &p) {
            searches.insert(name.to_string(), s);
        }
    }
    if searches.is_empty() && c.errors.len() == before {
        c.push(Error::at(
            ErrorKind::Detection("no search identifiers are defined".into()),
            path.clone().at_key(),
        ));
    }
    if cond_values.is_empty() && !d.contains_key("condition") {
        c.push(Error::at(
            ErrorKind::Missing("condition"),
            path.clone().at_key(),
        ));
    }
    let mut conditions = vec![];
    for (text, p) in cond_values {
        match condition::parse(&text) {
            Ok(tree) => conditions.push(Condition {
                text,
                tree,
                path: p,
            }),
            Err(e) => c.push(Error {
                offset: Some(e.offset),
                ..Error::at(ErrorKind::Condition(e.message), p)
            }),
        }
    }
    if c.errors.len() > before {
        return None;
    }
    Some(Detection {
        searches,
        conditions,
    })
}

fn convert_search(c: &mut Conv, name: &str, v: &Y, path: &YamlPath) -> Option<Search> {
    match v {
        Y::Mapping(m) if m.is_empty() => {
            c.push(Error::at(
                ErrorKind::Detection(format!("search identifier '{name}' is an empty map")),
                path.clone(),
            ));
            None
        }
        Y::Mapping(m) => convert_map(c, m, path).map(Search::AllOf),
        Y::Sequence(items) if items.is_empty() => {
            c.push(Error::at(
                ErrorKind::Detection(format!("search identifier '{name}' is an empty list")),
                path.clone(),
            ));
            None
        }
        Y::Sequence(items) => {
            if items.iter().all(|i| !i.is_mapping()) {
                return keyword_item(c, v, path).map(Search::Keywords);
            }
            let mut alts = Vec::with_capacity(items.len());
            for (i, it) in items.iter().enumerate() {
                let p = path.index(i);
                match it {
                    Y::Mapping(m) if m.is_empty() => c.push(Error::at(
                        ErrorKind::Detection(format!(
                            "search identifier '{name}' has an empty map in its list"
                        )),
                        p,
                    )),
                    Y::Mapping(m) => {
                        if let Some(items) = convert_map(c, m, &p) {
                            alts.push(Search::AllOf(items));
                        }
                    }
                    other => {
                        if let Some(k) = keyword_item(c, other, &p) {
                            alts.push(Search::Keywords(k));
                        }
                    }
                }
            }
            Some(Search::AnyOf(alts))
        }
        Y::Null => {
            c.push(Error::at(
                ErrorKind::Detection(format!("search identifier '{name}' has no value")),
                path.clone(),
            ));
            None
        }
        scalar => keyword_item(c, scalar, path).map(Search::Keywords),
    }
}

/// A keyword search: plain scalars (nested lists flattened).
fn keyword_item(c: &mut Conv, v: &Y, path: &YamlPath) -> Option<DetectionItem> {
    let mut values = vec![];
    let is_list = v.is_sequence();
    collect_values(c, v, path, &mut values, true)?;
    if values.iter().any(|x| matches!(x, Value::Null)) {
        c.push(Error::at(
            ErrorKind::Value("a keyword cannot be null: null must be bound to a field".into()),
            path.clone(),
        ));
        return None;
    }
    if values.iter().any(|x| matches!(x, Value::Bool(_))) {
        c.push(Error::at(
            ErrorKind::Value(
                "a keyword cannot be a boolean: booleans must be bound to a field".into(),
            ),
            path.clone(),
        ));
        return None;
    }
    Some(DetectionItem {
        field: None,
        modifiers: vec![],
        values,
        is_list,
        path: path.clone(),
    })
}

/// A scalar as a detection value: `None` for a list, map or tag; `Some(Err(message))` for
/// a number out of range. Whole floats below 2^53 count as integers (`4625.0` is `4625`).
fn scalar_value(v: &Y) -> Option<Result<Value, String>> {
    Some(Ok(match v {
        Y::String(s) => Value::Str(s.to_string()),
        Y::Bool(b) => Value::Bool(*b),
        Y::Null => Value::Null,
        Y::Number(n) => match (n.as_i64(), n.as_f64().filter(|f| f.is_finite())) {
            (Some(i), _) => Value::Int(i),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::Int(f as i64),
            (None, Some(f)) => Value::Float(f),
            (None, None) => return Some(Err(format!("number {n} is out of range"))),
        },
        _ => return None,
    }))
}

fn collect_values(
    c: &mut Conv,
    v: &Y,
    path: &YamlPath,
    out: &mut Vec<Value>,
    flatten: bool,
) -> Option<()> {
    match v {
        Y::Sequence(items) => {
            out.reserve(items.len());
            for (i, it) in items.iter().enumerate() {
                if it.is_sequence() && !flatten {
                    c.push(Error::at(
                        ErrorKind::Value("a value list cannot contain another list".into()),
                        path.index(i),
                    ));
                    return None;
                }
                // Scalars go straight in: the item's path is built only for an error.
                match scalar_value(it) {
                    Some(Ok(v)) => {
                        out.push(v);
                        if out.len() > MAX_VALUES {
                            c.push(Error::at(
                                ErrorKind::Value(format!(
                                    "more than {MAX_VALUES} values in one item"
                                )),
                                path.index(i),
                            ));
                            return None;
                        }
                    }
                    _ => collect_values(c, it, &path.index(i), out, flatten)?,
                }
            }
        }
        Y::Mapping(_) => {
            c.push(Error::at(
                ErrorKind::Value(
                    "a value cannot be a map (nested maps are not Sigma; use a dotted field name)"
                        .into(),
                ),
                path.clone(),
            ));
            return None;
        }
        Y::Tagged(t) => {
            c.push(Error::at(
                ErrorKind::Value(format!("YAML tag {} is not supported in values", t.tag)),
                path.clone(),
            ));
            return None;
        }
        scalar => match scalar_value(scalar) {
            Some(Ok(x)) => out.push(x),
            Some(Err(message)) => {
                c.push(Error::at(ErrorKind::Value(message), path.clone()));
                return None;
            }
            // Lists, maps and tags are the arms above.
            None => {}
        },
    }
    if out.len() > MAX_VALUES {
        c.push(Error::at(
            ErrorKind::Value(format!("more than {MAX_VALUES} values in one item")),
            path.clone(),
        ));
        return None;
    }
    Some(())
}

fn convert_map(c: &mut Conv, m: &Mapping, path: &YamlPath) -> Option<Vec<DetectionItem>> {
    let mut items = Vec::with_capacity(m.len());
    let before = c.errors.len();
    for (k, v) in m {
        let key = match k {
            Y::String(s) => s.to_string(),
            Y::Number(n) => n.to_string(),
            other => {
                c.push(type_err("field name", "a string", other, path.clone()));
                continue;
            }
        };
        let p = path.key(&key);
        let mut parts = key.split('|');
        let field = parts.next().unwrap_or_default();
        let mut modifiers = vec![];
        let mut ok = true;
        for name in parts {
            match Modifier::parse(name) {
                Some(m) => modifiers.push(m),
                None => {
                    c.push(Error::at(
                        ErrorKind::UnknownModifier {
                            name: name.to_string(),
                            suggestion: Modifier::suggest(name)
                                .filter(|s| *s != name && !name.is_empty()),
                        },
                        p.clone().at_key(),
                    ));
                    ok = false;
                }
            }
        }
        if !ok {
            continue;
        }
        let field = (!field.is_empty()).then(|| field.to_string());
        if let Err(e) = check_chain(&modifiers, field.is_none()) {
            c.push(Error::at(
                ErrorKind::ModifierChain {
                    chain: key.split_once('|').map(|x| x.1).unwrap_or("").to_string(),
                    message: e.message,
                },
                p.clone().at_key(),
            ));
            continue;
        }
        let mut values = vec![];
        if collect_values(c, v, &p, &mut values, false).is_none() {
            continue;
        }
        items.push(DetectionItem {
            field,
            modifiers,
            values,
            is_list: v.is_sequence(),
            path: p,
        });
    }
    (c.errors.len() == before).then_some(items)
}

fn convert_filter(c: &mut Conv, map: &Mapping, source: &Source) -> Option<Filter> {
    let meta = convert_meta(c, map, source, &["logsource", "filter"]);
    let logsource = convert_logsource(c, map);
    let path = YamlPath::of(&["filter"]);
    let Some(f) = map.get("filter").and_then(|f| f.as_mapping()) else {
        c.push(type_err(
            "filter",
            "a map with rules, search identifiers and condition",
            map.get("filter").unwrap_or(&Y::Null),
            path,
        ));
        return None;
    };
    let targets = match f.get("rules") {
        Some(Y::String(s)) if s.eq_ignore_ascii_case("any") => FilterTargets::Any,
        Some(Y::String(s)) => FilterTargets::Rules(vec![s.to_string()]),
        Some(Y::Sequence(v)) if v.is_empty() => FilterTargets::Any,
        Some(Y::Sequence(_)) => FilterTargets::Rules(c.string_list(f, "rules", &path)),
        Some(other) => {
            c.push(type_err(
                "rules",
                "a list of rule ids or names, or 'any'",
                other,
                path.key("rules"),
            ));
            return None;
        }
        None => {
            c.push(Error::at(
                ErrorKind::Missing("filter.rules"),
                path.clone().at_key(),
            ));
            return None;
        }
    };
    if let Some(cond) = f.get("condition") {
        if !cond.is_string() {
            c.push(type_err(
                "condition",
                "a string",
                cond,
                path.key("condition"),
            ));
            return None;
        }
    }
    let detection = convert_detection(c, f, &path, &["rules"])?;
    Some(Filter {
        meta: Arc::new(meta),
        logsource,
        targets,
        detection,
    })
}

fn convert_correlation(c: &mut Conv, map: &Mapping, source: &Source) -> Option<Correlation> {
    let meta = convert_meta(c, map, source, &["correlation", "generate"]);
    let path = YamlPath::of(&["correlation"]);
    let Some(cm) = map.get("correlation").and_then(|v| v.as_mapping()) else {
        c.push(type_err(
            "correlation",
            "a map",
            map.get("correlation").unwrap_or(&Y::Null),
            path,
        ));
        return None;
    };
    let before = c.errors.len();
    let kind = match c.string(cm, "type", &path) {
        Some(t) => match CorrelationType::ALL
            .iter()
            .find(|k| k.name().eq_ignore_ascii_case(&t))
        {
            Some(k) => Some(*k),
            None => {
                c.push(Error::at(
                    ErrorKind::Invalid {
                        what: "correlation type",
                        value: t,
                        reason: "expected event_count, value_count, temporal, temporal_ordered, \
                                 value_sum, value_avg, value_percentile or value_median"
                            .into(),
                    },
                    path.key("type"),
                ));
                None
            }
        },
        None => {
            c.push(Error::at(
                ErrorKind::Missing("correlation.type"),
                path.clone().at_key(),
            ));
            None
        }
    };
    let rules = match cm.get("rules") {
        Some(Y::String(s)) => vec![s.to_string()],
        Some(_) => c.string_list(cm, "rules", &path),
        None => vec![],
    };
    let group_by = match cm.get("group-by") {
        Some(Y::String(s)) => vec![s.to_string()],
        _ => c.string_list(cm, "group-by", &path),
    };
    let mut aliases = IndexMap::new();
    match cm.get("aliases") {
        None | Some(Y::Null) => {}
        Some(Y::Mapping(am)) => {
            for (alias, target) in am {
                let (Some(alias), Some(tm)) = (alias.as_str(), target.as_mapping()) else {
                    c.push(type_err(
                        "aliases",
                        "a map of alias: {rule: field}",
                        target,
                        path.key("aliases"),
                    ));
                    continue;
                };
                let mut per_rule = IndexMap::new();
                for (r, f) in tm {
                    match (r.as_str(), f.as_str()) {
                        (Some(r), Some(f)) => {
                            per_rule.insert(r.to_string(), f.to_string());
                        }
                        _ => c.push(type_err(
                            alias,
                            "a map of rule: field",
                            f,
                            path.key("aliases").key(alias),
                        )),
                    }
                }
                aliases.insert(alias.to_string(), per_rule);
            }
        }
        Some(other) => c.push(type_err("aliases", "a map", other, path.key("aliases"))),
    }
    let timespan = match c.string(cm, "timespan", &path) {
        Some(t) => match parse_timespan(&t) {
            Some(secs) => Some(Timespan {
                seconds: secs,
                text: t,
            }),
            None => {
                c.push(Error::at(
                    ErrorKind::Invalid {
                        what: "timespan",
                        value: t,
                        reason: "expected a number and a unit s, m, h, d, w, M or y (e.g. 15m)"
                            .into(),
                    },
                    path.key("timespan"),
                ));
                None
            }
        },
        None => {
            if let Some(Y::Number(n)) = cm.get("timespan") {
                c.push(Error::at(
                    ErrorKind::Invalid {
                        what: "timespan",
                        value: n.to_string(),
                        reason: "a unit is required (e.g. 15m)".into(),
                    },
                    path.key("timespan"),
                ));
            } else {
                c.push(Error::at(
                    ErrorKind::Missing("correlation.timespan"),
                    path.clone().at_key(),
                ));
            }
            None
        }
    };
    let generate = match cm.get("generate").or_else(|| map.get("generate")) {
        None | Some(Y::Null) => false,
        Some(Y::Bool(b)) => *b,
        Some(other) => {
            c.push(type_err(
                "generate",
                "a boolean",
                other,
                path.key("generate"),
            ));
            false
        }
    };
    let kind = kind?;
    let condition = convert_corr_condition(c, cm, kind, &rules, &path)?;
    if rules.is_empty() {
        c.push(Error::at(
            ErrorKind::Missing("correlation.rules"),
            path.clone().at_key(),
        ));
    }
    if c.errors.len() > before {
        return None;
    }
    Some(Correlation {
        meta: Arc::new(meta),
        kind,
        rules,
        aliases,
        group_by,
        timespan,
        condition,
        generate,
    })
}

fn convert_corr_condition(
    c: &mut Conv,
    cm: &Mapping,
    kind: CorrelationType,
    rules: &[String],
    path: &YamlPath,
) -> Option<CorrelationCondition> {
    let p = path.key("condition");
    match cm.get("condition") {
        None | Some(Y::Null) if kind.is_temporal() => Some(CorrelationCondition::Threshold {
            bounds: vec![(ThresholdOp::Gte, rules.len() as f64)],
            field: vec![],
            percentile: None,
        }),
        None | Some(Y::Null) => {
            c.push(Error::at(
                ErrorKind::Missing("correlation.condition"),
                path.clone().at_key(),
            ));
            None
        }
        Some(Y::String(s)) if kind.is_temporal() => match parse_extended(s) {
            Ok(e) => Some(CorrelationCondition::Extended(e)),
            Err((off, msg)) => {
                c.push(Error {
                    offset: Some(off),
                    ..Error::at(ErrorKind::Condition(msg), p)
                });
                None
            }
        },
        Some(Y::Mapping(m)) => {
            let mut bounds = vec![];
            let mut field = vec![];
            let mut percentile = None;
            for (k, v) in m {
                let key = k.as_str().unwrap_or("");
                let op = match key {
                    "gt" => Some(ThresholdOp::Gt),
                    "gte" => Some(ThresholdOp::Gte),
                    "lt" => Some(ThresholdOp::Lt),
                    "lte" => Some(ThresholdOp::Lte),
                    "eq" => Some(ThresholdOp::Eq),
                    "neq" => Some(ThresholdOp::Neq),
                    _ => None,
                };
                match (op, key, v) {
                    (Some(op), _, Y::Number(n)) => bounds.push((op, n.as_f64().unwrap_or(0.0))),
                    (Some(_), _, other) => c.push(type_err(key, "a number", other, p.key(key))),
                    (None, "field", Y::String(s)) => field.push(s.to_string()),
                    (None, "field", Y::Sequence(_)) => field = c.string_list(m, "field", &p),
                    (None, "percentile", Y::Number(n)) => percentile = n.as_f64(),
                    (None, _, _) => c.push(Error::at(
                        ErrorKind::Invalid {
                            what: "correlation condition key",
                            value: key.to_string(),
                            reason: "expected gt, gte, lt, lte, eq, neq, field or percentile"
                                .into(),
                        },
                        p.key(key).at_key(),
                    )),
                }
            }
            if bounds.is_empty() || bounds.len() > 2 {
                c.push(Error::at(
                    ErrorKind::Invalid {
                        what: "correlation condition",
                        value: String::new(),
                        reason: "needs one comparison (gt, gte, lt, lte, eq, neq) or two forming a range"
                            .into(),
                    },
                    p.clone(),
                ));
                return None;
            }
            if kind.needs_field() && field.is_empty() {
                c.push(Error::at(
                    ErrorKind::Invalid {
                        what: "correlation condition",
                        value: kind.name().into(),
                        reason: format!("type {} needs 'field' in its condition", kind.name()),
                    },
                    p.clone(),
                ));
                return None;
            }
            if kind == CorrelationType::ValuePercentile && percentile.is_none() {
                c.push(Error::at(
                    ErrorKind::Invalid {
                        what: "correlation condition",
                        value: kind.name().into(),
                        reason: "value_percentile needs 'percentile' (e.g. percentile: 95)".into(),
                    },
                    p.clone(),
                ));
                return None;
            }
            Some(CorrelationCondition::Threshold {
                bounds,
                field,
                percentile,
            })
        }
        Some(other) => {
            c.push(type_err(
                "condition",
                if kind.is_temporal() {
                    "a map or a boolean expression over rule names"
                } else {
                    "a map such as {gte: 10}"
                },
                other,
                p,
            ));
            None
        }
    }
}

/// `<int><unit>`, units s m h d w M y as pySigma.
pub fn parse_timespan(s: &str) -> Option<u64> {
    let unit = s.chars().last()?;
    let n: u64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        'w' => 604_800,
        'M' => 2_629_746,
        'y' => 31_556_952,
        _ => return None,
    };
    n.checked_mul(mult).filter(|&x| x > 0)
}

/// The extended temporal condition: rule names combined with `and`, `or`, `not`, parens.
fn parse_extended(s: &str) -> Result<ExtendedCond, (usize, String)> {
    let cond = condition::parse(s).map_err(|e| (e.offset, e.message))?;
    fn conv(c: &condition::Cond) -> Result<ExtendedCond, (usize, String)> {
        Ok(match c {
            condition::Cond::Ident { name, .. } => ExtendedCond::Rule(name.clone()),
            condition::Cond::Of { offset, .. } => {
                return Err((
                    *offset,
                    "'x of' selectors are not allowed in a correlation condition".into(),
                ))
            }
            condition::Cond::Not(x) => ExtendedCond::Not(Box::new(conv(x)?)),
            condition::Cond::And(v) => {
                ExtendedCond::And(v.iter().map(conv).collect::<Result<_, _>>()?)
            }
            condition::Cond::Or(v) => {
                ExtendedCond::Or(v.iter().map(conv).collect::<Result<_, _>>()?)
            }
        })
    }
    conv(&cond)
}

/// A YAML value that borrows its strings from the source text where it can.
///
/// The loader used to read documents into `serde_yaml::Value`: one `String` per scalar, a
/// SipHash-indexed map per mapping, and the whole tree dropped right after conversion. This
/// type is filled by the same `serde_yaml` deserializer (so parsing, the YAML 1.2 core
/// schema, alias and recursion limits, error texts and positions are unchanged), but plain
/// and quoted scalars without escapes stay `&str` slices of the input and maps are small
/// vectors searched linearly (Sigma maps have a handful of keys). Duplicate keys are
/// rejected exactly as `serde_yaml::Mapping` rejects them, with the same message.
mod yv {
    use std::borrow::Cow;
    use std::fmt;

    use serde::de::{self, Deserialize, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};
    use serde_yaml::value::{Tag, TaggedValue};
    use serde_yaml::Number;

    #[derive(Clone, Debug)]
    pub enum Y<'a> {
        Null,
        Bool(bool),
        Number(Number),
        String(Cow<'a, str>),
        Sequence(Vec<Y<'a>>),
        Mapping(Mapping<'a>),
        Tagged(Box<TaggedValue>),
    }

    /// A YAML map in source order.
    #[derive(Clone, Debug, Default)]
    pub struct Mapping<'a>(pub(crate) Vec<(Y<'a>, Y<'a>)>);

    impl<'a> Y<'a> {
        pub fn as_mapping(&self) -> Option<&Mapping<'a>> {
            match self {
                Y::Mapping(m) => Some(m),
                _ => None,
            }
        }
        pub fn as_str(&self) -> Option<&str> {
            match self {
                Y::String(s) => Some(s),
                _ => None,
            }
        }
        pub fn is_string(&self) -> bool {
            matches!(self, Y::String(_))
        }
        pub fn is_sequence(&self) -> bool {
            matches!(self, Y::Sequence(_))
        }
        pub fn is_mapping(&self) -> bool {
            matches!(self, Y::Mapping(_))
        }

        /// The same value as a `serde_yaml::Value` (for custom attributes and the rare
        /// comparisons of non-string keys).
        pub fn to_yaml(&self) -> serde_yaml::Value {
            use serde_yaml::Value as V;
            match self {
                Y::Null => V::Null,
                Y::Bool(b) => V::Bool(*b),
                Y::Number(n) => V::Number(n.clone()),
                Y::String(s) => V::String(s.to_string()),
                Y::Sequence(v) => V::Sequence(v.iter().map(Y::to_yaml).collect()),
                Y::Mapping(m) => {
                    let mut out = serde_yaml::Mapping::with_capacity(m.0.len());
                    for (k, v) in &m.0 {
                        out.insert(k.to_yaml(), v.to_yaml());
                    }
                    V::Mapping(out)
                }
                Y::Tagged(t) => V::Tagged(t.clone()),
            }
        }

        /// Key equality with `serde_yaml::Value` semantics (cheap for string keys).
        pub(crate) fn key_eq(&self, other: &Y<'_>) -> bool {
            match (self, other) {
                (Y::String(a), Y::String(b)) => a == b,
                (Y::String(_), _) | (_, Y::String(_)) => false,
                (a, b) => a.to_yaml() == b.to_yaml(),
            }
        }
    }

    impl<'a> Mapping<'a> {
        pub fn len(&self) -> usize {
            self.0.len()
        }
        pub fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
        pub fn get(&self, key: &str) -> Option<&Y<'a>> {
            self.0
                .iter()
                .find(|(k, _)| matches!(k, Y::String(s) if s == key))
                .map(|(_, v)| v)
        }
        pub fn contains_key(&self, key: &str) -> bool {
            self.get(key).is_some()
        }
        pub fn keys(&self) -> impl Iterator<Item = &Y<'a>> {
            self.0.iter().map(|(k, _)| k)
        }
        pub fn iter(&self) -> impl Iterator<Item = (&Y<'a>, &Y<'a>)> {
            self.0.iter().map(|(k, v)| (k, v))
        }
        /// Remove a string key the way `serde_yaml::Mapping::remove` does: the last entry
        /// takes the removed one's place (`swap_remove`).
        pub fn remove(&mut self, key: &str) {
            if let Some(i) = self
                .0
                .iter()
                .position(|(k, _)| matches!(k, Y::String(s) if s == key))
            {
                self.0.swap_remove(i);
            }
        }
        fn position(&self, key: &Y<'_>) -> Option<usize> {
            self.0.iter().position(|(k, _)| k.key_eq(key))
        }
        pub fn get_mut_key(&mut self, key: &Y<'_>) -> Option<&mut Y<'a>> {
            let i = self.position(key)?;
            Some(&mut self.0[i].1)
        }
        /// Insert or replace (a replaced entry keeps its position, as in `IndexMap`).
        pub fn insert(&mut self, key: Y<'a>, value: Y<'a>) {
            match self.position(&key) {
                Some(i) => self.0[i].1 = value,
                None => self.0.push((key, value)),
            }
        }
    }

    impl<'m, 'a> IntoIterator for &'m Mapping<'a> {
        type Item = (&'m Y<'a>, &'m Y<'a>);
        type IntoIter = std::iter::Map<
            std::slice::Iter<'m, (Y<'a>, Y<'a>)>,
            fn(&'m (Y<'a>, Y<'a>)) -> (&'m Y<'a>, &'m Y<'a>),
        >;
        fn into_iter(self) -> Self::IntoIter {
            self.0.iter().map(|(k, v)| (k, v))
        }
    }

    /// The text of serde_yaml's duplicate-key error (`serde_yaml::mapping::DuplicateKeyError`).
    struct DuplicateKey(serde_yaml::Value);

    impl fmt::Display for DuplicateKey {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            use serde_yaml::Value as V;
            f.write_str("duplicate entry ")?;
            match &self.0 {
                V::Null => f.write_str("with null key"),
                V::Bool(b) => write!(f, "with key `{b}`"),
                V::Number(n) => write!(f, "with key {n}"),
                V::String(s) => write!(f, "with key {s:?}"),
                V::Sequence(_) | V::Mapping(_) | V::Tagged(_) => f.write_str("in YAML map"),
            }
        }
    }

    impl<'de> Deserialize<'de> for Y<'de> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(YVisitor)
        }
    }

    struct YVisitor;

    impl<'de> Visitor<'de> for YVisitor {
        type Value = Y<'de>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any YAML value")
        }
        fn visit_bool<E: de::Error>(self, b: bool) -> Result<Y<'de>, E> {
            Ok(Y::Bool(b))
        }
        fn visit_i64<E: de::Error>(self, i: i64) -> Result<Y<'de>, E> {
            Ok(Y::Number(i.into()))
        }
        fn visit_u64<E: de::Error>(self, u: u64) -> Result<Y<'de>, E> {
            Ok(Y::Number(u.into()))
        }
        fn visit_f64<E: de::Error>(self, f: f64) -> Result<Y<'de>, E> {
            Ok(Y::Number(f.into()))
        }
        fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Y<'de>, E> {
            Ok(Y::String(Cow::Borrowed(s)))
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Y<'de>, E> {
            Ok(Y::String(Cow::Owned(s.to_owned())))
        }
        fn visit_string<E: de::Error>(self, s: String) -> Result<Y<'de>, E> {
            Ok(Y::String(Cow::Owned(s)))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Y<'de>, E> {
            Ok(Y::Null)
        }
        fn visit_none<E: de::Error>(self) -> Result<Y<'de>, E> {
            Ok(Y::Null)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Y<'de>, D::Error> {
            Y::deserialize(d)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut data: A) -> Result<Y<'de>, A::Error> {
            let mut v = Vec::with_capacity(data.size_hint().unwrap_or(0).min(64));
            while let Some(x) = data.next_element::<Y<'de>>()? {
                v.push(x);
            }
            Ok(Y::Sequence(v))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut data: A) -> Result<Y<'de>, A::Error> {
            let mut m: Vec<(Y<'de>, Y<'de>)> = Vec::with_capacity(8);
            while let Some(key) = data.next_key::<Y<'de>>()? {
                // As serde_yaml::Mapping: a duplicate fails before its value is read.
                if let Some((k, _)) = m.iter().find(|(k, _)| k.key_eq(&key)) {
                    return Err(de::Error::custom(DuplicateKey(k.to_yaml())));
                }
                let value = data.next_value::<Y<'de>>()?;
                m.push((key, value));
            }
            Ok(Y::Mapping(Mapping(m)))
        }
        fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Y<'de>, A::Error> {
            use de::VariantAccess;
            let (tag, contents) = data.variant::<String>()?;
            if tag.is_empty() {
                return Err(de::Error::custom("empty YAML tag is not allowed"));
            }
            let value = contents.newtype_variant::<serde_yaml::Value>()?;
            Ok(Y::Tagged(Box::new(TaggedValue {
                tag: Tag::new(tag),
                value,
            })))
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// Every document of `src` read both ways: values equal, errors identical.
        fn same_as_serde_yaml(src: &str) {
            // After an error the stream yields errors forever: stop at the first (as
            // `read_documents` does).
            fn upto_error<T>(
                it: impl Iterator<Item = Result<T, String>>,
            ) -> Vec<Result<T, String>> {
                let mut out = vec![];
                for r in it.take(20) {
                    let stop = r.is_err();
                    out.push(r);
                    if stop {
                        break;
                    }
                }
                out
            }
            let ours = upto_error(serde_yaml::Deserializer::from_str(src).map(|de| {
                Y::deserialize(de)
                    .map(|y| y.to_yaml())
                    .map_err(|e| e.to_string())
            }));
            let theirs = upto_error(
                serde_yaml::Deserializer::from_str(src)
                    .map(|de| serde_yaml::Value::deserialize(de).map_err(|e| e.to_string())),
            );
            assert_eq!(ours, theirs, "{src}");
        }

        #[test]
        fn borrowed_values_read_like_serde_yaml_values() {
            for src in [
                "a: 1\nb: [x, 'y', \"z\\n\", 2.5, -3, 18446744073709551615, .nan, ~, true]\n",
                "a: |\n  block\n  text\nb: >\n  folded\n",
                "a: 1\na: 2\n",
                "x:\n  k: 1\n  k: 2\n",
                "1: a\n1: b\n",
                "true: a\ntrue: b\n",
                "~: a\nnull: b\n",
                "1: a\n'1': b\n1.0: c\n",
                "[a]: 1\n[a]: 2\n",
                "a: !custom 5\nb: !!str 7\n",
                "a: &x [1, 2]\nb: *x\n",
                "---\na: 1\n---\n---\nb: [\n",
                "a: [1, {b: c}]\nd: {e: f, e: g}\n",
                "key with spaces: 'it''s'\n",
            ] {
                same_as_serde_yaml(src);
            }
        }

        #[test]
        fn remove_matches_serde_yaml_swap_remove() {
            let src = "action: global\na: 1\nb: 2\nc: 3\n";
            let de = serde_yaml::Deserializer::from_str(src).next().unwrap();
            let Y::Mapping(mut ours) = Y::deserialize(de).unwrap() else {
                panic!("not a map")
            };
            let mut theirs: serde_yaml::Mapping = serde_yaml::from_str(src).unwrap();
            ours.remove("action");
            theirs.remove("action");
            assert_eq!(
                Y::Mapping(ours).to_yaml(),
                serde_yaml::Value::Mapping(theirs)
            );
        }

        proptest::proptest! {
            /// The in-place reading of `YYYY-MM-DD` agrees with the general one.
            #[test]
            fn dates_read_in_place_as_split(s in "[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9/-]{8,11}") {
                proptest::prop_assert_eq!(crate::load::parse_date(&s), crate::load::parse_date_split(&s));
            }
        }

        proptest::proptest! {
            /// Random flat and nested maps with colliding keys of several YAML types.
            #[test]
            fn random_maps_read_like_serde_yaml(
                entries in proptest::collection::vec(
                    (proptest::sample::select(vec!["a", "b", "'a'", "1", "1.0", "true", "~", "[a]"]),
                     proptest::sample::select(vec!["x", "2", "[1, y]", "{a: 1}", "{a: 1, a: 2}", "'q'"])),
                    0..6,
                )
            ) {
                let src: String = entries.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
                same_as_serde_yaml(&src);
            }
        }
    }
}
