//! A map kept as a `Vec` of pairs sorted by key.
//!
//! Why not `BTreeMap` or `HashMap`: in the wasm module each of those costs
//! several kilobytes of code per key and value type (node splitting and
//! merging, hashing, rehashing), and the maps here are small or filled in
//! key order, where a sorted `Vec` does as well: lookups are a binary
//! search, and an insert past the last key is a push.

use std::borrow::Borrow;
use std::cmp::Ordering;

#[derive(Debug, Clone)]
pub(crate) struct VecMap<K, V> {
    pairs: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap { pairs: Vec::new() }
    }
}

impl<K: Ord, V> VecMap<K, V> {
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        // Most inserts come in key order: check the end first.
        match self.pairs.last() {
            None => Err(0),
            Some((last, _)) if last.borrow() < key => Err(self.pairs.len()),
            _ => self.pairs.binary_search_by(|(k, _)| k.borrow().cmp(key)),
        }
    }

    pub(crate) fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|at| &self.pairs[at].1)
    }

    pub(crate) fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        match self.find(key) {
            Ok(at) => Some(&mut self.pairs[at].1),
            Err(_) => None,
        }
    }

    pub(crate) fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Where `key` is, for [`VecMap::value_at_mut`] (positions hold while
    /// no key is inserted or removed).
    pub(crate) fn position<Q: Ord + ?Sized>(&self, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok()
    }

    /// The value at `at`, a position [`VecMap::position`] gave.
    pub(crate) fn value_at_mut(&mut self, at: usize) -> &mut V {
        &mut self.pairs[at].1
    }

    /// Sets `key` to `value`; returns the value it replaced.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(at) => Some(std::mem::replace(&mut self.pairs[at].1, value)),
            Err(at) => {
                self.pairs.insert(at, (key, value));
                None
            }
        }
    }

    pub(crate) fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|at| self.pairs.remove(at).1)
    }

    /// The value of `key`, made with `make` if it has none. (Used by the
    /// import, which only the wasm build has.)
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let at = match self.find(&key) {
            Ok(at) => at,
            Err(at) => {
                self.pairs.insert(at, (key, make()));
                at
            }
        };
        &mut self.pairs[at].1
    }

    /// The pairs from the first key at or after `from`, in key order.
    pub(crate) fn tail_from<Q: Ord + ?Sized>(&self, from: &Q) -> impl Iterator<Item = (&K, &V)>
    where
        K: Borrow<Q>,
    {
        let at = self.find(from).unwrap_or_else(|at| at);
        self.pairs[at..].iter().map(|(k, v)| (k, v))
    }

    pub(crate) fn keys(&self) -> impl DoubleEndedIterator<Item = &K> {
        self.pairs.iter().map(|(k, _)| k)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.pairs.iter().map(|(_, v)| v)
    }

    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.pairs.iter_mut().map(|(_, v)| v)
    }

    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        self.pairs.retain(|(k, v)| keep(k, v));
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Empties the map; returns its pairs in key order.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn take(&mut self) -> Vec<(K, V)> {
        std::mem::take(&mut self.pairs)
    }
}

/// The positions `0..len` in the order `cmp` sorts them, equal ones in
/// their first order. The one sort of the crate: the standard sort is
/// compiled anew for every element type and comparator it is given, and
/// even once it is 3.4 KB of wasm; this bottom-up merge sort of positions
/// is a few hundred bytes, and O(n log n) like it.
pub(crate) fn sorted_order(len: usize, cmp: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    let mut merged = vec![0; len];
    let mut width = 1;
    while width < len {
        let mut start = 0;
        while start < len {
            let mid = len.min(start + width);
            let end = len.min(start + 2 * width);
            let (mut left, mut right) = (start, mid);
            for slot in &mut merged[start..end] {
                let take_left =
                    right == end || (left < mid && cmp(order[left], order[right]).is_le());
                if take_left {
                    *slot = order[left];
                    left += 1;
                } else {
                    *slot = order[right];
                    right += 1;
                }
            }
            start = end;
        }
        std::mem::swap(&mut order, &mut merged);
        width *= 2;
    }
    order
}

/// Sorts `ids` and drops repeats.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) fn sort_unique(ids: &mut Vec<&str>) {
    let order = sorted_order(ids.len(), &|a, b| ids[a].cmp(ids[b]));
    // One loop that takes each id in order and skips a repeat: collect and
    // dedup compiled to more.
    let mut sorted: Vec<&str> = Vec::with_capacity(order.len());
    for at in order {
        if sorted.last() != Some(&ids[at]) {
            sorted.push(ids[at]);
        }
    }
    *ids = sorted;
}

#[cfg(test)]
mod tests {
    use super::VecMap;

    #[test]
    fn keeps_keys_sorted_whatever_the_insert_order() {
        let mut map = VecMap::default();
        for k in [5, 1, 9, 3, 7, 3] {
            map.insert(k, k * 10);
        }
        assert_eq!(map.keys().copied().collect::<Vec<_>>(), [1, 3, 5, 7, 9]);
        assert_eq!(map.get(&3), Some(&30));
        assert_eq!(map.insert(3, 31), Some(30));
        assert_eq!(map.remove(&5), Some(50));
        assert_eq!(map.get(&5), None);
        assert_eq!(
            map.tail_from(&4).map(|(k, _)| *k).collect::<Vec<_>>(),
            [7, 9]
        );
        map.insert(8, 0);
        *map.value_at_mut(map.position(&8).unwrap()) += 2;
        *map.get_or_insert_with(8, || 0) += 1;
        *map.get_or_insert_with(10, || 5) += 1;
        assert_eq!(map.get(&8), Some(&3));
        assert_eq!(map.remove(&10), Some(6));
        map.retain(|k, _| k % 3 != 0);
        assert_eq!(map.keys().copied().collect::<Vec<_>>(), [1, 7, 8]);
    }

    #[test]
    fn orders_positions_as_a_stable_sort_does() {
        // Lengths around powers of two, many repeats, a fixed pseudo-random mix.
        let mut seed = 12345u32;
        for len in [0, 1, 2, 3, 7, 8, 9, 31, 64, 100, 1000] {
            let keys: Vec<u32> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (seed >> 16) % 17
                })
                .collect();
            let order = super::sorted_order(len, &|a, b| keys[a].cmp(&keys[b]));
            let mut expected: Vec<usize> = (0..len).collect();
            expected.sort_by_key(|&at| keys[at]);
            assert_eq!(order, expected, "length {len}");
        }
    }

    #[test]
    fn sorts_and_drops_repeats() {
        let mut ids = vec!["b", "a", "c", "a", "b"];
        super::sort_unique(&mut ids);
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[test]
    fn looks_up_string_keys_by_str() {
        let mut map: VecMap<String, u8> = VecMap::default();
        map.insert("b".into(), 2);
        map.insert("a".into(), 1);
        assert!(map.contains_key("a"));
        assert_eq!(map.get("b"), Some(&2));
        assert_eq!(map.get("c"), None);
        assert_eq!(map.take(), vec![("a".into(), 1), ("b".into(), 2)]);
        assert!(map.is_empty());
    }
}
