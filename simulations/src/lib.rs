//! Seeded many-node scenarios on in-memory engines (`allmenning_protocol::testing::SimNet`).

pub mod partition_conflicts;
