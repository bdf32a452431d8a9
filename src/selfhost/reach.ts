/**
 * Which configured servers the self-hosted runtime cannot reach. The server lets the Worker
 * connect to public addresses plus what the operator opened with OUTBOUND_PRIVATE_NETWORKS
 * (`private`, `local` or CIDR ranges; the server passes the checked list on to the Worker), so an
 * SMTP relay, mail API proxy or speech server named by another loopback, private or local-only
 * host would fail on every use. /health reports them instead of claiming the feature works.
 * Hosts are judged by how they are spelled: a public-looking name that resolves to a private
 * address is only found when used, and a local-only name (`mailpit`, `relay.internal`) counts as
 * reachable once any private range is open, as it cannot be judged before it is resolved.
 */
import { optionalSetting } from "../lib/config";
import { hostInCidr, hostRefusal, type OutboundRefusal } from "../lib/outbound-policy";

/** The settings that name a server, and the email provider each one serves. */
const SERVER_SETTINGS = [
  { name: "SMTP_HOST", kind: "host", provider: "smtp" },
  { name: "SENDGRID_BASE_URL", kind: "url", provider: "sendgrid" },
  { name: "MAILGUN_BASE_URL", kind: "url", provider: "mailgun" },
  { name: "SPEECH_BASE_URL", kind: "url", provider: undefined },
  { name: "LLM_BASE_URL", kind: "url", provider: undefined },
  { name: "REALTIME_API_BASE_URL", kind: "url", provider: undefined },
] as const;

export type ServerSetting = (typeof SERVER_SETTINGS)[number]["name"];

export interface Unreachable {
  setting: ServerSetting;
  provider?: string;
  why: string;
}

function hostOf(kind: "host" | "url", value: string): string | undefined {
  if (kind === "host") return value.includes(":") && !value.startsWith("[") ? `[${value}]` : value;
  try {
    return new URL(value).hostname;
  } catch {
    return undefined; // A malformed URL is reported by its own feature.
  }
}

/** Whether OUTBOUND_PRIVATE_NETWORKS opens the host this refusal is about. */
function opened(host: string, refusal: OutboundRefusal, open: readonly string[]): boolean {
  if (open.length === 0) return false;
  if (open.includes("private")) return true;
  // A local-only name resolves to a private address, never to loopback alone.
  if (refusal.rule === "local_name") return open.some((entry) => entry !== "local");
  if (open.includes("local") && refusal.rule === "loopback") return true;
  return open.some((range) => range.includes("/") && hostInCidr(host, range));
}

const openedNetworks = (env: Env) => (optionalSetting(env, "OUTBOUND_PRIVATE_NETWORKS") ?? "").split(",").filter(Boolean);

/** What this runtime connects to, in words (for /health). */
export function outboundScope(env: Env): string {
  const open = openedNetworks(env);
  return open.length === 0
    ? "this runtime connects to public addresses only (OUTBOUND_PRIVATE_NETWORKS opens more)"
    : `this runtime connects to public addresses and to ${open.join(", ")} (OUTBOUND_PRIVATE_NETWORKS)`;
}

/** Every configured server setting whose host this runtime refuses to connect to. */
export function unreachableServers(env: Env): Unreachable[] {
  const open = openedNetworks(env);
  return SERVER_SETTINGS.flatMap(({ name, kind, provider }) => {
    const value = optionalSetting(env, name);
    const host = value === undefined ? undefined : hostOf(kind, value);
    const refusal = host === undefined ? null : hostRefusal(host);
    if (!refusal || opened(host!, refusal, open)) return [];
    return [{ setting: name, ...(provider ? { provider } : {}), why: `${name}: ${refusal.detail}` }];
  });
}

/** Why this runtime cannot reach the server a setting names, if it cannot. */
export function unreachableWhy(unreachable: readonly Unreachable[], setting: ServerSetting): string | undefined {
  return unreachable.find((u) => u.setting === setting)?.why;
}
