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

/** A new agent starts with one instance. */
export function ensureInstances(sql: SqlStorage, agentId: string, nowMs: number): void {
  const n = sql.exec<{ n: number }>("SELECT count(*) AS n FROM instances").one().n;
  const scaled = sql.exec<{ n: number }>("SELECT count(*) AS n FROM autoscale").one().n;
  if (n === 0 && scaled === 0 && !sql.exec("SELECT 1 FROM tasks LIMIT 1").toArray().length) {
    sql.exec("INSERT INTO instances (idx, instance_id, status, created_at) VALUES (0, ?, 'active', ?)", instanceId(agentId, 0), nowMs);
  }
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
 * The least loaded active instance with a free lane (lowest index on ties), or null. External tasks
 * (`forExternal`) need no free lane and are spread by every task an instance carries.
 */
export function pickInstance(sql: SqlStorage, concurrency: number, forExternal = false): string | null {
  const load = laneLoad(sql, forExternal);
  let best: { id: string; load: number } | null = null;
  for (const inst of listInstances(sql)) {
    if (inst.status !== "active") continue;
    const l = load.get(inst.instance_id) ?? 0;
    if (!forExternal && l >= concurrency) continue;
    if (!best || l < best.load) best = { id: inst.instance_id, load: l };
  }
  return best?.id ?? null;
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
  sql.exec(
    `UPDATE tasks SET instance_id = NULL WHERE status = 'pending' AND attempts = 0 AND instance_id IN
       (SELECT instance_id FROM instances WHERE status = 'draining')`,
  );
  sql.exec(
    `DELETE FROM instances WHERE status = 'draining' AND instance_id NOT IN
       (SELECT instance_id FROM tasks WHERE instance_id IS NOT NULL AND status IN ('pending', 'running'))`,
  );
}
