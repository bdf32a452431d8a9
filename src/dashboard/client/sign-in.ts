/** The sign-in form: an API key or a token, checked by the server before it is kept (session.ts). */
import type { ApiError } from "./api";
import { el, field, input, section } from "./dom";
import { alertRegion, guarded, showProblem } from "./problem-view";

/**
 * `submit` signs in with what was typed (and shows the views); its failure is shown under the form.
 * `ended`: why the previous session ended (a 401 while signed in), shown from the start.
 */
export function renderSignIn(submit: (credential: string) => Promise<void>, ended?: ApiError): HTMLElement {
  const { root, heading } = section("Sign in", "h2", "view sign-in");
  const form = el("form");
  const credential = input("password", "credential");
  credential.autocomplete = "off";
  credential.required = true;
  const button = el("button", null, "Sign in");
  button.type = "submit";
  const problem = alertRegion();
  form.append(
    field(
      "API key or token",
      credential,
      "An API key (dmsa_…), the admin key or a JWT. Kept in this tab only (sessionStorage) until you sign out or close it; never put in the address.",
    ),
    button,
  );
  root.append(form, problem);
  if (ended) {
    showProblem(problem, ended);
    problem.prepend("Your session ended. ");
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    const done = await guarded(problem, async () => {
      await submit(credential.value);
      return true;
    });
    button.disabled = false;
    if (!done) credential.focus();
  });
  heading.tabIndex = -1;
  queueMicrotask(() => credential.focus());
  return root;
}
