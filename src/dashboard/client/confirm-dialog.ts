/**
 * A modal confirmation (<dialog>: focus kept inside, Escape cancels, focus returns to the opener).
 * Resolves true only when the reader presses the confirming button.
 */
import { button, el, uid } from "./dom";

export function confirmDialog(title: string, message: string, confirmLabel: string): Promise<boolean> {
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const dialog = el("dialog", "confirm");
  const heading = el("h2", null, title);
  heading.id = uid("dlg");
  const text = el("p", null, message);
  text.id = uid("dlg");
  dialog.setAttribute("aria-labelledby", heading.id);
  dialog.setAttribute("aria-describedby", text.id);
  return new Promise((resolve) => {
    let answer = false;
    const ok = button(confirmLabel, () => {
      answer = true;
      dialog.close();
    });
    const cancel = button("Cancel", () => dialog.close(), "secondary");
    const actions = el("div", "actions");
    actions.append(ok, cancel);
    dialog.append(heading, text, actions);
    dialog.addEventListener("close", () => {
      dialog.remove();
      opener?.focus();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
