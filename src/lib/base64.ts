/**
 * Base64, written once: `btoa`/`atob` take and give "binary strings" (one character per byte),
 * which every caller would otherwise convert by hand.
 */

/** Base64 of raw bytes, in chunks (spreading 25 MiB into one call would overflow the stack). */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** The bytes of base64 text; throws on text that is not base64 (see {@link tryBase64ToBytes}). */
export function base64ToBytes(b64: string): Uint8Array<ArrayBuffer> {
  const binary = atob(b64);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** The bytes of base64 text, or null when it is not base64 (input from outside). */
export function tryBase64ToBytes(b64: string): Uint8Array<ArrayBuffer> | null {
  try {
    return base64ToBytes(b64.trim());
  } catch {
    return null;
  }
}

/** URL-safe base64 without padding (RFC 4648 §5), e.g. for tokens in headers and URLs. */
export function bytesToBase64Url(bytes: Uint8Array): string {
  return bytesToBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Base64 of a string's UTF-8 bytes (`btoa` alone only takes Latin-1). */
export function base64Utf8(text: string): string {
  return bytesToBase64(new TextEncoder().encode(text));
}

/** `base64Utf8`, wrapped at 76 characters with CRLF as MIME bodies require (RFC 2045 §6.8). */
export function base64Utf8Wrapped(text: string): string {
  return base64Utf8(text)
    .replace(/.{1,76}/g, "$&\r\n")
    .trimEnd();
}
