/**
 * The call page's HTML (`GET /calls/{call_id}`): a static shell whose only dynamic parts
 * are the call id (already validated as `call_[0-9a-f]{24}`) and the media mode, both escaped.
 * Everything else (roster, transcript, names) is filled in by the page's script with
 * `textContent`, never as HTML. The script and the style are static assets (built from
 * src/calls/page/client/ by scripts/build-client.mjs, served by the platform from dist/client/),
 * separate files so the page works under a CSP without 'unsafe-inline'.
 */
import { escapeHtml } from "../../lib/html";

/** Where the built client lies in dist/client/ (scripts/build-client.mjs), and so its URL. */
export const CALL_PAGE_SCRIPT_PATH = "/assets/call-page.js";
export const CALL_PAGE_STYLE_PATH = "/assets/call-page.css";

/** No inline scripts or styles, no third parties; the socket and fetches go to this origin only. */
export const CALL_PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "media-src 'self' blob: mediastream:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export const CALL_PAGE_HEADERS: Record<string, string> = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  // The join token is in the URL: never send it to another site.
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "permissions-policy": "camera=(self), microphone=(self), autoplay=(self)",
  "content-security-policy": CALL_PAGE_CSP,
};

function shell(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="${CALL_PAGE_STYLE_PATH}"></head>
<body>${body}</body></html>`;
}

/** The page for a call that can be joined. `media` tells the script how the server carries media. */
export function callPageHtml(callId: string, media: "p2p" | "sfu"): string {
  return shell(
    "Call",
    `
<main id="app" data-call-id="${escapeHtml(callId)}" data-media="${escapeHtml(media)}">
  <header><h1>Call <code>${escapeHtml(callId)}</code></h1><p id="status" role="status">Not joined.</p><p id="recording" role="status" hidden>● This call is being recorded: your microphone is stored.</p></header>
  <section id="join-panel">
    <label for="token">Join token</label>
    <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" placeholder="Paste the join_token from POST /api/v2/calls/{call_id}/participants">
    <label class="inline"><input id="with-video" type="checkbox" checked> Join with camera</label>
    <button id="join" type="button">Join</button>
  </section>
  <section id="controls" hidden>
    <button id="mute" type="button" aria-pressed="false">Mute</button>
    <button id="camera" type="button" aria-pressed="false">Camera off</button>
    <button id="transcription" type="button" aria-pressed="false" disabled>Stop transcribing me</button>
    <button id="leave" type="button">Leave</button>
  </section>
  <p id="notice" hidden></p>
  <section><h2>Participants</h2><ul id="participants"></ul></section>
  <section><h2>Media</h2><div id="media"><figure class="tile"><video id="local-video" autoplay playsinline muted></video><figcaption>You</figcaption></figure></div></section>
  <section><h2>Agent</h2><p id="agent-speech" aria-live="polite"></p></section>
  <section><h2>Transcript</h2><p id="live-transcription" role="status" hidden></p><ol id="transcript" aria-live="polite"></ol></section>
  <p id="errors" role="alert"></p>
</main>
<script type="module" src="${CALL_PAGE_SCRIPT_PATH}"></script>`,
  );
}

/** A page explaining why there is nothing to join (unknown call, ended call). */
export function callMessagePage(heading: string, message: string): string {
  return shell(heading, `<main><h1>${escapeHtml(heading)}</h1><p>${escapeHtml(message)}</p></main>`);
}
