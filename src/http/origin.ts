/**
 * Which browser origins may call the server: those listed in `CORS_ALLOWED_ORIGINS` (`*`: any).
 * CORS asks it for every route; `/mcp` refuses any other `Origin` outright, so a page that
 * rebinds its DNS name to a local server cannot drive the tools with a credential it learned.
 */
export function originAllowed(allowed: readonly string[], origin: string): boolean {
  return allowed.includes("*") || allowed.includes(origin);
}
