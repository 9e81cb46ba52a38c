//! A graph's shape: named nodes and the edges between them — a plain edge to one or more
//! nodes (more than one fans out), a conditional edge that picks successors from the outputs
//! so far, or the end.

use std::{collections::HashMap, sync::Arc};

use crate::graph::node::{Node, Outputs};

pub type Branch = Arc<dyn Fn(&Outputs) -> Vec<&'static str> + Send + Sync>;

#[derive(Clone)]
pub enum Edge {
    To(Vec<&'static str>),
    Branch(Branch),
    End,
}

#[derive(Clone)]
pub struct Graph {
    pub(super) entry: &'static str,
    pub(super) nodes: HashMap<&'static str, Arc<dyn Node>>,
    pub(super) edges: HashMap<&'static str, Edge>,
}

impl Graph {
    pub fn new(entry: &'static str) -> Self {
        Self {
            entry,
            nodes: HashMap::new(),
            edges: HashMap::new(),
        }
    }

    pub fn node(self, name: &'static str, node: impl Node + 'static) -> Self {
        self.node_arc(name, Arc::new(node))
    }

    pub fn node_arc(mut self, name: &'static str, node: Arc<dyn Node>) -> Self {
        self.nodes.insert(name, node);
        self
    }

    pub fn edge(mut self, from: &'static str, to: &[&'static str]) -> Self {
        self.edges.insert(from, Edge::To(to.to_vec()));
        self
    }

    pub fn branch(
        mut self,
        from: &'static str,
        pick: impl Fn(&Outputs) -> Vec<&'static str> + Send + Sync + 'static,
    ) -> Self {
        self.edges.insert(from, Edge::Branch(Arc::new(pick)));
        self
    }

    pub fn end(mut self, at: &'static str) -> Self {
        self.edges.insert(at, Edge::End);
        self
    }

    /// The nodes of one straight run, for progress percentages.
    /// The node every run starts from.
    pub fn entry(&self) -> &'static str {
        self.entry
    }

    pub fn expected_steps(&self) -> usize {
        self.nodes.len()
    }

    /// Every edge names a known node and every node has an edge out.
    pub fn validate(&self) -> Result<(), String> {
        if !self.nodes.contains_key(self.entry) {
            return Err(format!("entry {} is not a node", self.entry));
        }
        for name in self.nodes.keys() {
            if !self.edges.contains_key(name) {
                return Err(format!("node {name} has no edge out"));
            }
        }
        for (from, edge) in &self.edges {
            if let Edge::To(to) = edge
                && let Some(missing) = to.iter().find(|t| !self.nodes.contains_key(*t))
            {
                return Err(format!("edge {from} → {missing} names no node"));
            }
        }
        Ok(())
    }
}
