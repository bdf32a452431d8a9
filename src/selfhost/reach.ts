/**
 * Which configured servers the self-hosted runtime cannot reach. workerd's wrangler-config mode
 * lets the Worker connect to public addresses only (it refuses loopback and private ones, with no
 * setting to change that), so an SMTP relay, mail API proxy or speech server named by a loopback,
 * private or local-only host would fail on every use. /health reports them instead of claiming the
 * feature works. Names are judged by how they are spelled (a public-looking name that resolves to
 * a private address is only found when used).
 */
import { optionalSetting } from "../lib/config";
import { hostRefusal } from "../lib/outbound-policy";

/** The settings that name a server, and the email provider each one serves. */
const SERVER_SETTINGS = [
  { name: "SMTP_HOST", kind: "host", provider: "smtp" },
  { name: "SENDGRID_BASE_URL", kind: "url", provider: "sendgrid" },
  { name: "MAILGUN_BASE_URL", kind: "url", provider: "mailgun" },
  { name: "SPEECH_BASE_URL", kind: "url", provider: undefined },
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

/** Every configured server setting whose host this runtime refuses to connect to. */
export function unreachableServers(env: Env): Unreachable[] {
  return SERVER_SETTINGS.flatMap(({ name, kind, provider }) => {
    const value = optionalSetting(env, name);
    const host = value === undefined ? undefined : hostOf(kind, value);
    const refusal = host === undefined ? null : hostRefusal(host);
    if (!refusal) return [];
    return [{ setting: name, ...(provider ? { provider } : {}), why: `${name}: ${refusal.detail}` }];
  });
}

export const PUBLIC_ONLY = "this runtime connects to public addresses only";
