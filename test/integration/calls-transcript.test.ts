/** The transcript: stored in the call's object, broadcast to sockets, read over HTTP. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { callSession } from "../../src/calls/service";
import { call, json, mintToken, problem } from "../helpers/api";
import { addParticipant, createCall, join } from "../helpers/calls";

describe("transcript", () => {
  it("lines are appended in order, broadcast, and listed by GET …/transcript", async () => {
    const c = await createCall();
    const a = await addParticipant(c.call_id, "alice");
    const bot = await addParticipant(c.call_id, "bot", { is_agent: true });
    const alice = await join(c.call_id, a.join_token);
    await alice.next("roster");
    const stub = callSession(env, c.call_id);
    const at = Date.UTC(2026, 0, 1);
    const heard = await stub.appendTranscript({
      participantId: a.participant.participant_id,
      text: "hello",
      source: "speech_to_text",
      atMs: at,
    });
    expect(heard).toEqual({
      ok: true,
      value: { participant_id: a.participant.participant_id, text: "hello", at: "2026-01-01T00:00:00.000Z", source: "speech_to_text" },
    });
    expect(await alice.next("transcript")).toEqual({ type: "transcript", line: heard.ok && heard.value });

    await stub.appendTranscript(
      { participantId: bot.participant.participant_id, text: "hi there", source: "text_to_speech", atMs: at + 1000 },
      { audioBase64: "AAAA", contentType: "audio/mpeg" },
    );
    expect(await alice.next("transcript")).toMatchObject({ line: { text: "hi there", source: "text_to_speech" } });
    expect(await alice.next("agent_speech")).toEqual({
      type: "agent_speech",
      participant_id: bot.participant.participant_id,
      text: "hi there",
      audio: "AAAA",
      content_type: "audio/mpeg",
    });

    expect(
      await stub.appendTranscript({ participantId: "part_ffffffffffffffffffffffff", text: "?", source: "text", atMs: at }),
    ).toMatchObject({ ok: false, reason: "not_found" });
    const listed = await json<{ transcript: { text: string }[] }>(await call(`/api/v2/calls/${c.call_id}/transcript`));
    expect(listed.transcript.map((l) => l.text)).toEqual(["hello", "hi there"]);
    const whole = await json<{ transcript: unknown[] }>(await call(`/api/v2/calls/${c.call_id}`));
    expect(whole.transcript).toEqual(listed.transcript);
  });

  it("DELETE …/transcript erases every line, tells connected pages, and needs calls:write on the call's agent", async () => {
    const c = await createCall();
    const a = await addParticipant(c.call_id, "alice");
    const alice = await join(c.call_id, a.join_token);
    await alice.next("roster");
    const stub = callSession(env, c.call_id);
    for (const text of ["one", "two"])
      await stub.appendTranscript({ participantId: a.participant.participant_id, text, source: "text", atMs: Date.now() });
    const lines = async () =>
      (await json<{ transcript: { text: string }[] }>(await call(`/api/v2/calls/${c.call_id}/transcript`))).transcript.map((l) => l.text);

    // Refused: a role without calls:write, a credential limited to another agent, an unknown call.
    await problem(await call(`/api/v2/calls/${c.call_id}/transcript`, { method: "DELETE", token: await mintToken({ role: "user" }) }), 403);
    await problem(
      await call(`/api/v2/calls/${c.call_id}/transcript`, {
        method: "DELETE",
        token: await mintToken({ role: "developer", agents: ["someone-else"] }),
      }),
      403,
    );
    await problem(await call(`/api/v2/calls/${c.call_id}/transcript`, { method: "DELETE", token: a.join_token }), 401);
    await problem(await call("/api/v2/calls/call_000000000000000000000000/transcript", { method: "DELETE" }), 404);
    expect(await lines()).toEqual(["one", "two"]);

    const res = await call(`/api/v2/calls/${c.call_id}/transcript`, { method: "DELETE", token: await mintToken({ role: "developer" }) });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ call_id: c.call_id, deleted: 2 });
    expect(await alice.next("transcript_cleared")).toEqual({ type: "transcript_cleared" });
    expect(await lines()).toEqual([]);
    expect((await json<{ transcript: unknown[] }>(await call(`/api/v2/calls/${c.call_id}`))).transcript).toEqual([]);
  });

  it("refuses lines for a participant who left or a call that ended (even if checked earlier), changing nothing", async () => {
    const c = await createCall();
    const a = await addParticipant(c.call_id, "alice");
    const b = await addParticipant(c.call_id, "bob");
    const stub = callSession(env, c.call_id);
    await call(`/api/v2/calls/${c.call_id}/participants/${b.participant.participant_id}`, { method: "DELETE" });
    expect(
      await stub.appendTranscript({ participantId: b.participant.participant_id, text: "late", source: "text", atMs: Date.now() }),
    ).toMatchObject({ ok: false, reason: "conflict" });
    await call(`/api/v2/calls/${c.call_id}/end`, { method: "POST" });
    expect(
      await stub.appendTranscript({ participantId: a.participant.participant_id, text: "after the end", source: "text", atMs: Date.now() }),
    ).toMatchObject({
      ok: false,
      reason: "conflict",
      status: "ended",
    });
    expect(await stub.transcript()).toEqual([]);
  });
});
