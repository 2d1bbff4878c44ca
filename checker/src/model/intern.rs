//! Interning: each distinct value gets a small id, so model states are
//! numbers and comparing two values is comparing two `u32`s.

use rustc_hash::FxHashMap;
use std::borrow::Borrow;
use std::hash::Hash;

/// A table of distinct values and their ids (ids count up from 0).
#[derive(Clone, Debug)]
pub struct Interner<T: Eq + Hash + Clone> {
    values: Vec<T>,
    ids: FxHashMap<T, u32>,
}

impl<T: Eq + Hash + Clone> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            values: Vec::new(),
            ids: FxHashMap::default(),
        }
    }
}

impl<T: Eq + Hash + Clone> Interner<T> {
    /// The id of `value`, adding it if new. Looks up by reference (a `&str`
    /// for `String`s), so a value already known costs no allocation.
    pub fn intern<Q>(&mut self, value: &Q) -> u32
    where
        T: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = T> + ?Sized,
    {
        if let Some(&id) = self.ids.get(value) {
            return id;
        }
        let id = u32::try_from(self.values.len()).expect("fewer than 2^32 distinct values");
        let owned = value.to_owned();
        self.values.push(owned.clone());
        self.ids.insert(owned, id);
        id
    }

    /// The id of `value` if it was interned.
    pub fn get<Q>(&self, value: &Q) -> Option<u32>
    where
        T: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.ids.get(value).copied()
    }

    /// The value with id `id`.
    pub fn value(&self, id: u32) -> &T {
        &self.values[id as usize]
    }

    /// How many distinct values there are.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when nothing was interned.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_an_id() {
        let mut i: Interner<String> = Interner::default();
        let a = i.intern("a");
        let b = i.intern("b");
        assert_ne!(a, b);
        assert_eq!(i.intern("a"), a);
        assert_eq!(i.value(b), "b");
        assert_eq!(i.get("c"), None);
        assert_eq!(i.len(), 2);
    }
}
