-- Where each task lives, registered once per agent instead of once per task: a task id is
-- `task_` + its agent's 12-hex prefix + 20 random hex, so GET /api/v2/tasks/{task_id} reads the
-- agent from this table by the id's prefix (and the Worker remembers it). The agent's Durable
-- Object registers its prefix before its first task is stored. task_index keeps the tasks made
-- before this migration (their ids are `task_` + 24 random hex).
CREATE TABLE task_id_prefixes (
  prefix TEXT PRIMARY KEY,
  agent_id TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);
