-- Totals behind GET /metrics. Triggers keep them in the same statements that write the rows they
-- count, so a scrape reads a handful of rows by primary key, however many agents, tasks,
-- approvals, calls or messages there are (docs/monitoring.md#where-each-figure-comes-from).
--
-- metric_counts, one number per (metric, label_1, label_2):
--   tasks                 (status, '')        gauge: the sum of agent_task_counts (each agent's roll-up)
--   approvals             (status, '')        gauge: approval_index rows by status
--   calls                 (status, '')        gauge: call_index rows by status (calls_active = active + on_hold)
--   email_messages_total  (provider, status)  counter: messages that entered the status; 'none' before a provider took it
CREATE TABLE metric_counts (
  metric TEXT NOT NULL,
  label_1 TEXT NOT NULL,
  label_2 TEXT NOT NULL DEFAULT '',
  n INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (metric, label_1, label_2)
) WITHOUT ROWID;

-- metric_histograms, one histogram per (metric, label_1, label_2): le_X counts the observations
-- of at most X seconds (cumulative, as Prometheus buckets are), with their count and sum.
--   task_duration_seconds (task_type, status)  the sum of agent_task_durations
--   call_duration_seconds ('', '')             calls that started, observed when they end or fail
-- The bounds are src/metrics/duration-buckets.ts's DURATION_BUCKETS.
CREATE TABLE metric_histograms (
  metric TEXT NOT NULL,
  label_1 TEXT NOT NULL,
  label_2 TEXT NOT NULL DEFAULT '',
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
  PRIMARY KEY (metric, label_1, label_2)
) WITHOUT ROWID;

-- Each agent's task counts by status and task durations, as its Durable Object last published
-- them (at most once per METRICS_ROLLUP_INTERVAL_SECONDS while they change: task-rollup.ts). A
-- publish writes absolute values, so a retried one changes nothing; the triggers move the totals
-- by the difference.
CREATE TABLE agent_task_counts (
  agent_id TEXT NOT NULL,
  status TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (agent_id, status)
) WITHOUT ROWID;

CREATE TABLE agent_task_durations (
  agent_id TEXT NOT NULL,
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
  PRIMARY KEY (agent_id, task_type, status)
) WITHOUT ROWID;

CREATE TRIGGER agent_task_counts_inserted AFTER INSERT ON agent_task_counts BEGIN
  INSERT INTO metric_counts (metric, label_1, n) VALUES ('tasks', NEW.status, NEW.n)
    ON CONFLICT (metric, label_1, label_2) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER agent_task_counts_updated AFTER UPDATE OF n ON agent_task_counts BEGIN
  UPDATE metric_counts SET n = n + NEW.n - OLD.n WHERE metric = 'tasks' AND label_1 = NEW.status AND label_2 = '';
END;
CREATE TRIGGER agent_task_counts_deleted AFTER DELETE ON agent_task_counts BEGIN
  UPDATE metric_counts SET n = n - OLD.n WHERE metric = 'tasks' AND label_1 = OLD.status AND label_2 = '';
END;

CREATE TRIGGER agent_task_durations_inserted AFTER INSERT ON agent_task_durations BEGIN
  INSERT INTO metric_histograms (metric, label_1, label_2, count, sum, le_0_1, le_0_5, le_1, le_5, le_10, le_30, le_60, le_300, le_900, le_3600, le_14400, le_86400)
    VALUES ('task_duration_seconds', NEW.task_type, NEW.status, NEW.count, NEW.sum, NEW.le_0_1, NEW.le_0_5, NEW.le_1, NEW.le_5, NEW.le_10, NEW.le_30, NEW.le_60, NEW.le_300, NEW.le_900, NEW.le_3600, NEW.le_14400, NEW.le_86400)
    ON CONFLICT (metric, label_1, label_2) DO UPDATE SET count = count + excluded.count, sum = sum + excluded.sum,
      le_0_1 = le_0_1 + excluded.le_0_1, le_0_5 = le_0_5 + excluded.le_0_5, le_1 = le_1 + excluded.le_1, le_5 = le_5 + excluded.le_5, le_10 = le_10 + excluded.le_10, le_30 = le_30 + excluded.le_30, le_60 = le_60 + excluded.le_60, le_300 = le_300 + excluded.le_300, le_900 = le_900 + excluded.le_900, le_3600 = le_3600 + excluded.le_3600, le_14400 = le_14400 + excluded.le_14400, le_86400 = le_86400 + excluded.le_86400;
END;
CREATE TRIGGER agent_task_durations_updated AFTER UPDATE ON agent_task_durations BEGIN
  UPDATE metric_histograms SET count = count + NEW.count - OLD.count, sum = sum + NEW.sum - OLD.sum,
      le_0_1 = le_0_1 + NEW.le_0_1 - OLD.le_0_1, le_0_5 = le_0_5 + NEW.le_0_5 - OLD.le_0_5, le_1 = le_1 + NEW.le_1 - OLD.le_1, le_5 = le_5 + NEW.le_5 - OLD.le_5, le_10 = le_10 + NEW.le_10 - OLD.le_10, le_30 = le_30 + NEW.le_30 - OLD.le_30, le_60 = le_60 + NEW.le_60 - OLD.le_60, le_300 = le_300 + NEW.le_300 - OLD.le_300, le_900 = le_900 + NEW.le_900 - OLD.le_900, le_3600 = le_3600 + NEW.le_3600 - OLD.le_3600, le_14400 = le_14400 + NEW.le_14400 - OLD.le_14400, le_86400 = le_86400 + NEW.le_86400 - OLD.le_86400
    WHERE metric = 'task_duration_seconds' AND label_1 = NEW.task_type AND label_2 = NEW.status;
END;
CREATE TRIGGER agent_task_durations_deleted AFTER DELETE ON agent_task_durations BEGIN
  UPDATE metric_histograms SET count = count - OLD.count, sum = sum - OLD.sum,
      le_0_1 = le_0_1 - OLD.le_0_1, le_0_5 = le_0_5 - OLD.le_0_5, le_1 = le_1 - OLD.le_1, le_5 = le_5 - OLD.le_5, le_10 = le_10 - OLD.le_10, le_30 = le_30 - OLD.le_30, le_60 = le_60 - OLD.le_60, le_300 = le_300 - OLD.le_300, le_900 = le_900 - OLD.le_900, le_3600 = le_3600 - OLD.le_3600, le_14400 = le_14400 - OLD.le_14400, le_86400 = le_86400 - OLD.le_86400
    WHERE metric = 'task_duration_seconds' AND label_1 = OLD.task_type AND label_2 = OLD.status;
END;

-- Approvals and calls by status: their index rows are written on every change already.
INSERT INTO metric_counts (metric, label_1, n) SELECT 'approvals', status, count(*) FROM approval_index GROUP BY status;
CREATE TRIGGER approval_index_counted AFTER INSERT ON approval_index BEGIN
  INSERT INTO metric_counts (metric, label_1, n) VALUES ('approvals', NEW.status, 1)
    ON CONFLICT (metric, label_1, label_2) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER approval_index_recounted AFTER UPDATE OF status ON approval_index WHEN NEW.status IS NOT OLD.status BEGIN
  UPDATE metric_counts SET n = n - 1 WHERE metric = 'approvals' AND label_1 = OLD.status AND label_2 = '';
  INSERT INTO metric_counts (metric, label_1, n) VALUES ('approvals', NEW.status, 1)
    ON CONFLICT (metric, label_1, label_2) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER approval_index_uncounted AFTER DELETE ON approval_index BEGIN
  UPDATE metric_counts SET n = n - 1 WHERE metric = 'approvals' AND label_1 = OLD.status AND label_2 = '';
END;

-- A call's duration (ended_at - started_at) arrives with the status that ends it; NULL when the
-- call never started, and then it is not observed.
ALTER TABLE call_index ADD COLUMN duration_seconds REAL;
INSERT INTO metric_counts (metric, label_1, n) SELECT 'calls', status, count(*) FROM call_index GROUP BY status;
CREATE TRIGGER call_index_counted AFTER INSERT ON call_index BEGIN
  INSERT INTO metric_counts (metric, label_1, n) VALUES ('calls', NEW.status, 1)
    ON CONFLICT (metric, label_1, label_2) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER call_index_recounted AFTER UPDATE OF status ON call_index WHEN NEW.status IS NOT OLD.status BEGIN
  UPDATE metric_counts SET n = n - 1 WHERE metric = 'calls' AND label_1 = OLD.status AND label_2 = '';
  INSERT INTO metric_counts (metric, label_1, n) VALUES ('calls', NEW.status, 1)
    ON CONFLICT (metric, label_1, label_2) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER call_index_uncounted AFTER DELETE ON call_index BEGIN
  UPDATE metric_counts SET n = n - 1 WHERE metric = 'calls' AND label_1 = OLD.status AND label_2 = '';
END;
CREATE TRIGGER call_index_duration_observed AFTER UPDATE OF status ON call_index
  WHEN NEW.status IN ('ended', 'failed') AND OLD.status NOT IN ('ended', 'failed') AND NEW.duration_seconds IS NOT NULL BEGIN
  INSERT INTO metric_histograms (metric, label_1, label_2, count, sum, le_0_1, le_0_5, le_1, le_5, le_10, le_30, le_60, le_300, le_900, le_3600, le_14400, le_86400)
    VALUES ('call_duration_seconds', '', '', 1, NEW.duration_seconds, NEW.duration_seconds <= 0.1, NEW.duration_seconds <= 0.5, NEW.duration_seconds <= 1, NEW.duration_seconds <= 5, NEW.duration_seconds <= 10, NEW.duration_seconds <= 30, NEW.duration_seconds <= 60, NEW.duration_seconds <= 300, NEW.duration_seconds <= 900, NEW.duration_seconds <= 3600, NEW.duration_seconds <= 14400, NEW.duration_seconds <= 86400)
    ON CONFLICT (metric, label_1, label_2) DO UPDATE SET count = count + 1, sum = sum + excluded.sum,
      le_0_1 = le_0_1 + excluded.le_0_1, le_0_5 = le_0_5 + excluded.le_0_5, le_1 = le_1 + excluded.le_1, le_5 = le_5 + excluded.le_5, le_10 = le_10 + excluded.le_10, le_30 = le_30 + excluded.le_30, le_60 = le_60 + excluded.le_60, le_300 = le_300 + excluded.le_300, le_900 = le_900 + excluded.le_900, le_3600 = le_3600 + excluded.le_3600, le_14400 = le_14400 + excluded.le_14400, le_86400 = le_86400 + excluded.le_86400;
END;

-- Messages entering each status (a counter: a message that is sent and then delivered counts once
-- under each). Messages logged before this migration count once, under the status they have now.
INSERT INTO metric_counts (metric, label_1, label_2, n)
  SELECT 'email_messages_total', coalesce(provider, 'none'), status, count(*) FROM email_messages GROUP BY coalesce(provider, 'none'), status;
CREATE TRIGGER email_messages_counted AFTER INSERT ON email_messages BEGIN
  INSERT INTO metric_counts (metric, label_1, label_2, n) VALUES ('email_messages_total', coalesce(NEW.provider, 'none'), NEW.status, 1)
    ON CONFLICT (metric, label_1, label_2) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER email_messages_status_counted AFTER UPDATE OF status ON email_messages WHEN NEW.status IS NOT OLD.status BEGIN
  INSERT INTO metric_counts (metric, label_1, label_2, n) VALUES ('email_messages_total', coalesce(NEW.provider, 'none'), NEW.status, 1)
    ON CONFLICT (metric, label_1, label_2) DO UPDATE SET n = n + 1;
END;
