//! OpenMLS 0.9.2 measured directly, without Python: the operations of
//! `python -m benches`, one criterion group per operation, parametrised by ciphersuite
//! and group size. The configuration mirrors what the binding does (rust/src/client.rs,
//! rust/src/group.rs): ciphertext handshakes, the ratchet-tree extension, the same leaf
//! capabilities, and wire bytes in and out (serialisation is part of every operation),
//! so `python -m benches --native` can report the binding's overhead as a ratio.
//!
//! Benchmark ids: `<operation>/<suite>/<group size>` (the key package: `key_package/<suite>`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use criterion::{
    black_box, criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use _native::crypto::{AwsLcCrypto, SigningKey};
use openmls::prelude::*;
use openmls_memory_storage::MemoryStorage;
use tls_codec::Deserialize as _;

/// The binding's crypto provider (rust/src/crypto.rs, AWS-LC) over in-memory storage.
#[derive(Default)]
struct Provider {
    crypto: AwsLcCrypto,
    storage: MemoryStorage,
}

impl OpenMlsProvider for Provider {
    type CryptoProvider = AwsLcCrypto;
    type RandProvider = AwsLcCrypto;
    type StorageProvider = MemoryStorage;

    fn storage(&self) -> &MemoryStorage {
        &self.storage
    }
    fn crypto(&self) -> &AwsLcCrypto {
        &self.crypto
    }
    fn rand(&self) -> &AwsLcCrypto {
        &self.crypto
    }
}

const SUITES: [(Ciphersuite, &str); 2] = [
    (
        Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519,
        "0x0001",
    ),
    (
        Ciphersuite::MLS_128_DHKEMP256_AES128GCM_SHA256_P256,
        "0x0002",
    ),
];
const ADD_SIZES: [usize; 3] = [10, 100, 1000];
/// The group in which updates, removes and messages are measured.
const GROUP: usize = 100;
const SMALL: usize = 100;
const LARGE: usize = 1 << 20;

/// One client: its provider (crypto and in-memory storage), signer and credential.
struct Member {
    provider: Provider,
    signer: SigningKey,
    credential: CredentialWithKey,
    suite: Ciphersuite,
}

fn member(suite: Ciphersuite, name: &str) -> Member {
    let provider = Provider::default();
    let signer = SigningKey::generate(suite.signature_algorithm()).expect("signature key");
    let credential = CredentialWithKey {
        credential: BasicCredential::new(name.as_bytes().to_vec()).into(),
        signature_key: signer.public().into(),
    };
    Member {
        provider,
        signer,
        credential,
        suite,
    }
}

/// The binding's leaf capabilities: last_resort, the suite, basic and X.509 credentials.
fn capabilities(suite: Ciphersuite) -> Capabilities {
    Capabilities::new(
        None,
        Some(&[suite]),
        Some(&[ExtensionType::LastResort]),
        None,
        Some(&[CredentialType::Basic, CredentialType::X509]),
    )
}

fn key_package(m: &Member) -> KeyPackage {
    KeyPackage::builder()
        .leaf_node_capabilities(capabilities(m.suite))
        .build(m.suite, &m.provider, &m.signer, m.credential.clone())
        .expect("key package")
        .key_package()
        .clone()
}

fn pool(suite: Ciphersuite, n: usize) -> Vec<KeyPackage> {
    (0..n)
        .map(|i| key_package(&member(suite, &format!("m{i}"))))
        .collect()
}

fn create_group(m: &Member) -> MlsGroup {
    MlsGroup::builder()
        .ciphersuite(m.suite)
        .with_wire_format_policy(MIXED_CIPHERTEXT_WIRE_FORMAT_POLICY)
        .use_ratchet_tree_extension(true)
        .max_past_epochs(0)
        .padding_size(0)
        .number_of_resumption_psks(8)
        .sender_ratchet_configuration(SenderRatchetConfiguration::new(5, 1000))
        .with_capabilities(capabilities(m.suite))
        .build(&m.provider, &m.signer, m.credential.clone())
        .expect("create group")
}

fn join_config() -> MlsGroupJoinConfig {
    MlsGroupJoinConfig::builder()
        .wire_format_policy(MIXED_CIPHERTEXT_WIRE_FORMAT_POLICY)
        .use_ratchet_tree_extension(true)
        .max_past_epochs(0)
        .padding_size(0)
        .number_of_resumption_psks(8)
        .sender_ratchet_configuration(SenderRatchetConfiguration::new(5, 1000))
        .build()
}

/// A commit with these adds and removes, serialised and merged: (commit, welcome).
fn commit(
    g: &mut MlsGroup,
    m: &Member,
    adds: Vec<KeyPackage>,
    removes: Vec<u32>,
) -> (Vec<u8>, Option<Vec<u8>>) {
    let bundle = g
        .commit_builder()
        .consume_proposal_store(true)
        .propose_adds(adds)
        .propose_removals(removes.into_iter().map(LeafNodeIndex::new))
        .load_psks(m.provider.storage())
        .expect("psks")
        .build(m.provider.rand(), m.provider.crypto(), &m.signer, |_| true)
        .expect("commit")
        .stage_commit(&m.provider)
        .expect("stage");
    let (c, w, _gi) = bundle.into_messages();
    let out = (
        c.to_bytes().expect("commit bytes"),
        w.map(|w| w.to_bytes().expect("welcome bytes")),
    );
    g.merge_pending_commit(&m.provider).expect("merge");
    out
}

fn self_update(g: &mut MlsGroup, m: &Member) -> Vec<u8> {
    let bundle = g
        .self_update(&m.provider, &m.signer, LeafNodeParameters::default())
        .expect("self update");
    let (c, _, _) = bundle.into_messages();
    let out = c.to_bytes().expect("commit bytes");
    g.merge_pending_commit(&m.provider).expect("merge");
    out
}

fn join(m: &Member, welcome: &[u8]) -> MlsGroup {
    let msg = MlsMessageIn::tls_deserialize_exact(welcome).expect("MLSMessage");
    let MlsMessageBodyIn::Welcome(w) = msg.extract() else {
        panic!("not a Welcome")
    };
    StagedWelcome::build_from_welcome(&m.provider, &join_config(), w)
        .expect("welcome")
        .build()
        .expect("staged welcome")
        .into_group(&m.provider)
        .expect("join")
}

/// Process a commit or an application message; commits are merged. Returns the
/// plaintext of an application message.
fn process(g: &mut MlsGroup, m: &Member, bytes: &[u8]) -> Option<Vec<u8>> {
    let msg = MlsMessageIn::tls_deserialize_exact(bytes).expect("MLSMessage");
    let protocol = msg.try_into_protocol_message().expect("protocol message");
    let processed = g.process_message(&m.provider, protocol).expect("process");
    match processed.into_content() {
        ProcessedMessageContent::ApplicationMessage(app) => Some(app.into_bytes()),
        ProcessedMessageContent::StagedCommitMessage(staged) => {
            g.merge_staged_commit(&m.provider, *staged).expect("merge");
            None
        }
        _ => panic!("unexpected message"),
    }
}

/// A group of `size` members as seen by its creator (leaf 0) and by the member at
/// leaf 1, built with one commit.
fn pair(suite: Ciphersuite, size: usize) -> (Member, MlsGroup, Member, MlsGroup) {
    let a = member(suite, "creator");
    let b = member(suite, "other");
    let mut ga = create_group(&a);
    let mut kps = vec![key_package(&b)];
    kps.extend(pool(suite, size - 2));
    let (_, welcome) = commit(&mut ga, &a, kps, vec![]);
    let gb = join(&b, &welcome.expect("welcome"));
    (a, ga, b, gb)
}

fn snapshot(m: &Member) -> HashMap<Vec<u8>, Vec<u8>> {
    m.provider.storage().values.read().expect("storage").clone()
}

fn restore(m: &Member, snap: &HashMap<Vec<u8>, Vec<u8>>) {
    *m.provider.storage().values.write().expect("storage") = snap.clone();
}

fn bench_key_package(c: &mut Criterion) {
    let mut group = c.benchmark_group("key_package");
    for (suite, name) in SUITES {
        let m = member(suite, "kp");
        group.bench_function(name, |b| b.iter(|| key_package(&m)));
    }
    group.finish();
}

fn bench_create_add(c: &mut Criterion) {
    let mut group = c.benchmark_group("create_add");
    group.sampling_mode(SamplingMode::Flat);
    for (suite, name) in SUITES {
        for n in ADD_SIZES {
            // A key package can be added to any number of groups: one pool serves all
            // iterations (only joining consumes it).
            let kps = pool(suite, n);
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let a = member(suite, "creator");
                        let kps = kps.clone();
                        let start = Instant::now();
                        let mut g = create_group(&a);
                        black_box(commit(&mut g, &a, kps, vec![]));
                        total += start.elapsed();
                    }
                    total
                })
            });
        }
    }
    group.finish();
}

fn bench_join(c: &mut Criterion) {
    let mut group = c.benchmark_group("join");
    for (suite, name) in SUITES {
        for n in ADD_SIZES {
            let a = member(suite, "creator");
            let joiner = member(suite, "joiner");
            let mut kps = vec![key_package(&joiner)];
            kps.extend(pool(suite, n - 1));
            let mut g = create_group(&a);
            let welcome = commit(&mut g, &a, kps, vec![]).1.expect("welcome");
            // Joining consumes the key package: restore the joiner's store each time.
            let snap = snapshot(&joiner);
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        restore(&joiner, &snap);
                        let start = Instant::now();
                        black_box(join(&joiner, &welcome));
                        total += start.elapsed();
                    }
                    total
                })
            });
        }
    }
    group.finish();
}

fn bench_update(c: &mut Criterion) {
    let mut group = c.benchmark_group("self_update");
    for (suite, name) in SUITES {
        let (a, mut ga, _, _) = pair(suite, GROUP);
        group.bench_with_input(BenchmarkId::new(name, GROUP), &GROUP, |bench, _| {
            bench.iter(|| self_update(&mut ga, &a))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("process_update");
    for (suite, name) in SUITES {
        let (a, mut ga, b, mut gb) = pair(suite, GROUP);
        group.bench_with_input(BenchmarkId::new(name, GROUP), &GROUP, |bench, _| {
            bench.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let commit = self_update(&mut ga, &a);
                    let start = Instant::now();
                    process(&mut gb, &b, &commit);
                    total += start.elapsed();
                }
                total
            })
        });
    }
    group.finish();
}

/// Remove the member at leaf 2 (timed as `remove` or, at the other member, as
/// `process_remove`), then add a fresh member back into that leaf, untimed, so the
/// group stays at its size.
fn bench_remove(c: &mut Criterion) {
    for (op, at_committer) in [("remove", true), ("process_remove", false)] {
        let mut group = c.benchmark_group(op);
        for (suite, name) in SUITES {
            let (a, mut ga, b, mut gb) = pair(suite, GROUP);
            group.bench_with_input(BenchmarkId::new(name, GROUP), &GROUP, |bench, _| {
                bench.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let (removal, _) = commit(&mut ga, &a, vec![], vec![2]);
                        if at_committer {
                            total += start.elapsed();
                        }
                        let start = Instant::now();
                        process(&mut gb, &b, &removal);
                        if !at_committer {
                            total += start.elapsed();
                        }
                        let kp = key_package(&member(suite, "again"));
                        let (readd, _) = commit(&mut ga, &a, vec![kp], vec![]);
                        process(&mut gb, &b, &readd);
                    }
                    total
                })
            });
        }
        group.finish();
    }
}

fn bench_messages(c: &mut Criterion) {
    for (size, label) in [(SMALL, "100"), (LARGE, "1mib")] {
        let encrypt_id = format!("encrypt_{label}");
        let mut group = c.benchmark_group(&encrypt_id);
        group.throughput(Throughput::Bytes(size as u64));
        if size == LARGE {
            group.sampling_mode(SamplingMode::Flat);
        }
        let payload = vec![0x78u8; size];
        for (suite, name) in SUITES {
            let (a, mut ga, _, _) = pair(suite, GROUP);
            group.bench_with_input(BenchmarkId::new(name, GROUP), &GROUP, |bench, _| {
                bench.iter(|| {
                    ga.create_message(&a.provider, &a.signer, &payload)
                        .expect("encrypt")
                        .to_bytes()
                        .expect("bytes")
                })
            });
        }
        group.finish();

        let mut group = c.benchmark_group(format!("decrypt_{label}"));
        group.throughput(Throughput::Bytes(size as u64));
        if size == LARGE {
            group.sampling_mode(SamplingMode::Flat);
        }
        for (suite, name) in SUITES {
            let (a, mut ga, b, mut gb) = pair(suite, GROUP);
            group.bench_with_input(BenchmarkId::new(name, GROUP), &GROUP, |bench, _| {
                bench.iter_custom(|iters| {
                    // As `python -m benches` does: each message is encrypted (untimed)
                    // right before the other member reads it, in order.
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let wire = ga
                            .create_message(&a.provider, &a.signer, &payload)
                            .expect("encrypt")
                            .to_bytes()
                            .expect("bytes");
                        let start = Instant::now();
                        black_box(process(&mut gb, &b, &wire));
                        total += start.elapsed();
                    }
                    total
                })
            });
        }
        group.finish();
    }
}

fn config() -> Criterion {
    // Short by default: `python -m benches --native` runs all of it in a few minutes.
    // Command-line flags (--measurement-time, --sample-size, ...) override these.
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_key_package, bench_create_add, bench_join, bench_update, bench_remove,
        bench_messages
}
criterion_main!(benches);
