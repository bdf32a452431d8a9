/**
 * Instances are lanes of work. Each active instance runs at most `concurrency` queued
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

/** A new agent starts with one instance (an agent scaled to 0 stays at 0); true when it was added. */
export function ensureInstances(sql: SqlStorage, agentId: string, nowMs: number): boolean {
  // Checked cheapest first: an agent with instances (the common case) costs one indexed read.
  if (sql.exec("SELECT 1 FROM instances LIMIT 1").toArray().length > 0) return false;
  if (sql.exec("SELECT 1 FROM autoscale LIMIT 1").toArray().length > 0) return false;
  if (sql.exec("SELECT 1 FROM tasks LIMIT 1").toArray().length > 0) return false;
  sql.exec("INSERT INTO instances (idx, instance_id, status, created_at) VALUES (0, ?, 'active', ?)", instanceId(agentId, 0), nowMs);
  return true;
}

/**
 * Queued tasks holding a lane on each instance. External tasks are assigned an instance too (for
 * metrics), but they run in someone else's worker, so they never keep a queued task waiting.
 */
function laneLoad(sql: SqlStorage, includeExternal: boolean): Map<string, number> {
  const rows = sql
    .exec<{ instance_id: string; n: number }>(
      `SELECT instance_id, count(*) AS n FROM tasks
       WHERE instance_id IS NOT NULL AND status IN ('pending', 'running') ${includeExternal ? "" : "AND executor = 'queue'"}
       GROUP BY instance_id`,
    )
    .toArray();
  return new Map(rows.map((r) => [r.instance_id, r.n]));
}

/** Whether a task occupies a lane: a queued task with an instance that has not finished. */
export function holdsLane(t: {
  executor: string;
  instance_id: string | null;
  status: string;
}): t is { executor: "queue"; instance_id: string; status: string } {
  return t.executor === "queue" && t.instance_id !== null && (t.status === "pending" || t.status === "running");
}

interface Lane {
  id: string;
  active: boolean;
  load: number;
}

/** Every instance with its load (queued tasks only, or every task with `includeExternal`). */
function readLanes(sql: SqlStorage, includeExternal: boolean): Lane[] {
  const load = laneLoad(sql, includeExternal);
  return listInstances(sql).map((i) => ({ id: i.instance_id, active: i.status === "active", load: load.get(i.instance_id) ?? 0 }));
}

/** The least loaded active lane below `cap` (lowest index on ties), counted as taken; or null. */
function takeLeastLoaded(lanes: readonly Lane[], cap: number): string | null {
  let best: Lane | null = null;
  for (const lane of lanes) {
    if (!lane.active || lane.load >= cap) continue;
    if (!best || lane.load < best.load) best = lane;
  }
  if (best) best.load++;
  return best?.id ?? null;
}

/** The instance for a new external task: the active one carrying the fewest tasks of any kind. */
export function externalTaskInstance(sql: SqlStorage): string | null {
  return takeLeastLoaded(readLanes(sql, true), Infinity);
}

/**
 * The agent's lanes and how many queued tasks hold each, kept in memory by the task engine: a
 * create or a completion then picks a lane without reading the instances and a GROUP BY over
 * the tasks (at 32 instances, most of a create's SQL time). The tables stay the truth: the book
 * is read from them on first use and after `forget()`, which the engine calls on every path it
 * does not account for exactly (scaling, draining, a failed send, a rolled-back transaction).
 * The Durable Object is the only writer of both tables, so the two cannot drift in between.
 */
export class LaneBook {
  #lanes: Lane[] | null = null;
  #byId = new Map<string, Lane>();
  #draining = false;

  #read(sql: SqlStorage): Lane[] {
    if (this.#lanes) return this.#lanes;
    const lanes = readLanes(sql, false);
    this.#byId = new Map(lanes.map((l) => [l.id, l]));
    // An instance is active or draining.
    this.#draining = lanes.some((l) => !l.active);
    return (this.#lanes = lanes);
  }

  /** A free lane for a queued task (the least loaded active instance), now counted as held; or null. */
  take(sql: SqlStorage, concurrency: number): string | null {
    return takeLeastLoaded(this.#read(sql), concurrency);
  }

  /** Whether some active instance has a free lane. */
  hasFree(sql: SqlStorage, concurrency: number): boolean {
    return this.#read(sql).some((l) => l.active && l.load < concurrency);
  }

  /** A task that held a lane on `instanceId` finished. */
  release(instanceId: string): void {
    const lane = this.#byId.get(instanceId);
    if (lane && lane.load > 0) lane.load--;
    else this.forget();
  }

  /** Whether some instance is draining (its idle lanes are removed before lanes are handed out). */
  hasDraining(sql: SqlStorage): boolean {
    this.#read(sql);
    return this.#draining;
  }

  /** Read the tables again on next use. */
  forget(): void {
    this.#lanes = null;
    this.#byId.clear();
    this.#draining = false;
  }
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
    sql.exec(
      "INSERT INTO instances (idx, instance_id, status, created_at) VALUES (?, ?, 'active', ?)",
      idx,
      instanceId(agentId, idx),
      nowMs,
    );
    idx++;
    active++;
  }
  const stillActive = listInstances(sql)
    .filter((i) => i.status === "active")
    .reverse();
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
