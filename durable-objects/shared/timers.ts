/**
 * Named timers on a Durable Object's single alarm. Deadlines live in the `timers` table and
 * the alarm is set to the earliest, so several features (derived-store repair now; task
 * timeouts and approval expiry later) share one alarm without losing each other's deadlines.
 * @see https://developers.cloudflare.com/durable-objects/api/alarms/
 */

export class Timers {
  readonly #storage: DurableObjectStorage;
  /** The alarm time we last set (or read at wake); saves a storage call on the hot path. */
  #armedAt: number | null = null;

  constructor(storage: DurableObjectStorage) {
    this.#storage = storage;
  }

  /** Reads the current alarm; call once at wake, inside `blockConcurrencyWhile`. */
  async load(): Promise<void> {
    this.#armedAt = await this.#storage.getAlarm();
  }

  /** Sets (or moves) the named deadline. Keeps an earlier existing deadline when `keepEarlier`. */
  async schedule(name: string, dueAt: number, keepEarlier = false): Promise<void> {
    const conflict = keepEarlier ? "due_at = min(due_at, excluded.due_at)" : "due_at = excluded.due_at";
    this.#storage.sql.exec(`INSERT INTO timers (name, due_at) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET ${conflict}`, name, dueAt);
    if (this.#armedAt === null || dueAt < this.#armedAt) {
      this.#armedAt = dueAt;
      await this.#storage.setAlarm(dueAt);
    }
  }

  /** When the named deadline is due, or null: a read, so a caller can skip a write that changes nothing. */
  dueAt(name: string): number | null {
    return this.#storage.sql.exec<{ due_at: number }>("SELECT due_at FROM timers WHERE name = ?", name).toArray()[0]?.due_at ?? null;
  }

  cancel(name: string): void {
    this.#storage.sql.exec("DELETE FROM timers WHERE name = ?", name);
  }

  /** Removes and returns the timers due at `nowMs`; call from `alarm()`, then `rearm()`. */
  takeDue(nowMs: number): string[] {
    return this.#storage.sql
      .exec<{ name: string }>("DELETE FROM timers WHERE due_at <= ? RETURNING name", nowMs)
      .toArray()
      .map((r) => r.name);
  }

  /** Points the alarm at the earliest remaining deadline, or clears it. */
  async rearm(): Promise<void> {
    const next = this.#storage.sql.exec<{ due: number | null }>("SELECT min(due_at) AS due FROM timers").one().due;
    this.#armedAt = next;
    if (next === null) await this.#storage.deleteAlarm();
    else await this.#storage.setAlarm(next);
  }
}
