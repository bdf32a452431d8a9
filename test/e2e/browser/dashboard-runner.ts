/**
 * The dashboard in headless Chromium, run by test/e2e/dashboard-browser.test.ts inside a
 * loopback-only network namespace. Runs under plain Node 22 (type stripping).
 *
 * It starts a real `wrangler dev --local` (PUBLIC_BASE_URL set to its own address, so the call
 * page links it hands out open here), seeds an agent with three versions and an approval per
 * width through the API, then at 1280 px and at 375 px (a phone: mobile viewport, touch) drives
 * the page as a person would: a wrong key first, then the right one; finds the agent, compares two
 * versions, tries a restore while the agent changed meanwhile (the 412 problem), restores; starts a
 * delay task and watches its bar to 100 % (and cancels another, and sees a bad input's 422); scales;
 * approves the approval; opens the approval's mail; creates a call, adds a participant and opens the
 * call page from the link; looks at health; at 375 px signs out and back in with a guest token, whose
 * scale request is refused (403), then with an API key that is revoked meanwhile (the session ends). Every view is screenshotted under test-artifacts/dashboard/ (git-ignored),
 * checked for sideways overflow and checked by axe-core (injected over the DevTools protocol, which
 * the page's CSP does not govern). Page errors, console errors and CSP violations are recorded.
 * It prints one JSON report; the test asserts.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { api, contextAt, launchChromium, progress, recordFatal, runAndPrint, sleep, until } from "./runner-kit.ts";
import { PROJECT_ROOT, freePort, startLocalServer, type LocalServer } from "../helpers/local-server.ts";
import { mintDevToken } from "../../../scripts/lib/dev-token.mjs";

export const WIDTHS = [1280, 375] as const;
const ARTIFACTS = join(PROJECT_ROOT, "test-artifacts/dashboard");
const AXE_SOURCE = readFileSync(join(PROJECT_ROOT, "node_modules/axe-core/axe.min.js"), "utf8");
const WRONG_KEY = "dmsa_wrong_key_for_the_dashboard_test";
/** Agents seeded besides the test's own at 1280 px, so the list has a second page (10 a page). */
const EXTRA_AGENTS = 10;
const VERSIONS = [
  { step: 1, topic: "sales" },
  { step: 2, topic: "sales", notes: ["first draft"] },
  { step: 3, topic: "marketing", notes: ["first draft", "reviewed"] },
];

const { timings, mark } = progress("dashboard-runner");

interface ViewCheck {
  view: string;
  width: number;
  scrollWidth: number;
  overflowing: { tag: string; cls: string; text: string; right: number }[];
  cspBefore: number;
  cspAfter: number;
  axe: { id: string; impact: string; help: string; targets: string[] }[];
  screenshot: string;
}

/** Screenshot, overflow and axe-core for the view now on screen. */
async function checkView(page: Page, view: string, width: number): Promise<ViewCheck> {
  const screenshot = join(ARTIFACTS, `${view}-${width}.png`);
  await page.screenshot({ path: screenshot, fullPage: true });
  const { scrollWidth, overflowing } = await page.evaluate((vw: number) => {
    const doc = (globalThis as any).document;
    const getComputedStyle = (globalThis as any).getComputedStyle;
    const past: { tag: string; cls: string; text: string; right: number }[] = [];
    for (const e of doc.body.querySelectorAll("*")) {
      const r = e.getBoundingClientRect();
      // An element past the viewport, or one whose own content (an unbroken word) runs past it.
      const spills = e.scrollWidth > e.clientWidth + 1 && r.left + e.scrollWidth > vw + 0.5 && getComputedStyle(e).overflowX === "visible";
      if (r.width > 0 && (r.right > vw + 0.5 || r.left < -0.5 || spills) && !e.closest(".skip")) {
        past.push({
          tag: e.tagName.toLowerCase(),
          cls: String(e.className),
          text: (e.textContent ?? "").trim().slice(0, 40),
          right: r.right,
        });
      }
    }
    return { scrollWidth: doc.documentElement.scrollWidth as number, overflowing: past.slice(0, 10) };
  }, width);
  const cspBefore = await page.evaluate(() => (globalThis as any).__csp.length as number);
  await page.evaluate(AXE_SOURCE);
  const axe = await page.evaluate(async () => {
    const result = await (globalThis as any).axe.run((globalThis as any).document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v: any) => v.impact === "serious" || v.impact === "critical")
      .map((v: any) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n: any) => String(n.target)) }));
  });
  const cspAfter = await page.evaluate(() => (globalThis as any).__csp.length as number);
  return { view, width, scrollWidth, overflowing, axe, screenshot, cspBefore, cspAfter };
}

/** Page errors, console errors and CSP violations of a page, as text. */
function watchErrors(page: Page, errors: string[]): void {
  page.on("pageerror", (err) => errors.push(`pageerror: ${String(err)}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(`console: ${msg.text()}`);
  });
}

async function openAt(browser: Browser, width: number): Promise<{ context: BrowserContext; page: Page }> {
  const context = await contextAt(browser, width);
  await context.addInitScript(() => {
    const w = globalThis as any;
    w.__csp = [];
    w.__shift = 0;
    w.document.addEventListener("securitypolicyviolation", (e: any) => w.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
    new w.PerformanceObserver((list: any) => {
      for (const entry of list.getEntries()) if (!entry.hadRecentInput) w.__shift += entry.value;
    }).observe({ type: "layout-shift", buffered: true });
  });
  const page = await context.newPage();
  return { context, page };
}

const nav = (page: Page, view: string) => page.locator(`nav.views a[data-view="${view}"]`).click();
const text = (page: Page, selector: string) => page.locator(selector).first().innerText();

async function runWidth(browser: Browser, server: LocalServer, width: number): Promise<Record<string, unknown>> {
  const call = api(server);
  const agentId = `dash-${randomBytes(3).toString("hex")}-${width}`;
  for (const [i, data] of VERSIONS.entries()) {
    await call("POST", `/api/v2/agents/${agentId}/state`, { agent_type: "analytics", state_data: data, expected_version: i });
  }
  const title = `Publish the Q3 report (${width})`;
  const approval = await call("POST", "/api/v2/email/approval", {
    agent_id: agentId,
    title,
    description: "The figures are ready. Publish them to the team?",
    approver_email: "approver@example.com",
  });

  if (width === 1280) {
    for (let i = 0; i < EXTRA_AGENTS; i++) {
      await call("POST", `/api/v2/agents/dash-page-${width}-${String(i).padStart(2, "0")}/state`, { state_data: { i } });
    }
  }
  // The admin key at 1280 px, a developer's token at 375 px: both kinds of credential sign in.
  const credentialValue =
    width === 1280 ? server.adminApiKey : await mintDevToken(server.jwtSecret, { sub: "dana", role: "developer" }, { ttl: "30m" });
  const out: Record<string, unknown> = { width, agentId };
  const checks: ViewCheck[] = [];
  const errors: string[] = [];
  const { context, page } = await openAt(browser, width);
  watchErrors(page, errors);

  // Sign in: a wrong key first.
  await page.goto(`${server.baseUrl}/`);
  const credential = page.getByLabel("API key or token");
  await credential.fill(WRONG_KEY);
  await credential.press("Enter");
  const refused = page.locator(".problem.shown");
  await refused.waitFor();
  out.wrongKeyProblem = await refused.innerText();
  out.storedAfterWrongKey = await page.evaluate(() => (globalThis as any).sessionStorage.length as number);
  checks.push(await checkView(page, "sign-in", width));
  await credential.fill(credentialValue);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("nav.views").waitFor();
  out.storedAfterSignIn = await page.evaluate(
    (key: string) => (globalThis as any).sessionStorage.getItem("dmsa.dashboard.credential") === key,
    credentialValue,
  );
  out.urlHoldsKey = page.url().includes(credentialValue);
  mark(`${width}_signed_in`);

  // Agents: page through them (1280 px has a second page), then find ours by search and open it.
  const count = page.locator(".view > p.muted").first();
  await until("the first page", 15_000, async () => /on page 1/.test(await count.innerText()));
  if (width === 1280) {
    const pageOne = await count.innerText();
    await page.getByRole("button", { name: "Next page" }).click();
    await until("the second page", 15_000, async () => /on page 2/.test(await count.innerText()));
    const pageTwo = await count.innerText();
    const idsOnTwo = await page.locator(".agents .card-title").allInnerTexts();
    await page.getByRole("button", { name: "Previous page" }).click();
    await until("the first page again", 15_000, async () => /on page 1/.test(await count.innerText()));
    out.paging = { pageOne, pageTwo, idsOnTwo };
  }
  await page.getByLabel("Search agents").fill(agentId.slice(0, 11));
  await page.getByRole("link", { name: agentId }).waitFor();
  checks.push(await checkView(page, "agents", width));
  await page.getByRole("link", { name: agentId }).click();
  await until("the agent's state", 15_000, async () => (await text(page, "pre.json")).includes("marketing"));
  await page.getByLabel("From version").selectOption("1");
  await page.getByLabel("To version").selectOption("3");
  await page.getByRole("button", { name: "Compare" }).click();
  await until("the diff", 15_000, async () => (await text(page, ".diff-summary")).includes("→"));
  out.diffSummary = await text(page, ".diff-summary");
  out.diffAdded = await page.locator("pre.diff .add").allInnerTexts();
  out.diffRemoved = await page.locator("pre.diff .del").allInnerTexts();

  // Restore while someone else saves meanwhile: the 412 problem, nothing overwritten.
  await call("POST", `/api/v2/agents/${agentId}/state`, { state_data: { step: 4, concurrent: true }, expected_version: 3 });
  await page.getByLabel("Version to restore").selectOption("1");
  await page.getByRole("button", { name: "Restore…" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Restore" }).click();
  const conflict = page.locator(".problem.shown", { hasText: "Precondition failed" });
  await conflict.waitFor({ timeout: 15_000 });
  out.conflictProblem = await conflict.innerText();
  out.afterConflict = (await call("GET", `/api/v2/agents/${agentId}/state`)).state_data;
  await until("the newer state on screen", 15_000, async () => (await text(page, "pre.json")).includes("concurrent"));
  await page.getByLabel("Version to restore").selectOption("1");
  await page.getByRole("button", { name: "Restore…" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Restore" }).click();
  const restored = page.getByRole("status").filter({ hasText: "Restored:" });
  await restored.waitFor({ timeout: 15_000 });
  out.restoreNote = await restored.innerText();
  out.afterRestore = await call("GET", `/api/v2/agents/${agentId}/state`);
  checks.push(await checkView(page, "agent", width));
  mark(`${width}_agent_done`);

  // Tasks: a delay task live to 100 %.
  await nav(page, "tasks");
  await page.getByLabel("Task type").selectOption("delay");
  await page.getByLabel("seconds (required)").fill("3");
  const shiftBefore = await page.evaluate(() => (globalThis as any).__shift as number);
  await page.getByRole("button", { name: "Create task" }).click();
  const row = page.locator("li.task").first();
  await row.waitFor();
  const seen: number[] = [];
  const finalStatus = await until(
    "the task's end",
    60_000,
    async () => {
      const s = await row.evaluate((li: any) => ({
        status: li.dataset.status as string,
        value: li.querySelector("progress").value as number,
      }));
      if (seen.at(-1) !== s.value) seen.push(s.value);
      return ["completed", "failed", "cancelled"].includes(s.status) ? s.status : null;
    },
    50,
  ).catch(async (err: Error) => {
    // What the API knew, to tell a slow queue from a stream the page stopped reading.
    const id = await row.getAttribute("data-task-id");
    const stored = await call("GET", `/api/v2/tasks/${id}`).catch((e: unknown) => String(e));
    const shown = await row.innerText().catch(() => "");
    throw new Error(`${err.message}; seen ${JSON.stringify(seen)}; on screen ${JSON.stringify(shown)}; the API: ${JSON.stringify(stored)}`);
  });
  await sleep(300);
  const last = await row.evaluate((li: any) => ({
    value: li.querySelector("progress").value as number,
    percent: li.querySelector(".percent").textContent as string,
    message: li.querySelector(".task-message").textContent as string,
    outcome: li.querySelector(".task-outcome").textContent as string,
  }));
  out.task = { id: await row.getAttribute("data-task-id"), status: finalStatus, seen, ...last };
  out.layoutShiftDuringTask = (await page.evaluate(() => (globalThis as any).__shift as number)) - shiftBefore;
  checks.push(await checkView(page, "tasks", width));
  if (width === 1280) {
    await page.getByLabel("seconds (required)").fill("60");
    await page.getByRole("button", { name: "Create task" }).click();
    const long = page.locator("li.task").first();
    await until("the long task running", 30_000, async () => (await long.getAttribute("data-status")) === "running");
    const id = await long.getAttribute("data-task-id");
    await page.getByRole("button", { name: `Cancel task ${id}` }).click();
    await until("the cancelled status", 15_000, async () => (await long.getAttribute("data-status")) === "cancelled");
    out.cancelled = (await call("GET", `/api/v2/tasks/${id}`)).status;
    // A value the schema refuses: the 422 problem with the field, and no task stored.
    const before = (await call("GET", `/api/v2/agents/${agentId}/tasks?limit=100`)).tasks.length;
    await page.getByLabel("seconds (required)").fill("500");
    await page.getByRole("button", { name: "Create task" }).click();
    const invalid = page.locator(".problem.shown", { hasText: "Validation failed" });
    await invalid.waitFor({ timeout: 15_000 });
    out.invalidTask = {
      problem: await invalid.innerText(),
      tasksBefore: before,
      tasksAfter: (await call("GET", `/api/v2/agents/${agentId}/tasks?limit=100`)).tasks.length,
    };
  }
  mark(`${width}_tasks_done`);

  // Scaling.
  await nav(page, "scaling");
  await page.locator(".instances li").first().waitFor();
  await page.getByLabel("Active instances").fill("2");
  await page.getByRole("button", { name: "Set instances" }).click();
  const scaled = page.getByRole("status").filter({ hasText: "active" });
  await scaled.waitFor({ timeout: 15_000 });
  out.scaled = await scaled.innerText();
  out.instancesAfterScale = (await call("GET", `/api/v2/agents/${agentId}/metrics`)).active_instances;
  checks.push(await checkView(page, "scaling", width));

  // Approvals, reached by keyboard: the view's heading takes the focus.
  await page.locator('nav.views a[data-view="approvals"]').focus();
  await page.keyboard.press("Enter");
  await page.locator(".view > h2", { hasText: "Approvals" }).waitFor();
  out.focusAfterKeyboardNav = await page.evaluate(() => (globalThis as any).document.activeElement?.textContent as string);
  const pendingCard = page.locator(`.approvals-pending li[data-approval-id="${approval.approval_id}"]`);
  await pendingCard.waitFor({ timeout: 15_000 });
  checks.push(await checkView(page, "approvals-pending", width));
  await pendingCard.getByLabel("Reason (optional)").fill("Looks right.");
  await pendingCard.getByRole("button", { name: `Approve “${title}”` }).click();
  const decidedCard = page.locator(`.approvals-decided li[data-approval-id="${approval.approval_id}"]`);
  await decidedCard.waitFor({ timeout: 15_000 });
  out.decidedCard = await decidedCard.innerText();
  out.stillPending = await pendingCard.count();
  out.approvalAfter = await call("GET", `/api/v2/email/approval/${approval.approval_id}`);
  checks.push(await checkView(page, "approvals", width));

  // Mail: the approval's message, rendered, its links masked.
  await nav(page, "mail");
  await page.getByRole("button", { name: `Approval needed: ${title}` }).click();
  const body = page.locator(".mail-body");
  await body.waitFor({ timeout: 15_000 });
  out.mail = {
    heading: await text(page, ".message h3"),
    body: await body.innerText(),
    linksInBody: await body.locator("a").count(),
  };
  checks.push(await checkView(page, "mail", width));

  // Calls: create one, add a participant, open the call page from its link.
  await nav(page, "calls");
  await page.getByLabel("Agent id").fill(agentId);
  await page.getByRole("button", { name: "Create call" }).click();
  const callCard = page.locator("li.call").first();
  await callCard.waitFor({ timeout: 15_000 });
  const callId = await callCard.getAttribute("data-call-id");
  await callCard.getByLabel("User id").fill("alice");
  await callCard.getByLabel("Display name").fill("Alice");
  await callCard.getByRole("button", { name: "Add participant" }).click();
  const joinLink = callCard.getByRole("link", { name: "Open the call page as Alice" });
  await joinLink.waitFor({ timeout: 15_000 });
  checks.push(await checkView(page, "calls", width));
  const [callPage] = await Promise.all([context.waitForEvent("page"), joinLink.click()]);
  await callPage.waitForLoadState("domcontentloaded");
  await callPage.locator("h1").waitFor();
  out.callPage = { callId, url: callPage.url().replace(/token=[^&]+/, "token=…"), heading: await callPage.locator("h1").innerText() };
  await callPage.screenshot({ path: join(ARTIFACTS, `call-page-${width}.png`) });
  await callPage.close();

  // Health.
  await nav(page, "health");
  await page.getByText("persistent state").waitFor({ timeout: 15_000 });
  out.health = await text(page, ".view");
  checks.push(await checkView(page, "health", width));

  if (width === 375) {
    // Sign out, then in again with a guest token: its scale request is refused, nothing changes.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key or token").waitFor();
    out.storedAfterSignOut = await page.evaluate(() => (globalThis as any).sessionStorage.getItem("dmsa.dashboard.credential"));
    const guest = await mintDevToken(server.jwtSecret, { sub: "gus", role: "guest", agents: [agentId] }, { ttl: "30m" });
    await page.getByLabel("API key or token").fill(guest);
    await page.getByRole("button", { name: "Sign in" }).click();
    await nav(page, "scaling");
    await page.locator(".instances li").first().waitFor({ timeout: 15_000 });
    await page.getByLabel("Active instances").fill("5");
    await page.getByRole("button", { name: "Set instances" }).click();
    const refusedScale = page.locator(".problem.shown", { hasText: "Not allowed" });
    await refusedScale.waitFor({ timeout: 15_000 });
    out.guestScale = {
      problem: await refusedScale.innerText(),
      instancesAfter: (await call("GET", `/api/v2/agents/${agentId}/metrics`)).active_instances,
    };
    // An API key revoked while it is signed in: the next request's 401 ends the session.
    await page.getByRole("button", { name: "Sign out" }).click();
    const key = await call("POST", "/api/v2/auth/api-keys", { name: "dashboard test", role: "developer" });
    await page.getByLabel("API key or token").fill(key.key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("nav.views").waitFor();
    await call("DELETE", `/api/v2/auth/api-keys/${key.key_id}`);
    await nav(page, "agents");
    const ended = page.locator(".problem.shown", { hasText: "Your session ended." });
    await ended.waitFor({ timeout: 15_000 });
    out.revoked = {
      problem: await ended.innerText(),
      stored: await page.evaluate(() => (globalThis as any).sessionStorage.getItem("dmsa.dashboard.credential")),
      signInShown: await page.getByLabel("API key or token").isVisible(),
    };
  }

  out.csp = await page.evaluate(() => (globalThis as any).__csp as string[]);
  out.errors = errors;
  out.checks = checks;
  await context.close();
  mark(`${width}_done`);
  return out;
}

async function main(): Promise<Record<string, unknown>> {
  const report: Record<string, unknown> = { timings };
  let server: LocalServer | undefined;
  let browser: Browser | undefined;
  try {
    mkdirSync(ARTIFACTS, { recursive: true });
    const port = await freePort();
    server = await startLocalServer({ port, vars: { PUBLIC_BASE_URL: `http://127.0.0.1:${port}` } });
    mark("wrangler_ready");
    browser = await launchChromium();
    const runs: Record<string, unknown>[] = [];
    for (const width of WIDTHS) runs.push(await runWidth(browser, server, width));
    report.runs = runs;
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
