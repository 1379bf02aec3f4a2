//! RFC 6962 / RFC 9162 Merkle tree hashing with inclusion and consistency proofs, so a signed
//! checkpoint (tree size + root) commits to every record before it and later checkpoints can be
//! proven to extend earlier ones.
//!
//! Leaves of the audit tree are the 32 raw bytes of each record's hash, in sequence order.

use sha2::{Digest, Sha256};

/// A 32-byte hash.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 || data)`: the hash of a leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    let mut k = 1usize;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// MTH(D\[n\]) over already-hashed leaves; the empty tree hashes to SHA-256 of nothing.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            // Iterative: fold perfect subtrees from the left, as the recursion would.
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The right edge of a growing tree: the roots of its perfect subtrees, largest first. Appending a
/// leaf and computing MTH are O(log n), where [`root`] over all leaves is O(n) — which a log that
/// checkpoints every thousand records would otherwise pay on every checkpoint.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    /// (height, subtree root), heights strictly decreasing.
    stack: Vec<(u32, Hash)>,
    len: usize,
}

impl Frontier {
    /// Number of leaves appended.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no leaf was appended.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Append one (already hashed) leaf.
    pub fn push(&mut self, leaf: Hash) {
        let mut node = (0u32, leaf);
        while let Some(&(h, left)) = self.stack.last() {
            if h != node.0 {
                break;
            }
            self.stack.pop();
            node = (h + 1, node_hash(&left, &node.1));
        }
        self.stack.push(node);
        self.len += 1;
    }

    /// MTH of the leaves appended so far (equal to [`root`] over them).
    pub fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        match it.next() {
            None => Sha256::digest([]).into(),
            Some(&(_, last)) => it.fold(last, |acc, (_, left)| node_hash(left, &acc)),
        }
    }

    /// The roots of the perfect subtrees, largest (leftmost) first: one per set bit of
    /// [`Frontier::len`]. With the length, all a later [`Frontier::push`] needs (so a frontier
    /// can be stored and resumed without the leaves).
    pub fn nodes(&self) -> impl Iterator<Item = &Hash> {
        self.stack.iter().map(|(_, h)| h)
    }

    /// The frontier of a tree of `len` leaves whose [`Frontier::nodes`] were `nodes`; `None`
    /// when their number is not the number of set bits of `len`.
    pub fn from_nodes(len: usize, nodes: Vec<Hash>) -> Option<Self> {
        if nodes.len() != len.count_ones() as usize {
            return None;
        }
        let heights = (0..usize::BITS).rev().filter(|b| len >> b & 1 == 1);
        Some(Self {
            stack: heights.zip(nodes).collect(),
            len,
        })
    }
}

/// PATH(m, D\[n\]): the inclusion proof of leaf `index` in the tree of all `leaves`.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut out = Vec::new();
    path(index, leaves, &mut out);
    Some(out)
}

fn path(m: usize, d: &[Hash], out: &mut Vec<Hash>) {
    let n = d.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(m, &d[..k], out);
        out.push(root(&d[k..]));
    } else {
        path(m - k, &d[k..], out);
        out.push(root(&d[..k]));
    }
}

/// PROOF(m, D\[n\]): the consistency proof between the first `m` leaves and all `leaves`.
pub fn consistency_proof(leaves: &[Hash], m: usize) -> Option<Vec<Hash>> {
    if m == 0 || m > leaves.len() {
        return None;
    }
    let mut out = Vec::new();
    subproof(m, leaves, true, &mut out);
    Some(out)
}

fn subproof(m: usize, d: &[Hash], b: bool, out: &mut Vec<Hash>) {
    let n = d.len();
    if m == n {
        if !b {
            out.push(root(d));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &d[..k], b, out);
        out.push(root(&d[k..]));
    } else {
        subproof(m - k, &d[k..], false, out);
        out.push(root(&d[..k]));
    }
}

/// Verify an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}

/// Verify a consistency proof between `(size1, root1)` and `(size2, root2)` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> bool {
    if size1 > size2 {
        return false;
    }
    if size1 == size2 {
        return proof.is_empty() && root1 == root2;
    }
    if size1 == 0 {
        return proof.is_empty();
    }
    if proof.is_empty() {
        return false;
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if size1.is_power_of_two() {
        path.insert(0, *root1);
    }
    let (mut fn_, mut sn) = (size1 - 1, size2 - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && fr == *root1 && sr == *root2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Hash {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    // The Certificate Transparency reference vectors (RFC 6962 test data).
    const DATA: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn leaves() -> Vec<Hash> {
        DATA.iter()
            .map(|d| leaf_hash(&hex::decode(d).unwrap()))
            .collect()
    }

    #[test]
    fn reference_roots() {
        let l = leaves();
        for n in 0..=8 {
            assert_eq!(hex::encode(root(&l[..n])), ROOTS[n], "size {n}");
        }
    }

    #[test]
    fn reference_inclusion_proofs() {
        let l = leaves();
        let p0 = inclusion_proof(&l, 0).unwrap();
        assert_eq!(
            p0,
            vec![
                h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ]
        );
        let p5 = inclusion_proof(&l, 5).unwrap();
        assert_eq!(
            p5,
            vec![
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ]
        );
        let r = h(ROOTS[8]);
        assert!(verify_inclusion(&l[0], 0, 8, &p0, &r));
        assert!(verify_inclusion(&l[5], 5, 8, &p5, &r));
        assert!(!verify_inclusion(&l[5], 4, 8, &p5, &r));
        assert!(!verify_inclusion(&l[4], 5, 8, &p5, &r));
    }

    #[test]
    fn reference_consistency_proofs() {
        let l = leaves();
        let cases: [(usize, &[&str]); 3] = [
            (
                2,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (1, &[]),
        ];
        for (m, want) in cases {
            if m == 1 {
                continue;
            }
            let got = consistency_proof(&l, m).unwrap();
            let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
            assert_eq!(got, want, "proof {m} -> 8");
            assert!(verify_consistency(
                m as u64,
                8,
                &got,
                &h(ROOTS[m]),
                &h(ROOTS[8])
            ));
        }
        let p25 = consistency_proof(&l[..5], 2).unwrap();
        assert_eq!(
            p25,
            vec![
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ]
        );
    }

    #[test]
    fn every_proof_verifies_and_tampered_ones_do_not() {
        let l: Vec<Hash> = (0..37u8)
            .map(|i| leaf_hash(&[i, i.wrapping_mul(7)]))
            .collect();
        for n in 1..=l.len() {
            let t = &l[..n];
            let r = root(t);
            for i in 0..n {
                let p = inclusion_proof(t, i).unwrap();
                assert!(verify_inclusion(&t[i], i as u64, n as u64, &p, &r));
                assert!(!verify_inclusion(&t[i], n as u64, n as u64, &p, &r));
                if n > 1 {
                    let j = (i + 1) % n;
                    assert!(!verify_inclusion(&t[j], i as u64, n as u64, &p, &r));
                }
                if let Some(first) = p.first() {
                    let mut bad = p.clone();
                    bad[0] = node_hash(first, first);
                    assert!(!verify_inclusion(&t[i], i as u64, n as u64, &bad, &r));
                }
            }
            for m in 1..=n {
                let p = consistency_proof(t, m).unwrap();
                let r1 = root(&t[..m]);
                assert!(
                    verify_consistency(m as u64, n as u64, &p, &r1, &r),
                    "{m}->{n}"
                );
                if m < n {
                    // A different earlier tree is not consistent with this one.
                    let other = leaf_hash(b"forged");
                    let mut t2 = t[..m].to_vec();
                    t2[m - 1] = other;
                    assert!(!verify_consistency(m as u64, n as u64, &p, &root(&t2), &r));
                }
            }
        }
    }

    #[test]
    fn frontier_root_equals_the_full_computation() {
        let leaves: Vec<Hash> = (0u32..300).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut f = Frontier::default();
        assert_eq!(f.root(), root(&[]));
        for n in 1..=leaves.len() {
            f.push(leaves[n - 1]);
            assert_eq!(f.len(), n);
            assert_eq!(f.root(), root(&leaves[..n]), "size {n}");
            // Stored and resumed from its nodes, it goes on to the same roots.
            let mut resumed = Frontier::from_nodes(n, f.nodes().copied().collect()).unwrap();
            assert_eq!(resumed.root(), f.root(), "resumed at {n}");
            if let Some(next) = leaves.get(n) {
                resumed.push(*next);
                assert_eq!(
                    resumed.root(),
                    root(&leaves[..=n]),
                    "resumed, size {}",
                    n + 1
                );
            }
        }
        assert!(Frontier::from_nodes(3, vec![[0; 32]]).is_none());
    }
}
