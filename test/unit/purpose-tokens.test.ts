/** Purpose tokens: one key per purpose (HKDF from the base secret), one audience per purpose. */
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import {
  PurposeTokenRefused,
  claimedPurpose,
  namesPurposeAudience,
  purposeKey,
  purposeLabel,
  purposeMac,
  purposeSecret,
  signPurposeToken,
  verifyPurposeToken,
} from "../../src/auth/purpose-tokens";
import { replyToAddress, signLinkToken, verifyLinkToken } from "../../src/approvals/signing";
import { signJoinToken, verifyJoinToken } from "../../src/calls/tokens";

const SECRET = "one-secret-for-every-purpose-0123456789";
const enc = new TextEncoder();
const inFiveMinutes = () => Math.floor(Date.now() / 1000) + 300;
const hex = (buf: ArrayBuffer) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");

async function refused(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error("accepted");
    },
    (err: unknown) => err,
  );
}

describe("purpose keys", () => {
  it("are HKDF-SHA256 of the base secret (empty salt, info = the purpose's label), used as an HMAC-SHA256 key", async () => {
    const base = await crypto.subtle.importKey("raw", enc.encode(SECRET), "HKDF", false, ["deriveBits"]);
    const bits = await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: enc.encode(purposeLabel("approval-reply-to")) },
      base,
      256,
    );
    const expected = await crypto.subtle.importKey("raw", bits, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    expect(await purposeMac(SECRET, "approval-reply-to", "reply-to:x")).toBe(
      hex(await crypto.subtle.sign("HMAC", expected, enc.encode("reply-to:x"))),
    );
    // …and not the plain secret.
    const plain = await crypto.subtle.importKey("raw", enc.encode(SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    expect(await purposeMac(SECRET, "approval-reply-to", "reply-to:x")).not.toBe(
      hex(await crypto.subtle.sign("HMAC", plain, enc.encode("reply-to:x"))),
    );
  });

  it("are derived once per secret and purpose (cached)", async () => {
    expect(purposeKey(SECRET, "call-join")).toBe(purposeKey(SECRET, "call-join"));
    expect(await purposeKey(SECRET, "call-join")).not.toBe(await purposeKey(SECRET, "approval-link"));
    expect(await purposeKey(SECRET, "call-join")).not.toBe(await purposeKey(`${SECRET}-2`, "call-join"));
  });

  it("take the purpose's own secret, else JWT_SECRET, else none", () => {
    const JWT_SECRET = "jwt-secret-of-this-test-0123456789";
    const vars = (v: Record<string, string>) => ({ JWT_SECRET, ...v }) as unknown as Env;
    expect(purposeSecret(vars({ APPROVAL_SIGNING_SECRET: "a-own", CALL_SIGNING_SECRET: "c-own" }), "approval-link")).toBe("a-own");
    expect(purposeSecret(vars({ APPROVAL_SIGNING_SECRET: "a-own" }), "approval-reply-to")).toBe("a-own");
    expect(purposeSecret(vars({ CALL_SIGNING_SECRET: "c-own" }), "call-join")).toBe("c-own");
    expect(purposeSecret(vars({ APPROVAL_SIGNING_SECRET: " " }), "approval-link")).toBe(JWT_SECRET);
    expect(purposeSecret(vars({ JWT_SECRET: "" }), "call-join")).toBeUndefined();
  });
});

describe("purpose tokens", () => {
  it("verify only for their own purpose, even with one shared secret", async () => {
    const link = await signLinkToken(SECRET, {
      approvalId: "approval_000000000000000000000001",
      action: "approve",
      to: "a@example.com",
      expiresAtMs: Date.now() + 60_000,
    });
    const join = await signJoinToken(SECRET, {
      callId: "call_000000000000000000000001",
      participantId: "part_000000000000000000000001",
      expiresAtMs: Date.now() + 60_000,
    });
    expect(await verifyLinkToken(SECRET, link, "approval_000000000000000000000001")).toMatchObject({
      action: "approve",
      to: "a@example.com",
    });
    expect(await verifyJoinToken(SECRET, join, "call_000000000000000000000001")).toBe("part_000000000000000000000001");
    expect(await refused(verifyPurposeToken(SECRET, "call-join", link))).toBeInstanceOf(PurposeTokenRefused);
    expect(await refused(verifyPurposeToken(SECRET, "approval-link", join))).toBeInstanceOf(PurposeTokenRefused);
    // The audience alone is not enough: a token claiming `call-join` but signed with the link key is refused.
    const crossSigned = await new SignJWT({ cid: "call_000000000000000000000001", aud: "call-join" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("part_000000000000000000000001")
      .setExpirationTime(inFiveMinutes())
      .sign(await purposeKey(SECRET, "approval-link"));
    expect(await refused(verifyPurposeToken(SECRET, "call-join", crossSigned))).toMatchObject({ reason: "invalid" });
  });

  it("are refused when signed with the plain secret, as the API JWTs are", async () => {
    const plain = await new SignJWT({ cid: "c" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("p")
      .setAudience("call-join")
      .setExpirationTime(inFiveMinutes())
      .sign(enc.encode(SECRET));
    expect(await refused(verifyPurposeToken(SECRET, "call-join", plain))).toMatchObject({ reason: "invalid" });
  });

  it("say when they expired", async () => {
    const old = await signPurposeToken(SECRET, "call-join", { sub: "p", expiresAtSeconds: Math.floor(Date.now() / 1000) - 120 });
    expect(await refused(verifyPurposeToken(SECRET, "call-join", old))).toMatchObject({ reason: "expired" });
  });

  it("are recognised by their audience (a string or a list) without verifying them", async () => {
    const link = await signPurposeToken(SECRET, "approval-link", { sub: "a", expiresAtSeconds: inFiveMinutes() });
    expect(claimedPurpose(link)).toBe("approval-link");
    expect(claimedPurpose("dmsa_not_a_jwt")).toBeUndefined();
    expect(claimedPurpose("a.b.c")).toBeUndefined();
    expect(namesPurposeAudience("call-join")).toBe(true);
    expect(namesPurposeAudience(["api", "approval-link"])).toBe(true);
    expect(namesPurposeAudience(["api"])).toBe(false);
    expect(namesPurposeAudience(undefined)).toBe(false);
  });
});

describe("the Reply-To signature", () => {
  it("uses its own purpose key, so it differs from the HMAC of the plain secret", async () => {
    const address = await replyToAddress(SECRET, "approval_000000000000000000000001", "agent@example.com");
    const sig = /\.([0-9a-f]{16})@example\.com$/.exec(address)![1];
    expect(sig).toBe((await purposeMac(SECRET, "approval-reply-to", "reply-to:approval_000000000000000000000001")).slice(0, 16));
  });
});
