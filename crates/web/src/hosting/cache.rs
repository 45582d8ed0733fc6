//! A small time-bounded cache for what every MCP request looks up (servers by slug, session
//! bindings, tracking links). A change made through this node is invalidated at once; another
//! node's change is seen within the time to live.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct TtlCache<K, V> {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<Entries<K, V>>,
}

#[derive(Debug)]
struct Entries<K, V> {
    map: HashMap<K, (Instant, V)>,
    /// A full cache is swept of expired entries at most once per time to live, so a flood of
    /// new keys does not walk the whole map on every insert.
    next_sweep: Instant,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        let entries = Entries { map: HashMap::new(), next_sweep: Instant::now() };
        Self { ttl, max_entries, entries: Mutex::new(entries) }
    }

    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .map
            .get(key)
            .filter(|(stored, _)| stored.elapsed() < self.ttl)
            .map(|(_, value)| value.clone())
    }

    /// Keeps `value` for `key`; when the cache is full of live entries, the new one is not
    /// kept (it is looked up again next time) rather than evicting entries in use.
    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.map.len() >= self.max_entries && !entries.map.contains_key(&key) {
            let now = Instant::now();
            if now >= entries.next_sweep {
                let ttl = self.ttl;
                entries.map.retain(|_, (stored, _)| stored.elapsed() < ttl);
                entries.next_sweep = now + ttl;
            }
            if entries.map.len() >= self.max_entries {
                return;
            }
        }
        entries.map.insert(key, (Instant::now(), value));
    }

    pub fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).map.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_size_stays_bounded() {
        let expired = TtlCache::new(Duration::ZERO, 2);
        expired.insert("a", 1);
        assert_eq!(expired.get(&"a"), None);
        let cache = TtlCache::new(Duration::from_secs(60), 2);
        cache.insert("a", 1);
        assert_eq!(cache.get(&"a"), Some(1));
        cache.insert("b", 2);
        cache.insert("c", 3);
        assert_eq!(cache.entries.lock().unwrap().map.len(), 2);
        assert_eq!((cache.get(&"a"), cache.get(&"b"), cache.get(&"c")), (Some(1), Some(2), None));
        cache.insert("b", 20);
        assert_eq!(cache.get(&"b"), Some(20), "a key already kept is updated");
        cache.remove(&"b");
        cache.insert("c", 3);
        assert_eq!(cache.get(&"c"), Some(3));
    }

    #[test]
    fn a_full_cache_of_expired_entries_makes_room_and_is_read_by_borrowed_keys() {
        let expired = TtlCache::new(Duration::ZERO, 1);
        expired.insert("a".to_owned(), 1);
        expired.insert("b".to_owned(), 2);
        let kept: Vec<String> = expired.entries.lock().unwrap().map.keys().cloned().collect();
        assert_eq!(kept, ["b"], "the expired entry was swept for the new one");
        let cache = TtlCache::new(Duration::from_secs(60), 1);
        cache.insert("a".to_owned(), 1);
        assert_eq!(cache.get("a"), Some(1), "looked up by &str, no String needed");
    }
}
