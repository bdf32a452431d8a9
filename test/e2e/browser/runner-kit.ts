/**
 * What the browser runners share: progress marks,
 * polling, the admin API client and the Chromium launch for fake-media WebRTC on loopback
 * (/work/shared/reference/webrtc-p2p-in-chromium.md). Runs under plain Node 22 (type stripping).
 */
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import type { LocalServer } from "../helpers/local-server.ts";

export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

/** `mark(name)` records ms since start in `timings` and prints progress on stderr. */
export function progress(runner: string): { timings: Record<string, number>; mark: (name: string) => void } {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  return {
    timings,
    mark(name) {
      timings[name] = Date.now() - t0;
      process.stderr.write(`[${runner}] ${name} at ${timings[name]} ms\n`);
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it gives a truthy value; throws naming `what` after `timeoutMs`. */
export async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined | null | false>,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** JSON calls with the server's admin key; anything but 2xx throws with the body. */
export function api(server: LocalServer) {
  return async (method: string, path: string, body?: unknown): Promise<any> => {
    const res = await fetch(`${server.baseUrl}${path}`, {
      method,
      headers: { Authorization: `Bearer ${server.adminApiKey}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
    return JSON.parse(text);
  };
}

/**
 * Headless Chromium with fake microphone/camera that may use loopback ICE candidates; `extraArgs`
 * adds flags (e.g. `--use-file-for-fake-audio-capture=<wav>` for a microphone that speaks).
 */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream",
      "--allow-loopback-in-peer-connection",
      "--autoplay-policy=no-user-gesture-required",
      "--disable-quic",
      ...extraArgs,
    ],
  });
}

/**
 * Opens a call page in its own browser context (its own media devices and storage), recording
 * page errors, console errors and any 4xx/5xx answer (tokens masked) in `errors`. `init` runs in
 * the page before its scripts.
 */
export async function openCallPage(
  browser: Browser,
  url: string,
  errors: string[],
  init?: () => void,
): Promise<{ page: Page; context: BrowserContext }> {
  const context = await browser.newContext();
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  page.on("pageerror", (err) => errors.push(String(err)));
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(`console: ${msg.text()}`);
  });
  page.on("response", (res) => {
    if (res.status() >= 400) errors.push(`HTTP ${res.status()} for ${res.url().replace(/token=[^&]+/, "token=…")}`);
  });
  await page.goto(url);
  return { page, context };
}

/** A browser context the size of a phone (mobile viewport, touch: the meta viewport applies) or a desktop window. */
export function contextAt(browser: Browser, width: number): Promise<BrowserContext> {
  const phone = width < 600;
  return browser.newContext({ viewport: { width, height: phone ? 740 : 900 }, isMobile: phone, hasTouch: phone });
}

/** Marks the report failed with the error and the server's log tail. */
export function recordFatal(report: Record<string, unknown>, err: unknown, server: LocalServer | undefined): void {
  report.ok = false;
  report.fatal = String((err as Error).stack ?? err);
  if (server) report.serverLog = server.log().slice(-6000);
}

/**
 * A failed run's report: the error, the server's log tail, and what each page knew (its phase,
 * errors, events with details, peer stats and, in SFU mode, its negotiations with the proxy),
 * with the runner's own `extra` findings.
 */
export async function recordFailure(
  report: Record<string, unknown>,
  err: unknown,
  server: LocalServer | undefined,
  pages: readonly Page[],
  extra: Record<string, unknown> = {},
): Promise<void> {
  recordFatal(report, err, server);
  const pageStates = await Promise.all(
    pages.map((page) =>
      page
        .evaluate(async () => {
          const c = (globalThis as any).__call;
          return { phase: c.state.phase, errors: c.errors, events: c.events, stats: await c.stats(), negotiations: c.sfu?.negotiations };
        })
        .catch((e: unknown) => String(e)),
    ),
  );
  report.diagnostics = { pages: pageStates, ...extra };
}

/** Runs a runner and prints its report as one JSON line on stdout (what the test parses). */
export async function runAndPrint(main: () => Promise<Record<string, unknown>>): Promise<void> {
  // Stopped by the test (timeout): exit normally so the helpers' exit hooks end wrangler and Chromium.
  process.once("SIGTERM", () => process.exit(1));
  const report = await main();
  process.stdout.write(`${JSON.stringify(report)}\n`);
}
