/**
 * Whether a request for `/` wants the dashboard (HTML) or the JSON index. Browsers list
 * `text/html` first; curl sends `*\/*` and API clients `application/json`, and both keep the JSON.
 * HTML wins only when `text/html` is named explicitly with a quality at least that of JSON.
 */

/** The quality the Accept header gives `type` by an exact match (`type/*` and `*\/*` do not count for HTML). */
function quality(accept: string, type: string, wildcards: boolean): number {
  let best = -1;
  for (const part of accept.split(",")) {
    const [range = "", ...params] = part.trim().toLowerCase().split(";");
    const media = range.trim();
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const value = q === undefined ? 1 : Number(q.slice(2));
    const matches = media === type || (wildcards && (media === "*/*" || media === `${type.split("/")[0]}/*`));
    if (matches && Number.isFinite(value)) best = Math.max(best, value);
  }
  return best;
}

export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const html = quality(accept, "text/html", false);
  return html > 0 && html >= quality(accept, "application/json", true);
}
