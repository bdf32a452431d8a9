/**
 * The approval mail and its landing pages render cleanly on a phone (docs/email-and-approvals.md):
 * at 375 px (mobile viewport) and 1280 px in headless Chromium, nothing reaches past the viewport,
 * the page never scrolls sideways, and every link (each line of a wrapped one) stays inside it,
 * even with long unbreakable ids, titles, URLs and tokens. Screenshots of every view go to
 * test-artifacts/approval-layout/ (git-ignored).
 *
 * Runs test/e2e/browser/approval-layout-runner.ts in a loopback-only network namespace
 * (test/e2e/helpers/browser-runner.ts); needs Debian's `chromium`, `unshare` and `ip`: missing any
 * of them FAILS the test.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runBrowserRunner } from "./helpers/browser-runner";
import { PROJECT_ROOT } from "./helpers/local-server";

const RUNNER = join(PROJECT_ROOT, "test/e2e/browser/approval-layout-runner.ts");
const RUN_TIMEOUT_MS = 100_000;

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

let layouts: Layout[] = [];

beforeAll(async () => {
  layouts = (await runBrowserRunner(RUNNER, RUN_TIMEOUT_MS)).layouts;
}, RUN_TIMEOUT_MS + 20_000);

const VIEWS = [
  ["mail", 375, "Approval needed: Publish report_"],
  ["mail", 1280, "Approval needed: Publish report_"],
  ["landing-reject", 375, "Reject this request?"],
  ["landing-reject", 1280, "Reject this request?"],
  ["landing-approve", 375, "Approve this request?"],
  ["landing-approve", 1280, "Approve this request?"],
  ["decided", 375, "Approved"],
] as const;

describe("the approval mail and landing pages", () => {
  it("rendered every view", () => {
    const key = (view: string, width: number) => `${view}@${width}`;
    expect(layouts.map((l) => key(l.view, l.width)).sort()).toEqual(VIEWS.map(([view, width]) => key(view, width)).sort());
  });

  it.each(VIEWS)("%s at %i px: no sideways scroll, every link inside the viewport", (view, width, heading) => {
    const layout = layouts.find((l) => l.view === view && l.width === width)!;
    expect(layout.heading.startsWith(heading), layout.heading).toBe(true);
    if (layout.status !== null) expect(layout.status).toBe(200);
    expect(layout.overflowing, JSON.stringify(layout.overflowing)).toEqual([]);
    expect(layout.scrollWidth).toBeLessThanOrEqual(width);
    // The mail has four links (two buttons, two raw links in the footer); the pages have none.
    if (view === "mail") expect(layout.links.length).toBeGreaterThanOrEqual(4);
    for (const box of layout.links) {
      expect(box.left, box.text).toBeGreaterThanOrEqual(0);
      expect(box.right, box.text).toBeLessThanOrEqual(width);
    }
    expect(existsSync(layout.screenshot), layout.screenshot).toBe(true);
  });
});
