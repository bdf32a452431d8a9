/**
 * The dashboard's HTML (`GET /` for browsers): a static shell with no data in it. The signed-in
 * views are built by the dashboard's script (src/dashboard/client/, bundled into the static
 * assets by scripts/build-client.mjs) with `textContent`, never as HTML. Script and style are
 * separate files, so the page runs under the call page's Content-Security-Policy (no inline code,
 * nothing from another origin); only the permissions differ: the dashboard needs no camera or
 * microphone.
 */
import { CALL_PAGE_HEADERS } from "../calls/page/page-html";

export const DASHBOARD_SCRIPT_PATH = "/assets/dashboard.js";
export const DASHBOARD_STYLE_PATH = "/assets/dashboard.css";

export const DASHBOARD_HEADERS: Record<string, string> = {
  ...CALL_PAGE_HEADERS,
  "permissions-policy": "camera=(), microphone=(), geolocation=()",
  // `/` answers JSON or this page by the Accept header: caches must keep them apart.
  vary: "Accept",
};

export const DASHBOARD_HTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>DataMCPServerAgent dashboard</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="${DASHBOARD_STYLE_PATH}"></head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <h1>DataMCPServerAgent</h1>
  <p id="health" class="health" role="status" aria-live="polite">Health: checking…</p>
  <nav aria-label="Reference"><a href="/docs">API docs</a></nav>
</header>
<main id="main" tabindex="-1">
  <noscript><p>The dashboard needs JavaScript. The API reference is at <a href="/docs">/docs</a>.</p></noscript>
  <p id="loading">Loading…</p>
</main>
<script type="module" src="${DASHBOARD_SCRIPT_PATH}"></script>
</body></html>`;
