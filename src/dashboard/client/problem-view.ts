/**
 * Where a view shows what went wrong: the problem's `title` and `detail` exactly as the API sent
 * them (ApiError), in an alert region that screen readers announce. The region keeps its place
 * (empty) when there is nothing to say, so an error does not push the page around.
 */
import { ApiError } from "./api";
import { el, errorMessage } from "./dom";

export function alertRegion(): HTMLElement {
  const region = el("div", "problem");
  region.setAttribute("role", "alert");
  return region;
}

export function showProblem(region: HTMLElement, err: unknown): void {
  const title = el("strong", "problem-title", err instanceof ApiError ? err.title : "Something went wrong");
  const detail = el("span", "problem-detail", err instanceof ApiError ? err.detail : errorMessage(err));
  const status = err instanceof ApiError && err.status ? el("span", "problem-status", ` (HTTP ${err.status})`) : "";
  region.replaceChildren(title, status, " ", detail);
  region.classList.add("shown");
}

export function clearProblem(region: HTMLElement): void {
  region.replaceChildren();
  region.classList.remove("shown");
}

/** Runs `action`, showing its failure in `region` (cleared first); resolves undefined on failure. */
export async function guarded<T>(region: HTMLElement, action: () => Promise<T>): Promise<T | undefined> {
  clearProblem(region);
  try {
    return await action();
  } catch (err) {
    showProblem(region, err);
    return undefined;
  }
}
