//! Progress through a graph, read from its checkpoints. A node that runs again (a loop back
//! through `draft`, say) is checkpointed once per visit under a key of its own; progress
//! counts distinct nodes against the nodes of the graph.

use std::collections::HashSet;

use serde::Serialize;

/// The checkpoint key of a node's nth visit: `draft`, then `draft#2`, `draft#3`…
pub fn visit_key(node: &str, visit: u32) -> String {
    if visit <= 1 {
        node.to_string()
    } else {
        format!("{node}#{visit}")
    }
}

/// The node a checkpoint key belongs to: `draft#2` → `draft`.
pub fn node_of(key: &str) -> &str {
    key.split('#').next().unwrap_or(key)
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Progress {
    /// The node running, or the last one saved.
    pub node: Option<String>,
    /// Checkpoint keys in the order they were saved.
    pub done: Vec<String>,
    pub percent: u32,
}

impl Progress {
    /// Progress of a run with these checkpoints through a graph of `steps` nodes; 100 only
    /// once the run is `finished`, since a loop can take a node back.
    pub fn new(node: Option<String>, done: Vec<String>, steps: usize, finished: bool) -> Self {
        let distinct: HashSet<&str> = done.iter().map(|k| node_of(k)).collect();
        let percent = if finished {
            100
        } else {
            ((distinct.len() * 100 / steps.max(1)) as u32).min(99)
        };
        Self { node, done, percent }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visits_count_once_and_only_a_finished_run_is_whole() {
        assert_eq!(visit_key("draft", 1), "draft");
        assert_eq!(visit_key("draft", 3), "draft#3");
        assert_eq!(node_of("draft#3"), "draft");
        let done: Vec<String> = ["a", "b", "b#2"].map(String::from).to_vec();
        assert_eq!(Progress::new(None, done.clone(), 4, false).percent, 50);
        assert_eq!(Progress::new(None, done.clone(), 2, false).percent, 99);
        assert_eq!(Progress::new(None, done, 4, true).percent, 100);
    }
}
