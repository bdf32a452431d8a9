/**
 * Approvals: the pending ones, each with Approve and Reject and an optional reason (decided with
 * the signed-in credential, which is what gets recorded), and the decided ones with who decided,
 * how (link, API, mail reply, expiry) and when. The list routes give summaries; each card reads
 * its approval.
 */
import { seg, withQuery } from "../api";
import { button, code, el, facts, field, section, when } from "../dom";
import { alertRegion, guarded } from "../problem-view";
import type { View, ViewContext } from "../view";
import type { Approval, ApprovalPage } from "../wire";

const PAGE_SIZE = 20;

export const approvalsView: View = {
  name: "approvals",
  label: "Approvals",
  render(ctx) {
    const { root } = section("Approvals", "h2", "view");
    const problem = alertRegion();
    const pending = section("Pending");
    const pendingList = el("ul", "cards approvals-pending");
    pending.root.append(pendingList);
    const decided = section("Decided");
    const decidedList = el("ul", "cards approvals-decided");
    decided.root.append(decidedList);
    const reload = button("Reload", () => void load(), "secondary");
    root.append(reload, problem, pending.root, decided.root);

    async function details(status: string | undefined): Promise<Approval[] | undefined> {
      const page = await guarded(problem, () =>
        ctx.client.get<ApprovalPage>(withQuery("/api/v2/email/approvals", { status, limit: PAGE_SIZE }), ctx.signal),
      );
      if (!page) return undefined;
      const wanted = page.approvals.filter((a) => (status ? a.status === status : a.status !== "pending"));
      const all = await Promise.all(
        wanted.map((a) => ctx.client.get<Approval>(`/api/v2/email/approval/${seg(a.approval_id)}`, ctx.signal).catch(() => null)),
      );
      return all.filter((a): a is Approval => a !== null);
    }

    async function load(): Promise<void> {
      const [open, done] = await Promise.all([details("pending"), details(undefined)]);
      if (open)
        pendingList.replaceChildren(
          ...(open.length ? open.map((a) => pendingCard(ctx, a, problem, load)) : [empty("Nothing waits for a decision.")]),
        );
      if (done) decidedList.replaceChildren(...(done.length ? done.map(decidedCard) : [empty("No decision yet.")]));
    }
    void load();
    return root;
  },
};

function empty(text: string): HTMLLIElement {
  return el("li", "muted", text);
}

function head(a: Approval): HTMLElement[] {
  const title = el("h4", "card-title", a.title);
  const description = el("p", null, a.description);
  return [title, description];
}

function pendingCard(ctx: ViewContext, a: Approval, problem: HTMLElement, reload: () => Promise<void>): HTMLLIElement {
  const li = el("li", "card approval");
  li.dataset.approvalId = a.approval_id;
  const reason = el("textarea");
  reason.name = "reason";
  reason.rows = 2;
  reason.maxLength = 2000;
  const decide = (action: "approve" | "reject") => async () => {
    const body = { action, ...(reason.value.trim() ? { reason: reason.value.trim() } : {}) };
    const done = await guarded(problem, () => ctx.client.post<Approval>(`/api/v2/email/approval/${seg(a.approval_id)}/respond`, body));
    if (done) await reload();
  };
  const approve = button("Approve", () => void decide("approve")());
  approve.setAttribute("aria-label", `Approve “${a.title}”`);
  const reject = button("Reject", () => void decide("reject")(), "danger");
  reject.setAttribute("aria-label", `Reject “${a.title}”`);
  const actions = el("div", "actions");
  actions.append(approve, reject);
  li.append(
    ...head(a),
    facts([
      ["Agent", code(a.agent_id)],
      ["Approver", a.approver_email],
      ["Requested", when(a.created_at)],
      ["Expires", when(a.expires_at)],
      ["Id", code(a.approval_id)],
    ]),
    field("Reason (optional)", reason),
    actions,
  );
  return li;
}

function decidedCard(a: Approval): HTMLLIElement {
  const li = el("li", "card approval");
  li.dataset.approvalId = a.approval_id;
  const status = el("span", "badge", a.status);
  status.dataset.status = a.status;
  li.append(
    ...head(a),
    facts([
      ["Decision", status],
      ["By", a.decided_by ?? a.approved_by ?? "–"],
      ["How", a.decided_via ?? "–"],
      ["When", when(a.decided_at)],
      ...(a.rejection_reason ? ([["Reason", a.rejection_reason]] as [string, string][]) : []),
      ["Agent", code(a.agent_id)],
    ]),
  );
  return li;
}
