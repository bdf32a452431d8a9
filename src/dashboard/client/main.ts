/**
 * The dashboard's entry point (bundled to /assets/dashboard.js): the health line in the header,
 * then the sign-in form, or the views when this tab already holds a credential. A session ends at
 * "Sign out" or at the first 401 its own client gets (a revoked key, an expired token): the
 * credential is forgotten and the form shows that problem.
 */
import type { ApiClient, ApiError } from "./api";
import { byId } from "./dom";
import { signIn, signOut, storedClient } from "./session";
import { renderShell } from "./shell";
import { renderSignIn } from "./sign-in";
import { startHealthLine } from "./views/health";

const main = byId("main", HTMLElement);
startHealthLine(byId("health", HTMLElement), new AbortController().signal);

/** The live session's number (0: signed out), so a late 401 of an ended session ends nothing. */
let live = 0;
let sessions = 0;
let stopShell: (() => void) | null = null;

function endsSession(id: number): (err: ApiError) => void {
  return (err) => {
    if (id !== live) return;
    signOut(sessionStorage);
    showSignIn(err);
  };
}

function showApp(id: number, client: ApiClient): void {
  live = id;
  stopShell = renderShell(main, client, () => showSignIn());
}

function showSignIn(ended?: ApiError): void {
  live = 0;
  stopShell?.();
  stopShell = null;
  main.replaceChildren(
    renderSignIn(async (credential) => {
      const id = ++sessions;
      showApp(id, await signIn(credential, sessionStorage, undefined, endsSession(id)));
    }, ended),
  );
}

const first = ++sessions;
const client = storedClient(sessionStorage, undefined, endsSession(first));
if (client) showApp(first, client);
else showSignIn();
