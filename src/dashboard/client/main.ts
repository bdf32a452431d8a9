/**
 * The dashboard's entry point (bundled to /assets/dashboard.js): the health line in the header,
 * then the sign-in form, or the views when this tab already holds a credential.
 */
import { storedClient } from "./session";
import { renderShell } from "./shell";
import { renderSignIn } from "./sign-in";
import { startHealthLine } from "./views/health";

function byId(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`The page has no #${id}.`);
  return found;
}

const main = byId("main");
startHealthLine(byId("health"), new AbortController().signal);

function showSignIn(): void {
  main.replaceChildren(
    renderSignIn((client) => {
      renderShell(main, client, showSignIn);
    }),
  );
}

const client = storedClient(sessionStorage);
if (client) renderShell(main, client, showSignIn);
else showSignIn();
