/**
 * The call settings. `REALTIME_APP_ID` and `REALTIME_API_BASE_URL` are vars declared in
 * wrangler.toml with empty defaults; the secrets (`REALTIME_APP_SECRET`, `TURN_KEY_ID`,
 * `TURN_KEY_API_TOKEN`) are optional (`wrangler secret put …`). Empty means "not configured".
 */
import { optionalSetting } from "../lib/config";

export type CallSetting = "REALTIME_APP_ID" | "REALTIME_APP_SECRET" | "REALTIME_API_BASE_URL" | "TURN_KEY_ID" | "TURN_KEY_API_TOKEN";

/** Anything holding settings by name: the Worker's `Env`, or a plain object in tests. */
export type SettingsSource = Env | Partial<Record<CallSetting, unknown>>;

/** A trimmed, non-empty string setting, or undefined. */
export function callSetting(env: SettingsSource, name: CallSetting): string | undefined {
  return optionalSetting(env, name);
}

/** SFU credentials, or null when either is missing (calls then run peer-to-peer). */
export function realtimeCredentials(env: SettingsSource): { appId: string; appSecret: string } | null {
  const appId = callSetting(env, "REALTIME_APP_ID");
  const appSecret = callSetting(env, "REALTIME_APP_SECRET");
  return appId && appSecret ? { appId, appSecret } : null;
}

/**
 * The Realtime SFU Connection API base URL (`REALTIME_API_BASE_URL`, without `/apps/{appId}`), or
 * undefined for the default https://rtc.live.cloudflare.com/v1. Set it to reach the API through a
 * gateway, or a local stand-in in tests. Anything but an absolute http(s) URL is an error: a typo
 * must not silently send the app secret to the default host (or nowhere).
 */
export function realtimeApiBaseUrl(env: SettingsSource): string | undefined {
  const value = callSetting(env, "REALTIME_API_BASE_URL");
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`REALTIME_API_BASE_URL is not a URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new Error(`REALTIME_API_BASE_URL must be an http(s) URL, not ${url.protocol}`);
  if (url.search || url.hash) throw new Error("REALTIME_API_BASE_URL must not have a query or fragment");
  return value.replace(/\/+$/, "");
}

/** TURN key settings, or null when either is missing (the browser then gets STUN only). */
export function turnCredentials(env: SettingsSource): { turnKeyId: string; turnKeyApiToken: string } | null {
  const turnKeyId = callSetting(env, "TURN_KEY_ID");
  const turnKeyApiToken = callSetting(env, "TURN_KEY_API_TOKEN");
  return turnKeyId && turnKeyApiToken ? { turnKeyId, turnKeyApiToken } : null;
}
