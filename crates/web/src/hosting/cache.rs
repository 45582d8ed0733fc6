//! A small time-bounded cache for what every MCP request looks up (servers by slug, session
//! bindings, tracking links). A change made through this node is invalidated at once; another
//! node's change is seen within the time to live.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct TtlCache<K, V> {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self { ttl, max_entries, entries: Mutex::new(HashMap::new()) }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(key)
            .filter(|(stored, _)| stored.elapsed() < self.ttl)
            .map(|(_, value)| value.clone())
    }

    /// Keeps `value` for `key`; when the cache is full of live entries, the new one is not
    /// kept (it is looked up again next time) rather than evicting entries in use.
    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.max_entries && !entries.contains_key(&key) {
            let ttl = self.ttl;
            entries.retain(|_, (stored, _)| stored.elapsed() < ttl);
            if entries.len() >= self.max_entries {
                return;
            }
        }
        entries.insert(key, (Instant::now(), value));
    }

    pub fn remove(&self, key: &K) {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
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
        assert_eq!(cache.entries.lock().unwrap().len(), 2);
        assert_eq!((cache.get(&"a"), cache.get(&"b"), cache.get(&"c")), (Some(1), Some(2), None));
        cache.insert("b", 20);
        assert_eq!(cache.get(&"b"), Some(20), "a key already kept is updated");
        cache.remove(&"b");
        cache.insert("c", 3);
        assert_eq!(cache.get(&"c"), Some(3));
    }
}
