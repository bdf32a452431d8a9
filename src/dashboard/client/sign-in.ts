/** The sign-in form: an API key or a token, checked by the server before it is kept (session.ts). */
import type { ApiClient } from "./api";
import { el, field, input, section } from "./dom";
import { alertRegion, guarded } from "./problem-view";
import { signIn } from "./session";

export function renderSignIn(onSignedIn: (client: ApiClient) => void): HTMLElement {
  const { root, heading } = section("Sign in", "h2", "view sign-in");
  const form = el("form");
  const credential = input("password", "credential");
  credential.autocomplete = "off";
  credential.required = true;
  const submit = el("button", null, "Sign in");
  submit.type = "submit";
  const problem = alertRegion();
  form.append(
    field(
      "API key or token",
      credential,
      "An API key (dmsa_…), the admin key or a JWT. Kept in this tab only (sessionStorage) until you sign out or close it; never put in the address.",
    ),
    submit,
  );
  root.append(form, problem);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    const client = await guarded(problem, () => signIn(credential.value, sessionStorage));
    submit.disabled = false;
    if (client) onSignedIn(client);
    else credential.focus();
  });
  heading.tabIndex = -1;
  queueMicrotask(() => credential.focus());
  return root;
}
