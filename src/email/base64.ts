/** Base64 of a string's UTF-8 bytes (`btoa` alone only takes Latin-1). */
export function base64Utf8(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** `base64Utf8`, wrapped at 76 characters with CRLF as MIME bodies require (RFC 2045 §6.8). */
export function base64Utf8Wrapped(text: string): string {
  return base64Utf8(text).replace(/.{1,76}/g, "$&\r\n").trimEnd();
}
