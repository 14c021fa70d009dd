//! `--show-task-ratio` and `--show-task-ratio-json`: how the users would split between the
//! classes and their tasks, printed in Locust's format before anything runs. Built from the
//! plan's class facts, so Rust user classes and Python locustfiles print alike.

use locusta_web::TaskInfo;

use crate::plan::ClassFacts;

/// One class or task and its share of the runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Ratio {
    /// Class or task name.
    pub name: String,
    /// Its share: of all users for a class; of its parent's runs (per class) or of all runs
    /// (total) for a task.
    pub ratio: f64,
    /// The tasks below it (a class's tasks, a nested task set's tasks).
    pub tasks: Option<Vec<Ratio>>,
}

/// Users per class when `num_users` users start (Locust's rule: fixed counts first, the rest
/// by weight, each rounded half to even; without `-u`, the total weight).
pub fn distribution(classes: &[ClassFacts], num_users: Option<u64>) -> Vec<(String, u64)> {
    let fixed: u64 = classes.iter().map(|c| c.fixed_count).sum();
    let total_weight: f64 = classes
        .iter()
        .filter(|c| c.fixed_count == 0)
        .map(|c| c.weight)
        .sum();
    let users = match num_users {
        Some(n) if n > 0 => n as f64,
        _ if fixed == 0 => total_weight,
        _ => 1.0,
    };
    let weighted = (users - fixed as f64).max(0.0);
    classes
        .iter()
        .map(|c| {
            let count = if c.fixed_count > 0 {
                c.fixed_count as f64
            } else {
                c.weight / total_weight * weighted
            };
            (c.name.clone(), count.round_ties_even() as u64)
        })
        .collect()
}

/// The ratio tree: `total` multiplies each task's share by its class's share.
pub fn ratios(classes: &[ClassFacts], num_users: Option<u64>, total: bool) -> Vec<Ratio> {
    ratios_of(classes, &distribution(classes, num_users), total)
}

/// The ratio tree for these users per class (`(class name, users)`; a class not listed has
/// none), as [`ratios`] gives it for the users `-u` would start. The HTML report's final ratio
/// is this tree for the users that ran.
pub fn ratios_of(classes: &[ClassFacts], counts: &[(String, u64)], total: bool) -> Vec<Ratio> {
    let users = |name: &str| {
        counts
            .iter()
            .find(|(c, _)| c == name)
            .map_or(0, |(_, n)| *n)
    };
    let all: u64 = classes.iter().map(|c| users(&c.name)).sum();
    let all = all.max(1) as f64;
    classes
        .iter()
        .map(|class| {
            let share = users(&class.name) as f64 / all;
            Ratio {
                name: class.name.clone(),
                ratio: share,
                tasks: Some(task_ratios(&class.tasks, total, share)),
            }
        })
        .collect()
}

fn task_ratios(tasks: &[TaskInfo], total: bool, parent: f64) -> Vec<Ratio> {
    let parent = if total { parent } else { 1.0 };
    let len: u64 = tasks.iter().map(|t| t.weight).sum();
    let len = len.max(1) as f64;
    tasks
        .iter()
        .map(|t| {
            let share = t.weight as f64 * parent / len;
            Ratio {
                name: t.name.clone(),
                ratio: share,
                tasks: (!t.tasks.is_empty()).then(|| task_ratios(&t.tasks, total, share)),
            }
        })
        .collect()
}

/// Locust's `--show-task-ratio` text.
pub fn text(classes: &[ClassFacts], num_users: Option<u64>) -> String {
    let mut out = String::new();
    out.push_str("\n Task ratio per User class\n");
    out.push_str(&"-".repeat(80));
    out.push('\n');
    table(&ratios(classes, num_users, false), 0, &mut out);
    out.push_str("\n Total task ratio\n");
    out.push_str(&"-".repeat(80));
    out.push('\n');
    table(&ratios(classes, num_users, true), 0, &mut out);
    out
}

fn table(rows: &[Ratio], level: usize, out: &mut String) {
    let padding = " ".repeat(2 * level);
    for row in rows {
        let percent = format!("{padding}{:<6.1}", row.ratio * 100.0);
        let name = format!("{padding}{}", row.name);
        out.push_str(&format!(" {percent:<10} {name:<50}\n"));
        if let Some(tasks) = &row.tasks {
            table(tasks, level + 1, out);
        }
    }
}

/// Locust's `--show-task-ratio-json` text (`per_class` and `total`, indented by 4 as Python's
/// `json.dumps(..., indent=4)`).
pub fn json(classes: &[ClassFacts], num_users: Option<u64>) -> String {
    let mut out = String::from("{\n");
    out.push_str("    \"per_class\": ");
    json_rows(&ratios(classes, num_users, false), 1, &mut out);
    out.push_str(",\n    \"total\": ");
    json_rows(&ratios(classes, num_users, true), 1, &mut out);
    out.push_str("\n}\n");
    out
}

fn json_rows(rows: &[Ratio], level: usize, out: &mut String) {
    if rows.is_empty() {
        out.push_str("{}");
        return;
    }
    let inner = "    ".repeat(level + 1);
    let fields = "    ".repeat(level + 2);
    out.push_str("{\n");
    for (i, row) in rows.iter().enumerate() {
        let name = serde_json::Value::from(row.name.as_str());
        let ratio = serde_json::Value::from(row.ratio);
        out.push_str(&format!("{inner}{name}: {{\n{fields}\"ratio\": {ratio}"));
        if let Some(tasks) = &row.tasks {
            out.push_str(&format!(",\n{fields}\"tasks\": "));
            json_rows(tasks, level + 2, out);
        }
        out.push_str(&format!("\n{inner}}}"));
        out.push_str(if i + 1 < rows.len() { ",\n" } else { "\n" });
    }
    out.push_str(&"    ".repeat(level));
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(name: &str, weight: u64, tasks: Vec<TaskInfo>) -> TaskInfo {
        TaskInfo {
            name: name.into(),
            weight,
            tasks,
        }
    }

    fn class(name: &str, weight: f64, fixed: u64, tasks: Vec<TaskInfo>) -> ClassFacts {
        ClassFacts {
            name: name.into(),
            weight,
            fixed_count: fixed,
            host: None,
            needs_host: false,
            tasks,
        }
    }

    #[test]
    fn users_split_by_fixed_count_then_weight_rounding_half_to_even() {
        let classes = [
            class("A", 1.0, 0, vec![]),
            class("B", 3.0, 0, vec![]),
            class("F", 1.0, 2, vec![]),
        ];
        let d = distribution(&classes, Some(12));
        assert_eq!(d, vec![("A".into(), 2), ("B".into(), 8), ("F".into(), 2)]);
        // Without -u: the total weight of the weighted classes (no fixed ones here).
        let d = distribution(&classes[..2], None);
        assert_eq!(d, vec![("A".into(), 1), ("B".into(), 3)]);
        // 2.5 rounds to 2, as Python's round().
        let d = distribution(
            &[class("A", 1.0, 0, vec![]), class("B", 1.0, 0, vec![])],
            Some(5),
        );
        assert_eq!(d, vec![("A".into(), 2), ("B".into(), 2)]);
    }

    #[test]
    fn nested_task_sets_share_their_parents_runs() {
        let classes = [class(
            "U",
            1.0,
            0,
            vec![
                task("a", 3, vec![]),
                task("Set", 1, vec![task("x", 1, vec![]), task("y", 1, vec![])]),
            ],
        )];
        let total = ratios(&classes, None, true);
        let tasks = total[0].tasks.as_ref().unwrap();
        assert_eq!(tasks[0].ratio, 0.75);
        assert_eq!(tasks[1].tasks.as_ref().unwrap()[0].ratio, 0.125);
        let text = text(&classes, None);
        assert!(text.contains(" 75.0       a"), "{text}");
        assert!(text.contains("   50.0       x"), "{text}");
    }
}
