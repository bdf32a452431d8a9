/** The calls API over the real Worker: create, read, list (D1), transitions, roster, permissions. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { CallParticipant, CallSession } from "../../src/calls/model";
import { call, json, mintToken, problem } from "../helpers/api";
import { addParticipant, createCall } from "../helpers/calls";

describe("POST /api/v2/calls", () => {
  it("creates a pending call (201) with defaults, readable by id", async () => {
    const res = await call("/api/v2/calls", {
      body: { agent_id: "agent-create", user_id: "u-1", video_enabled: true, metadata: { topic: "x" } },
    });
    expect(res.status).toBe(201);
    const created = await json<CallSession>(res);
    expect(created).toMatchObject({
      agent_id: "agent-create",
      user_id: "u-1",
      direction: "outbound",
      status: "pending",
      participants: [],
      started_at: null,
      ended_at: null,
      duration_seconds: null,
      recording_enabled: false,
      video_enabled: true,
      transcript: [],
      metadata: { topic: "x" },
    });
    expect(created.call_id).toMatch(/^call_[0-9a-f]{24}$/);
    expect(created.created_at).toMatch(/Z$/);
    expect(res.headers.get("location")).toBe(`/api/v2/calls/${created.call_id}`);
    expect(await json(await call(`/api/v2/calls/${created.call_id}`))).toEqual(created);
  });

  it("refuses bad input (422), unknown fields, and malformed ids", async () => {
    await problem(await call("/api/v2/calls", { body: {} }), 422);
    await problem(await call("/api/v2/calls", { body: { agent_id: "a", direction: "sideways" } }), 422);
    await problem(await call("/api/v2/calls", { body: { agent_id: "a", extra: 1 } }), 422);
    await problem(await call("/api/v2/calls/not-a-call"), 422);
    await problem(await call("/api/v2/calls/call_ffffffffffffffffffffffff"), 404);
    await problem(await call("/api/v2/calls/call_ffffffffffffffffffffffff/start", { method: "POST" }), 404);
  });

  it("needs calls:write to create and state:read to read; honours the agent restriction", async () => {
    const user = await mintToken({ role: "user" });
    await problem(await call("/api/v2/calls", { token: user, body: { agent_id: "a" } }), 403);
    const dev = await mintToken({ role: "developer", agents: ["mine"] });
    await problem(await call("/api/v2/calls", { token: dev, body: { agent_id: "theirs" } }), 403);
    expect((await call("/api/v2/calls", { token: dev, body: { agent_id: "mine" } })).status).toBe(201);
    const theirs = await createCall({ agent_id: "theirs" });
    await problem(await call(`/api/v2/calls/${theirs.call_id}`, { token: dev }), 403);
    await problem(await call(`/api/v2/calls/${theirs.call_id}/start`, { method: "POST", token: dev }), 403);
    const guest = await mintToken({ role: "guest" });
    expect((await call(`/api/v2/calls/${theirs.call_id}`, { token: guest })).status).toBe(200);
    await problem(await call(`/api/v2/calls/${theirs.call_id}/start`, { method: "POST", token: guest }), 403);
    await problem(await call(`/api/v2/calls/${theirs.call_id}`, { token: null }), 401);
  });
});

describe("transitions over HTTP", () => {
  it("start → hold → resume → end, with duration and the D1 status", async () => {
    const c = await createCall();
    const ringing = await json<CallSession>(await call(`/api/v2/calls/${c.call_id}/ring`, { method: "POST" }));
    expect(ringing.status).toBe("ringing");
    const active = await json<CallSession>(await call(`/api/v2/calls/${c.call_id}/start`, { method: "POST" }));
    expect(active.status).toBe("active");
    expect(active.started_at).toMatch(/Z$/);
    expect((await json<CallSession>(await call(`/api/v2/calls/${c.call_id}/hold`, { method: "POST" }))).status).toBe("on_hold");
    expect((await json<CallSession>(await call(`/api/v2/calls/${c.call_id}/resume`, { method: "POST" }))).status).toBe("active");
    const ended = await json<CallSession>(await call(`/api/v2/calls/${c.call_id}/end`, { method: "POST" }));
    expect(ended.status).toBe("ended");
    expect(ended.started_at).toBe(active.started_at);
    expect(ended.duration_seconds).toBe((Date.parse(ended.ended_at!) - Date.parse(ended.started_at!)) / 1000);
    expect(ended.duration_seconds).toBeGreaterThanOrEqual(0);
    const row = await env.DB.prepare("SELECT status, agent_id FROM call_index WHERE call_id = ?").bind(c.call_id).first();
    expect(row).toEqual({ status: "ended", agent_id: "agent-calls" });
  });

  it("a forbidden transition is 409 and changes nothing", async () => {
    const c = await createCall();
    const doc = await problem(await call(`/api/v2/calls/${c.call_id}/resume`, { method: "POST" }), 409);
    expect(doc.call_status).toBe("pending");
    await call(`/api/v2/calls/${c.call_id}/end`, { method: "POST" });
    for (const action of ["ring", "start", "hold", "resume", "end", "fail"]) {
      await problem(await call(`/api/v2/calls/${c.call_id}/${action}`, { method: "POST" }), 409);
    }
    expect((await json<CallSession>(await call(`/api/v2/calls/${c.call_id}`))).status).toBe("ended");
  });
});

describe("GET /api/v2/calls?agent_id=", () => {
  it("lists an agent's calls newest first, filtered by status", async () => {
    const a = await createCall({ agent_id: "agent-list" });
    const b = await createCall({ agent_id: "agent-list" });
    await createCall({ agent_id: "agent-other" });
    await call(`/api/v2/calls/${b.call_id}/start`, { method: "POST" });
    const all = await json<{ calls: CallSession[] }>(await call("/api/v2/calls?agent_id=agent-list"));
    expect(all.calls.map((c) => c.call_id).sort()).toEqual([a.call_id, b.call_id].sort());
    const active = await json<{ calls: CallSession[] }>(await call("/api/v2/calls?agent_id=agent-list&status=active"));
    expect(active.calls.map((c) => c.call_id)).toEqual([b.call_id]);
    expect((await json<{ calls: CallSession[] }>(await call("/api/v2/calls?agent_id=agent-list&limit=1"))).calls).toHaveLength(1);
    await problem(await call("/api/v2/calls?status=bogus"), 422);
    const limited = await mintToken({ role: "guest", agents: ["agent-list"] });
    await problem(await call("/api/v2/calls", { token: limited }), 422);
    await problem(await call("/api/v2/calls?agent_id=agent-other", { token: limited }), 403);
    expect((await json<{ calls: CallSession[] }>(await call("/api/v2/calls?agent_id=agent-list", { token: limited }))).calls).toHaveLength(
      2,
    );
  });
});

describe("roster", () => {
  it("adds, patches and removes participants", async () => {
    const c = await createCall({ video_enabled: true });
    const joined = await addParticipant(c.call_id, "alice");
    expect(joined.participant).toMatchObject({
      user_id: "user-alice",
      display_name: "alice",
      is_agent: false,
      left_at: null,
      media_streams: [],
      is_muted: false,
      is_video_enabled: true,
    });
    expect(joined.participant.participant_id).toMatch(/^part_[0-9a-f]{24}$/);
    expect(joined.ws_url).toBe(`ws://localhost:8787/api/v2/calls/${c.call_id}/ws?token=${joined.join_token}`);
    const bot = await addParticipant(c.call_id, "bot", { is_agent: true });
    expect(bot.participant.is_agent).toBe(true);

    const base = `/api/v2/calls/${c.call_id}/participants`;
    const patched = await json<CallParticipant>(
      await call(`${base}/${joined.participant.participant_id}`, { method: "PATCH", body: { is_muted: true, is_video_enabled: false } }),
    );
    expect(patched).toMatchObject({ is_muted: true, is_video_enabled: false });
    await problem(await call(`${base}/${joined.participant.participant_id}`, { method: "PATCH", body: {} }), 422);
    await problem(await call(`${base}/${joined.participant.participant_id}`, { method: "PATCH", body: { is_muted: "yes" } }), 422);
    await problem(await call(`${base}/part_ffffffffffffffffffffffff`, { method: "PATCH", body: { is_muted: true } }), 404);

    const removed = await json<CallParticipant>(await call(`${base}/${joined.participant.participant_id}`, { method: "DELETE" }));
    expect(removed.left_at).toMatch(/Z$/);
    await problem(await call(`${base}/${joined.participant.participant_id}`, { method: "DELETE" }), 409);
    await problem(await call(`${base}/${joined.participant.participant_id}`, { method: "PATCH", body: { is_muted: false } }), 409);
    await problem(await call(`${base}/part_ffffffffffffffffffffffff`, { method: "DELETE" }), 404);

    const now = await json<CallSession>(await call(`/api/v2/calls/${c.call_id}`));
    expect(now.participants.map((p) => [p.display_name, p.left_at === null])).toEqual([
      ["alice", false],
      ["bot", true],
    ]);
    await problem(await call(base, { body: { user_id: "x" } }), 422);
    await problem(
      await call(`/api/v2/calls/call_ffffffffffffffffffffffff/participants`, { body: { user_id: "x", display_name: "X" } }),
      404,
    );
    const user = await mintToken({ role: "user" });
    await problem(await call(base, { token: user, body: { user_id: "x", display_name: "X" } }), 403);
  });

  it("no participants join an ended call; the transcript starts empty", async () => {
    const c = await createCall();
    expect(await json(await call(`/api/v2/calls/${c.call_id}/transcript`))).toEqual({ call_id: c.call_id, transcript: [] });
    await call(`/api/v2/calls/${c.call_id}/end`, { method: "POST" });
    await problem(await call(`/api/v2/calls/${c.call_id}/participants`, { body: { user_id: "x", display_name: "X" } }), 409);
    await problem(await call(`/api/v2/calls/call_ffffffffffffffffffffffff/transcript`), 404);
  });
});
