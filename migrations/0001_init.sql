-- The cross-agent index and credentials. Each AgentDO is the truth for its agent; the
-- `agents` table is derived from it (see durable-objects/agent/derived-sync.ts).
CREATE TABLE agents (
  agent_id TEXT PRIMARY KEY,
  agent_type TEXT NOT NULL,
  version INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  instances INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX agents_by_type ON agents (agent_type, agent_id);

-- API keys: only the SHA-256 of a key is stored; the key is shown once, at creation.
CREATE TABLE api_keys (
  key_id TEXT PRIMARY KEY,
  key_hash TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  role TEXT NOT NULL,
  agents TEXT,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER,
  last_used_at INTEGER
);
