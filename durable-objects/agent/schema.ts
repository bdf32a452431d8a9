/**
 * AgentDO's SQLite schema. Times are epoch milliseconds; `state_data` is stored as the JSON
 * text the client sent (after validation), so loads never re-serialize it.
 */
import type { Migration } from "../shared/migrate";

export const AGENT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "versioned state, derived-store sync, timers",
    sql: `
      CREATE TABLE state_meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        agent_id TEXT NOT NULL,
        agent_type TEXT NOT NULL,
        version INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE state_versions (
        version INTEGER PRIMARY KEY,
        agent_type TEXT NOT NULL,
        state_data TEXT NOT NULL,
        saved_at INTEGER NOT NULL,
        restored_from INTEGER
      );
      CREATE TABLE derived_sync (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        agent_id TEXT NOT NULL,
        wanted_generation INTEGER NOT NULL,
        synced_generation INTEGER NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE timers (
        name TEXT PRIMARY KEY,
        due_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: "tasks, task events, idempotency keys, instances, autoscale",
    sql: `
      CREATE TABLE tasks (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id TEXT NOT NULL UNIQUE,
        agent_id TEXT NOT NULL,
        task_type TEXT NOT NULL,
        status TEXT NOT NULL,
        progress REAL NOT NULL DEFAULT 0,
        progress_message TEXT,
        result TEXT,
        error_message TEXT,
        created_at INTEGER NOT NULL,
        started_at INTEGER,
        completed_at INTEGER,
        metadata TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        timeout_seconds INTEGER NOT NULL,
        instance_id TEXT,
        last_activity_at INTEGER NOT NULL,
        approval_id TEXT,
        executor TEXT NOT NULL
      );
      CREATE INDEX tasks_by_status ON tasks (status, seq);
      CREATE INDEX tasks_by_instance ON tasks (instance_id, status);
      CREATE TABLE task_events (
        task_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        progress REAL NOT NULL,
        message TEXT,
        at INTEGER NOT NULL,
        PRIMARY KEY (task_id, seq)
      );
      CREATE TABLE idempotency_keys (
        key TEXT PRIMARY KEY,
        task_id TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE TABLE instances (
        idx INTEGER PRIMARY KEY,
        instance_id TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE autoscale (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        enabled INTEGER NOT NULL,
        min_instances INTEGER NOT NULL,
        max_instances INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: "autoscale remembers its agent (the alarm names new instances after it)",
    sql: `ALTER TABLE autoscale ADD COLUMN agent_id TEXT;`,
  },
  {
    version: 4,
    name: "approvals: requests, used link tokens, callback deliveries",
    sql: `
      CREATE TABLE approvals (
        approval_id TEXT PRIMARY KEY,
        agent_id TEXT NOT NULL,
        task_id TEXT,
        title TEXT NOT NULL,
        description TEXT NOT NULL,
        approver_email TEXT NOT NULL,
        data TEXT,
        status TEXT NOT NULL,
        on_expire TEXT NOT NULL,
        escalate_to TEXT,
        duration_ms INTEGER NOT NULL,
        callback_url TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        escalated_at INTEGER,
        decided_at INTEGER,
        decided_by TEXT,
        decided_via TEXT,
        rejection_reason TEXT,
        message_id TEXT,
        rfc_message_id TEXT,
        email_status TEXT NOT NULL DEFAULT 'pending',
        callback_status TEXT,
        callback_attempts INTEGER NOT NULL DEFAULT 0,
        index_dirty INTEGER NOT NULL DEFAULT 1
      );
      CREATE INDEX approvals_pending ON approvals (status, expires_at);
      CREATE TABLE approval_used_tokens (
        jti TEXT PRIMARY KEY,
        approval_id TEXT NOT NULL,
        used_at INTEGER NOT NULL
      );
      CREATE TABLE approval_callbacks (
        approval_id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        body TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        last_error TEXT
      );
    `,
  },
  {
    version: 5,
    name: "task events keyed by (task_id, seq) alone (WITHOUT ROWID: one b-tree write per event, not two)",
    sql: `
      CREATE TABLE task_events_v5 (
        task_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        progress REAL NOT NULL,
        message TEXT,
        at INTEGER NOT NULL,
        PRIMARY KEY (task_id, seq)
      ) WITHOUT ROWID;
      INSERT INTO task_events_v5 SELECT task_id, seq, type, status, progress, message, at FROM task_events;
      DROP TABLE task_events;
      ALTER TABLE task_events_v5 RENAME TO task_events;
    `,
  },
  {
    version: 6,
    name: "drop tasks_by_instance: every lane query filters on status first and uses tasks_by_status",
    sql: `DROP INDEX IF EXISTS tasks_by_instance;`,
  },
  {
    version: 7,
    name: "task change events written by triggers, in the same statement as the change",
    // Every insert, and every update that sets status, progress or progress_message, appends the
    // task's next event (numbered per task; `status` when the status changed, else `progress`).
    // Lane bookkeeping (instance_id, approval_id, last_activity_at alone) writes no event.
    sql: `
      CREATE TRIGGER task_created_event AFTER INSERT ON tasks BEGIN
        INSERT INTO task_events (task_id, seq, type, status, progress, message, at)
        SELECT NEW.task_id, coalesce(max(seq), 0) + 1, 'status', NEW.status, NEW.progress, NEW.progress_message, NEW.created_at
        FROM task_events WHERE task_id = NEW.task_id;
      END;
      CREATE TRIGGER task_changed_event AFTER UPDATE OF status, progress, progress_message ON tasks BEGIN
        INSERT INTO task_events (task_id, seq, type, status, progress, message, at)
        SELECT NEW.task_id, coalesce(max(seq), 0) + 1, CASE WHEN NEW.status = OLD.status THEN 'progress' ELSE 'status' END,
          NEW.status, NEW.progress, NEW.progress_message, NEW.last_activity_at
        FROM task_events WHERE task_id = NEW.task_id;
      END;
    `,
  },
  {
    version: 8,
    name: "the agent's task id prefix, once it is registered in D1 (task-ids.ts)",
    sql: `CREATE TABLE task_id_prefix (id INTEGER PRIMARY KEY CHECK (id = 1), prefix TEXT NOT NULL);`,
  },
  {
    version: 9,
    name: "finished tasks by completed_at, so metrics read the last 5 minutes, not the whole history",
    sql: `CREATE INDEX tasks_by_completed ON tasks (completed_at) WHERE completed_at IS NOT NULL;`,
  },
  {
    version: 10,
    name: "the approval gate in the task view and its events: the gate's approval kept after the decision, events that say whether the task waits, and an event when the gate opens",
    // `approval_id` is the live gate (cleared when the approval is granted; the backlog query
    // reads it); `gate_approval_id` keeps the approval for the view. Events of tasks gated now are
    // marked waiting (every one of them was written while gated); older history stays unmarked.
    sql: `
      ALTER TABLE tasks ADD COLUMN gate_approval_id TEXT;
      UPDATE tasks SET gate_approval_id = approval_id WHERE approval_id IS NOT NULL;
      ALTER TABLE task_events ADD COLUMN waiting_for_approval INTEGER NOT NULL DEFAULT 0;
      UPDATE task_events SET waiting_for_approval = 1
        WHERE task_id IN (SELECT task_id FROM tasks WHERE approval_id IS NOT NULL AND status IN ('pending', 'running'));
      DROP TRIGGER task_created_event;
      DROP TRIGGER task_changed_event;
      CREATE TRIGGER task_created_event AFTER INSERT ON tasks BEGIN
        INSERT INTO task_events (task_id, seq, type, status, progress, message, at, waiting_for_approval)
        SELECT NEW.task_id, coalesce(max(seq), 0) + 1, 'status', NEW.status, NEW.progress, NEW.progress_message, NEW.created_at,
          NEW.approval_id IS NOT NULL
        FROM task_events WHERE task_id = NEW.task_id;
      END;
      CREATE TRIGGER task_changed_event AFTER UPDATE OF status, progress, progress_message ON tasks BEGIN
        INSERT INTO task_events (task_id, seq, type, status, progress, message, at, waiting_for_approval)
        SELECT NEW.task_id, coalesce(max(seq), 0) + 1, CASE WHEN NEW.status = OLD.status THEN 'progress' ELSE 'status' END,
          NEW.status, NEW.progress, NEW.progress_message, NEW.last_activity_at,
          NEW.approval_id IS NOT NULL AND NEW.status IN ('pending', 'running')
        FROM task_events WHERE task_id = NEW.task_id;
      END;
      CREATE TRIGGER task_gate_opened_event AFTER UPDATE OF approval_id ON tasks
        WHEN OLD.approval_id IS NOT NULL AND NEW.approval_id IS NULL BEGIN
        INSERT INTO task_events (task_id, seq, type, status, progress, message, at, waiting_for_approval)
        SELECT NEW.task_id, coalesce(max(seq), 0) + 1, 'approval', NEW.status, NEW.progress, NEW.progress_message, NEW.last_activity_at, 0
        FROM task_events WHERE task_id = NEW.task_id;
      END;
    `,
  },
  {
    version: 11,
    name: "derived copies keep markers of what each store holds (derived-plan.ts), so a save writes nothing for them",
    // The generation counters are replaced by what KV and D1 hold: (life, version), plus when each
    // was last written. An object whose copies were current keeps them as current; one whose copy
    // was pending gets empty markers, so its next sync (its repair timer is still set) copies all.
    sql: `
      CREATE TABLE derived_sync_v11 (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        agent_id TEXT NOT NULL,
        life INTEGER NOT NULL DEFAULT 0,
        snapshot_life INTEGER,
        snapshot_version INTEGER,
        snapshot_at INTEGER NOT NULL DEFAULT 0,
        index_life INTEGER,
        index_version INTEGER,
        index_type TEXT,
        index_at INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        retry_at INTEGER NOT NULL DEFAULT 0
      );
      INSERT INTO derived_sync_v11 (id, agent_id, snapshot_life, snapshot_version, index_life, index_version, index_type)
        SELECT 1, d.agent_id, 0, m.version, 0, m.version, m.agent_type
        FROM derived_sync d LEFT JOIN state_meta m ON m.id = 1
        WHERE d.synced_generation >= d.wanted_generation;
      INSERT INTO derived_sync_v11 (id, agent_id)
        SELECT 1, agent_id FROM derived_sync WHERE synced_generation < wanted_generation;
      DROP TABLE derived_sync;
      ALTER TABLE derived_sync_v11 RENAME TO derived_sync;
    `,
  },
  {
    version: 12,
    name: "task counts by status and task durations kept by triggers, published to D1 by task-rollup.ts; the request that created a task",
    // Counted in the statement that changes a task, so the counts are exact and cost no read. Types
    // without a built-in handler (executor 'external') share the label 'external': users name
    // those freely, and a metric's label values must stay few.
    sql: `
      ALTER TABLE tasks ADD COLUMN request_id TEXT;
      CREATE TABLE task_status_counts (
        status TEXT PRIMARY KEY,
        n INTEGER NOT NULL DEFAULT 0,
        published INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;
      INSERT INTO task_status_counts (status) VALUES ('pending'), ('running'), ('completed'), ('failed'), ('cancelled');
      UPDATE task_status_counts SET n = (SELECT count(*) FROM tasks WHERE tasks.status = task_status_counts.status);
      CREATE TABLE task_durations (
        task_type TEXT NOT NULL,
        status TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 0,
        sum REAL NOT NULL DEFAULT 0,
        le_0_1 INTEGER NOT NULL DEFAULT 0,
        le_0_5 INTEGER NOT NULL DEFAULT 0,
        le_1 INTEGER NOT NULL DEFAULT 0,
        le_5 INTEGER NOT NULL DEFAULT 0,
        le_10 INTEGER NOT NULL DEFAULT 0,
        le_30 INTEGER NOT NULL DEFAULT 0,
        le_60 INTEGER NOT NULL DEFAULT 0,
        le_300 INTEGER NOT NULL DEFAULT 0,
        le_900 INTEGER NOT NULL DEFAULT 0,
        le_3600 INTEGER NOT NULL DEFAULT 0,
        le_14400 INTEGER NOT NULL DEFAULT 0,
        le_86400 INTEGER NOT NULL DEFAULT 0,
        published_count INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (task_type, status)
      ) WITHOUT ROWID;
      INSERT INTO task_durations (task_type, status, count, sum, le_0_1, le_0_5, le_1, le_5, le_10, le_30, le_60, le_300, le_900, le_3600, le_14400, le_86400)
        SELECT task_type, status, count(*), sum(d), sum(d <= 0.1), sum(d <= 0.5), sum(d <= 1), sum(d <= 5), sum(d <= 10), sum(d <= 30), sum(d <= 60), sum(d <= 300), sum(d <= 900), sum(d <= 3600), sum(d <= 14400), sum(d <= 86400)
        FROM (SELECT CASE WHEN executor = 'queue' THEN task_type ELSE 'external' END AS task_type, status,
                max(0, coalesce(completed_at, last_activity_at) - created_at) / 1000.0 AS d
              FROM tasks WHERE status IN ('completed', 'failed', 'cancelled'))
        GROUP BY task_type, status;
      CREATE TABLE task_rollup (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        attempted_at INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0
      );
      INSERT INTO task_rollup (id) VALUES (1);
      CREATE TRIGGER task_counted AFTER INSERT ON tasks BEGIN
        UPDATE task_status_counts SET n = n + 1 WHERE status = NEW.status;
      END;
      CREATE TRIGGER task_recounted AFTER UPDATE OF status ON tasks WHEN NEW.status IS NOT OLD.status BEGIN
        UPDATE task_status_counts SET n = n + (status = NEW.status) - (status = OLD.status) WHERE status IN (OLD.status, NEW.status);
      END;
      CREATE TRIGGER task_uncounted AFTER DELETE ON tasks BEGIN
        UPDATE task_status_counts SET n = n - 1 WHERE status = OLD.status;
      END;
      CREATE TRIGGER task_duration_observed AFTER UPDATE OF status ON tasks
        WHEN NEW.status IN ('completed', 'failed', 'cancelled') AND OLD.status NOT IN ('completed', 'failed', 'cancelled') BEGIN
        INSERT INTO task_durations (task_type, status, count, sum, le_0_1, le_0_5, le_1, le_5, le_10, le_30, le_60, le_300, le_900, le_3600, le_14400, le_86400)
          SELECT CASE WHEN NEW.executor = 'queue' THEN NEW.task_type ELSE 'external' END, NEW.status, 1, d, d <= 0.1, d <= 0.5, d <= 1, d <= 5, d <= 10, d <= 30, d <= 60, d <= 300, d <= 900, d <= 3600, d <= 14400, d <= 86400
          FROM (SELECT max(0, coalesce(NEW.completed_at, NEW.last_activity_at) - NEW.created_at) / 1000.0 AS d) WHERE true
          ON CONFLICT (task_type, status) DO UPDATE SET count = count + 1, sum = sum + excluded.sum,
            le_0_1 = le_0_1 + excluded.le_0_1, le_0_5 = le_0_5 + excluded.le_0_5, le_1 = le_1 + excluded.le_1, le_5 = le_5 + excluded.le_5, le_10 = le_10 + excluded.le_10, le_30 = le_30 + excluded.le_30, le_60 = le_60 + excluded.le_60, le_300 = le_300 + excluded.le_300, le_900 = le_900 + excluded.le_900, le_3600 = le_3600 + excluded.le_3600, le_14400 = le_14400 + excluded.le_14400, le_86400 = le_86400 + excluded.le_86400;
      END;
    `,
  },
];
