//! Include resolution: relative paths, `-I` directories, each file once, cycles and missing
//! files reported at the `include` with the whole chain.

use std::path::{Path, PathBuf};

use ringrpc_codegen::thrift::Loader;

/// A scratch directory of `.thrift` files, removed on drop.
struct Tree(PathBuf);

impl Tree {
    fn new(name: &str, files: &[(&str, &str)]) -> Tree {
        let dir = std::env::temp_dir().join(format!("ringrpc-load-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, text) in files {
            let p = dir.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        Tree(dir)
    }

    fn path(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn includes_resolve_relative_then_include_dirs_and_load_once() {
    let tree = Tree::new(
        "ok",
        &[
            (
                "a.thrift",
                "include \"b.thrift\"\ninclude \"c.thrift\"\nstruct A { 1: b.B b, 2: c.C c }",
            ),
            (
                "b.thrift",
                "include \"common/d.thrift\"\nstruct B { 1: d.D d }",
            ),
            ("common/d.thrift", "struct D {}"),
            (
                "lib/c.thrift",
                "include \"common/d.thrift\"\nstruct C { 1: d.D d }",
            ),
            ("lib/common/d.thrift", "struct OtherD {}"),
        ],
    );
    let program = Loader::new()
        .include_dir(tree.path("lib"))
        .load(&tree.path("a.thrift"))
        .unwrap_or_else(|d| panic!("{d}"));
    let names: Vec<String> = program
        .files
        .iter()
        .map(|f| {
            f.source
                .path()
                .strip_prefix(&tree.0)
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    // Dependencies first, root last; c.thrift's own include resolves next to c.thrift.
    assert_eq!(
        names,
        [
            "common/d.thrift",
            "b.thrift",
            "lib/common/d.thrift",
            "lib/c.thrift",
            "a.thrift"
        ]
    );
    let root = program.root();
    assert_eq!(root.includes, [("b".to_owned(), 1), ("c".to_owned(), 3)]);

    // A file included twice is loaded once.
    let tree = Tree::new(
        "diamond",
        &[
            ("a.thrift", "include \"b.thrift\"\ninclude \"c.thrift\""),
            ("b.thrift", "include \"d.thrift\""),
            ("c.thrift", "include \"d.thrift\""),
            ("d.thrift", "struct D {}"),
        ],
    );
    let program = Loader::new().load(&tree.path("a.thrift")).unwrap();
    assert_eq!(program.files.len(), 4);
}

#[test]
fn cycles_and_missing_files_are_located() {
    let tree = Tree::new(
        "cycle",
        &[
            ("a.thrift", "include \"b.thrift\""),
            ("b.thrift", "struct B {}\ninclude \"c.thrift\""),
            ("c.thrift", "include \"a.thrift\""),
        ],
    );
    let err = Loader::new()
        .load(&tree.path("a.thrift"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("error: include cycle: a.thrift → b.thrift → c.thrift → a.thrift\n"),
        "{err}"
    );
    assert!(err.contains("c.thrift:1:1"), "{err}");

    let tree = Tree::new("missing", &[("a.thrift", "\n\ninclude \"nowhere.thrift\"")]);
    let err = Loader::new()
        .include_dir("/nonexistent-dir")
        .load(&tree.path("a.thrift"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("error: cannot find included file `nowhere.thrift`\n"),
        "{err}"
    );
    assert!(err.contains("a.thrift:3:1"), "{err}");
    assert!(err.contains("= help: looked in: "), "{err}");
    assert!(err.ends_with(", /nonexistent-dir"), "{err}");

    let err = Loader::new()
        .load(Path::new("/nonexistent.thrift"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("error: cannot read /nonexistent.thrift: "),
        "{err}"
    );
}

#[test]
fn corpus_and_its_shared_include() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let program = Loader::new()
        .load(&dir.join("corpus.thrift"))
        .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(program.files.len(), 2);
    assert_eq!(program.root().includes[0].0, "shared");
}
