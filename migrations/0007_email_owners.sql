-- Mail belongs to an agent. `agent_id` on messages and templates is the owner: an agent id, or
-- NULL for global ones (made by a credential without an agent limit). A credential limited to
-- some agents reads only its agents' messages, and global plus its agents' templates.
-- Messages logged before this migration stay global: only unrestricted credentials see them.
ALTER TABLE email_messages ADD COLUMN agent_id TEXT;
-- The filtered log, newest first, with and without a status: both are range reads of one index.
CREATE INDEX email_messages_by_agent ON email_messages (agent_id, created_at, message_id);
CREATE INDEX email_messages_by_agent_status ON email_messages (agent_id, status, created_at, message_id);

-- Template names are unique per owner (an agent's `welcome` and the global `welcome` may both
-- exist; a message of that agent uses its own). SQLite cannot drop the old UNIQUE (name)
-- constraint in place, so the table is rebuilt; existing templates become global.
CREATE TABLE email_templates_owned (
  template_id TEXT PRIMARY KEY,
  agent_id TEXT,
  name TEXT NOT NULL,
  subject TEXT NOT NULL,
  text_body TEXT NOT NULL,
  html_body TEXT,
  description TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
INSERT INTO email_templates_owned (template_id, agent_id, name, subject, text_body, html_body, description, created_at, updated_at)
  SELECT template_id, NULL, name, subject, text_body, html_body, description, created_at, updated_at FROM email_templates;
DROP TABLE email_templates;
ALTER TABLE email_templates_owned RENAME TO email_templates;
-- NULLs are distinct in a UNIQUE index, so global names get their own.
CREATE UNIQUE INDEX email_templates_global_name ON email_templates (name) WHERE agent_id IS NULL;
CREATE UNIQUE INDEX email_templates_agent_name ON email_templates (agent_id, name) WHERE agent_id IS NOT NULL;

-- Mailgun webhook tokens seen within their validity window: a signed request is accepted once,
-- so a captured signature cannot be replayed with other event data. Rows past `expires_at`
-- (epoch ms; the signed timestamp plus the window) are pruned as new ones arrive.
CREATE TABLE email_webhook_tokens (
  provider TEXT NOT NULL,
  token TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (provider, token)
) WITHOUT ROWID;
CREATE INDEX email_webhook_tokens_by_expiry ON email_webhook_tokens (expires_at);
