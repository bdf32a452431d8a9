/** The signalling socket is protected by the join token: refusals happen before the upgrade. */
import { describe, expect, it } from "vitest";
import { JOIN_AUDIENCE } from "../../src/calls/tokens";
import { call, mintToken, problem } from "../helpers/api";
import { addParticipant, createCall, join, upgrade } from "../helpers/calls";
import { joinToken } from "../helpers/tokens";

const sign = (claims: { cid: string; sub: string }, exp: number | string, secret?: string) =>
  joinToken({ callId: claims.cid, participantId: claims.sub, exp, secret });

describe("GET /api/v2/calls/{call_id}/ws", () => {
  it("accepts the participant's own token (101) without API credentials", async () => {
    const c = await createCall();
    const a = await addParticipant(c.call_id, "alice");
    const res = await upgrade(c.call_id, a.join_token);
    expect(res.status).toBe(101);
    expect(res.webSocket).toBeTruthy();
    res.webSocket!.accept();
    res.webSocket!.close(1000);
  });

  it("refuses missing, forged and expired tokens with 401", async () => {
    const c = await createCall();
    const a = await addParticipant(c.call_id, "alice");
    const claims = { cid: c.call_id, sub: a.participant.participant_id };
    await problem(await upgrade(c.call_id, null), 401);
    await problem(await upgrade(c.call_id, "garbage"), 401);
    await problem(await upgrade(c.call_id, await sign(claims, "5m", "someone-elses-secret-0123456789abcdef")), 401);
    const expired = await problem(await upgrade(c.call_id, await sign(claims, Math.floor(Date.now() / 1000) - 120)), 401);
    expect(expired.detail).toContain("expired");
    // An API token is not a join token, even for a super_admin.
    await problem(await upgrade(c.call_id, await mintToken({ role: "super_admin" })), 401);
    // A tampered payload (another participant id) breaks the signature.
    const [h, , s] = a.join_token.split(".");
    const forgedPayload = btoa(
      JSON.stringify({ cid: c.call_id, sub: "part_ffffffffffffffffffffffff", aud: JOIN_AUDIENCE, exp: 9_999_999_999 }),
    ).replace(/=+$/, "");
    await problem(await upgrade(c.call_id, `${h}.${forgedPayload}.${s}`), 401);
  });

  it("refuses a token of another call, or of no participant, with 403", async () => {
    const one = await createCall();
    const two = await createCall();
    const a = await addParticipant(one.call_id, "alice");
    const doc = await problem(await upgrade(two.call_id, a.join_token), 403);
    expect(doc.detail).toContain("another call");
    await problem(await upgrade(two.call_id, await sign({ cid: two.call_id, sub: "part_ffffffffffffffffffffffff" }, "5m")), 403);
  });

  it("refuses a removed participant and an ended call with 409", async () => {
    const c = await createCall();
    const a = await addParticipant(c.call_id, "alice");
    const b = await addParticipant(c.call_id, "bob");
    await call(`/api/v2/calls/${c.call_id}/participants/${a.participant.participant_id}`, { method: "DELETE" });
    await problem(await upgrade(c.call_id, a.join_token), 409);
    await call(`/api/v2/calls/${c.call_id}/end`, { method: "POST" });
    // The refusal names the call's status, as every other 409 about a call does.
    expect(await problem(await upgrade(c.call_id, b.join_token), 409)).toMatchObject({ call_status: "ended" });
  });

  it("needs an Upgrade: websocket request (400) and a well-formed call id (422)", async () => {
    const c = await createCall();
    const a = await addParticipant(c.call_id, "alice");
    await problem(await upgrade(c.call_id, a.join_token, {}), 400);
    await problem(await upgrade("nope", a.join_token), 422);
  });

  it("a second connection of the same participant replaces the first", async () => {
    const c = await createCall();
    const a = await addParticipant(c.call_id, "alice");
    const first = await join(c.call_id, a.join_token);
    await first.next("roster");
    const second = await join(c.call_id, a.join_token);
    await second.next("roster");
    expect(await first.waitClosed()).toMatchObject({ code: 4000 });
    second.send("x");
    expect(await second.next("error")).toMatchObject({ code: "invalid_json" });
  });
});
