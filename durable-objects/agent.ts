/**
 * AgentDO: one per agent, the source of truth for its versioned state (and, later, its tasks
 * and instances). Each RPC method is one short synchronous transaction; the derived stores
 * (KV snapshot, D1 index) are brought up to date afterwards by DerivedSync.
 */
import { DurableObject } from "cloudflare:workers";
import { DEFAULT_AGENT_TYPE, type RestoreInput, type SaveInput, type StateVersionRecord, type VersionSummary, type WriteResult } from "../src/state/model";
import { AGENT_MIGRATIONS } from "./agent/schema";
import { DerivedSync } from "./agent/derived-sync";
import { appendVersion, eraseState, listVersions, readMeta, readVersion } from "./agent/state-store";
import { migrate } from "./shared/migrate";
import { Timers } from "./shared/timers";

function matches(expected: number | "*" | undefined, current: number | null): boolean {
  if (expected === undefined) return true;
  if (expected === "*") return current !== null;
  return expected === (current ?? 0);
}

export class AgentDO extends DurableObject<Env> {
  readonly #timers: Timers;
  readonly #sync: DerivedSync;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#timers = new Timers(ctx.storage);
    this.#sync = new DerivedSync(ctx.storage, env, this.#timers);
    void ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage, AGENT_MIGRATIONS);
      await this.#timers.load();
    });
  }

  async saveState(input: SaveInput): Promise<WriteResult> {
    const sql = this.ctx.storage.sql;
    const result = this.ctx.storage.transactionSync((): WriteResult => {
      const meta = readMeta(sql);
      if (!matches(input.expectedVersion, meta?.version ?? null)) {
        return { ok: false, reason: "version_mismatch", current: meta?.version ?? null };
      }
      const next = appendVersion(sql, meta, {
        agentId: input.agentId,
        agentType: input.agentType ?? meta?.agent_type ?? DEFAULT_AGENT_TYPE,
        stateJson: input.stateJson,
        nowMs: input.nowMs,
        historyLimit: input.historyLimit,
      });
      this.#sync.markDirty(input.agentId);
      return { ok: true, version: next.version, created_at: next.created_at, updated_at: next.updated_at };
    });
    if (result.ok) await this.#afterWrite(input.nowMs);
    return result;
  }

  async restoreState(input: RestoreInput): Promise<WriteResult> {
    const sql = this.ctx.storage.sql;
    const result = this.ctx.storage.transactionSync((): WriteResult => {
      const meta = readMeta(sql);
      if (!matches(input.expectedVersion, meta?.version ?? null)) {
        return { ok: false, reason: "version_mismatch", current: meta?.version ?? null };
      }
      const old = meta ? readVersion(sql, meta, input.version) : null;
      if (!meta || !old) return { ok: false, reason: "version_not_found", current: meta?.version ?? null };
      const next = appendVersion(sql, meta, {
        agentId: input.agentId,
        agentType: old.agent_type,
        stateJson: old.state_json,
        nowMs: input.nowMs,
        historyLimit: input.historyLimit,
        restoredFrom: input.version,
      });
      this.#sync.markDirty(input.agentId);
      return { ok: true, version: next.version, created_at: next.created_at, updated_at: next.updated_at };
    });
    if (result.ok) await this.#afterWrite(input.nowMs);
    return result;
  }

  getState(): StateVersionRecord | null {
    const sql = this.ctx.storage.sql;
    const meta = readMeta(sql);
    return meta ? readVersion(sql, meta, meta.version) : null;
  }

  getVersion(version: number): StateVersionRecord | null {
    const sql = this.ctx.storage.sql;
    const meta = readMeta(sql);
    return meta ? readVersion(sql, meta, version) : null;
  }

  listVersions(limit: number, beforeVersion?: number): { current: number | null; versions: VersionSummary[] } {
    const sql = this.ctx.storage.sql;
    return { current: readMeta(sql)?.version ?? null, versions: listVersions(sql, limit, beforeVersion) };
  }

  /**
   * Erases the state and its history for good, then waits for the KV snapshot and the index
   * row to be removed too, so nothing comes back from a derived store after the answer.
   */
  async deleteState(agentId: string): Promise<boolean> {
    const existed = this.ctx.storage.transactionSync(() => {
      const had = eraseState(this.ctx.storage.sql);
      if (had) this.#sync.markDirty(agentId);
      return had;
    });
    if (existed) {
      await this.#sync.armBackstop(Date.now());
      await this.#sync.run();
    }
    return existed;
  }

  override async alarm(): Promise<void> {
    this.#timers.takeDue(Date.now());
    // Any alarm is a chance to repair: the sync is a no-op when the derived stores are current,
    // and running it early (a retry timer not yet due) only shortens the wait.
    await this.#sync.run();
    await this.#timers.rearm();
  }

  async #afterWrite(nowMs: number): Promise<void> {
    await this.#sync.armBackstop(nowMs);
    this.ctx.waitUntil(this.#sync.run());
  }
}
