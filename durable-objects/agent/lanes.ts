/**
 * Instances are lanes of work (SPEC §4). Each active instance runs at most `concurrency` queued
 * tasks at a time; a queued task waits in the agent's backlog (pending, no instance) until a
 * lane is free, then is dispatched to the least loaded active instance. Scaling down drains:
 * a draining instance takes no new task and disappears once its tasks are done.
 */

export interface InstanceRow {
  idx: number;
  instance_id: string;
  status: "active" | "draining";
  created_at: number;
  [column: string]: SqlStorageValue;
}

export function instanceId(agentId: string, idx: number): string {
  return `${agentId}_instance_${idx}`;
}

export function listInstances(sql: SqlStorage): InstanceRow[] {
  return sql.exec<InstanceRow>("SELECT idx, instance_id, status, created_at FROM instances ORDER BY idx").toArray();
}

/** A new agent starts with one instance (an agent scaled to 0 stays at 0). */
export function ensureInstances(sql: SqlStorage, agentId: string, nowMs: number): void {
  // Checked cheapest first: an agent with instances (the common case) costs one indexed read.
  if (sql.exec("SELECT 1 FROM instances LIMIT 1").toArray().length > 0) return;
  if (sql.exec("SELECT 1 FROM autoscale LIMIT 1").toArray().length > 0) return;
  if (sql.exec("SELECT 1 FROM tasks LIMIT 1").toArray().length > 0) return;
  sql.exec("INSERT INTO instances (idx, instance_id, status, created_at) VALUES (0, ?, 'active', ?)", instanceId(agentId, 0), nowMs);
}

/**
 * Queued tasks holding a lane on each instance. External tasks are assigned an instance too (for
 * metrics), but they run in someone else's worker, so they never keep a queued task waiting.
 */
export function laneLoad(sql: SqlStorage, includeExternal = false): Map<string, number> {
  const rows = sql
    .exec<{ instance_id: string; n: number }>(
      `SELECT instance_id, count(*) AS n FROM tasks
       WHERE instance_id IS NOT NULL AND status IN ('pending', 'running') ${includeExternal ? "" : "AND executor = 'queue'"}
       GROUP BY instance_id`,
    )
    .toArray();
  return new Map(rows.map((r) => [r.instance_id, r.n]));
}

/**
 * Hands out lanes for one transaction: reads the instances and their load once, then each
 * `take()` returns the least loaded active instance with a free lane (lowest index on ties) and
 * counts the task on it, or null when every lane is busy. External tasks (`forExternal`) need no
 * free lane and are spread by every task an instance carries.
 */
export function lanePicker(sql: SqlStorage, concurrency: number, forExternal = false): { take(): string | null } {
  const load = laneLoad(sql, forExternal);
  const active = listInstances(sql)
    .filter((inst) => inst.status === "active")
    .map((inst) => ({ id: inst.instance_id, load: load.get(inst.instance_id) ?? 0 }));
  return {
    take() {
      let best: (typeof active)[number] | null = null;
      for (const lane of active) {
        if (!forExternal && lane.load >= concurrency) continue;
        if (!best || lane.load < best.load) best = lane;
      }
      if (best) best.load++;
      return best?.id ?? null;
    },
  };
}

/**
 * Sets the number of active instances. Growing reactivates draining instances first, then adds
 * new ones; shrinking drains the highest indexes. Idle draining instances are removed at once.
 */
export function scaleInstances(sql: SqlStorage, agentId: string, target: number, nowMs: number): void {
  const instances = listInstances(sql);
  let active = instances.filter((i) => i.status === "active").length;
  for (const inst of instances) {
    if (active >= target) break;
    if (inst.status === "draining") {
      sql.exec("UPDATE instances SET status = 'active' WHERE idx = ?", inst.idx);
      active++;
    }
  }
  let idx = instances.length ? Math.max(...instances.map((i) => i.idx)) + 1 : 0;
  while (active < target) {
    sql.exec("INSERT INTO instances (idx, instance_id, status, created_at) VALUES (?, ?, 'active', ?)", idx, instanceId(agentId, idx), nowMs);
    idx++;
    active++;
  }
  const stillActive = listInstances(sql).filter((i) => i.status === "active").reverse();
  for (const inst of stillActive.slice(0, Math.max(0, stillActive.length - target))) {
    sql.exec("UPDATE instances SET status = 'draining' WHERE idx = ?", inst.idx);
  }
  removeIdleDraining(sql);
}

/** Draining instances whose tasks are all done go away; their pending tasks return to the backlog. */
export function removeIdleDraining(sql: SqlStorage): void {
  if (sql.exec("SELECT 1 FROM instances WHERE status = 'draining' LIMIT 1").toArray().length === 0) return;
  sql.exec(
    `UPDATE tasks SET instance_id = NULL WHERE status = 'pending' AND attempts = 0 AND instance_id IN
       (SELECT instance_id FROM instances WHERE status = 'draining')`,
  );
  sql.exec(
    `DELETE FROM instances WHERE status = 'draining' AND instance_id NOT IN
       (SELECT instance_id FROM tasks WHERE instance_id IS NOT NULL AND status IN ('pending', 'running'))`,
  );
}
