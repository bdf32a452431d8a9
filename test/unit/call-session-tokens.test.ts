/** Join tokens: signed per call and participant, refused when forged, expired or foreign. */
import { describe, expect, it } from "vitest";
import { JOIN_AUDIENCE, callSigningSecret, signJoinToken, verifyJoinToken } from "../../src/calls/tokens";
import { AppError } from "../../src/lib/problem";
import { signPurposeJwt } from "../helpers/tokens";

const SECRET = "call-secret-for-tests-0123456789abcdef";
const CALL = "call_000000000000000000000001";
const PART = "part_000000000000000000000001";

async function refusal(p: Promise<unknown>): Promise<{ status: number; message: string }> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return { status: (err as AppError).status, message: (err as AppError).message };
}

describe("join tokens", () => {
  it("name one participant of one call", async () => {
    const token = await signJoinToken(SECRET, { callId: CALL, participantId: PART, expiresAtMs: Date.now() + 60_000 });
    expect(await verifyJoinToken(SECRET, token, CALL)).toBe(PART);
  });

  it("are refused for another call (403)", async () => {
    const token = await signJoinToken(SECRET, { callId: CALL, participantId: PART, expiresAtMs: Date.now() + 60_000 });
    expect(await refusal(verifyJoinToken(SECRET, token, "call_000000000000000000000002"))).toMatchObject({ status: 403 });
  });

  it("are refused when signed with another secret, expired, absent or without alg (401)", async () => {
    const forged = await signJoinToken("another-secret-0123456789abcdefghij", {
      callId: CALL,
      participantId: PART,
      expiresAtMs: Date.now() + 60_000,
    });
    expect(await refusal(verifyJoinToken(SECRET, forged, CALL))).toMatchObject({ status: 401 });
    const expired = await signJoinToken(SECRET, { callId: CALL, participantId: PART, expiresAtMs: Date.now() - 120_000 });
    expect(await refusal(verifyJoinToken(SECRET, expired, CALL))).toMatchObject({
      status: 401,
      message: expect.stringContaining("expired"),
    });
    expect(await refusal(verifyJoinToken(SECRET, undefined, CALL))).toMatchObject({ status: 401 });
    const payload = btoa(JSON.stringify({ cid: CALL, sub: PART, aud: JOIN_AUDIENCE, exp: Math.floor(Date.now() / 1000) + 60 })).replace(
      /=+$/,
      "",
    );
    const unsigned = `${btoa(JSON.stringify({ alg: "none" })).replace(/=+$/, "")}.${payload}.`;
    expect(await refusal(verifyJoinToken(SECRET, unsigned, CALL))).toMatchObject({ status: 401 });
  });

  it("need their audience and exp, even under the join key", async () => {
    const exp = Math.floor(Date.now() / 1000) + 300;
    const noAud = await signPurposeJwt("call-join", { cid: CALL, sub: PART, exp }, SECRET);
    expect(await refusal(verifyJoinToken(SECRET, noAud, CALL))).toMatchObject({ status: 401 });
    const noExp = await signPurposeJwt("call-join", { cid: CALL, sub: PART, aud: JOIN_AUDIENCE }, SECRET);
    expect(await refusal(verifyJoinToken(SECRET, noExp, CALL))).toMatchObject({ status: 401 });
  });
});

describe("signing secret", () => {
  it("prefers CALL_SIGNING_SECRET, falls back to JWT_SECRET, else 503", () => {
    const JWT_SECRET = "jwt-secret-of-this-test-0123456789";
    const settings = (vars: Record<string, string>) => ({ JWT_SECRET, ...vars }) as unknown as Env;
    expect(callSigningSecret(settings({ CALL_SIGNING_SECRET: SECRET }))).toBe(SECRET);
    expect(callSigningSecret(settings({}))).toBe(JWT_SECRET);
    expect(() => callSigningSecret(settings({ JWT_SECRET: "" }))).toThrow(expect.objectContaining({ status: 503 }));
  });
});
