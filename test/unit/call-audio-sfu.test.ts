/** SFU mode's audio: the adapter's protobuf Packet, and the SFU client's adapter calls against the contract-checking fake SFU. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { PacketError, decodePacket, encodePacket } from "../../durable-objects/call-session/sfu-packet";
import { SfuClient, SfuError } from "../../src/calls/sfu-client";
import { FakeSfu, SFU_APP_ID, SFU_SECRET } from "../helpers/fake-sfu";

afterEach(() => vi.restoreAllMocks());

describe("Packet {sequenceNumber=1, timestamp=2, payload=5}", () => {
  it("decodes what the SFU sends (here: encoded by hand, byte by byte)", () => {
    // 08 96 01 (field 1 = 150), 10 e8 07 (field 2 = 1000), 2a 04 01 02 03 04 (field 5 = 4 bytes)
    const bytes = new Uint8Array([0x08, 0x96, 0x01, 0x10, 0xe8, 0x07, 0x2a, 0x04, 1, 2, 3, 4]);
    const p = decodePacket(bytes);
    expect(p.sequenceNumber).toBe(150);
    expect(p.timestamp).toBe(1000);
    expect([...p.payload]).toEqual([1, 2, 3, 4]);
    expect(encodePacket(p)).toEqual(bytes);
  });

  it("round-trips large values and payloads, in any field order, skipping unknown fields", () => {
    const payload = new Uint8Array(3840).map((_, i) => i % 251);
    const p = { sequenceNumber: 0xffffffff, timestamp: 4_000_000_000, payload };
    const decoded = decodePacket(encodePacket(p));
    expect(decoded.sequenceNumber).toBe(0xffffffff);
    expect(decoded.timestamp).toBe(4_000_000_000);
    expect(decoded.payload).toEqual(payload);
    // payload first, an unknown varint field 3, an unknown fixed32 field 4, then sequenceNumber.
    const shuffled = new Uint8Array([0x2a, 0x02, 9, 9, 0x18, 0x05, 0x25, 1, 2, 3, 4, 0x08, 0x07]);
    expect(decodePacket(shuffled)).toEqual({ sequenceNumber: 7, timestamp: 0, payload: new Uint8Array([9, 9]) });
  });

  it("refuses what is not well-formed", () => {
    for (const bad of [
      [0x08, 0x96], // truncated varint
      [0x2a, 0x05, 1, 2], // payload past the end
      [0x0b], // wire type 3 (group)
      [0x00, 0x01], // field 0
    ])
      expect(() => decodePacket(new Uint8Array(bad))).toThrow(PacketError);
  });
});

describe("SfuClient WebSocket adapters", () => {
  const client = () => new SfuClient({ appId: SFU_APP_ID, appSecret: SFU_SECRET });

  it("adapters/websocket/new and /close follow the documented contract", async () => {
    const sfu = new FakeSfu().install();
    sfu.sessions.set("sess-a", [{ location: "local", mid: "0", trackName: "mic" }]);
    const endpoint = "wss://calls.example/api/v2/calls/call_1/sfu/audio?token=t";
    const created = await client().newWebSocketAdapters([
      { location: "remote", sessionId: "sess-a", trackName: "mic", endpoint, outputCodec: "pcm" },
    ]);
    expect(created.tracks).toEqual([{ adapterId: "adapter-1", sessionId: "sess-a", trackName: "mic", endpoint }]);
    expect(sfu.requests.at(-1)).toEqual({
      method: "POST",
      path: "/adapters/websocket/new",
      body: { tracks: [{ location: "remote", sessionId: "sess-a", trackName: "mic", endpoint, outputCodec: "pcm" }] },
    });
    // A track nobody published: a per-track error in a 200, as the SFU does.
    const missing = await client().newWebSocketAdapters([
      { location: "remote", sessionId: "sess-a", trackName: "cam", endpoint, outputCodec: "pcm" },
    ]);
    expect(missing.tracks[0]).toMatchObject({ errorCode: "not_found" });
    const closed = await client().closeWebSocketAdapters(["adapter-1"]);
    expect(closed.tracks).toEqual([{ adapterId: "adapter-1" }]);
    expect(sfu.adapters.get("adapter-1")?.closed).toBe(true);
    // Idempotent.
    expect((await client().closeWebSocketAdapters(["adapter-1"])).tracks).toEqual([{ adapterId: "adapter-1" }]);
    expect(sfu.violations).toEqual([]);
  });

  it("takes 1 to 4 tracks per request, and an SFU refusal is an SfuError", async () => {
    const sfu = new FakeSfu().install();
    const t = { location: "remote" as const, sessionId: "s", trackName: "mic", endpoint: "wss://x.example/a", outputCodec: "pcm" as const };
    expect(() => client().newWebSocketAdapters([])).toThrow(RangeError);
    expect(() => client().newWebSocketAdapters([t, t, t, t, t])).toThrow(RangeError);
    sfu.refuseNext = { status: 401, errorCode: "unauthorized", errorDescription: "bad secret" };
    const err = await client()
      .newWebSocketAdapters([t])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SfuError);
    expect(err).toMatchObject({ status: 401, code: "unauthorized" });
    expect(sfu.violations).toEqual([]);
  });
});
