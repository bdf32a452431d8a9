/**
 * Task ids that say where their task lives: `task_` + the agent's prefix (12 hex, registered in
 * D1's `task_id_prefixes` once per agent) + 20 random hex (80 bits). `GET /api/v2/tasks/{id}`
 * finds the agent from the prefix, so creating a task writes nothing to D1: only an agent's
 * first create waits for D1, to register the prefix. (One D1 row per task made D1, a single
 * database for every agent, the bottleneck of task creation, and locally cost ~0.3 ms of CPU
 * per task.)
 */
import { randomHex } from "../../src/lib/ids";

/** D1 could not register the prefix: nothing was stored, the create can be retried. */
export class PrefixUnavailable extends Error {}

const PREFIX_ATTEMPTS = 3;

export class TaskIds {
  readonly #storage: DurableObjectStorage;
  readonly #db: D1Database;
  #prefix: string | null = null;
  /** A registration in flight: creates racing an agent's first one wait for the same prefix. */
  #registering: Promise<string> | null = null;

  constructor(storage: DurableObjectStorage, db: D1Database) {
    this.#storage = storage;
    this.#db = db;
  }

  /** The agent's prefix: remembered, else stored, else registered in D1 now (PrefixUnavailable if D1 fails). */
  async prefix(agentId: string): Promise<string> {
    if (this.#prefix) return this.#prefix;
    const stored = this.#storage.sql.exec<{ prefix: string }>("SELECT prefix FROM task_id_prefix WHERE id = 1").toArray()[0];
    if (stored) return (this.#prefix = stored.prefix);
    this.#registering ??= this.#register(agentId).finally(() => {
      this.#registering = null;
    });
    return this.#registering;
  }

  /** A new id under `prefix`. */
  next(prefix: string): string {
    return `task_${prefix}${randomHex(10)}`;
  }

  async #register(agentId: string): Promise<string> {
    for (let attempt = 0; attempt < PREFIX_ATTEMPTS; attempt++) {
      let registered: string | undefined;
      try {
        // An agent keeps the prefix it registered first (e.g. before a crash lost the local copy);
        // a prefix another agent holds is refused by the key and a new one is drawn.
        const [, read] = await this.#db.batch<{ prefix: string }>([
          this.#db
            .prepare("INSERT INTO task_id_prefixes (prefix, agent_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
            .bind(randomHex(6), agentId, Date.now()),
          this.#db.prepare("SELECT prefix FROM task_id_prefixes WHERE agent_id = ?").bind(agentId),
        ]);
        registered = read?.results[0]?.prefix;
      } catch (err) {
        throw new PrefixUnavailable(err instanceof Error ? err.message : String(err));
      }
      if (registered) {
        this.#storage.sql.exec("INSERT OR REPLACE INTO task_id_prefix (id, prefix) VALUES (1, ?)", registered);
        return (this.#prefix = registered);
      }
    }
    throw new PrefixUnavailable(`no free task id prefix after ${PREFIX_ATTEMPTS} draws`);
  }
}
