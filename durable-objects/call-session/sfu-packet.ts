/**
 * The Realtime SFU WebSocket adapter's message: protobuf
 * `Packet { uint32 sequenceNumber = 1; uint32 timestamp = 2; bytes payload = 5; }`, whose payload
 * (with `outputCodec: "pcm"`) is 48 kHz interleaved stereo s16le PCM. A hand-written decoder: three
 * fields do not need a protobuf library; unknown fields are skipped as the wire format says.
 * @see https://developers.cloudflare.com/realtime/sfu/media-transport-adapters/websocket-adapter/
 */

export interface SfuPacket {
  sequenceNumber: number;
  timestamp: number;
  payload: Uint8Array;
}

export class PacketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PacketError";
  }
}

function readVarint(buf: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  for (let i = at; i < buf.length && i < at + 10; i++) {
    const b = buf[i]!;
    // Above 2^53 precision is lost, but uint32 fields never get there; larger values are skipped only.
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0) return [value, i + 1];
  }
  throw new PacketError("truncated varint");
}

/** Decodes one packet; throws {@link PacketError} on anything that is not well-formed protobuf. */
export function decodePacket(buf: Uint8Array): SfuPacket {
  const packet: SfuPacket = { sequenceNumber: 0, timestamp: 0, payload: new Uint8Array(0) };
  let at = 0;
  while (at < buf.length) {
    const [tag, afterTag] = readVarint(buf, at);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    at = afterTag;
    if (field === 0) throw new PacketError("field number 0");
    if (wire === 0) {
      const [value, next] = readVarint(buf, at);
      if (field === 1) packet.sequenceNumber = value >>> 0;
      else if (field === 2) packet.timestamp = value >>> 0;
      at = next;
    } else if (wire === 2) {
      const [length, next] = readVarint(buf, at);
      if (next + length > buf.length) throw new PacketError("length-delimited field past the end");
      if (field === 5) packet.payload = buf.subarray(next, next + length);
      at = next + length;
    } else if (wire === 1 || wire === 5) {
      at += wire === 1 ? 8 : 4;
      if (at > buf.length) throw new PacketError("fixed-width field past the end");
    } else throw new PacketError(`wire type ${wire} is not supported`);
  }
  return packet;
}

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

/** Encodes a packet as the SFU does (for tests and tools). */
export function encodePacket(p: SfuPacket): Uint8Array {
  const head = [0x08, ...varint(p.sequenceNumber), 0x10, ...varint(p.timestamp), 0x2a, ...varint(p.payload.length)];
  const out = new Uint8Array(head.length + p.payload.length);
  out.set(head);
  out.set(p.payload, head.length);
  return out;
}
