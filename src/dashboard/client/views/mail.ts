/**
 * Mail: the message log (GET /api/v2/email/messages, a page at a time) with each message's status,
 * and one message opened: its recipients, attempts and body, rendered (mail-body.ts) or as text.
 * Approval links are masked in the log itself, so they are masked here.
 */
import { seg, withQuery } from "../api";
import { button, code, el, facts, section, when } from "../dom";
import { renderMailHtml } from "../mail-body";
import { alertRegion, guarded } from "../problem-view";
import type { View } from "../view";
import type { Message, MessagePage, MessageSummary } from "../wire";

const PAGE_SIZE = 20;

export const mailView: View = {
  name: "mail",
  label: "Mail",
  render(ctx) {
    const { root } = section("Mail", "h2", "view");
    const problem = alertRegion();
    const list = el("ul", "cards messages");
    const more = button("Older messages", () => void load(), "secondary");
    more.hidden = true;
    const opened = section("Message", "h3", "message");
    const openedBody = el("div", null);
    openedBody.append(el("p", "muted", "Open a message to see its body."));
    opened.root.append(openedBody);
    root.append(problem, list, more, opened.root);
    let cursor: string | null = null;

    async function open(m: MessageSummary): Promise<void> {
      const full = await guarded(problem, () => ctx.client.get<Message>(`/api/v2/email/messages/${seg(m.message_id)}`, ctx.signal));
      if (!full) return;
      opened.heading.textContent = full.subject;
      const text = el("pre", "mail-text", full.text);
      text.tabIndex = 0;
      text.setAttribute("aria-label", "Text body");
      const textPart = el("details");
      textPart.append(el("summary", null, "Text version"), text);
      openedBody.replaceChildren(
        facts([
          ["To", full.to.join(", ")],
          ["From", full.from],
          ["Status", full.status],
          ["Provider", full.provider ?? "–"],
          ["Sent", when(full.sent_at)],
          ["Attempts", String(full.attempts.length)],
          ...(full.error ? ([["Error", full.error]] as [string, string][]) : []),
        ]),
        full.html ? renderMailHtml(full.html) : el("p", "muted", "No HTML part."),
        textPart,
      );
      opened.heading.tabIndex = -1;
      opened.heading.focus();
    }

    async function load(): Promise<void> {
      const page = await guarded(problem, () =>
        ctx.client.get<MessagePage>(withQuery("/api/v2/email/messages", { limit: PAGE_SIZE, cursor }), ctx.signal),
      );
      if (!page) return;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      if (!page.messages.length && !list.children.length) list.append(el("li", "muted", "No mail yet."));
      for (const m of page.messages) {
        const li = el("li", "card message-row");
        const title = el("h4", "card-title");
        const openButton = button(m.subject || "(no subject)", () => void open(m), "link");
        title.append(openButton);
        const status = el("span", "badge", m.status);
        status.dataset.status = m.status;
        li.append(
          title,
          facts([
            ["Status", status],
            ["To", m.to.join(", ")],
            ["Agent", m.agent_id ? code(m.agent_id) : "–"],
            ["Logged", when(m.created_at)],
          ]),
        );
        list.append(li);
      }
    }
    void load();
    return root;
  },
};
