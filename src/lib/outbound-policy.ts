/**
 * The outbound-request policy: which user-supplied URLs the server may call (`http_request`
 * tasks, approval callbacks, every redirect hop of either).
 *
 * A URL is refused when it is not http(s), carries credentials (user:pass@), or names a host
 * that is not on the public internet: loopback, "this network", private (RFC 1918, CGNAT),
 * link-local (cloud metadata at 169.254.169.254), unique-local, multicast, broadcast or other
 * special-purpose addresses, in IPv4, IPv6 and the IPv6 forms that embed an IPv4 address
 * (IPv4-mapped, -compatible and -translated, NAT64, 6to4); or a local-only name (`localhost`,
 * `*.localhost`, `*.local`, `*.internal`, a name without a dot, …). Every IPv4 spelling
 * (`2130706433`, `127.1`, `0x7f.1`, `017700000001`, `127.0.0.1.`, percent-encoded, full-width
 * digits) is canonicalised by the WHATWG URL parser before the check, so the address checked is
 * the address the runtime's fetch connects to.
 *
 * Limit: any other name is allowed without resolving it. A Worker has no DNS API, so a public
 * name that resolves to a private address (e.g. a wildcard DNS service) is not caught here. On
 * Cloudflare the edge does not route a Worker's fetch to private networks; a self-hosted
 * runtime must restrict workerd's own outbound network for that.
 *
 * Hosts on the allow-list (`OUTBOUND_ALLOW_HOSTS`) skip the address and name rules, never the
 * scheme and credential rules. Matching is exact, see `parseAllowEntry`.
 */
import { getConfig } from "./config";

export type OutboundRule =
  | "invalid_url"
  | "scheme"
  | "userinfo"
  | "loopback"
  | "unspecified"
  | "private"
  | "link_local"
  | "unique_local"
  | "multicast"
  | "broadcast"
  | "reserved"
  | "local_name";

/** Why a URL is refused: the rule, and a sentence naming the range or name that matched. */
export interface OutboundRefusal {
  rule: OutboundRule;
  detail: string;
}

/** One allow-list entry: a canonical host (as `URL.hostname` spells it) and an optional port. */
export interface AllowedHost {
  hostname: string;
  port?: number;
}

export interface OutboundPolicy {
  allowHosts: readonly AllowedHost[];
}

export const DEFAULT_POLICY: OutboundPolicy = { allowHosts: [] };

/** The refusal as one phrase for a field error or a task's error message. */
export function describeRefusal(r: OutboundRefusal): string {
  return `refused by the outbound policy (${r.rule}): ${r.detail}`;
}

/** Why `url` may not be called under `policy`, or null when it may. Pure: never resolves or connects. */
export function outboundRefusal(url: string | URL, policy: OutboundPolicy = DEFAULT_POLICY): OutboundRefusal | null {
  let parsed: URL;
  try {
    parsed = typeof url === "string" ? new URL(url) : url;
  } catch {
    return { rule: "invalid_url", detail: "not an absolute URL" };
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return { rule: "scheme", detail: `${parsed.protocol} is not http: or https:` };
  }
  if (parsed.username !== "" || parsed.password !== "") {
    return { rule: "userinfo", detail: "a URL may not carry credentials (user:password@); send them in a header" };
  }
  if (isAllowed(parsed, policy)) return null;
  return hostRefusal(parsed.hostname);
}

/** The address and name rules for a hostname as `URL.hostname` spells it. */
export function hostRefusal(hostname: string): OutboundRefusal | null {
  if (hostname.startsWith("[")) {
    const v6 = parseIPv6(hostname.slice(1, -1));
    if (!v6) return { rule: "invalid_url", detail: `${hostname} is not an IPv6 address` };
    return ipv6Refusal(v6, hostname);
  }
  const v4 = parseIPv4(hostname);
  if (v4 !== null) return ipv4Refusal(v4, hostname);
  return nameRefusal(hostname);
}

// ---- IPv4 ----

interface Range4 {
  base: number;
  bits: number;
  rule: OutboundRule;
  label: string;
}

const cidr4 = (text: string, rule: OutboundRule, label: string): Range4 => {
  const [base, bits] = text.split("/");
  return { base: parseIPv4(base!)!, bits: Number(bits), rule, label: `${text} (${label})` };
};

/** Every IPv4 range that is not the public internet (IANA special-purpose registry); a range before any range containing it. */
const IPV4_RANGES: readonly Range4[] = [
  cidr4("255.255.255.255/32", "broadcast", "limited broadcast"),
  cidr4("0.0.0.0/8", "unspecified", "this network; 0.0.0.0 reaches the local host on many systems"),
  cidr4("10.0.0.0/8", "private", "private network, RFC 1918"),
  cidr4("100.64.0.0/10", "private", "shared address space, carrier-grade NAT"),
  cidr4("127.0.0.0/8", "loopback", "loopback"),
  cidr4("169.254.0.0/16", "link_local", "link-local, where cloud metadata services answer"),
  cidr4("172.16.0.0/12", "private", "private network, RFC 1918"),
  cidr4("192.0.0.0/24", "reserved", "IETF protocol assignments"),
  cidr4("192.0.2.0/24", "reserved", "documentation"),
  cidr4("192.88.99.0/24", "reserved", "6to4 relay anycast"),
  cidr4("192.168.0.0/16", "private", "private network, RFC 1918"),
  cidr4("198.18.0.0/15", "reserved", "benchmarking"),
  cidr4("198.51.100.0/24", "reserved", "documentation"),
  cidr4("203.0.113.0/24", "reserved", "documentation"),
  cidr4("224.0.0.0/4", "multicast", "multicast"),
  cidr4("240.0.0.0/4", "reserved", "reserved for future use"),
];

/** A dotted quad (the canonical form the URL parser produces) as a 32-bit number, else null. */
export function parseIPv4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return null;
    value = value * 256 + Number(part);
  }
  return value;
}

const formatIPv4 = (v: number) => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");

function inRange4(address: number, range: Range4): boolean {
  if (range.bits === 0) return true;
  const shift = 32 - range.bits;
  return address >>> shift === range.base >>> shift;
}

const rangeOf4 = (address: number) => IPV4_RANGES.find((r) => inRange4(address, r));

function ipv4Refusal(address: number, shown: string): OutboundRefusal | null {
  const range = rangeOf4(address);
  return range ? { rule: range.rule, detail: `${shown} is in ${range.label}` } : null;
}

// ---- IPv6 ----

/** Eight 16-bit groups. */
type IPv6 = readonly number[];

/** An IPv6 address without brackets (hex groups, one `::`, an optional trailing dotted quad), else null. */
export function parseIPv6(text: string): IPv6 | null {
  let body = text.toLowerCase();
  const tail: number[] = [];
  const lastColon = body.lastIndexOf(":");
  if (lastColon >= 0 && body.includes(".", lastColon)) {
    const v4 = parseIPv4(body.slice(lastColon + 1));
    if (v4 === null) return null;
    tail.push(v4 >>> 16, v4 & 0xffff);
    // Keep a "::" whole ("::1.2.3.4" leaves "::"), else drop the separator ("a:…:1.2.3.4" leaves "a:…").
    body = body.endsWith("::", lastColon + 1) ? body.slice(0, lastColon + 1) : body.slice(0, lastColon);
  }
  const halves = body.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const all = [...head, ...rest];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  const given = all.length + tail.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return null;
  const fill = Array.from({ length: 8 - given }, () => 0);
  const hex = (g: string) => parseInt(g, 16);
  return [...head.map(hex), ...(halves.length === 2 ? fill : []), ...rest.map(hex), ...tail];
}

interface Range6 {
  prefix: IPv6;
  bits: number;
  rule: OutboundRule;
  label: string;
}

const cidr6 = (text: string, rule: OutboundRule, label: string): Range6 => {
  const [base, bits] = text.split("/");
  return { prefix: parseIPv6(base!)!, bits: Number(bits), rule, label: `${text} (${label})` };
};

/** IPv6 ranges refused outright (the ones that embed an IPv4 address are checked by EMBEDS_IPV4). */
const IPV6_RANGES: readonly Range6[] = [
  cidr6("::/128", "unspecified", "unspecified"),
  cidr6("::1/128", "loopback", "loopback"),
  cidr6("64:ff9b:1::/48", "private", "local-use IPv4/IPv6 translation"),
  cidr6("100::/64", "reserved", "discard-only"),
  cidr6("2001::/23", "reserved", "IETF protocol assignments, incl. Teredo"),
  cidr6("2001:db8::/32", "reserved", "documentation"),
  cidr6("3fff::/20", "reserved", "documentation"),
  cidr6("fc00::/7", "unique_local", "unique local"),
  cidr6("fe80::/10", "link_local", "link-local"),
  cidr6("fec0::/10", "private", "site-local, deprecated"),
  cidr6("ff00::/8", "multicast", "multicast"),
];

/** An IPv6 form that carries an IPv4 address, whose groups `at` and `at + 1` hold it: that address decides. */
interface Embedding {
  range: Range6;
  name: string;
  at: number;
}

const embeds = (text: string, name: string, at: number): Embedding => ({ range: cidr6(text, "reserved", name), name, at });

const EMBEDS_IPV4: readonly Embedding[] = [
  embeds("::ffff:0:0/96", "IPv4-mapped", 6),
  embeds("::ffff:0:0:0/96", "IPv4-translated", 6),
  embeds("64:ff9b::/96", "NAT64", 6),
  embeds("2002::/16", "6to4", 1),
  // The deprecated IPv4-compatible form; ::/128 and ::1/128 are matched before it.
  embeds("::/96", "IPv4-compatible", 6),
];

const GLOBAL_UNICAST = cidr6("2000::/3", "reserved", "global unicast");

function inRange6(address: IPv6, range: Range6): boolean {
  for (let bit = 0; bit < range.bits; bit += 16) {
    const take = Math.min(16, range.bits - bit);
    const mask = (0xffff << (16 - take)) & 0xffff;
    const i = bit / 16;
    if ((address[i]! & mask) !== (range.prefix[i]! & mask)) return false;
  }
  return true;
}

/**
 * Whether a hostname as `URL.hostname` spells it (a dotted quad or a bracketed IPv6 address) lies in
 * a CIDR range such as `10.0.5.0/24` or `fd00::/8`; a name, or an address of the other family, does not.
 */
export function hostInCidr(hostname: string, cidr: string): boolean {
  const [base = "", bits] = cidr.split("/");
  const size = Number(bits);
  if (base.includes(":")) {
    const prefix = parseIPv6(base);
    const address = hostname.startsWith("[") ? parseIPv6(hostname.slice(1, -1)) : null;
    return !!prefix && !!address && size >= 0 && size <= 128 && inRange6(address, cidr6(cidr, "private", cidr));
  }
  const prefix = parseIPv4(base);
  const address = parseIPv4(hostname);
  return prefix !== null && address !== null && size >= 0 && size <= 32 && inRange4(address, cidr4(cidr, "private", cidr));
}

function ipv6Refusal(address: IPv6, shown: string): OutboundRefusal | null {
  const range = IPV6_RANGES.find((r) => inRange6(address, r));
  if (range) return { rule: range.rule, detail: `${shown} is in ${range.label}` };
  const embedding = EMBEDS_IPV4.find((e) => inRange6(address, e.range));
  if (!embedding) {
    // Only 2000::/3 is allocated for global unicast; the rest of the space is not routed on the internet.
    return inRange6(address, GLOBAL_UNICAST) ? null : { rule: "reserved", detail: `${shown} is outside ${GLOBAL_UNICAST.label}` };
  }
  const v4 = ((address[embedding.at]! << 16) | address[embedding.at + 1]!) >>> 0;
  const inner = rangeOf4(v4);
  return inner ? { rule: inner.rule, detail: `${shown} embeds ${formatIPv4(v4)} (${embedding.name}), which is in ${inner.label}` } : null;
}

// ---- names ----

/** Names that only mean something on the local host or network (RFC 6761, 6762, 8375; ICANN's .internal). */
const LOCAL_SUFFIXES = ["local", "localdomain", "internal", "intranet", "lan", "home", "corp", "private", "home.arpa"];

function nameRefusal(hostname: string): OutboundRefusal | null {
  const name = hostname.replace(/\.+$/, "");
  if (name === "") return { rule: "invalid_url", detail: "the URL has no host" };
  if (name === "localhost" || name.endsWith(".localhost")) {
    return { rule: "loopback", detail: `${hostname} is a loopback name (localhost)` };
  }
  const suffix = LOCAL_SUFFIXES.find((s) => name === s || name.endsWith(`.${s}`));
  if (suffix) return { rule: "local_name", detail: `${hostname} is a local-only name (.${suffix})` };
  if (!name.includes(".")) {
    return { rule: "local_name", detail: `${hostname} is a name without a dot, resolved through the local search domains` };
  }
  return null;
}

// ---- the allow-list ----

/** No `*`: entries are exact, and a wildcard that silently matched nothing would mislead. */
const ENTRY = /^(\[[0-9A-Fa-f:.]+\]|[^\s:/@?#[\]*]+)(?::(\d{1,5}))?$/;

/**
 * One `OUTBOUND_ALLOW_HOSTS` entry: `host`, `host:port`, `[ipv6]` or `[ipv6]:port`. The host is
 * canonicalised by the URL parser (case, IDN, `127.1` → `127.0.0.1`, `[::ffff:127.0.0.1]` →
 * `[::ffff:7f00:1]`) and trailing dots are dropped, and a URL then matches when its canonical
 * host is equal (no wildcards: `example.internal` does not cover `api.example.internal`) and,
 * when the entry has a port, its port (explicit, else 80/443) is that port.
 */
export function parseAllowEntry(entry: string): AllowedHost {
  const m = ENTRY.exec(entry.trim());
  const bad = () => new Error(`"${entry}" is not a host, an IP literal or host:port`);
  if (!m) throw bad();
  let hostname: string;
  try {
    hostname = new URL(`http://${m[1]}/`).hostname;
  } catch {
    throw bad();
  }
  const port = m[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && (port < 1 || port > 65535)) throw bad();
  return { hostname: stripDots(hostname), ...(port !== undefined ? { port } : {}) };
}

const stripDots = (hostname: string) => (hostname.startsWith("[") ? hostname : hostname.replace(/\.+$/, ""));

function effectivePort(url: URL): number {
  if (url.port !== "") return Number(url.port);
  return url.protocol === "https:" ? 443 : 80;
}

function isAllowed(url: URL, policy: OutboundPolicy): boolean {
  if (policy.allowHosts.length === 0) return false;
  const hostname = stripDots(url.hostname);
  const port = effectivePort(url);
  return policy.allowHosts.some((a) => a.hostname === hostname && (a.port === undefined || a.port === port));
}

const policies = new WeakMap<object, OutboundPolicy>();

/** The policy of this deployment (`OUTBOUND_ALLOW_HOSTS`); a malformed entry throws naming the variable. */
export function policyFrom(env: Env): OutboundPolicy {
  const config = getConfig(env);
  const hit = policies.get(config);
  if (hit) return hit;
  let policy: OutboundPolicy;
  try {
    policy = { allowHosts: config.outboundAllowHosts.map(parseAllowEntry) };
  } catch (err) {
    throw new Error(`Invalid configuration: OUTBOUND_ALLOW_HOSTS: ${(err as Error).message}`);
  }
  policies.set(config, policy);
  return policy;
}
