/**
 * The approval mail and its landing pages at phone and desktop width, run by
 * test/e2e/approval-layout-browser.test.ts inside a loopback-only network namespace. Runs under
 * plain Node 22 (type stripping).
 *
 * It starts a real `wrangler dev --local`, asks for an approval whose agent id, title and data
 * hold long unbreakable words (as real ids, URLs and tokens are), reads the mail's HTML exactly as
 * the local send_email binding sent it (real links, real tokens), then in headless Chromium opens
 * that HTML, the Reject and Approve links' pages and the page after confirming, each at 375 px
 * (a phone: mobile viewport, touch) and 1280 px. For each it records the document's scroll width,
 * every link's boxes and any element reaching past the viewport, and writes a screenshot under
 * test-artifacts/approval-layout/ (git-ignored). It prints one JSON report; the test asserts.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, type Page } from "playwright-core";
import { api, contextAt, launchChromium, progress, recordFatal, runAndPrint, until } from "./runner-kit.ts";
import { PROJECT_ROOT, startLocalServer, type LocalServer } from "../helpers/local-server.ts";

export const WIDTHS = [375, 1280] as const;
const ARTIFACTS = join(PROJECT_ROOT, "test-artifacts/approval-layout");
const EMAIL_ROOT = join(PROJECT_ROOT, ".wrangler/tmp/email");
const AGENT = `quarterly_reporting_pipeline_agent_${"0123456789abcdef".repeat(3)}`;
const TITLE = `Publish report_${"x".repeat(60)}_final`;

const { timings, mark } = progress("approval-layout-runner");

interface Layout {
  view: string;
  width: number;
  status: number | null;
  heading: string;
  scrollWidth: number;
  links: { text: string; left: number; right: number }[];
  overflowing: { tag: string; text: string; right: number }[];
  screenshot: string;
}

/** What the page shows: scroll width, link boxes (each line of a wrapped link), elements past the viewport. */
async function measure(page: Page, view: string, width: number, status: number | null): Promise<Layout> {
  const found = await page.evaluate((vw: number) => {
    const doc = (globalThis as any).document;
    const links: { text: string; left: number; right: number }[] = [];
    for (const a of doc.querySelectorAll("a")) {
      for (const r of a.getClientRects()) links.push({ text: a.textContent.slice(0, 40), left: r.left, right: r.right });
    }
    const overflowing: { tag: string; text: string; right: number }[] = [];
    for (const el of doc.body.querySelectorAll("*")) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && (r.right > vw + 0.5 || r.left < -0.5)) {
        overflowing.push({ tag: el.tagName.toLowerCase(), text: (el.textContent ?? "").trim().slice(0, 40), right: r.right });
      }
    }
    return {
      heading: doc.querySelector("h1")?.textContent ?? "",
      scrollWidth: doc.documentElement.scrollWidth,
      links,
      overflowing: overflowing.slice(0, 10),
    };
  }, width);
  const screenshot = join(ARTIFACTS, `${view}-${width}.png`);
  await page.screenshot({ path: screenshot, fullPage: true });
  return { view, width, status, ...found, screenshot };
}

/** A page the size of a phone (mobile viewport: the meta viewport applies, as on a real phone) or a desktop window. */
async function openAt(browser: Browser, width: number): Promise<Page> {
  return (await contextAt(browser, width)).newPage();
}

/** The HTML the local send_email binding captured for this Message-ID (found by id, never by recency). */
function capturedHtml(messageId: string): string | null {
  if (!existsSync(EMAIL_ROOT)) return null;
  const name = `${messageId.replace(/^<|>$/g, "")}.html`;
  for (const session of readdirSync(EMAIL_ROOT)) {
    const file = join(EMAIL_ROOT, session, "email-html", name);
    if (existsSync(file)) return readFileSync(file, "utf8");
  }
  return null;
}

async function main(): Promise<Record<string, unknown>> {
  const report: Record<string, unknown> = { timings };
  let server: LocalServer | undefined;
  let browser: Browser | undefined;
  try {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startLocalServer();
    mark("wrangler_ready");
    const call = api(server);
    const created = await call("POST", "/api/v2/email/approval", {
      agent_id: AGENT,
      title: TITLE,
      description: `Publish the figures to https://reports.example.com/${"q3".repeat(40)}/summary?format=pdf once checked.`,
      approver_email: "approver@example.com",
      data: { dataset: `s3://bucket/${"very_long_object_key_".repeat(6)}.csv`, rows: 60000 },
    });
    const logged = await call("GET", `/api/v2/email/messages/${created.email.message_id}`);
    const html = await until("the captured mail HTML", 10_000, async () => capturedHtml(logged.rfc_message_id));
    const href = (action: string) => {
      const m = new RegExp(`href="([^"]*/approve/[^"]*action=${action}[^"]*)"`).exec(html);
      if (!m) throw new Error(`the mail has no ${action} link`);
      const url = new URL(m[1]!.replaceAll("&amp;", "&"));
      return `${server!.baseUrl}${url.pathname}${url.search}`;
    };
    mark("mail_captured");

    browser = await launchChromium();
    const layouts: Layout[] = [];
    for (const width of WIDTHS) {
      const page = await openAt(browser, width);
      await page.setContent(html, { waitUntil: "load" });
      layouts.push(await measure(page, "mail", width, null));
      for (const action of ["reject", "approve"]) {
        const res = await page.goto(href(action));
        layouts.push(await measure(page, `landing-${action}`, width, res?.status() ?? null));
      }
      await page.context().close();
    }
    // Confirm on a phone: the page after the decision.
    const page = await openAt(browser, 375);
    await page.goto(href("approve"));
    const [res] = await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
    layouts.push(await measure(page, "decided", 375, res?.status() ?? null));
    mark("measured");
    report.layouts = layouts;
    report.ok = true;
  } catch (err) {
    recordFatal(report, err, server);
  } finally {
    await browser?.close().catch(() => undefined);
    await server?.dispose().catch(() => undefined);
  }
  return report;
}

await runAndPrint(main);
