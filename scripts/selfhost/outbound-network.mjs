// Which addresses the Worker under the self-hosted server may connect to (fetch, SMTP sockets).
// workerd's wrangler-config mode gives the Worker the implicit "internet" network, which reaches
// public addresses only and has no setting. So the server compiles the config into workerd's
// binary form (`workerd compile --config-only`) and adds an explicit "internet" service whose
// allow list is "public" plus what OUTBOUND_PRIVATE_NETWORKS names; workerd then serves that
// (`serve --binary`). The edit is made on the Cap'n Proto message itself, described below, so it
// needs no schema compiler at run time.
// Plain JavaScript with JSDoc types: node scripts import it as it is and TypeScript checks it.

/** workerd's names for address classes (workerd.capnp, `Network.allow`) an operator may open besides single ranges. */
const CLASSES = ["private", "local"];
const IPV4_CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const IPV6_CIDR = /^[0-9a-f:]+\/(\d{1,3})$/i;

/**
 * The `allow` list for OUTBOUND_PRIVATE_NETWORKS: "public" always, then each comma-separated entry,
 * which is `private` (every private and loopback address), `local` (loopback only) or a CIDR range
 * such as `10.0.5.0/24` or `127.0.0.1/32`. An empty value keeps workerd's default (public only).
 * @param {string | undefined} value
 * @returns {string[]}
 */
export function outboundAllowList(value) {
  const entries = (value ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const v4 = IPV4_CIDR.exec(entry);
    const valid =
      CLASSES.includes(entry) ||
      (v4 !== null && v4.slice(1, 5).every((octet) => Number(octet) <= 255) && Number(v4[5]) <= 32) ||
      (!v4 && IPV6_CIDR.test(entry) && entry.includes(":") && Number(entry.split("/")[1]) <= 128);
    if (!valid)
      throw new Error(
        `OUTBOUND_PRIVATE_NETWORKS: "${entry}" is not "private", "local" or a CIDR range such as 10.0.5.0/24 or 127.0.0.1/32`,
      );
  }
  return ["public", ...new Set(entries)];
}

// ---- The Cap'n Proto edit ----
// A message is a segment table (u32 count-1, u32 size in words per segment, padded to 8 bytes)
// and its segments. Pointers are 64-bit words: kind in bits 0-1 (0 struct, 1 list, 2 far),
// a signed word offset in bits 2-31 counted from the word after the pointer; a struct pointer's
// high half holds its data and pointer word counts, a list pointer's its element size (bits 0-2)
// and count (bits 3-31, in words for a composite list, whose first word is a tag describing
// each element). A far pointer names a segment (high half) and a landing pad in it (bits 3-31).
// Layouts from workerd.capnp: Config has `services` as pointer 0; Service has `name` as pointer
// 0, its union tag in data bytes 0-1 (2 = network) and the `network` struct as pointer 1;
// Network has `allow` (List(Text)) as pointer 0, 3 pointers in all.
// The edit: a new segment holds a copy of the services list with one more element. The copied
// elements' pointers become far pointers whose landing pads are the original pointers (still in
// place, still pointing at their targets); Config's pointer 0 becomes a far pointer to the copy.

const WORD = 8;
const SERVICE_NETWORK = 2;

/** @param {Buffer} buf */
function readSegments(buf) {
  const count = buf.readUInt32LE(0) + 1;
  const header = Math.ceil((4 * (count + 1)) / WORD) * WORD;
  /** @type {Buffer[]} */
  const segments = [];
  let at = header;
  for (let i = 0; i < count; i++) {
    const words = buf.readUInt32LE(4 * (i + 1));
    segments.push(Buffer.from(buf.subarray(at, at + words * WORD)));
    at += words * WORD;
  }
  if (at > buf.length) throw new Error("the compiled config is truncated");
  return segments;
}

/** @param {Buffer[]} segments */
function writeSegments(segments) {
  const header = Buffer.alloc(Math.ceil((4 * (segments.length + 1)) / WORD) * WORD);
  header.writeUInt32LE(segments.length - 1, 0);
  segments.forEach((segment, i) => header.writeUInt32LE(segment.length / WORD, 4 * (i + 1)));
  return Buffer.concat([header, ...segments]);
}

/**
 * @typedef {{ seg: number, word: number }} Place a pointer's position
 * @typedef {{ seg: number, at: number, lo: number, hi: number }} Target where a pointer leads (at = first word of the object) and its describing halves
 */

/** @param {Buffer[]} segments @param {Place} place @returns {Target | null} */
function follow(segments, { seg, word }) {
  const s = segments[seg];
  if (!s) throw new Error(`pointer into missing segment ${seg}`);
  const lo = s.readUInt32LE(word * WORD);
  const hi = s.readUInt32LE(word * WORD + 4);
  if (lo === 0 && hi === 0) return null;
  const kind = lo & 3;
  if (kind === 2) {
    const pad = lo >>> 3;
    if (lo & 4) {
      // Double far: the pad's first word is a far pointer to the object, its second the tag.
      const padSeg = /** @type {Buffer} */ (segments[hi]);
      const objLo = padSeg.readUInt32LE(pad * WORD);
      const tagLo = padSeg.readUInt32LE(pad * WORD + WORD);
      const tagHi = padSeg.readUInt32LE(pad * WORD + WORD + 4);
      return { seg: padSeg.readUInt32LE(pad * WORD + 4), at: objLo >>> 3, lo: tagLo, hi: tagHi };
    }
    return follow(segments, { seg: hi, word: pad });
  }
  if (kind === 3) throw new Error("unexpected capability pointer in the config");
  return { seg, at: word + 1 + (lo >> 2), lo, hi };
}

/** @param {number} kind @param {number} offset @param {number} hi */
const near = (kind, offset, hi) => ({ lo: ((offset << 2) | kind) >>> 0, hi: hi >>> 0 });

/** @param {Buffer} seg @param {number} word @param {{ lo: number, hi: number }} pointer */
function put(seg, word, { lo, hi }) {
  seg.writeUInt32LE(lo, word * WORD);
  seg.writeUInt32LE(hi, word * WORD + 4);
}

/** @param {Buffer[]} segments @param {Target | null} text */
function readText(segments, text) {
  if (!text) return "";
  const bytes = (text.hi >>> 3) - 1;
  return /** @type {Buffer} */ (segments[text.seg]).toString("utf8", text.at * WORD, text.at * WORD + bytes);
}

/**
 * The compiled config with an explicit "internet" network service allowing `allow`.
 * @param {Buffer} compiled output of `workerd compile --config-only`
 * @param {string[]} allow
 * @returns {Buffer}
 */
export function withInternetService(compiled, allow) {
  const segments = readSegments(compiled);
  const config = follow(segments, { seg: 0, word: 0 });
  if (!config || (config.lo & 3) !== 0) throw new Error("the compiled config has no root struct");
  const configData = config.hi & 0xffff;
  const servicesPlace = { seg: config.seg, word: config.at + configData };
  const list = follow(segments, servicesPlace);
  if (!list || (list.lo & 3) !== 1 || (list.hi & 7) !== 7) throw new Error("the compiled config has no services list");
  const oldSeg = /** @type {Buffer} */ (segments[list.seg]);
  const tagLo = oldSeg.readUInt32LE(list.at * WORD);
  const tagHi = oldSeg.readUInt32LE(list.at * WORD + 4);
  const count = tagLo >>> 2;
  const dataWords = Math.max(tagHi & 0xffff, 1);
  const ptrWords = Math.max(tagHi >>> 16, 2);
  const oldData = tagHi & 0xffff;
  const oldPtrs = tagHi >>> 16;
  const elementWords = dataWords + ptrWords;

  const texts = ["internet", ...allow].map((t) => Buffer.from(`${t}\0`, "utf8"));
  const textWords = texts.map((t) => Math.ceil(t.length / WORD));
  const listStart = 2; // word 0: landing pad, word 1: tag
  const newElement = listStart + count * elementWords;
  const nameAt = newElement + elementWords;
  const networkAt = nameAt + /** @type {number} */ (textWords[0]);
  const allowAt = networkAt + 3;
  let textAt = allowAt + allow.length;
  const total = textAt + textWords.slice(1).reduce((a, b) => a + b, 0);
  const seg = Buffer.alloc(total * WORD);
  const segIndex = segments.length;

  put(seg, 0, near(1, 0, ((count + 1) * elementWords * 8) | 7));
  put(seg, 1, near(0, count + 1, dataWords | (ptrWords << 16)));
  for (let i = 0; i < count; i++) {
    const from = list.at + 1 + i * (oldData + oldPtrs);
    const to = listStart + i * elementWords;
    oldSeg.copy(seg, to * WORD, from * WORD, (from + oldData) * WORD);
    const name = readText(segments, follow(segments, { seg: list.seg, word: from + oldData }));
    if (name === "internet") throw new Error('the compiled config already defines an "internet" service');
    for (let p = 0; p < oldPtrs; p++) {
      const word = from + oldData + p;
      const lo = oldSeg.readUInt32LE(word * WORD);
      const hi = oldSeg.readUInt32LE(word * WORD + 4);
      const target = to + dataWords + p;
      if ((lo === 0 && hi === 0) || (lo & 3) === 2) put(seg, target, { lo, hi });
      else put(seg, target, { lo: ((word << 3) | 2) >>> 0, hi: list.seg });
    }
  }
  seg.writeUInt16LE(SERVICE_NETWORK, newElement * WORD);
  const pointers = newElement + dataWords;
  put(seg, pointers, near(1, nameAt - pointers - 1, (/** @type {Buffer} */ (texts[0]).length << 3) | 2));
  put(seg, pointers + 1, near(0, networkAt - pointers - 2, 0 | (3 << 16)));
  /** @type {Buffer} */ (texts[0]).copy(seg, nameAt * WORD);
  put(seg, networkAt, near(1, allowAt - networkAt - 1, (allow.length << 3) | 6));
  allow.forEach((_, i) => {
    const text = /** @type {Buffer} */ (texts[i + 1]);
    put(seg, allowAt + i, near(1, textAt - (allowAt + i) - 1, (text.length << 3) | 2));
    text.copy(seg, textAt * WORD);
    textAt += /** @type {number} */ (textWords[i + 1]);
  });

  const configSeg = /** @type {Buffer} */ (segments[servicesPlace.seg]);
  put(configSeg, servicesPlace.word, { lo: 2, hi: segIndex });
  return writeSegments([...segments, seg]);
}
