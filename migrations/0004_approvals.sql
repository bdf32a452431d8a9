-- Where each approval lives: GET /api/v2/email/approval/{id} finds the agent (and its
-- AgentDO, which holds the approval itself), and GET /api/v2/email/approvals filters on status and
-- approver. The AgentDO rewrites the row on every change (create, decision, expiry, escalation).
CREATE TABLE approval_index (
  approval_id TEXT PRIMARY KEY,
  agent_id TEXT NOT NULL,
  status TEXT NOT NULL,
  -- Lower-cased, so the filter is case-insensitive.
  approver_email TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX approval_index_by_status ON approval_index (status, created_at);
CREATE INDEX approval_index_by_approver ON approval_index (approver_email, created_at);
