-- Where each task lives: GET /api/v2/tasks/{task_id} finds the agent (and its Durable Object)
-- without knowing it. The task itself is stored in that agent's AgentDO.
CREATE TABLE task_index (
  task_id TEXT PRIMARY KEY,
  agent_id TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

-- Dead-lettered task messages, recorded by the dead-letter queue's consumer.
CREATE TABLE dead_letters (
  message_id TEXT PRIMARY KEY,
  task_id TEXT,
  agent_id TEXT,
  error TEXT,
  attempts INTEGER,
  body TEXT NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE INDEX dead_letters_by_task ON dead_letters (task_id);
