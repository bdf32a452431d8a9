/**
 * The base URL setting of an OpenAI-compatible server (speech, language model): an http(s) URL,
 * accepted with or without its final `/v1`.
 */

/** Why `value` cannot be the base URL `setting` names, or null when it can. */
export function baseUrlRefusal(setting: string, value: string): string | null {
  return /^https?:\/\//i.test(value) ? null : `${setting} must be an http(s) URL; got "${value}".`;
}

/** `value` without trailing slashes or a final `/v1`: the endpoints are `${base}/v1/…`. */
export function openAiCompatibleBase(value: string): string {
  return value.replace(/\/+$/, "").replace(/\/v1$/, "");
}
