//! The kernel crate items a Rust lab's README names, and the rustdoc pages they are on.
//!
//! A README lists them in one section, [`SECTION`], one bullet per item, the item's path
//! first, in a code span: ``- `kernel::net::filter::Registration` — TODO 1: …``. The path is
//! the stable link: pages of the lab kernel's documentation exist only once it is built
//! (`cargo xtask doc`), outside the repository, so the README cannot link them by URL.
//!
//! [`resolve`] finds an item's page in a rustdoc output folder the way rustdoc lays it out:
//! `kernel/net/filter/struct.Registration.html`, `kernel/macro.module_param.html`, a module's
//! `index.html`; a re-export (`kernel::net::TcpListener`) through the `pub use` line of its
//! module's page; a method or variant (`kernel::net::UdpSocket::send_to`) as an anchor of its
//! type's page, which must exist in that page.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// The README heading of the section that lists the items.
pub const SECTION: &str = "## The kernel crate's documentation";

/// One item a README names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocItem {
    /// `kernel::net::filter::Registration`, `kernel::module_param!`.
    pub path: String,
    /// 1-based line of the README.
    pub line: usize,
}

/// Where rustdoc documents an item: a page, and the anchor on it for a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocPage {
    pub file: PathBuf,
    pub anchor: Option<String>,
}

impl DocPage {
    /// `file` or `file#anchor`, to print.
    pub fn shown(&self) -> String {
        match &self.anchor {
            Some(anchor) => format!("{}#{anchor}", self.file.display()),
            None => self.file.display().to_string(),
        }
    }
}

/// The items of `readme`'s [`SECTION`]: every bullet's first code span. A bullet there that
/// does not start with an item path is an error naming its line; no section is no items.
pub fn items(readme: &str) -> Result<Vec<DocItem>> {
    let mut items = Vec::new();
    let mut inside = false;
    for (i, line) in readme.lines().enumerate() {
        if line.starts_with("## ") {
            inside = line.trim_end() == SECTION;
            continue;
        }
        if !inside || !line.starts_with("- ") {
            continue;
        }
        let path = line[2..]
            .trim_start()
            .strip_prefix('`')
            .and_then(|rest| rest.split_once('`'))
            .map(|(path, _)| path)
            .filter(|path| is_item_path(path));
        match path {
            Some(path) => items.push(DocItem {
                path: path.to_owned(),
                line: i + 1,
            }),
            None => bail!(
                "line {}: a bullet of \"{SECTION}\" must start with an item path in backticks \
                 (`kernel::module::Item`), found: {line}",
                i + 1
            ),
        }
    }
    Ok(items)
}

/// `crate::segment::…::Name`, a macro's name ending in `!`.
fn is_item_path(path: &str) -> bool {
    let path = path.strip_suffix('!').unwrap_or(path);
    let segments: Vec<&str> = path.split("::").collect();
    let ident = |s: &&str| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    segments.len() >= 2 && segments.iter().all(ident)
}

/// The page prefixes of rustdoc's item kinds (`struct.Name.html`, …) but macros': a
/// macro's path ends in `!` (`kernel::module_param` is a module, `module_param!` a macro).
const KINDS: &[&str] = &[
    "struct",
    "enum",
    "trait",
    "fn",
    "type",
    "constant",
    "static",
    "union",
    "traitalias",
    "derive",
    "attr",
];

/// Anchor prefixes of a type's members on its page.
const MEMBERS: &[&str] = &[
    "method",
    "tymethod",
    "variant",
    "structfield",
    "associatedconstant",
    "associatedtype",
];

/// The page of `path` under the rustdoc output folder `root`, if rustdoc documented it.
pub fn resolve(root: &Path, path: &str) -> Option<DocPage> {
    let (path, is_macro) = match path.strip_suffix('!') {
        Some(path) => (path, true),
        None => (path, false),
    };
    let segments: Vec<&str> = path.split("::").collect();
    resolve_segments(root, &segments, is_macro, 0)
}

fn resolve_segments(
    root: &Path,
    segments: &[&str],
    is_macro: bool,
    depth: usize,
) -> Option<DocPage> {
    // Re-exports can point at re-exports; a cycle must not recurse for ever.
    if depth > 8 {
        return None;
    }
    let (name, parents) = segments.split_last()?;
    let dir: PathBuf = parents.iter().collect();
    let page = |file: PathBuf| {
        root.join(&file)
            .is_file()
            .then_some(DocPage { file, anchor: None })
    };
    if is_macro {
        return page(dir.join(format!("macro.{name}.html")))
            .or_else(|| reexport(root, parents, name));
    }
    let module = dir.join(name).join("index.html");
    let item = KINDS
        .iter()
        .find_map(|kind| page(dir.join(format!("{kind}.{name}.html"))));
    page(module)
        .or(item)
        .or_else(|| reexport(root, parents, name))
        .or_else(|| member(root, parents, name, depth))
}

/// `name` re-exported by the module `parents`: its page's `pub use` line links the item.
fn reexport(root: &Path, parents: &[&str], name: &str) -> Option<DocPage> {
    let dir: PathBuf = parents.iter().collect();
    let html = std::fs::read_to_string(root.join(&dir).join("index.html")).ok()?;
    let start = html.find(&format!("id=\"reexport.{name}\""))?;
    let entry = &html[start..];
    let entry = &entry[..entry.find("</dt>").unwrap_or(entry.len())];
    // The item's own link is the last one of the line (`pub use a::b::<a href=…>Name</a>;`).
    let at = entry.rfind("href=\"")? + "href=\"".len();
    let href = &entry[at..];
    let href = &href[..href.find('"')?];
    if href.contains("://") || href.contains('#') {
        return None;
    }
    let file = normalize(&dir.join(href))?;
    root.join(&file)
        .is_file()
        .then_some(DocPage { file, anchor: None })
}

/// `name` as a member (method, variant, field, …) of the type `parents`.
fn member(root: &Path, parents: &[&str], name: &str, depth: usize) -> Option<DocPage> {
    if parents.len() < 2 {
        return None;
    }
    let owner = resolve_segments(root, parents, false, depth + 1)?;
    if owner.anchor.is_some() || owner.file.ends_with("index.html") {
        return None;
    }
    let html = std::fs::read_to_string(root.join(&owner.file)).ok()?;
    MEMBERS.iter().find_map(|kind| {
        let anchor = format!("{kind}.{name}");
        html.contains(&format!("id=\"{anchor}\"")).then(|| DocPage {
            file: owner.file.clone(),
            anchor: Some(anchor),
        })
    })
}

/// `a/b/../c` as `a/c`; `None` if it climbs out of the documentation folder.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::Normal(p) => out.push(p),
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const README: &str = "# Lab\n\n## The kernel crate's documentation\n\nIntro text with `kernel::not_a_bullet`.\n\n- `kernel::net::filter::Registration` — TODO 1: the hook.\n- `kernel::module_param!` — TODO 2.\n  - `kernel::nested::Ignored` (an indented line is not a bullet of the list)\n\n## Next\n- `kernel::elsewhere::Ignored`\n";

    #[test]
    fn the_section_s_bullets_are_the_items() {
        let found = items(README).unwrap();
        assert_eq!(
            found,
            [
                DocItem {
                    path: "kernel::net::filter::Registration".into(),
                    line: 7
                },
                DocItem {
                    path: "kernel::module_param!".into(),
                    line: 8
                },
            ]
        );
        assert!(items("# No section\n- `kernel::X`\n").unwrap().is_empty());
    }

    #[test]
    fn a_bullet_without_an_item_path_is_an_error_with_its_line() {
        for bad in [
            "- TODO 1: no code span",
            "- `Registration` alone",
            "- `kernel::a b`",
        ] {
            let text = format!("{SECTION}\n\n{bad}\n");
            let err = items(&text).unwrap_err().to_string();
            assert!(err.starts_with("line 3:"), "{bad}: {err}");
        }
    }

    /// A small rustdoc layout: a module, a struct with a method, a macro, a re-export.
    fn fake_docs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |rel: &str, text: &str| {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("kernel/index.html", "crate");
        write("kernel/macro.module_param.html", "macro");
        write("kernel/net/socket/index.html", "module");
        write(
            "kernel/net/socket/struct.UdpSocket.html",
            "<section id=\"method.send_to\">send_to</section><section id=\"method.bind\">",
        );
        write(
            "kernel/net/index.html",
            "<dt id=\"reexport.UdpSocket\"><code>pub use socket::<a class=\"struct\" \
             href=\"socket/struct.UdpSocket.html\" title=\"x\">UdpSocket</a>;</code></dt>\
             <dt id=\"reexport.Gone\"><code>pub use socket::<a href=\"socket/struct.Gone.html\">Gone</a>;</code></dt>",
        );
        write(
            "kernel/net/filter/enum.Hook.html",
            "<div id=\"variant.LocalOut\">",
        );
        dir
    }

    #[test]
    fn items_resolve_to_the_pages_rustdoc_writes() {
        let docs = fake_docs();
        let root = docs.path();
        let page = |path: &str| resolve(root, path).map(|p| p.shown());
        assert_eq!(
            page("kernel::net::socket").as_deref(),
            Some("kernel/net/socket/index.html")
        );
        assert_eq!(
            page("kernel::net::socket::UdpSocket").as_deref(),
            Some("kernel/net/socket/struct.UdpSocket.html")
        );
        assert_eq!(
            page("kernel::module_param!").as_deref(),
            Some("kernel/macro.module_param.html")
        );
        assert_eq!(
            page("kernel::net::UdpSocket").as_deref(),
            Some("kernel/net/socket/struct.UdpSocket.html"),
            "a re-export is its target's page"
        );
        assert_eq!(
            page("kernel::net::UdpSocket::send_to").as_deref(),
            Some("kernel/net/socket/struct.UdpSocket.html#method.send_to")
        );
        assert_eq!(
            page("kernel::net::filter::Hook::LocalOut").as_deref(),
            Some("kernel/net/filter/enum.Hook.html#variant.LocalOut")
        );
    }

    #[test]
    fn what_rustdoc_did_not_document_does_not_resolve() {
        let docs = fake_docs();
        let root = docs.path();
        for missing in [
            "kernel::net::Regstration",
            "kernel::net::UdpSocket::recv_from",
            "kernel::module_param",
            "kernel::net::Gone",
            "kernel::net::socket::send_to",
            "kernel::nothing::here::at_all",
        ] {
            assert_eq!(resolve(root, missing), None, "{missing}");
        }
    }

    #[test]
    fn a_link_never_leaves_the_documentation_folder() {
        assert_eq!(
            normalize(Path::new("a/b/../../c")),
            Some(PathBuf::from("c"))
        );
        assert_eq!(normalize(Path::new("a/../../c")), None);
        assert_eq!(normalize(Path::new("/etc/passwd")), None);
    }
}
