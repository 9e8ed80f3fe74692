//! One test (at least) per rule of the trust model.

use super::*;
use crate::identity::NodeKey;
use crate::testing::orgs::{bergen, ks, oslo, trondheim};
use crate::testing::SimRng;

const T0: i64 = 1_700_000_000;
const DAY: i64 = 86_400;

fn key(n: u8) -> NodeKey {
    NodeKey::from_secret([n; 32])
}

/// A valid organisation number near `base` (8 digits), for orgs beyond the well-known ones.
fn org_near(base: u32) -> OrgNumber {
    (base..)
        .flat_map(|b| (0..10).map(move |d| b * 10 + d))
        .find_map(|n| OrgNumber::parse(&format!("{n:09}")).ok())
        .unwrap()
}

fn ks_key() -> NodeKey {
    key(1)
}
fn bergen_key() -> NodeKey {
    key(2)
}
fn trondheim_key() -> NodeKey {
    key(3)
}
fn oslo_key() -> NodeKey {
    key(4)
}
fn bergen_laptop() -> NodeKey {
    key(12)
}
fn bergen_server() -> NodeKey {
    key(22)
}
fn trondheim_laptop() -> NodeKey {
    key(13)
}
fn oslo_laptop() -> NodeKey {
    key(14)
}
fn stranger() -> NodeKey {
    key(99)
}

fn network() -> Network {
    Network::create(
        "allmenning-test",
        ks(),
        "KS",
        &ks_key(),
        vec!["/ip4/127.0.0.1/tcp/4646".into()],
        T0,
    )
}

fn trust() -> Trust {
    Trust::new(network())
}

fn artefact() -> ArtefactId {
    ArtefactId([7; 16])
}

fn heads(n: u8) -> Vec<Head> {
    vec![Head([n; 32])]
}

fn profile(org_key: &NodeKey, org: OrgNumber, name: &str, t: i64) -> SignedStatement {
    SignedStatement::sign(
        Statement::OrgProfile {
            org,
            name: name.into(),
            kind: OrgKind::Kommune,
            org_key: org_key.public(),
        },
        org_key,
        t,
    )
}

fn admit(by: &NodeKey, org: OrgNumber, name: &str, org_key: &NodeKey, t: i64) -> SignedStatement {
    SignedStatement::sign(
        Statement::Admit {
            org,
            name: name.into(),
            kind: OrgKind::Kommune,
            org_key: org_key.public(),
        },
        by,
        t,
    )
}

fn cert(org_key: &NodeKey, org: OrgNumber, node: &NodeKey, label: &str, t: i64) -> SignedStatement {
    SignedStatement::sign(
        Statement::NodeCert {
            org,
            node_key: node.public(),
            label: label.into(),
            possession: prove_possession(node, org).to_vec(),
        },
        org_key,
        t,
    )
}

fn node_revoke(org_key: &NodeKey, org: OrgNumber, node: &NodeKey, t: i64) -> SignedStatement {
    SignedStatement::sign(
        Statement::NodeRevoke {
            org,
            node_key: node.public(),
        },
        org_key,
        t,
    )
}

fn delegate(
    root: &NodeKey,
    org: OrgNumber,
    org_key: &NodeKey,
    scopes: &[Scope],
    expires: Option<i64>,
    t: i64,
) -> SignedStatement {
    SignedStatement::sign(
        Statement::Delegate {
            org,
            org_key: org_key.public(),
            scopes: scopes.to_vec(),
            expires,
        },
        root,
        t,
    )
}

fn revoke(by: &NodeKey, target: &SignedStatement, t: i64) -> SignedStatement {
    SignedStatement::sign(
        Statement::Revoke {
            target: target.id(),
        },
        by,
        t,
    )
}

fn endorse(by: &NodeKey, seq: u64, status: EndorsementStatus, t: i64) -> SignedStatement {
    SignedStatement::sign(
        Statement::Endorse {
            artefact: artefact(),
            heads: heads(seq as u8),
            status,
            note: format!("vurdert, runde {seq}"),
            seq,
        },
        by,
        t,
    )
}

fn access(
    by: &NodeKey,
    owner: OrgNumber,
    maintainers: &[OrgNumber],
    readers: Option<&[OrgNumber]>,
    at: Vec<Head>,
    seq: u64,
    t: i64,
) -> SignedStatement {
    SignedStatement::sign(
        Statement::Access {
            artefact: artefact(),
            owner,
            maintainers: maintainers.to_vec(),
            readers: readers.map(|r| r.to_vec()),
            heads: at,
            seq,
        },
        by,
        t,
    )
}

/// KS as root; Bergen and Trondheim admitted by KS, each with one certified laptop.
fn world() -> Trust {
    let mut t = trust();
    for s in [
        admit(&ks_key(), bergen(), "Bergen kommune", &bergen_key(), T0 + 1),
        admit(
            &ks_key(),
            trondheim(),
            "Trondheim kommune",
            &trondheim_key(),
            T0 + 2,
        ),
        cert(&bergen_key(), bergen(), &bergen_laptop(), "laptop", T0 + 3),
        cert(
            &trondheim_key(),
            trondheim(),
            &trondheim_laptop(),
            "laptop",
            T0 + 4,
        ),
    ] {
        assert_eq!(put(&mut t, s), Ok(true));
    }
    t
}

/// Inserts a statement as accepted the moment its signer dated it: the default in these tests,
/// which do not look at acceptance order unless they say so.
fn put(t: &mut Trust, s: SignedStatement) -> Result<bool, TrustError> {
    let at = s.time;
    t.insert(s, at)
}

/// Statements paired with acceptance times equal to their own dates, for `Trust::load`.
fn accepted_when_signed(
    statements: impl IntoIterator<Item = SignedStatement>,
) -> Vec<(SignedStatement, i64)> {
    statements
        .into_iter()
        .map(|s| {
            let at = s.time;
            (s, at)
        })
        .collect()
}

fn never(_: &[Head]) -> bool {
    false
}

// ---------------------------------------------------------------------------------------------
// Network file

#[test]
fn network_verifies_and_a_tampered_one_does_not() {
    let net = network();
    assert_eq!(net.verify(), Ok(()));
    assert!(net.is_root(&ks_key().public()));
    assert!(!net.is_root(&bergen_key().public()));

    let mut tampered = net.clone();
    tampered.name = "allmenning-evil".into();
    assert!(matches!(
        tampered.verify(),
        Err(TrustError::BadSignature { .. })
    ));

    let mut extra_root = net.clone();
    extra_root.roots.push(Root {
        org: bergen(),
        name: "Bergen".into(),
        key: bergen_key().public(),
    });
    assert!(matches!(
        extra_root.verify(),
        Err(TrustError::BadSignature { .. })
    ));

    let mut no_roots = net.clone();
    no_roots.roots.clear();
    assert!(matches!(no_roots.verify(), Err(TrustError::Malformed(_))));

    let mut short_sig = net.clone();
    short_sig.signature.truncate(10);
    assert!(matches!(
        short_sig.verify(),
        Err(TrustError::BadSignature { .. })
    ));
}

#[test]
fn network_round_trips_and_can_gain_roots_signed_by_the_first() {
    let mut net = network();
    assert_eq!(Network::decode(&net.encode()).unwrap(), net);
    assert_eq!(net.fingerprint().len(), 16);
    let bergen_root = Root {
        org: bergen(),
        name: "Bergen".into(),
        key: bergen_key().public(),
    };
    assert!(matches!(
        net.add_root(bergen_root.clone(), &bergen_key()),
        Err(TrustError::NotEntitled { .. })
    ));
    let mut net = network();
    net.add_root(bergen_root, &ks_key()).unwrap();
    assert_eq!(net.verify(), Ok(()));
    assert!(net.is_root(&bergen_key().public()));
    assert!(Network::decode(&[]).is_err());
    assert!(matches!(
        Network::decode(&vec![NETWORK_VERSION; MAX_NETWORK_BYTES + 1]),
        Err(TrustError::TooLarge { .. })
    ));
}

#[test]
fn a_trust_built_on_a_bad_network_file_trusts_nobody() {
    let mut net = network();
    net.name = "tampered".into();
    let mut t = Trust::new(net);
    put(
        &mut t,
        admit(&ks_key(), bergen(), "Bergen kommune", &bergen_key(), T0),
    )
    .unwrap();
    assert!(t.org(ks()).is_none());
    assert_eq!(t.org(bergen()), None);
    assert_eq!(t.org_of_node(&ks_key().public()), None);
    assert_eq!(t.curator_rights(&ks_key().public(), T0), None);
}

// ---------------------------------------------------------------------------------------------
// Admission

#[test]
fn roots_are_admitted_orgs_and_curators_forever() {
    let t = trust();
    let view = t.org(ks()).unwrap();
    assert!(view.admitted);
    assert_eq!(view.name, "KS");
    assert_eq!(view.kind, OrgKind::Ks);
    assert_eq!(view.admitted_by, None);
    assert_eq!(t.org_of_node(&ks_key().public()), Some(ks()));
    let rights = t.curator_rights(&ks_key().public(), i64::MAX).unwrap();
    assert!(rights.root);
    assert_eq!(rights.scopes, vec![Scope::Admit, Scope::Endorse]);
    assert_eq!(rights.expires, None);
}

#[test]
fn admission_by_a_root_binds_number_name_kind_and_key() {
    let t = world();
    let view = t.org(bergen()).unwrap();
    assert!(view.admitted);
    assert_eq!(view.name, "Bergen kommune");
    assert_eq!(view.kind, OrgKind::Kommune);
    assert_eq!(view.org_key, bergen_key().public());
    assert_eq!(view.admitted_by, Some(ks()));
    assert_eq!(
        view.fingerprint,
        hex::encode(blake3::hash(&bergen_key().public().0).as_bytes())[..16]
    );
    assert_eq!(t.org_of_node(&bergen_key().public()), Some(bergen()));
    let orgs: Vec<OrgNumber> = t.orgs().iter().map(|o| o.org).collect();
    let mut sorted = orgs.clone();
    sorted.sort();
    assert_eq!(orgs, sorted);
    assert_eq!(orgs.len(), 3);
}

#[test]
fn admission_by_a_random_key_is_kept_but_ignored() {
    let mut t = trust();
    assert_eq!(
        put(
            &mut t,
            admit(&stranger(), oslo(), "Oslo kommune", &oslo_key(), T0)
        ),
        Ok(true)
    );
    assert_eq!(t.len(), 1);
    assert_eq!(t.org(oslo()), None);
    assert_eq!(t.org_of_node(&oslo_key().public()), None);
    // A self-admission is no better.
    put(
        &mut t,
        admit(&oslo_key(), oslo(), "Oslo kommune", &oslo_key(), T0),
    )
    .unwrap();
    assert_eq!(t.org(oslo()), None);
}

#[test]
fn an_announced_org_is_listed_but_not_admitted() {
    let mut t = trust();
    put(&mut t, profile(&oslo_key(), oslo(), "Oslo kommune", T0)).unwrap();
    put(
        &mut t,
        cert(&oslo_key(), oslo(), &oslo_laptop(), "laptop", T0),
    )
    .unwrap();
    let view = t.org(oslo()).unwrap();
    assert!(!view.admitted);
    assert_eq!(view.admitted_by, None);
    assert_eq!(view.name, "Oslo kommune");
    assert_eq!(view.nodes.len(), 1);
    assert_eq!(t.org_of_node(&oslo_key().public()), None);
    assert_eq!(t.org_of_node(&oslo_laptop().public()), None);
    assert!(t.orgs().iter().any(|o| o.org == oslo() && !o.admitted));
}

#[test]
fn a_profile_must_be_signed_by_the_key_it_announces() {
    let mut t = trust();
    let forged = SignedStatement::sign(
        Statement::OrgProfile {
            org: bergen(),
            name: "Bergen kommune".into(),
            kind: OrgKind::Kommune,
            org_key: bergen_key().public(),
        },
        &stranger(),
        T0,
    );
    assert!(matches!(
        put(&mut t, forged),
        Err(TrustError::NotEntitled { .. })
    ));
}

#[test]
fn admission_by_an_admit_scoped_delegate_counts_and_an_endorse_scoped_one_does_not() {
    let mut t = world();
    put(
        &mut t,
        delegate(
            &ks_key(),
            trondheim(),
            &trondheim_key(),
            &[Scope::Admit],
            None,
            T0 + 10,
        ),
    )
    .unwrap();
    put(
        &mut t,
        delegate(
            &ks_key(),
            bergen(),
            &bergen_key(),
            &[Scope::Endorse],
            None,
            T0 + 10,
        ),
    )
    .unwrap();
    put(
        &mut t,
        admit(
            &trondheim_key(),
            oslo(),
            "Oslo kommune",
            &oslo_key(),
            T0 + 20,
        ),
    )
    .unwrap();
    let view = t.org(oslo()).unwrap();
    assert!(view.admitted);
    assert_eq!(view.admitted_by, Some(trondheim()));
    assert_eq!(t.org_of_node(&oslo_key().public()), Some(oslo()));

    let other = org_near(91234567);
    put(
        &mut t,
        admit(&bergen_key(), other, "Annen", &key(50), T0 + 20),
    )
    .unwrap();
    assert_eq!(t.org(other), None);
    assert_eq!(
        t.org(trondheim()).unwrap().curator,
        Some(CuratorView {
            root: false,
            scopes: vec![Scope::Admit],
            expires: None
        })
    );
}

#[test]
fn the_earliest_valid_admission_wins() {
    let mut t = world();
    put(
        &mut t,
        delegate(
            &ks_key(),
            trondheim(),
            &trondheim_key(),
            &[Scope::Admit],
            None,
            T0,
        ),
    )
    .unwrap();
    let late = admit(&ks_key(), oslo(), "Oslo (sen)", &oslo_key(), T0 + 100);
    let early = admit(&trondheim_key(), oslo(), "Oslo (tidlig)", &key(40), T0 + 50);
    let ignored = admit(&stranger(), oslo(), "Oslo (falsk)", &stranger(), T0 + 1);
    for s in [late.clone(), early.clone(), ignored] {
        put(&mut t, s).unwrap();
    }
    let view = t.org(oslo()).unwrap();
    assert_eq!(view.name, "Oslo (tidlig)");
    assert_eq!(view.org_key, key(40).public());
    // Revoking the winner lets the next valid one take over.
    put(&mut t, revoke(&ks_key(), &early, T0 + 200)).unwrap();
    let view = t.org(oslo()).unwrap();
    assert_eq!(view.name, "Oslo (sen)");
    assert_eq!(view.admitted_by, Some(ks()));
}

#[test]
fn revoked_admission_removes_the_org_and_its_nodes() {
    let mut t = trust();
    let a = admit(&ks_key(), bergen(), "Bergen kommune", &bergen_key(), T0);
    put(&mut t, a.clone()).unwrap();
    put(
        &mut t,
        cert(&bergen_key(), bergen(), &bergen_laptop(), "laptop", T0),
    )
    .unwrap();
    assert_eq!(t.org_of_node(&bergen_laptop().public()), Some(bergen()));
    let r = revoke(&ks_key(), &a, T0 + 5);
    assert_eq!(put(&mut t, r.clone()), Ok(true));
    assert!(t.is_revoked(&a.id()));
    assert_eq!(t.org(bergen()), None);
    assert_eq!(t.org_of_node(&bergen_key().public()), None);
    assert_eq!(t.org_of_node(&bergen_laptop().public()), None);
    assert_eq!(put(&mut t, r), Ok(false));
}

#[test]
fn a_revoke_counts_only_from_the_targets_signer_or_a_root() {
    let mut t = world();
    put(
        &mut t,
        delegate(
            &ks_key(),
            trondheim(),
            &trondheim_key(),
            &[Scope::Admit],
            None,
            T0,
        ),
    )
    .unwrap();
    let a = admit(
        &trondheim_key(),
        oslo(),
        "Oslo kommune",
        &oslo_key(),
        T0 + 10,
    );
    put(&mut t, a.clone()).unwrap();
    // Neither a stranger nor the admitted org itself can undo the admission...
    put(&mut t, revoke(&stranger(), &a, T0 + 11)).unwrap();
    put(&mut t, revoke(&oslo_key(), &a, T0 + 11)).unwrap();
    assert!(t.org(oslo()).unwrap().admitted);
    // ...its signer can.
    put(&mut t, revoke(&trondheim_key(), &a, T0 + 12)).unwrap();
    assert_eq!(t.org(oslo()), None);
    // Node certificates are not revoked by Revoke (NodeRevoke does that).
    let c = cert(&bergen_key(), bergen(), &bergen_server(), "server", T0);
    put(&mut t, c.clone()).unwrap();
    put(&mut t, revoke(&ks_key(), &c, T0 + 1)).unwrap();
    assert_eq!(t.org_of_node(&bergen_server().public()), Some(bergen()));
}

// ---------------------------------------------------------------------------------------------
// Nodes

#[test]
fn a_node_cert_from_the_admitted_org_key_maps_the_node_to_its_org() {
    let mut t = world();
    assert_eq!(t.org_of_node(&bergen_laptop().public()), Some(bergen()));
    assert_eq!(
        t.org_of_node(&trondheim_laptop().public()),
        Some(trondheim())
    );
    assert_eq!(t.org_of_node(&stranger().public()), None);
    let nodes = t.org(bergen()).unwrap().nodes;
    assert_eq!(
        nodes,
        vec![NodeView {
            key: bergen_laptop().public(),
            label: "laptop".into(),
            revoked: false
        }]
    );
    // A certificate for Bergen signed by someone else's key does not count.
    put(
        &mut t,
        cert(&trondheim_key(), bergen(), &stranger(), "innbrudd", T0),
    )
    .unwrap();
    put(
        &mut t,
        cert(&stranger(), bergen(), &stranger(), "innbrudd", T0),
    )
    .unwrap();
    assert_eq!(t.org_of_node(&stranger().public()), None);
    // The latest certificate gives the label.
    put(
        &mut t,
        cert(
            &bergen_key(),
            bergen(),
            &bergen_laptop(),
            "ny laptop",
            T0 + 50,
        ),
    )
    .unwrap();
    assert_eq!(t.org(bergen()).unwrap().nodes[0].label, "ny laptop");
}

#[test]
fn node_revocation_removes_the_node_for_good() {
    let mut t = world();
    put(
        &mut t,
        node_revoke(&bergen_key(), bergen(), &bergen_laptop(), T0 + 10),
    )
    .unwrap();
    assert_eq!(t.org_of_node(&bergen_laptop().public()), None);
    assert!(t.org(bergen()).unwrap().nodes[0].revoked);
    // A fresh certificate does not bring it back.
    put(
        &mut t,
        cert(&bergen_key(), bergen(), &bergen_laptop(), "funnet", T0 + 20),
    )
    .unwrap();
    assert_eq!(t.org_of_node(&bergen_laptop().public()), None);
    let err = t
        .may_write(&artefact(), bergen(), &bergen_laptop().public(), never)
        .unwrap_err();
    assert!(err.to_string().contains("revoked"), "{err}");
    // Only the org key revokes its nodes.
    put(
        &mut t,
        node_revoke(&trondheim_key(), trondheim(), &trondheim_laptop(), T0),
    )
    .unwrap();
    put(
        &mut t,
        node_revoke(&stranger(), bergen(), &bergen_server(), T0),
    )
    .unwrap();
    put(
        &mut t,
        cert(&bergen_key(), bergen(), &bergen_server(), "server", T0),
    )
    .unwrap();
    assert_eq!(t.org_of_node(&bergen_server().public()), Some(bergen()));
}

#[test]
fn a_node_certified_by_two_orgs_names_neither_but_keeps_each_orgs_rights() {
    let mut t = world();
    // Trondheim claims Bergen's laptop: it must not take Bergen's rights away.
    put(
        &mut t,
        cert(
            &trondheim_key(),
            trondheim(),
            &bergen_laptop(),
            "kapret",
            T0 + 1,
        ),
    )
    .unwrap();
    assert_eq!(t.org_of_node(&bergen_laptop().public()), None);
    assert_eq!(
        t.orgs_of_node(&bergen_laptop().public()),
        vec![trondheim(), bergen()]
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
    assert_eq!(
        t.may_write(&artefact(), bergen(), &bergen_laptop().public(), never),
        Ok(())
    );
}

// ---------------------------------------------------------------------------------------------
// Order independence

type Answers = (
    Vec<OrgView>,
    Vec<Option<OrgNumber>>,
    Vec<EndorsementView>,
    AccessView,
    Vec<bool>,
    Vec<bool>,
);

fn answers(t: &Trust) -> Answers {
    let keys = [
        ks_key(),
        bergen_key(),
        trondheim_key(),
        oslo_key(),
        bergen_laptop(),
        bergen_server(),
        trondheim_laptop(),
        oslo_laptop(),
        stranger(),
    ];
    (
        t.orgs(),
        keys.iter().map(|k| t.org_of_node(&k.public())).collect(),
        t.endorsements(&artefact()),
        t.access(&artefact(), bergen()),
        keys.iter()
            .map(|k| {
                t.may_write(&artefact(), bergen(), &k.public(), never)
                    .is_ok()
            })
            .collect(),
        keys.iter()
            .map(|k| t.may_read(&artefact(), bergen(), &k.public()))
            .collect(),
    )
}

fn insert_all(t: &mut Trust, statements: impl IntoIterator<Item = SignedStatement>) {
    for s in statements {
        match put(t, s) {
            Ok(_) | Err(TrustError::Replay { .. }) => {}
            Err(e) => panic!("unexpected refusal: {e}"),
        }
    }
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

#[test]
fn cert_before_admit_and_admit_before_profile_converge_in_every_order() {
    let statements = vec![
        cert(&bergen_key(), bergen(), &bergen_laptop(), "laptop", T0 + 3),
        admit(&ks_key(), bergen(), "Bergen kommune", &bergen_key(), T0 + 2),
        profile(&bergen_key(), bergen(), "Bergen", T0 + 1),
        delegate(
            &ks_key(),
            trondheim(),
            &trondheim_key(),
            &[Scope::Admit, Scope::Endorse],
            None,
            T0,
        ),
        admit(
            &trondheim_key(),
            oslo(),
            "Oslo kommune",
            &oslo_key(),
            T0 + 5,
        ),
        access(
            &bergen_laptop(),
            bergen(),
            &[oslo()],
            Some(&[trondheim()]),
            heads(1),
            1,
            T0 + 6,
        ),
    ];
    let mut reference = trust();
    insert_all(&mut reference, statements.clone());
    let expected = answers(&reference);
    assert!(expected.0.iter().any(|o| o.org == oslo() && o.admitted));
    assert_eq!(expected.3.maintainers, vec![oslo()]);
    for order in permutations(statements.len()) {
        let mut t = trust();
        insert_all(&mut t, order.iter().map(|&i| statements[i].clone()));
        assert_eq!(answers(&t), expected, "order {order:?}");
    }
}

#[test]
fn a_larger_set_converges_under_random_orders() {
    let endorse_root = endorse(&ks_key(), 1, EndorsementStatus::Reviewed, T0 + 30);
    let statements = vec![
        admit(&ks_key(), bergen(), "Bergen kommune", &bergen_key(), T0 + 1),
        admit(
            &ks_key(),
            trondheim(),
            "Trondheim kommune",
            &trondheim_key(),
            T0 + 2,
        ),
        cert(&bergen_key(), bergen(), &bergen_laptop(), "laptop", T0 + 3),
        cert(&bergen_key(), bergen(), &bergen_server(), "server", T0 + 3),
        node_revoke(&bergen_key(), bergen(), &bergen_server(), T0 + 40),
        cert(
            &trondheim_key(),
            trondheim(),
            &trondheim_laptop(),
            "laptop",
            T0 + 4,
        ),
        delegate(
            &ks_key(),
            trondheim(),
            &trondheim_key(),
            &[Scope::Admit, Scope::Endorse],
            Some(T0 + 100),
            T0 + 5,
        ),
        admit(
            &trondheim_key(),
            oslo(),
            "Oslo kommune",
            &oslo_key(),
            T0 + 6,
        ),
        cert(&oslo_key(), oslo(), &oslo_laptop(), "laptop", T0 + 7),
        profile(&oslo_key(), oslo(), "Oslo", T0),
        endorse_root.clone(),
        endorse(&ks_key(), 2, EndorsementStatus::Approved, T0 + 31),
        revoke(&ks_key(), &endorse_root, T0 + 32),
        endorse(&trondheim_key(), 1, EndorsementStatus::Recommended, T0 + 50),
        endorse(&trondheim_key(), 2, EndorsementStatus::Approved, T0 + 150),
        access(
            &bergen_key(),
            bergen(),
            &[trondheim()],
            None,
            heads(1),
            1,
            T0 + 10,
        ),
        access(
            &bergen_laptop(),
            bergen(),
            &[oslo()],
            Some(&[]),
            heads(2),
            2,
            T0 + 20,
        ),
        access(
            &trondheim_laptop(),
            bergen(),
            &[trondheim()],
            None,
            heads(3),
            9,
            T0 + 21,
        ),
    ];
    let mut reference = trust();
    insert_all(&mut reference, statements.clone());
    let expected = answers(&reference);
    let mut rng = SimRng::new(7);
    for round in 0..150 {
        let mut order = statements.clone();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let mut t = trust();
        insert_all(&mut t, order);
        assert_eq!(answers(&t), expected, "round {round}");
    }
    let mut batch = trust();
    let mut reversed = statements.clone();
    reversed.reverse();
    assert!(batch
        .load(accepted_when_signed(reversed))
        .iter()
        .all(|r| r.is_ok()));
    // Superseded endorsements (KS's and Trondheim's seq 1) are not kept.
    assert_eq!(batch.len(), statements.len() - 2);
    assert_eq!(batch.take_pruned().len(), 2);
    assert_eq!(answers(&batch), expected);
}

// ---------------------------------------------------------------------------------------------
// Delegation and endorsements

#[test]
fn endorsements_count_only_while_the_delegation_holds() {
    let mut t = world();
    let expires = T0 + 10 * DAY;
    put(
        &mut t,
        delegate(
            &ks_key(),
            bergen(),
            &bergen_key(),
            &[Scope::Endorse],
            Some(expires),
            T0,
        ),
    )
    .unwrap();
    put(
        &mut t,
        endorse(&bergen_key(), 1, EndorsementStatus::Reviewed, expires - 1),
    )
    .unwrap();
    let e = t.endorsements(&artefact());
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].curator, bergen());
    assert_eq!(e[0].curator_name, "Bergen kommune");
    assert_eq!(e[0].status, EndorsementStatus::Reviewed);
    assert_eq!(e[0].heads, heads(1));

    // Signed after the delegation expired: the newest seq is invalid, so Bergen endorses nothing.
    put(
        &mut t,
        endorse(&bergen_key(), 2, EndorsementStatus::Approved, expires),
    )
    .unwrap();
    assert!(t.endorsements(&artefact()).is_empty());

    assert!(t
        .curator_rights(&bergen_key().public(), expires - 1)
        .is_some());
    assert_eq!(t.curator_rights(&bergen_key().public(), expires), None);
    assert_eq!(
        t.check_curator(&bergen_key().public(), Scope::Endorse, expires + 5),
        Err(TrustError::Expired {
            key: bergen_key().public(),
            expires,
            at: expires + 5
        })
    );
    assert_eq!(
        t.check_curator(&bergen_key().public(), Scope::Endorse, expires - 5),
        Ok(())
    );
    assert!(matches!(
        t.check_curator(&bergen_key().public(), Scope::Admit, expires - 5),
        Err(TrustError::NotEntitled { .. })
    ));
    assert!(matches!(
        t.check_curator(&stranger().public(), Scope::Endorse, T0),
        Err(TrustError::NotEntitled { .. })
    ));
}

#[test]
fn a_delegation_born_expired_is_refused() {
    let mut t = world();
    assert!(matches!(
        put(
            &mut t,
            delegate(
                &ks_key(),
                bergen(),
                &bergen_key(),
                &[Scope::Endorse],
                Some(T0),
                T0
            )
        ),
        Err(TrustError::Expired { .. })
    ));
    assert!(matches!(
        put(
            &mut t,
            delegate(&ks_key(), bergen(), &bergen_key(), &[], None, T0)
        ),
        Err(TrustError::Malformed(_))
    ));
}

#[test]
fn a_revoked_delegation_ends_what_the_curator_signs_from_then_on() {
    let mut t = world();
    let d = delegate(
        &ks_key(),
        trondheim(),
        &trondheim_key(),
        &[Scope::Admit, Scope::Endorse],
        None,
        T0,
    );
    let endorsed = endorse(&trondheim_key(), 1, EndorsementStatus::Approved, T0 + 5);
    let admitted = admit(
        &trondheim_key(),
        oslo(),
        "Oslo kommune",
        &oslo_key(),
        T0 + 5,
    );
    put(&mut t, d.clone()).unwrap();
    put(&mut t, endorsed.clone()).unwrap();
    put(&mut t, admitted.clone()).unwrap();
    assert_eq!(t.endorsements(&artefact()).len(), 1);
    assert!(t.org(oslo()).unwrap().admitted);
    // Only a root (the delegation's signer) can revoke it.
    let by_curator = revoke(&trondheim_key(), &d, T0 + 6);
    put(&mut t, by_curator.clone()).unwrap();
    assert_eq!(
        t.curator_rights(&trondheim_key().public(), T0 + 7)
            .unwrap()
            .scopes
            .len(),
        2
    );
    let by_root = revoke(&ks_key(), &d, T0 + 6);
    put(&mut t, by_root.clone()).unwrap();
    // Revocation is not retroactive: what was accepted before it keeps counting here.
    assert_eq!(t.endorsements(&artefact()).len(), 1);
    assert!(t.org(oslo()).unwrap().admitted);
    // What the curator signs (and this node accepts) from then on does not.
    put(
        &mut t,
        endorse(&trondheim_key(), 2, EndorsementStatus::Approved, T0 + 7),
    )
    .unwrap();
    assert!(t.endorsements(&artefact()).is_empty());
    put(
        &mut t,
        admit(
            &trondheim_key(),
            org_near(70_000_000),
            "Ny",
            &key(70),
            T0 + 7,
        ),
    )
    .unwrap();
    assert!(!t.org(org_near(70_000_000)).is_some_and(|o| o.admitted));
    assert_eq!(t.curator_rights(&trondheim_key().public(), T0 + 5), None);
    assert_eq!(t.org(trondheim()).unwrap().curator, None);
    // A node that first sees the revocation and the curator's statements together cannot tell
    // which came first: it counts none of them.
    let mut fresh = trust();
    let together = [d, endorsed, admitted, by_curator, by_root];
    let _ = fresh.insert_many(world().statements().cloned().chain(together), T0 + 100);
    assert!(fresh.endorsements(&artefact()).is_empty());
    assert_eq!(fresh.org(oslo()), None);
}

#[test]
fn endorsements_by_non_curators_are_not_listed() {
    let mut t = world();
    put(
        &mut t,
        endorse(&bergen_key(), 1, EndorsementStatus::Approved, T0),
    )
    .unwrap();
    put(
        &mut t,
        endorse(&stranger(), 1, EndorsementStatus::Approved, T0),
    )
    .unwrap();
    put(
        &mut t,
        endorse(&bergen_laptop(), 1, EndorsementStatus::Approved, T0),
    )
    .unwrap();
    assert!(t.endorsements(&artefact()).is_empty());
    put(
        &mut t,
        endorse(&ks_key(), 1, EndorsementStatus::Recommended, T0 + 1),
    )
    .unwrap();
    let e = t.endorsements(&artefact());
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].curator, ks());
    assert_eq!(e[0].curator_name, "KS");
    assert!(t.endorsements(&ArtefactId([8; 16])).is_empty());
}

#[test]
fn endorsements_keep_the_highest_seq_per_curator_newest_first_and_can_be_withdrawn() {
    let mut t = world();
    put(
        &mut t,
        delegate(
            &ks_key(),
            bergen(),
            &bergen_key(),
            &[Scope::Endorse],
            None,
            T0,
        ),
    )
    .unwrap();
    put(
        &mut t,
        endorse(&ks_key(), 1, EndorsementStatus::Reviewed, T0 + 10),
    )
    .unwrap();
    put(
        &mut t,
        endorse(&bergen_key(), 1, EndorsementStatus::Reviewed, T0 + 20),
    )
    .unwrap();
    let latest = endorse(&ks_key(), 2, EndorsementStatus::Approved, T0 + 30);
    put(&mut t, latest.clone()).unwrap();
    let e = t.endorsements(&artefact());
    assert_eq!(e.len(), 2);
    assert_eq!(
        (e[0].curator, e[0].seq, e[0].status),
        (ks(), 2, EndorsementStatus::Approved)
    );
    assert_eq!(e[0].id, latest.id());
    assert_eq!(e[1].curator, bergen());
    // The curator withdraws its latest verdict: nothing of KS remains (no fallback to seq 1).
    put(&mut t, revoke(&ks_key(), &latest, T0 + 40)).unwrap();
    let e = t.endorsements(&artefact());
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].curator, bergen());
}

#[test]
fn replayed_or_older_endorsements_are_refused() {
    let mut t = world();
    let first = endorse(&ks_key(), 5, EndorsementStatus::Approved, T0 + 10);
    assert_eq!(put(&mut t, first.clone()), Ok(true));
    // The very same statement again: already known.
    assert_eq!(put(&mut t, first.clone()), Ok(false));
    // Same seq, signed again later: a replay.
    let again = endorse(&ks_key(), 5, EndorsementStatus::Deprecated, T0 + 20);
    assert_eq!(
        put(&mut t, again),
        Err(TrustError::Replay {
            curator: ks_key().public(),
            artefact: artefact(),
            seq: 5,
            current: 5
        })
    );
    let older = endorse(&ks_key(), 4, EndorsementStatus::Withdrawn, T0 + 30);
    let err = put(&mut t, older).unwrap_err();
    assert!(matches!(
        err,
        TrustError::Replay {
            seq: 4,
            current: 5,
            ..
        }
    ));
    assert!(err.to_string().contains("replay"), "{err}");
    // Another curator's seq space is its own.
    put(
        &mut t,
        delegate(
            &ks_key(),
            bergen(),
            &bergen_key(),
            &[Scope::Endorse],
            None,
            T0,
        ),
    )
    .unwrap();
    assert_eq!(
        put(
            &mut t,
            endorse(&bergen_key(), 1, EndorsementStatus::Reviewed, T0 + 40)
        ),
        Ok(true)
    );
    assert_eq!(
        put(
            &mut t,
            endorse(&ks_key(), 6, EndorsementStatus::Deprecated, T0 + 50)
        ),
        Ok(true)
    );
    assert_eq!(
        t.endorsements(&artefact())[0].status,
        EndorsementStatus::Deprecated
    );
}

#[test]
fn endorsements_without_heads_are_malformed() {
    let mut t = world();
    let s = SignedStatement::sign(
        Statement::Endorse {
            artefact: artefact(),
            heads: vec![],
            status: EndorsementStatus::Approved,
            note: String::new(),
            seq: 1,
        },
        &ks_key(),
        T0,
    );
    assert!(matches!(put(&mut t, s), Err(TrustError::Malformed(_))));
}

// ---------------------------------------------------------------------------------------------
// Signatures and codec

#[test]
fn forged_statements_are_refused() {
    let mut t = world();
    let good = endorse(&ks_key(), 1, EndorsementStatus::Approved, T0);
    assert_eq!(good.verify_signature(), Ok(()));

    let mut tampered = good.clone();
    if let Statement::Endorse { status, .. } = &mut tampered.body {
        *status = EndorsementStatus::Withdrawn;
    }
    assert!(matches!(
        put(&mut t, tampered),
        Err(TrustError::BadSignature { .. })
    ));

    let mut later = good.clone();
    later.time += 1;
    assert!(matches!(
        put(&mut t, later),
        Err(TrustError::BadSignature { .. })
    ));

    // Signed by a stranger, claiming to be KS.
    let mut impostor = endorse(&stranger(), 1, EndorsementStatus::Approved, T0);
    impostor.signer = ks_key().public();
    assert!(matches!(
        put(&mut t, impostor),
        Err(TrustError::BadSignature { .. })
    ));

    let mut short = good.clone();
    short.signature.pop();
    assert!(matches!(
        put(&mut t, short),
        Err(TrustError::BadSignature { .. })
    ));

    // A valid signature made for another purpose (domain separation).
    let mut other_context = good.clone();
    let mut message = vec![STATEMENT_VERSION];
    message.extend(postcard::to_stdvec(&(&good.body, &good.signer, good.time)).unwrap());
    other_context.signature = ks_key().sign(NETWORK_CONTEXT, &message).to_vec();
    assert!(matches!(
        put(&mut t, other_context),
        Err(TrustError::BadSignature { .. })
    ));
    let mut right_context = good.clone();
    right_context.signature = ks_key().sign(STATEMENT_CONTEXT, &message).to_vec();
    assert_eq!(put(&mut t, right_context), Ok(true));
    assert_eq!(t.len(), 5);
}

#[test]
fn statements_round_trip_and_ids_are_stable() {
    let s = access(
        &bergen_key(),
        bergen(),
        &[trondheim()],
        Some(&[oslo()]),
        heads(3),
        1,
        T0,
    );
    let bytes = s.encode();
    assert_eq!(bytes[0], STATEMENT_VERSION);
    let back = SignedStatement::decode(&bytes).unwrap();
    assert_eq!(back, s);
    assert_eq!(back.id(), s.id());
    let id_text = s.id().to_string();
    assert_eq!(id_text.len(), 64);
    assert_eq!(id_text.parse::<StatementId>().unwrap(), s.id());
    assert!("xyz".parse::<StatementId>().is_err());
    // The id names what was said, by whom, when: not the signature bytes.
    let mut other_sig = s.clone();
    other_sig.signature = vec![0; 64];
    assert_eq!(other_sig.id(), s.id());
    assert_ne!(
        access(
            &bergen_key(),
            bergen(),
            &[trondheim()],
            Some(&[oslo()]),
            heads(3),
            1,
            T0 + 1
        )
        .id(),
        s.id()
    );
    for status in EndorsementStatus::ALL {
        assert_eq!(
            status.to_string().parse::<EndorsementStatus>().unwrap(),
            status
        );
    }
    assert_eq!(
        "Approved".parse::<EndorsementStatus>().unwrap(),
        EndorsementStatus::Approved
    );
    assert!("great".parse::<EndorsementStatus>().is_err());
    assert_eq!("endorse".parse::<Scope>().unwrap(), Scope::Endorse);
    assert!("everything".parse::<Scope>().is_err());
}

#[test]
fn decode_refuses_garbage_truncation_trailing_bytes_and_oversize_without_panicking() {
    let s = cert(&bergen_key(), bergen(), &bergen_laptop(), "laptop", T0);
    let bytes = s.encode();
    for cut in 0..bytes.len() {
        assert!(
            SignedStatement::decode(&bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(
        SignedStatement::decode(&trailing),
        Err(TrustError::Malformed(_))
    ));
    let mut version = bytes.clone();
    version[0] = 9;
    assert_eq!(
        SignedStatement::decode(&version),
        Err(TrustError::Version(9))
    );
    assert!(matches!(
        SignedStatement::decode(&[]),
        Err(TrustError::Malformed(_))
    ));
    let big = vec![STATEMENT_VERSION; MAX_STATEMENT_BYTES + 1];
    assert_eq!(
        SignedStatement::decode(&big),
        Err(TrustError::TooLarge {
            len: MAX_STATEMENT_BYTES + 1,
            limit: MAX_STATEMENT_BYTES
        })
    );
    // An org number that fails its check digit is refused while decoding.
    let text = bergen().to_string();
    let pos = bytes.windows(9).position(|w| w == text.as_bytes()).unwrap();
    let mut bad_org = bytes.clone();
    bad_org[pos + 8] = b'2';
    assert!(SignedStatement::decode(&bad_org).is_err());

    let mut state = 0x2545F4914F6CDD1Du64;
    for len in 0..600 {
        let mut garbage: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let _ = SignedStatement::decode(&garbage);
        let _ = Network::decode(&garbage);
        if let Some(first) = garbage.first_mut() {
            *first = STATEMENT_VERSION;
        }
        let _ = SignedStatement::decode(&garbage);
        let _ = Network::decode(&garbage);
    }
    // Flipping each byte of a real statement never panics either.
    for i in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0xff;
        if let Ok(s) = SignedStatement::decode(&flipped) {
            let _ = s.verify_signature();
        }
    }
}

#[test]
fn oversized_statements_are_refused_by_insert() {
    let mut t = world();
    let s = SignedStatement::sign(
        Statement::Endorse {
            artefact: artefact(),
            heads: heads(1),
            status: EndorsementStatus::Reviewed,
            note: "x".repeat(MAX_STATEMENT_BYTES),
            seq: 1,
        },
        &ks_key(),
        T0,
    );
    assert!(matches!(put(&mut t, s), Err(TrustError::TooLarge { .. })));
}

// ---------------------------------------------------------------------------------------------
// Access

#[test]
fn by_default_only_the_owner_writes_and_reading_fails_closed() {
    let t = world();
    assert_eq!(t.access_in_force(&artefact(), bergen()), None);
    let view = t.access(&artefact(), bergen());
    assert_eq!(view.statement, None);
    assert_eq!(view.owner, bergen());
    assert!(view.maintainers.is_empty());
    assert_eq!(view.readers, None);
    assert_eq!(view.seq, 0);
    assert_eq!(
        t.may_write(&artefact(), bergen(), &bergen_laptop().public(), never),
        Ok(())
    );
    assert_eq!(
        t.may_write(&artefact(), bergen(), &bergen_key().public(), never),
        Ok(())
    );
    let err = t
        .may_write(&artefact(), bergen(), &trondheim_laptop().public(), never)
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains(&trondheim().to_string()), "{message}");
    assert!(message.contains(&artefact().to_string()), "{message}");
    assert!(matches!(err, TrustError::NotEntitled { .. }));
    // Without a valid access statement the trust set cannot tell a public artefact from a
    // restricted one whose access list is missing here, so only the owner's nodes may read
    // (the engine asks only about artefacts it does not know to be public).
    assert!(t.may_read(&artefact(), bergen(), &bergen_laptop().public()));
    assert!(!t.may_read(&artefact(), bergen(), &trondheim_laptop().public()));
    assert!(!t.may_read(&artefact(), bergen(), &stranger().public()));
}

#[test]
fn unadmitted_and_unknown_nodes_may_not_write() {
    let mut t = world();
    put(&mut t, profile(&oslo_key(), oslo(), "Oslo kommune", T0)).unwrap();
    put(
        &mut t,
        cert(&oslo_key(), oslo(), &oslo_laptop(), "laptop", T0),
    )
    .unwrap();
    put(
        &mut t,
        access(&bergen_key(), bergen(), &[oslo()], None, heads(1), 1, T0),
    )
    .unwrap();
    let err = t
        .may_write(&artefact(), bergen(), &oslo_laptop().public(), |_| true)
        .unwrap_err();
    assert!(err.to_string().contains("not admitted"), "{err}");
    let err = t
        .may_write(&artefact(), bergen(), &stranger().public(), |_| true)
        .unwrap_err();
    assert!(err.to_string().contains("not certified"), "{err}");
    // Even the owner's own artefact: a stranger claiming nothing gets nothing.
    assert!(t
        .may_write(&artefact(), oslo(), &oslo_laptop().public(), |_| true)
        .is_err());
}

#[test]
fn a_maintainer_grant_lets_its_nodes_write() {
    let mut t = world();
    put(
        &mut t,
        access(
            &bergen_key(),
            bergen(),
            &[trondheim()],
            None,
            heads(1),
            1,
            T0 + 10,
        ),
    )
    .unwrap();
    assert_eq!(
        t.may_write(&artefact(), bergen(), &trondheim_laptop().public(), never),
        Ok(())
    );
    assert_eq!(
        t.may_write(&artefact(), bergen(), &trondheim_key().public(), never),
        Ok(())
    );
    assert_eq!(
        t.access(&artefact(), bergen()).maintainers,
        vec![trondheim()]
    );
    // A non-maintainer is still refused.
    put(
        &mut t,
        admit(&ks_key(), oslo(), "Oslo kommune", &oslo_key(), T0),
    )
    .unwrap();
    put(
        &mut t,
        cert(&oslo_key(), oslo(), &oslo_laptop(), "laptop", T0),
    )
    .unwrap();
    assert!(matches!(
        t.may_write(&artefact(), bergen(), &oslo_laptop().public(), never),
        Err(TrustError::NotEntitled { .. })
    ));
}

#[test]
fn a_removed_maintainer_keeps_only_changes_in_the_past_of_the_removal() {
    let mut t = world();
    put(
        &mut t,
        access(
            &bergen_key(),
            bergen(),
            &[trondheim()],
            None,
            heads(1),
            1,
            T0 + 10,
        ),
    )
    .unwrap();
    let removal_heads = heads(2);
    put(
        &mut t,
        access(
            &bergen_laptop(),
            bergen(),
            &[],
            None,
            removal_heads.clone(),
            2,
            T0 + 20,
        ),
    )
    .unwrap();
    let author = trondheim_laptop().public();
    let err = t
        .may_write(&artefact(), bergen(), &author, never)
        .unwrap_err();
    assert!(err.to_string().contains("removed"), "{err}");
    let asked = std::cell::RefCell::new(Vec::new());
    assert_eq!(
        t.may_write(&artefact(), bergen(), &author, |h| {
            asked.borrow_mut().push(h.to_vec());
            h == removal_heads.as_slice()
        }),
        Ok(())
    );
    assert_eq!(asked.into_inner(), vec![removal_heads.clone()]);
    // An org that was never a maintainer gets no such grace.
    put(
        &mut t,
        admit(&ks_key(), oslo(), "Oslo kommune", &oslo_key(), T0),
    )
    .unwrap();
    put(
        &mut t,
        cert(&oslo_key(), oslo(), &oslo_laptop(), "laptop", T0),
    )
    .unwrap();
    assert!(t
        .may_write(&artefact(), bergen(), &oslo_laptop().public(), |_| true)
        .is_err());
    // Added back: writes again.
    put(
        &mut t,
        access(
            &bergen_key(),
            bergen(),
            &[trondheim(), oslo()],
            None,
            heads(3),
            3,
            T0 + 30,
        ),
    )
    .unwrap();
    assert_eq!(t.may_write(&artefact(), bergen(), &author, never), Ok(()));
    assert_eq!(
        t.may_write(&artefact(), bergen(), &oslo_laptop().public(), never),
        Ok(())
    );
}

#[test]
fn restricted_artefacts_are_read_by_owner_readers_and_maintainers_only() {
    let mut t = world();
    put(
        &mut t,
        admit(&ks_key(), oslo(), "Oslo kommune", &oslo_key(), T0),
    )
    .unwrap();
    put(
        &mut t,
        cert(&oslo_key(), oslo(), &oslo_laptop(), "laptop", T0),
    )
    .unwrap();
    put(
        &mut t,
        access(
            &bergen_key(),
            bergen(),
            &[],
            Some(&[trondheim()]),
            heads(1),
            1,
            T0 + 10,
        ),
    )
    .unwrap();
    assert!(t.may_read(&artefact(), bergen(), &bergen_laptop().public()));
    assert!(t.may_read(&artefact(), bergen(), &bergen_key().public()));
    assert!(t.may_read(&artefact(), bergen(), &trondheim_laptop().public()));
    assert!(!t.may_read(&artefact(), bergen(), &oslo_laptop().public()));
    assert!(!t.may_read(&artefact(), bergen(), &stranger().public()));
    assert!(!t.may_read(&artefact(), bergen(), &ks_key().public()));
    // A reader is not a writer.
    assert!(t
        .may_write(&artefact(), bergen(), &trondheim_laptop().public(), never)
        .is_err());
    put(
        &mut t,
        access(
            &bergen_key(),
            bergen(),
            &[oslo()],
            Some(&[trondheim()]),
            heads(2),
            2,
            T0 + 20,
        ),
    )
    .unwrap();
    assert!(t.may_read(&artefact(), bergen(), &oslo_laptop().public()));
    // A revoked node of the owner reads no more.
    put(
        &mut t,
        node_revoke(&bergen_key(), bergen(), &bergen_laptop(), T0 + 30),
    )
    .unwrap();
    assert!(!t.may_read(&artefact(), bergen(), &bergen_laptop().public()));
}

#[test]
fn access_signed_by_a_non_owner_is_ignored() {
    let mut t = world();
    // Trondheim grants itself rights on Bergen's artefact, and claims to own it.
    put(
        &mut t,
        access(
            &trondheim_key(),
            bergen(),
            &[trondheim()],
            None,
            heads(1),
            5,
            T0,
        ),
    )
    .unwrap();
    put(
        &mut t,
        access(
            &trondheim_laptop(),
            trondheim(),
            &[trondheim()],
            Some(&[]),
            heads(1),
            99,
            T0,
        ),
    )
    .unwrap();
    put(
        &mut t,
        access(&stranger(), bergen(), &[], Some(&[]), heads(1), 7, T0),
    )
    .unwrap();
    let view = t.access(&artefact(), bergen());
    assert_eq!(view.seq, 0);
    assert_eq!(view.owner, bergen());
    assert!(t
        .may_write(&artefact(), bergen(), &trondheim_laptop().public(), never)
        .is_err());
    // No valid access statement: reading fails closed, owner only.
    assert_eq!(t.access_in_force(&artefact(), bergen()), None);
    assert!(!t.may_read(&artefact(), bergen(), &stranger().public()));
    assert!(!t.may_read(&artefact(), bergen(), &trondheim_laptop().public()));
    // None of that blocks the owner's own first Access (seq 1).
    assert_eq!(
        put(
            &mut t,
            access(
                &bergen_laptop(),
                bergen(),
                &[oslo()],
                None,
                heads(2),
                1,
                T0 + 5
            )
        ),
        Ok(true)
    );
    assert_eq!(t.access(&artefact(), bergen()).maintainers, vec![oslo()]);
}

#[test]
fn access_replays_are_refused_and_seq_decides() {
    let mut t = world();
    let first = access(
        &bergen_key(),
        bergen(),
        &[trondheim()],
        None,
        heads(1),
        2,
        T0,
    );
    assert_eq!(put(&mut t, first.clone()), Ok(true));
    assert_eq!(put(&mut t, first.clone()), Ok(false));
    let err = put(
        &mut t,
        access(&bergen_laptop(), bergen(), &[], None, heads(2), 2, T0 + 5),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        TrustError::Replay {
            seq: 2,
            current: 2,
            ..
        }
    ));
    assert!(matches!(
        put(
            &mut t,
            access(&bergen_laptop(), bergen(), &[], None, heads(2), 1, T0 + 5)
        ),
        Err(TrustError::Replay {
            seq: 1,
            current: 2,
            ..
        })
    ));
    assert_eq!(
        put(
            &mut t,
            access(&bergen_laptop(), bergen(), &[], None, heads(2), 3, T0 + 5)
        ),
        Ok(true)
    );
    let view = t.access(&artefact(), bergen());
    assert_eq!(view.seq, 3);
    assert!(view.maintainers.is_empty());
    assert_eq!(view.heads, heads(2));
    // Revoking the laptop later is not retroactive: the access list it signed, accepted before
    // the revocation, stays in force; one it signs after the revocation does not count.
    put(
        &mut t,
        node_revoke(&bergen_key(), bergen(), &bergen_laptop(), T0 + 10),
    )
    .unwrap();
    assert_eq!(t.access(&artefact(), bergen()).seq, 3);
    assert_eq!(
        put(
            &mut t,
            access(
                &bergen_laptop(),
                bergen(),
                &[oslo()],
                None,
                heads(3),
                4,
                T0 + 11
            )
        ),
        Ok(true)
    );
    assert_eq!(t.access(&artefact(), bergen()).seq, 3);
    assert!(t.access(&artefact(), bergen()).maintainers.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Scale

#[test]
fn trust_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Trust>();
    assert_send_sync::<SignedStatement>();
}

#[test]
fn thousands_of_statements_stay_fast() {
    let root = ks_key();
    let mut statements = Vec::new();
    let mut orgs = Vec::new();
    for i in 0..150u32 {
        let org = org_near(80_000_000 + i * 1000);
        let org_key = NodeKey::from_secret([
            (i % 200) as u8 + 30,
            (i / 200) as u8 + 1,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            7,
            9,
        ]);
        statements.push(admit(
            &root,
            org,
            &format!("Kommune {i}"),
            &org_key,
            T0 + i as i64,
        ));
        for n in 0..4u8 {
            let mut secret = org_key.secret_bytes();
            secret[31] = 100 + n;
            let node = NodeKey::from_secret(secret);
            statements.push(cert(&org_key, org, &node, "node", T0));
        }
        orgs.push((org, org_key));
    }
    for a in 0..1000u32 {
        let (owner, owner_key) = &orgs[a as usize % orgs.len()];
        let (other, _) = &orgs[(a as usize + 1) % orgs.len()];
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&a.to_le_bytes());
        statements.push(SignedStatement::sign(
            Statement::Access {
                artefact: ArtefactId(id),
                owner: *owner,
                maintainers: vec![*other],
                readers: None,
                heads: heads(1),
                seq: 1,
            },
            owner_key,
            T0 + 100,
        ));
        statements.push(SignedStatement::sign(
            Statement::Endorse {
                artefact: ArtefactId(id),
                heads: heads(1),
                status: EndorsementStatus::Approved,
                note: String::new(),
                seq: 1,
            },
            &root,
            T0 + 100,
        ));
    }
    let mut rng = SimRng::new(3);
    for i in (1..statements.len()).rev() {
        statements.swap(i, rng.below(i + 1));
    }
    let total = statements.len();
    let started = std::time::Instant::now();
    let mut t = trust();
    insert_all(&mut t, statements.clone());
    let one_by_one = started.elapsed();
    assert_eq!(t.len(), total);
    let started = std::time::Instant::now();
    let mut batch = trust();
    assert!(batch
        .load(accepted_when_signed(statements))
        .iter()
        .all(|r| r == &Ok(true)));
    let batched = started.elapsed();
    let started = std::time::Instant::now();
    assert_eq!(t.orgs().len(), orgs.len() + 1);
    for a in 0..1000u32 {
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&a.to_le_bytes());
        let (owner, _) = &orgs[a as usize % orgs.len()];
        assert_eq!(t.access(&ArtefactId(id), *owner).seq, 1);
        assert_eq!(t.endorsements(&ArtefactId(id)).len(), 1);
    }
    let queries = started.elapsed();
    eprintln!(
        "{total} statements: inserted one by one in {one_by_one:?}, as a batch in {batched:?}; 2000 queries in {queries:?}"
    );
    assert!(one_by_one.as_secs() < 30, "too slow: {one_by_one:?}");
}

// ---------------------------------------------------------------------------------------------
// Acceptance time: revocation is not retroactive, and expiry is judged by when a statement was
// first seen here (issue 10)

/// Inserts statements in the given order, each with its own acceptance time.
fn accept_in_order(t: &mut Trust, records: &[(SignedStatement, i64)], order: &[usize]) {
    for &i in order {
        let (s, at) = records[i].clone();
        match t.insert(s, at) {
            Ok(_) | Err(TrustError::Replay { .. }) => {}
            Err(e) => panic!("unexpected refusal: {e}"),
        }
    }
}

#[test]
fn a_revoked_node_keys_earlier_access_list_stays_in_force_in_every_arrival_order() {
    let records = vec![
        (
            admit(&ks_key(), bergen(), "Bergen kommune", &bergen_key(), T0),
            T0,
        ),
        (
            cert(&bergen_key(), bergen(), &bergen_laptop(), "laptop", T0),
            T0,
        ),
        (
            access(
                &bergen_key(),
                bergen(),
                &[],
                Some(&[trondheim(), oslo()]),
                heads(1),
                1,
                T0 + 1,
            ),
            T0 + 1,
        ),
        // The laptop removes Oslo ...
        (
            access(
                &bergen_laptop(),
                bergen(),
                &[],
                Some(&[trondheim()]),
                heads(2),
                2,
                T0 + 5,
            ),
            T0 + 5,
        ),
        // ... is revoked ...
        (
            node_revoke(&bergen_key(), bergen(), &bergen_laptop(), T0 + 10),
            T0 + 10,
        ),
        // ... and whoever holds it now tries to let Oslo back in, dating it before the
        // revocation. This node accepted it after the revocation: it does not count.
        (
            access(
                &bergen_laptop(),
                bergen(),
                &[oslo()],
                Some(&[trondheim(), oslo()]),
                heads(3),
                3,
                T0 + 6,
            ),
            T0 + 20,
        ),
    ];
    // Arrival order does not matter, only when each was accepted: whether loaded from the
    // store in any order, or taken in as they came (in acceptance order, which is arrival
    // order on one node).
    let check = |t: &Trust, how: &str| {
        let view = t.access(&artefact(), bergen());
        assert_eq!(view.seq, 2, "{how}");
        assert_eq!(view.readers, Some(vec![trondheim()]), "{how}");
        assert!(
            !t.may_read(&artefact(), bergen(), &oslo_laptop().public()),
            "{how}"
        );
        assert_eq!(t.org_of_node(&bergen_laptop().public()), None, "{how}");
    };
    for order in permutations(records.len()) {
        let mut t = trust();
        let results = t.load(order.iter().map(|&i| records[i].clone()));
        assert!(
            results.iter().all(|r| r.is_ok()),
            "order {order:?}: {results:?}"
        );
        check(&t, &format!("loaded in order {order:?}"));
    }
    let mut t = trust();
    accept_in_order(&mut t, &records, &[0, 1, 2, 3, 4, 5]);
    check(&t, "as they came");
    // A node that receives everything at once cannot tell the old list from one signed after
    // the revocation, so it counts neither: the org key's list is in force there, until the
    // org key signs the laptop's list again (what `revoke_node` does).
    let mut fresh = trust();
    let _ = fresh.insert_many(records.iter().map(|(s, _)| s.clone()), T0 + 100);
    assert_eq!(fresh.access(&artefact(), bergen()).seq, 1);
    put(
        &mut fresh,
        access(
            &bergen_key(),
            bergen(),
            &[],
            Some(&[trondheim()]),
            heads(2),
            4,
            T0 + 100,
        ),
    )
    .unwrap();
    assert_eq!(
        fresh.access(&artefact(), bergen()).readers,
        Some(vec![trondheim()])
    );
}

#[test]
fn a_revoked_admission_keeps_the_orgs_earlier_statements_in_force() {
    let mut t = trust();
    let admission = admit(&ks_key(), bergen(), "Bergen kommune", &bergen_key(), T0);
    put(&mut t, admission.clone()).unwrap();
    put(
        &mut t,
        cert(&bergen_key(), bergen(), &bergen_laptop(), "laptop", T0),
    )
    .unwrap();
    put(
        &mut t,
        access(
            &bergen_laptop(),
            bergen(),
            &[],
            Some(&[trondheim()]),
            heads(1),
            1,
            T0 + 1,
        ),
    )
    .unwrap();
    put(&mut t, revoke(&ks_key(), &admission, T0 + 10)).unwrap();
    assert_eq!(t.org_of_node(&bergen_laptop().public()), None);
    assert!(!t.org(bergen()).is_some_and(|o| o.admitted));
    // Bergen's artefact stays restricted to Trondheim.
    let view = t.access_in_force(&artefact(), bergen()).unwrap();
    assert_eq!(view.readers, Some(vec![trondheim()]));
    assert!(!t.may_read(&artefact(), bergen(), &oslo_laptop().public()));
    // What Bergen's keys sign after the revocation does not count, nor do they write.
    put(
        &mut t,
        access(&bergen_key(), bergen(), &[], None, heads(2), 2, T0 + 11),
    )
    .unwrap();
    assert_eq!(t.access(&artefact(), bergen()).seq, 1);
    assert!(t
        .may_write(&artefact(), bergen(), &bergen_laptop().public(), never)
        .is_err());
    // A certificate accepted while Bergen is not admitted does not count; once a curator
    // admits Bergen again with the same key, that key's certificates count again (grants are
    // not bounded in time, only revocations are).
    put(
        &mut t,
        cert(&bergen_key(), bergen(), &bergen_server(), "server", T0 + 12),
    )
    .unwrap();
    assert_eq!(t.org_of_node(&bergen_server().public()), None);
    put(
        &mut t,
        admit(
            &ks_key(),
            bergen(),
            "Bergen kommune",
            &bergen_key(),
            T0 + 13,
        ),
    )
    .unwrap();
    assert_eq!(t.org_of_node(&bergen_laptop().public()), Some(bergen()));
    assert_eq!(t.org_of_node(&bergen_server().public()), Some(bergen()));
    // Readmitted with a new key: the old key's certificates no longer count.
    let mut t2 = trust();
    put(&mut t2, admission.clone()).unwrap();
    put(
        &mut t2,
        cert(&bergen_key(), bergen(), &bergen_laptop(), "laptop", T0),
    )
    .unwrap();
    put(&mut t2, revoke(&ks_key(), &admission, T0 + 10)).unwrap();
    put(
        &mut t2,
        admit(&ks_key(), bergen(), "Bergen kommune", &key(77), T0 + 13),
    )
    .unwrap();
    assert_eq!(t2.org_of_node(&key(77).public()), Some(bergen()));
    assert_eq!(t2.org_of_node(&bergen_laptop().public()), None);
}

/// A delegation of `Scope::Endorse` and `Scope::Admit` to Trondheim that expires at `expires`.
fn expiring_curator(t: &mut Trust, expires: i64) {
    put(
        t,
        delegate(
            &ks_key(),
            trondheim(),
            &trondheim_key(),
            &[Scope::Endorse, Scope::Admit],
            Some(expires),
            T0,
        ),
    )
    .unwrap();
}

#[test]
fn expiry_is_judged_by_when_this_node_first_saw_the_statement() {
    let expires = T0 + 10 * DAY;
    // Seen before the delegation expired: counts, also when asked about long after.
    let mut t = world();
    expiring_curator(&mut t, expires);
    let honest = endorse(
        &trondheim_key(),
        1,
        EndorsementStatus::Approved,
        expires - 100,
    );
    assert_eq!(t.insert(honest.clone(), expires - 90), Ok(true));
    assert_eq!(t.endorsements(&artefact()).len(), 1);
    assert_eq!(t.accepted_at(&honest.id()), Some(expires - 90));

    // Backdated: signed (dated) before expiry, first seen a day after. Does not count.
    let mut t = world();
    expiring_curator(&mut t, expires);
    let backdated = endorse(
        &trondheim_key(),
        1,
        EndorsementStatus::Approved,
        expires - 100,
    );
    assert_eq!(t.insert(backdated, expires + DAY), Ok(true));
    assert!(t.endorsements(&artefact()).is_empty());
    let oslo_admission = admit(
        &trondheim_key(),
        oslo(),
        "Oslo kommune",
        &oslo_key(),
        expires - 100,
    );
    assert_eq!(t.insert(oslo_admission, expires + DAY), Ok(true));
    assert!(!t.org(oslo()).is_some_and(|o| o.admitted));

    // Within the clock tolerance: signed just before expiry, seen a few minutes after.
    let mut t = world();
    expiring_curator(&mut t, expires);
    let late = endorse(
        &trondheim_key(),
        1,
        EndorsementStatus::Approved,
        expires - 1,
    );
    assert_eq!(t.insert(late, expires + CLOCK_SKEW_TOLERANCE - 2), Ok(true));
    assert_eq!(t.endorsements(&artefact()).len(), 1);
    // ... but not beyond it.
    let mut t = world();
    expiring_curator(&mut t, expires);
    let too_late = endorse(
        &trondheim_key(),
        1,
        EndorsementStatus::Approved,
        expires - 1,
    );
    assert_eq!(
        t.insert(too_late, expires + CLOCK_SKEW_TOLERANCE + 1),
        Ok(true)
    );
    assert!(t.endorsements(&artefact()).is_empty());

    // A root re-endorses: roots never expire.
    put(
        &mut t,
        endorse(&ks_key(), 1, EndorsementStatus::Approved, expires + DAY),
    )
    .unwrap();
    assert_eq!(t.endorsements(&artefact()).len(), 1);
}

#[test]
fn a_statement_dated_beyond_the_clock_tolerance_is_refused_but_a_stored_one_loads() {
    let mut t = world();
    let now = T0 + DAY;
    let future = endorse(
        &ks_key(),
        1,
        EndorsementStatus::Approved,
        now + CLOCK_SKEW_TOLERANCE + 1,
    );
    assert!(matches!(
        t.insert(future.clone(), now),
        Err(TrustError::FromTheFuture { .. })
    ));
    assert!(!t.contains(&future.id()));
    let skewed = endorse(
        &ks_key(),
        1,
        EndorsementStatus::Approved,
        now + CLOCK_SKEW_TOLERANCE,
    );
    assert_eq!(t.insert(skewed, now), Ok(true));
    // A record from before acceptance times were kept loads as accepted at 0.
    let mut reloaded = trust();
    let results = reloaded.load(vec![(future, 0)]);
    assert_eq!(results, vec![Ok(true)]);
}

// ---------------------------------------------------------------------------------------------
// Proof of possession: a certificate needs the node key's own consent (issue 10)

#[test]
fn a_certificate_without_the_node_keys_proof_of_possession_is_refused() {
    let mut t = world();
    let bergen_node = bergen_laptop();
    let hijack = |possession: Vec<u8>| {
        SignedStatement::sign(
            Statement::NodeCert {
                org: trondheim(),
                node_key: bergen_node.public(),
                label: "kapret".into(),
                possession,
            },
            &trondheim_key(),
            T0 + 5,
        )
    };
    // No proof, a wrong-length one, one for another organisation, one by another key.
    for possession in [
        vec![],
        vec![7; 63],
        prove_possession(&bergen_node, bergen()).to_vec(),
        prove_possession(&trondheim_laptop(), trondheim()).to_vec(),
    ] {
        assert!(matches!(
            put(&mut t, hijack(possession)),
            Err(TrustError::NoProofOfPossession { .. })
        ));
    }
    assert_eq!(t.org_of_node(&bergen_node.public()), Some(bergen()));
    // With the node's consent (its own proof for Trondheim) a second certificate counts, and
    // the key is then ambiguous, as before: that is the node owner's choice.
    put(
        &mut t,
        hijack(prove_possession(&bergen_node, trondheim()).to_vec()),
    )
    .unwrap();
    assert_eq!(t.org_of_node(&bergen_node.public()), None);
    // The proof is bound to its context: a statement signature does not pass as one.
    let message = [b"964338531".as_slice(), &[0], &bergen_node.public().0].concat();
    let wrong_context = bergen_node.sign(STATEMENT_CONTEXT, &message);
    assert!(verify_possession(bergen(), &bergen_node.public(), &wrong_context).is_err());
    let right = bergen_node.sign(NODE_POSSESSION_CONTEXT, &message);
    assert_eq!(
        verify_possession(bergen(), &bergen_node.public(), &right),
        Ok(())
    );
}

// ---------------------------------------------------------------------------------------------
// Intake limits (issue 10)

#[test]
fn the_quota_counts_per_organisation_exempts_roots_and_frees_what_leaves() {
    use super::intake::{Dropped, Standing, ORG_BYTE_QUOTA, ORG_STATEMENT_QUOTA};
    let mut t = world();
    let id = |n: usize| StatementId(*blake3::hash(&n.to_le_bytes()).as_bytes());
    for n in 0..ORG_STATEMENT_QUOTA {
        t.record_intake(id(n), Standing::Member(bergen()), 100, Some("peer"), T0);
    }
    assert_eq!(
        t.org_usage(bergen()),
        (ORG_STATEMENT_QUOTA, ORG_STATEMENT_QUOTA * 100)
    );
    assert!(matches!(
        t.check_allowance(Standing::Member(bergen()), 10, Some("peer")),
        Err(Dropped::OverQuota { .. })
    ));
    assert_eq!(
        t.check_allowance(Standing::Member(trondheim()), 10, None),
        Ok(())
    );
    assert_eq!(
        t.check_allowance(Standing::Root, ORG_BYTE_QUOTA * 2, None),
        Ok(())
    );
    assert_eq!(
        t.check_allowance(Standing::Own, ORG_BYTE_QUOTA * 2, None),
        Ok(())
    );
    t.intake.forget(&id(0));
    assert_eq!(
        t.check_allowance(Standing::Member(bergen()), 10, None),
        Ok(())
    );
    // The byte quota too.
    assert!(matches!(
        t.check_allowance(Standing::Member(trondheim()), ORG_BYTE_QUOTA + 1, None),
        Err(Dropped::OverQuota { .. })
    ));
}

#[test]
fn names_and_labels_are_short() {
    use super::intake::{MAX_NODE_LABEL_CHARS, MAX_ORG_NAME_CHARS};
    let mut t = world();
    let long_name = "Å".repeat(MAX_ORG_NAME_CHARS + 1);
    assert!(matches!(
        put(&mut t, profile(&oslo_key(), oslo(), &long_name, T0)),
        Err(TrustError::Malformed(_))
    ));
    assert!(matches!(
        put(&mut t, profile(&oslo_key(), oslo(), " ", T0)),
        Err(TrustError::Malformed(_))
    ));
    assert_eq!(
        put(
            &mut t,
            profile(&oslo_key(), oslo(), &"Å".repeat(MAX_ORG_NAME_CHARS), T0)
        ),
        Ok(true)
    );
    let long_label = "l".repeat(MAX_NODE_LABEL_CHARS + 1);
    assert!(matches!(
        put(
            &mut t,
            cert(&bergen_key(), bergen(), &bergen_server(), &long_label, T0)
        ),
        Err(TrustError::Malformed(_))
    ));
}

#[test]
fn a_superseded_endorsement_is_removed_and_its_replay_refused() {
    let mut t = world();
    let first = endorse(&ks_key(), 1, EndorsementStatus::Reviewed, T0 + 1);
    put(&mut t, first.clone()).unwrap();
    assert!(t.take_pruned().is_empty());
    put(
        &mut t,
        endorse(&ks_key(), 2, EndorsementStatus::Approved, T0 + 2),
    )
    .unwrap();
    assert_eq!(t.take_pruned(), vec![first.id()]);
    assert!(!t.contains(&first.id()));
    assert!(matches!(put(&mut t, first), Err(TrustError::Replay { .. })));
    assert_eq!(t.endorsements(&artefact())[0].seq, 2);
    assert_eq!(t.intake_counters().superseded, 1);
}
