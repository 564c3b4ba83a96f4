//! Missing engines: a loud skip by default, an error with SIGIL_REQUIRE_ENGINES=1.
//! (One test function: it changes process-wide environment variables.)

use sigil_engines::{require_engines, LuceneEngine, Postgres, TrinoCheck};

#[test]
fn missing_engines_skip_or_fail() {
    std::env::set_var("SIGIL_LUCENE_DIR", "/nonexistent/sigil");
    std::env::set_var("SIGIL_PG_BIN", "/nonexistent/sigil");
    std::env::set_var("SIGIL_PYTHON", "/nonexistent/sigil/python3");

    std::env::remove_var("SIGIL_REQUIRE_ENGINES");
    assert!(!require_engines());
    assert!(LuceneEngine::start().expect("skip, not error").is_none());
    assert!(Postgres::start().expect("skip, not error").is_none());
    assert!(TrinoCheck::start().expect("skip, not error").is_none());

    std::env::set_var("SIGIL_REQUIRE_ENGINES", "1");
    assert!(require_engines());
    let e = LuceneEngine::start().expect_err("required");
    assert!(e.to_string().contains("Lucene not available"), "{e}");
    let e = Postgres::start().expect_err("required");
    assert!(e.to_string().contains("PostgreSQL not available"), "{e}");
    let e = TrinoCheck::start().expect_err("required");
    assert!(e.to_string().contains("not available"), "{e}");
}
