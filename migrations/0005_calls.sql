-- Where each call lives: GET /api/v2/calls?agent_id= lists an agent's calls without
-- visiting every CallSessionDO. The call itself (roster, transcript) is in its CallSessionDO;
-- the Worker rewrites `status` here after each transition.
CREATE TABLE call_index (
  call_id TEXT PRIMARY KEY,
  agent_id TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX call_index_by_agent ON call_index (agent_id, created_at);
