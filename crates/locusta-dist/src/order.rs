//! The order in which users of each class start and stop: Locust's dispatcher order.
//!
//! Locust decides the class of each new user with a deterministic sequence: classes with a
//! `fixed_count` first, then weighted classes interleaved smoothly (a Kullback-Leibler divergence
//! generator, so weights 5:1 give `AABAAAAABAAA...`). Ramping down removes the most recently
//! started users first. [`UserSequence`] reproduces that order; a single-process runner follows
//! it user by user, and a master deals it out to its workers (`dispatch`).

/// A user class as the dispatcher sees it: a name, a weight and an optional fixed count.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassSlot {
    /// The class name (used for deterministic ordering, like Locust's sort by name).
    pub name: String,
    /// Relative share among weighted classes.
    pub weight: f64,
    /// When > 0, exactly this many users of the class run, started before weighted ones.
    pub fixed_count: u64,
}

/// One entry of the KL generator's state: `(divergence gain, picks + weight, weight, class)`.
#[derive(Debug, Clone)]
struct KlItem {
    gain: f64,
    x: f64,
    weight: f64,
    rank: usize,
    class: usize,
}

/// Smooth weighted interleaving with Locust's Kullback-Leibler rule: always pick the class whose
/// next pick decreases the divergence from the target distribution the most.
#[derive(Debug, Clone)]
struct KlGenerator {
    items: Vec<KlItem>,
}

impl KlGenerator {
    /// `weights` are `(class index, weight)` in name order; ties go to the earlier name.
    fn new(weights: impl IntoIterator<Item = (usize, f64)>) -> Self {
        let items = weights
            .into_iter()
            .filter(|(_, w)| *w > 0.0)
            .enumerate()
            .map(|(rank, (class, w))| KlItem {
                gain: w * (w / (w + 1.0)).log2(),
                x: w + 1.0,
                weight: w,
                rank,
                class,
            })
            .collect();
        KlGenerator { items }
    }

    fn next(&mut self) -> Option<usize> {
        // Min over (gain, x, weight, class) — the same tuple order as a heap of tuples.
        let best = (0..self.items.len()).min_by(|&a, &b| {
            let (ia, ib) = (&self.items[a], &self.items[b]);
            ia.gain
                .total_cmp(&ib.gain)
                .then(ia.x.total_cmp(&ib.x))
                .then(ia.weight.total_cmp(&ib.weight))
                .then(ia.rank.cmp(&ib.rank))
        })?;
        let item = &mut self.items[best];
        let class = item.class;
        item.gain = item.weight * (item.x / (item.x + 1.0)).log2();
        item.x += 1.0;
        Some(class)
    }
}

/// The order in which users of each class are started and stopped (Locust's dispatcher order).
///
/// Class indices refer to the vector given to [`UserSequence::new`]; name order is used only
/// to break ties, as Locust does, so callers keep their own indices.
#[derive(Debug, Clone)]
pub struct UserSequence {
    classes: Vec<ClassSlot>,
    by_name: Vec<usize>,
    weighted: KlGenerator,
    fixed_pending: Vec<usize>,
    try_fixed: bool,
    active: Vec<usize>,
    counts: Vec<u64>,
    /// Classes new users may be drawn from (all unless [`UserSequence::restrict`] narrowed them).
    allowed: Vec<bool>,
}

impl UserSequence {
    /// Builds the sequence for these classes.
    pub fn new(classes: Vec<ClassSlot>) -> Self {
        let mut by_name: Vec<usize> = (0..classes.len()).collect();
        by_name.sort_by(|&a, &b| classes[a].name.cmp(&classes[b].name));
        // Feed the generator in name order so ties break like Locust's (name is in the tuple).
        let weighted = KlGenerator::new(
            by_name
                .iter()
                .filter(|&&i| classes[i].fixed_count == 0)
                .map(|&i| (i, classes[i].weight)),
        );
        let counts = vec![0; classes.len()];
        let allowed = vec![true; classes.len()];
        UserSequence {
            classes,
            by_name,
            weighted,
            fixed_pending: Vec::new(),
            try_fixed: true,
            active: Vec::new(),
            counts,
            allowed,
        }
    }

    /// Draws new users only from `allowed` (class indices) from now on, as Locust does when a
    /// load shape's tick names user classes: running users of other classes keep running (a
    /// ramp-down still stops the most recent first), and the weighted interleaving restarts over
    /// the allowed classes. Giving the same set again changes nothing.
    pub fn restrict(&mut self, allowed: &[usize]) {
        let mut wanted = vec![false; self.classes.len()];
        for &i in allowed {
            if let Some(slot) = wanted.get_mut(i) {
                *slot = true;
            }
        }
        if wanted == self.allowed {
            return;
        }
        self.allowed = wanted;
        self.weighted = KlGenerator::new(
            self.by_name
                .iter()
                .filter(|&&i| self.allowed[i] && self.classes[i].fixed_count == 0)
                .map(|&i| (i, self.classes[i].weight)),
        );
        self.fixed_pending.clear();
        self.try_fixed = true;
    }

    /// The classes of the users started so far, oldest first.
    pub fn active(&self) -> &[usize] {
        &self.active
    }

    /// Number of users currently started through this sequence.
    pub fn len(&self) -> usize {
        self.active.len()
    }

    /// True when no user is running.
    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// Users per class right now, indexed like the classes given to `new`.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// The class of the next user to start, or `None` when no class can take more users
    /// (every class has a fixed count and all are full, or all weights are zero).
    pub fn push(&mut self) -> Option<usize> {
        if self.fixed_pending.is_empty() && self.try_fixed {
            self.try_fixed = false;
            let missing: Vec<(usize, f64)> = self
                .by_name
                .iter()
                .map(|&i| (i, &self.classes[i]))
                .filter(|(i, c)| self.allowed[*i] && c.fixed_count > self.counts[*i])
                .map(|(i, c)| (i, (c.fixed_count - self.counts[i]) as f64))
                .collect();
            let total: f64 = missing.iter().map(|(_, m)| m).sum();
            let mut gen = KlGenerator::new(missing);
            let mut order = Vec::with_capacity(total as usize);
            for _ in 0..total as usize {
                if let Some(c) = gen.next() {
                    order.push(c);
                }
            }
            order.reverse();
            self.fixed_pending = order;
        }
        let class = match self.fixed_pending.pop() {
            Some(c) => c,
            None => self.weighted.next()?,
        };
        self.active.push(class);
        self.counts[class] += 1;
        Some(class)
    }

    /// Records a user of this class started outside the sequence's own order (a worker told
    /// absolute per-class counts by its master).
    pub fn push_class(&mut self, class: usize) {
        if class < self.counts.len() {
            self.active.push(class);
            self.counts[class] += 1;
        }
    }

    /// Removes the most recently started user of this class; returns its position in start
    /// order.
    pub fn remove_last_of(&mut self, class: usize) -> Option<usize> {
        let pos = self.active.iter().rposition(|&c| c == class)?;
        self.active.remove(pos);
        self.counts[class] -= 1;
        self.try_fixed = true;
        self.fixed_pending.clear();
        Some(pos)
    }

    /// The class of the most recently started user, which is the next to stop.
    pub fn pop(&mut self) -> Option<usize> {
        let class = self.active.pop()?;
        self.counts[class] -= 1;
        // A stopped fixed-count user must be replaced before weighted users grow again.
        self.try_fixed = true;
        self.fixed_pending.clear();
        Some(class)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(name: &str, weight: f64, fixed: u64) -> ClassSlot {
        ClassSlot {
            name: name.into(),
            weight,
            fixed_count: fixed,
        }
    }

    fn names(seq: &mut UserSequence, n: usize) -> String {
        let classes = seq.classes.clone();
        (0..n)
            .filter_map(|_| seq.push())
            .map(|c| classes[c].name.clone())
            .collect()
    }

    #[test]
    fn weights_five_to_one_interleave_like_locust() {
        let mut seq = UserSequence::new(vec![slot("A", 5.0, 0), slot("B", 1.0, 0)]);
        // What Locust 2.47 yields (its docstring says AAABAAAAABAA, but the code gives this).
        assert_eq!(names(&mut seq, 12), "AABAAAAABAAA");
    }

    #[test]
    fn equal_weights_alternate_in_name_order() {
        let mut seq = UserSequence::new(vec![slot("B", 1.0, 0), slot("A", 1.0, 0)]);
        assert_eq!(names(&mut seq, 6), "ABABAB");
    }

    #[test]
    fn proportions_hold_for_fractional_weights() {
        let mut seq = UserSequence::new(vec![
            slot("api", 3.0, 0),
            slot("admin", 1.0, 0),
            slot("mobile", 6.0, 0),
        ]);
        for _ in 0..1000 {
            seq.push();
        }
        assert_eq!(seq.counts(), &[300, 100, 600]);
        let mut seq = UserSequence::new(vec![slot("a", 0.5, 0), slot("b", 1.5, 0)]);
        for _ in 0..100 {
            seq.push();
        }
        assert_eq!(seq.counts(), &[25, 75]);
    }

    #[test]
    fn fixed_count_classes_come_first_and_stay_fixed() {
        let mut seq = UserSequence::new(vec![slot("W", 1.0, 0), slot("F", 1.0, 2)]);
        assert_eq!(names(&mut seq, 5), "FFWWW");
        assert_eq!(seq.counts(), &[3, 2]);
    }

    #[test]
    fn fixed_only_classes_stop_at_their_count() {
        let mut seq = UserSequence::new(vec![slot("F", 1.0, 3)]);
        assert_eq!(names(&mut seq, 10), "FFF");
        assert_eq!(seq.push(), None);
    }

    #[test]
    fn ramp_down_stops_last_started_first() {
        let mut seq = UserSequence::new(vec![slot("A", 1.0, 0), slot("B", 1.0, 0)]);
        names(&mut seq, 3); // A B A
        assert_eq!(seq.pop(), Some(0));
        assert_eq!(seq.pop(), Some(1));
        assert_eq!(seq.counts(), &[1, 0]);
    }

    #[test]
    fn stopped_fixed_users_are_replaced_first() {
        let mut seq = UserSequence::new(vec![slot("W", 1.0, 0), slot("F", 1.0, 1)]);
        names(&mut seq, 1); // F
        assert_eq!(seq.pop(), Some(1));
        assert_eq!(names(&mut seq, 2), "FW");
    }

    #[test]
    fn restricting_classes_draws_new_users_from_those_only() {
        let mut seq = UserSequence::new(vec![
            slot("A", 1.0, 0),
            slot("B", 1.0, 0),
            slot("F", 1.0, 1),
        ]);
        assert_eq!(names(&mut seq, 3), "FAB");
        seq.restrict(&[1]);
        assert_eq!(names(&mut seq, 3), "BBB");
        assert_eq!(seq.counts(), &[1, 4, 1]);
        // Ramping down still stops the most recent users first, whatever their class.
        assert_eq!(seq.pop(), Some(1));
        // The fixed class is left alone unless allowed again; then it is refilled first.
        seq.pop();
        seq.pop();
        seq.pop();
        seq.pop();
        seq.pop();
        assert!(seq.is_empty());
        assert_eq!(names(&mut seq, 2), "BB");
        seq.restrict(&[0, 1, 2]);
        assert_eq!(names(&mut seq, 3), "FAB");
        // The same set again keeps the interleaving where it was.
        seq.restrict(&[0, 1, 2]);
        assert_eq!(names(&mut seq, 2), "AB");
    }
}
