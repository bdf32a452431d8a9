/**
 * The dashboard at `/` in headless Chromium (docs/dashboard.md), at 1280 px and at 375 px (a phone):
 * a wrong key shows the 401 problem and stores nothing, the right one (the admin key, a developer's
 * token) signs in without touching the address; the agent list pages; an agent is found, two versions compared, a restore refused with the 412 problem while
 * the agent changed meanwhile and then done; a task's bar follows its event stream to 100 % without
 * moving the page; a running task is cancelled and a bad input shows the 422 problem with its field;
 * the agent is scaled; an approval is approved and
 * moves to the decided list; its mail is shown with the links masked; a call is created, a
 * participant added and the call page opened from the dashboard; after signing out, a guest token's
 * scale request shows the 403 problem and changes nothing, and an API key revoked while signed in ends
 * the session at its next request. Every view: no sideways scroll,
 * no serious or critical axe-core finding, no CSP violation, a screenshot under
 * test-artifacts/dashboard/ (git-ignored).
 *
 * Runs test/e2e/browser/dashboard-runner.ts in a loopback-only network namespace
 * (test/e2e/helpers/browser-runner.ts); needs Debian's `chromium`, `unshare` and `ip`: missing any
 * of them FAILS the test.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runBrowserRunner } from "./helpers/browser-runner";
import { PROJECT_ROOT } from "./helpers/local-server";

const RUNNER = join(PROJECT_ROOT, "test/e2e/browser/dashboard-runner.ts");
const RUN_TIMEOUT_MS = 240_000;
const WIDTHS = [1280, 375] as const;
const VIEWS = ["sign-in", "agents", "agent", "tasks", "scaling", "approvals-pending", "approvals", "mail", "calls", "health"];

interface ViewCheck {
  view: string;
  width: number;
  scrollWidth: number;
  overflowing: unknown[];
  axe: { id: string; impact: string; help: string; targets: string[] }[];
  screenshot: string;
}

let runs: any[] = [];

beforeAll(async () => {
  runs = (await runBrowserRunner(RUNNER, RUN_TIMEOUT_MS)).runs;
}, RUN_TIMEOUT_MS + 20_000);

const at = (width: number) => runs.find((r) => r.width === width);

describe.each(WIDTHS)("the dashboard at %i px", (width) => {
  it("a wrong key shows the 401 problem's title and detail and stores nothing; the right one is kept, never in the address", () => {
    const run = at(width);
    expect(run.wrongKeyProblem).toContain("Authentication required");
    expect(run.wrongKeyProblem).toContain("The credentials are invalid, expired or revoked.");
    expect(run.storedAfterWrongKey).toBe(0);
    expect(run.storedAfterSignIn).toBe(true);
    expect(run.urlHoldsKey).toBe(false);
  });

  it("finds the agent and compares two versions line by line", () => {
    if (width === 1280) {
      // 11 agents, 10 a page: Next shows the 11th alone, Previous the first 10 again.
      const { paging } = at(width);
      expect(paging.pageOne).toMatch(/^10 of 10 agents on page 1 \(more on the next page\)$/);
      expect(paging.pageTwo).toMatch(/^\d+ of \d+ agents on page 2/);
      expect(paging.idsOnTwo.length).toBeGreaterThan(0);
      expect(paging.idsOnTwo.every((id: string) => id.startsWith("dash-page-"))).toBe(true);
    }
    const run = at(width);
    expect(run.diffSummary).toBe("Version 1 → 3: 6 lines added, 2 removed.");
    expect(run.diffRemoved.map((l: string) => l.trim())).toEqual(['-   "step": 1,', '-   "topic": "sales"']);
    expect(run.diffAdded.join("")).toContain('"topic": "marketing"');
  });

  it("a restore after someone else's save shows the 412 problem and changes nothing; confirmed again, it restores", () => {
    const run = at(width);
    expect(run.conflictProblem).toContain("Precondition failed");
    expect(run.conflictProblem).toContain("is at version 4");
    expect(run.afterConflict).toEqual({ step: 4, concurrent: true });
    expect(run.restoreNote).toBe("Restored: version 5 now holds version 1's data.");
    expect(run.afterRestore).toMatchObject({ version: 5, restored_from: 1, state_data: { step: 1, topic: "sales" } });
  });

  it("a task's bar follows its events to 100 % without moving the page", () => {
    const { task, layoutShiftDuringTask } = at(width);
    expect(task.status).toBe("completed");
    expect(task.value).toBe(100);
    expect(task.percent).toBe("100%");
    expect(task.message).toBe("waited 3.00 of 3 s");
    expect(task.outcome).toMatch(/^Result: \{"ok":true,"seconds":3,/);
    // Seen rising through real intermediate values, never backwards.
    expect(task.seen.some((v: number) => v > 0 && v < 100)).toBe(true);
    expect([...task.seen].sort((a: number, b: number) => a - b)).toEqual(task.seen);
    expect(layoutShiftDuringTask).toBeLessThan(0.01);
  });

  it("scales the agent", () => {
    const run = at(width);
    expect(run.scaled).toBe("2 active.");
    expect(run.instancesAfterScale).toBe(2);
  });

  it("approves an approval, which moves to the decided list with who, how and when; the view is reached by keyboard", () => {
    const run = at(width);
    expect(run.focusAfterKeyboardNav).toBe("Approvals");
    expect(run.stillPending).toBe(0);
    // Recorded as the credential that signed in: the admin key at 1280 px, dana's token at 375 px.
    const by = width === 1280 ? "admin_key:admin" : "jwt:dana";
    expect(run.decidedCard).toMatch(new RegExp(`Decision\\s+approved\\s+By\\s+${by}\\s+How\\s+api\\s+When\\s+\\S`));
    expect(run.approvalAfter).toMatchObject({ status: "approved", decided_via: "api", decided_by: by });
  });

  it("shows the approval's mail with its links masked and not clickable", () => {
    const { mail, width: w } = at(width);
    expect(mail.heading).toContain(`Approval needed: Publish the Q3 report (${w})`);
    expect(mail.body).toContain("token=[redacted]");
    expect(mail.body).not.toMatch(/token=(?!\[redacted\])/);
    expect(mail.linksInBody).toBe(0);
  });

  it("creates a call, adds a participant and opens the call page from its join_url", () => {
    const { callPage } = at(width);
    expect(callPage.callId).toMatch(/^call_[0-9a-f]{24}$/);
    expect(callPage.heading).toBe(`Call ${callPage.callId}`);
    expect(new URL(callPage.url).pathname).toBe(`/calls/${callPage.callId}`);
  });

  it("shows health with every feature and, signed in, the checks", () => {
    const { health } = at(width);
    expect(health).toMatch(/persistent state\s+on/);
    expect(health).toContain("durable objects");
  });

  it.each(VIEWS)("%s: no sideways scroll, no serious or critical axe-core finding, a screenshot", (view) => {
    const check: ViewCheck = at(width).checks.find((c: ViewCheck) => c.view === view);
    expect(check, view).toBeDefined();
    expect(check.scrollWidth).toBeLessThanOrEqual(width);
    expect(check.overflowing, JSON.stringify(check.overflowing)).toEqual([]);
    expect(check.axe, JSON.stringify(check.axe, null, 1)).toEqual([]);
    expect(existsSync(check.screenshot), check.screenshot).toBe(true);
  });

  it("no CSP violation, no page error, no console error but the refusals the test provoked", () => {
    const run = at(width);
    const provoked = (status: string) => `console: Failed to load resource: the server responded with a status of ${status}`;
    expect(run.csp).toEqual([]);
    expect(run.errors).toEqual([
      provoked("401 (Unauthorized)"),
      provoked("412 (Precondition Failed)"),
      ...(width === 1280 ? [provoked("422 (Unprocessable Entity)")] : [provoked("403 (Forbidden)"), provoked("401 (Unauthorized)")]),
    ]);
  });
});

it("cancels a running task from the dashboard", () => {
  expect(at(1280).cancelled).toBe("cancelled");
});

it("a task input the schema refuses shows the 422 problem naming the field, and stores no task", () => {
  const { invalidTask } = at(1280);
  expect(invalidTask.problem).toContain("Validation failed");
  expect(invalidTask.problem).toContain("metadata.seconds");
  expect(invalidTask.tasksAfter).toBe(invalidTask.tasksBefore);
});

it("signing out forgets the credential; a guest token's scale request shows the 403 problem and changes nothing", () => {
  const run = at(375);
  expect(run.storedAfterSignOut).toBeNull();
  expect(run.guestScale.problem).toContain("Not allowed");
  expect(run.guestScale.problem).toContain("(HTTP 403)");
  expect(run.guestScale.instancesAfter).toBe(2);
});

it("an API key revoked while signed in: the next request's 401 ends the session, forgets the key and shows why", () => {
  const { revoked } = at(375);
  expect(revoked.problem).toMatch(/^Your session ended\. Authentication required \(HTTP 401\)/);
  expect(revoked.stored).toBeNull();
  expect(revoked.signInShown).toBe(true);
});
