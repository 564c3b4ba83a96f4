//! Criterion benchmarks of the conversion path over the SigmaHQ corpus: load + lower,
//! Lucene and SQLite conversion of every rule, and one small rule end to end.
//!
//! `cargo bench -p sigil` (the corpus lives in ../shared/corpus next to the checkout).

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};

fn corpus() -> PathBuf {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/sigmahq/rules"
    ));
    assert!(
        p.is_dir(),
        "SigmaHQ corpus missing at {}; it must sit in ../shared/corpus next to the checkout",
        p.display()
    );
    p
}

const SEED: &str = include_str!("../../../rules/cloudtrail/sts_get_caller_identity.yml");

fn benches(c: &mut Criterion) {
    let dir = corpus();
    let mut g = c.benchmark_group("corpus");
    g.sample_size(10);
    g.bench_function("load_and_lower", |b| {
        b.iter(|| sigil::RuleSet::from_dir(&dir).expect("load"))
    });
    let set = sigil::RuleSet::from_dir(&dir).expect("load");
    g.bench_function("to_lucene", |b| b.iter(|| set.to_lucene()));
    g.bench_function("to_sqlite", |b| {
        b.iter(|| set.to_sql(sigil::Dialect::Sqlite))
    });
    g.finish();

    c.bench_function("seed_rule_yaml_to_lucene", |b| {
        b.iter(|| {
            sigil::Rule::from_yaml(SEED)
                .and_then(|r| r.to_lucene())
                .expect("seed rule")
        })
    });
}

criterion_group!(convert, benches);
criterion_main!(convert);
