-- The message log: every message sent through POST /api/v2/email/send, the send_email
-- task handler or the approval flow. Times are epoch milliseconds, like the other tables.
-- `to_addresses` and `attempts` are JSON arrays; `attempts` holds each provider's turn
-- ({provider, ok, error?, status?, skipped?, duration_ms}). Delivery webhooks find a message by
-- `provider_message_id` (SendGrid X-Message-Id, the prefix of sg_message_id) or
-- `rfc_message_id` (the Message-ID header, `<…>`; Mailgun's id).
CREATE TABLE email_messages (
  message_id TEXT PRIMARY KEY,
  provider TEXT,
  to_addresses TEXT NOT NULL,
  from_address TEXT NOT NULL,
  subject TEXT NOT NULL,
  text_body TEXT NOT NULL,
  html_body TEXT,
  status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'delivered', 'bounced')),
  attempts TEXT NOT NULL DEFAULT '[]',
  error TEXT,
  template_id TEXT,
  provider_message_id TEXT,
  rfc_message_id TEXT,
  related TEXT,
  created_at INTEGER NOT NULL,
  sent_at INTEGER,
  updated_at INTEGER NOT NULL
);
CREATE INDEX email_messages_by_created ON email_messages (created_at, message_id);
CREATE INDEX email_messages_by_status ON email_messages (status, created_at, message_id);
CREATE INDEX email_messages_by_provider_id ON email_messages (provider_message_id);
CREATE INDEX email_messages_by_rfc_id ON email_messages (rfc_message_id);

-- User templates; the built-ins (approval_request, task_completion) live in code, and their
-- names are reserved.
CREATE TABLE email_templates (
  template_id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  subject TEXT NOT NULL,
  text_body TEXT NOT NULL,
  html_body TEXT,
  description TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
