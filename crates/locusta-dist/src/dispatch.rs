//! The master's user distribution, as Locust's `UsersDispatcher` computes it.
//!
//! Users are taken in the class order the engine defines (fixed-count classes first, then
//! weighted classes interleaved by Locust's Kullback-Leibler rule) and dealt round robin over
//! the workers, which are sorted so that consecutive users land on different hosts first
//! (sort by id, then by `(index of the worker on its host, id)`; the host is the id's part
//! before the first `_`). The distribution for `n` users is always "as if from zero", so
//! ramping down removes the most recently added users and a change of workers rebalances.

use std::collections::HashMap;

/// Sorts worker ids like Locust's `_sort_workers`.
pub fn sort_workers(ids: &[String]) -> Vec<String> {
    let mut by_id: Vec<&String> = ids.iter().collect();
    by_id.sort();
    let mut per_host: HashMap<&str, usize> = HashMap::new();
    let mut keyed: Vec<(usize, &String)> = by_id
        .into_iter()
        .map(|id| {
            let host = id.split('_').next().unwrap_or("");
            let n = per_host.entry(host).or_insert(0);
            let idx = *n;
            *n += 1;
            (idx, id)
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, id)| id.clone()).collect()
}

/// `{worker id: [(class, count)]}` for the first `order.len()` users of the class order
/// (indices into `classes`), dealt round robin over `workers` (already sorted). Every worker
/// gets every class, zeros included, as Locust sends them.
pub fn distribute(
    order: &[usize],
    classes: &[String],
    workers: &[String],
) -> Vec<(String, Vec<(String, u64)>)> {
    let mut counts: Vec<Vec<u64>> = vec![vec![0; classes.len()]; workers.len()];
    if !workers.is_empty() {
        for (i, &class) in order.iter().enumerate() {
            if class < classes.len() {
                counts[i % workers.len()][class] += 1;
            }
        }
    }
    workers
        .iter()
        .zip(counts)
        .map(|(w, c)| {
            (
                w.clone(),
                classes.iter().cloned().zip(c).collect::<Vec<_>>(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{ClassSlot, UserSequence};

    /// Class indices of the first `n` users in Locust's dispatch order.
    fn class_order(slots: &[ClassSlot], n: u64) -> Vec<usize> {
        let mut seq = UserSequence::new(slots.to_vec());
        (0..n).map_while(|_| seq.push()).collect()
    }

    fn slot(name: &str, weight: f64, fixed_count: u64) -> ClassSlot {
        ClassSlot {
            name: name.into(),
            weight,
            fixed_count,
        }
    }

    fn counts(v: &[(&str, &[(&str, u64)])]) -> Vec<(String, Vec<(String, u64)>)> {
        v.iter()
            .map(|(w, c)| {
                (
                    w.to_string(),
                    c.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn distribution_equals_locusts_users_dispatcher() {
        // Expected values printed by locust 2.47's UsersDispatcher for the same classes.
        let slots = vec![slot("ShopUser", 3.0, 0), slot("WebsiteUser", 1.0, 0)];
        let names = vec!["ShopUser".to_string(), "WebsiteUser".to_string()];
        let workers = vec!["a_1".to_string(), "b_1".to_string()];
        assert_eq!(
            distribute(&class_order(&slots, 6), &names, &workers),
            counts(&[
                ("a_1", &[("ShopUser", 3), ("WebsiteUser", 0)]),
                ("b_1", &[("ShopUser", 1), ("WebsiteUser", 2)]),
            ])
        );
        let slots = vec![slot("A", 1.0, 0), slot("B", 1.0, 2), slot("C", 5.0, 0)];
        let names = vec!["A".to_string(), "B".to_string(), "C".to_string()];
        let workers = vec!["a_1".to_string(), "b_1".to_string(), "a_2".to_string()];
        let workers = sort_workers(&workers);
        assert_eq!(
            distribute(&class_order(&slots, 10), &names, &workers),
            counts(&[
                ("a_1", &[("A", 0), ("B", 1), ("C", 3)]),
                ("b_1", &[("A", 1), ("B", 1), ("C", 1)]),
                ("a_2", &[("A", 0), ("B", 0), ("C", 3)]),
            ])
        );
    }

    #[test]
    fn workers_interleave_hosts() {
        let ids: Vec<String> = ["b_2", "a_1", "a_2", "b_1", "c_9"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(sort_workers(&ids), vec!["a_1", "b_1", "c_9", "a_2", "b_2"]);
    }

    #[test]
    fn round_robin_with_class_order() {
        let classes = vec!["A".to_string(), "B".to_string()];
        let workers = vec!["w1".to_string(), "w2".to_string()];
        // A A B A A A (weights 5:1 style order)
        let d = distribute(&[0, 0, 1, 0, 0, 0], &classes, &workers);
        assert_eq!(
            d,
            vec![
                (
                    "w1".to_string(),
                    vec![("A".to_string(), 2), ("B".to_string(), 1)]
                ),
                (
                    "w2".to_string(),
                    vec![("A".to_string(), 3), ("B".to_string(), 0)]
                ),
            ]
        );
        assert!(distribute(&[0, 1], &classes, &[]).is_empty());
    }
}
