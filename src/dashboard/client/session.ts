/**
 * Signing in: the credential (an API key or a token) is checked against the API first and kept in
 * sessionStorage only once the server took it, so a wrong one leaves nothing behind. It never goes
 * into the URL. Closing the tab ends the session (sessionStorage), "Sign out" removes it, and so
 * does the first 401 afterwards (a revoked key, an expired token: main.ts).
 */
import { ApiError, apiClient, type ApiClient, type FetchLike } from "./api";

export const CREDENTIAL_KEY = "dmsa.dashboard.credential";

/** The part of the Storage interface used here (sessionStorage in the page; a Map in the tests). */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Checks `credential` with a cheap authenticated read and keeps it. A 401 (or any failure but a
 * 403) throws the problem and stores nothing; a 403 means the credential is valid but may not list
 * agents, which the views that need it will say themselves.
 */
export async function signIn(
  credential: string,
  store: KeyValueStore,
  fetchFn?: FetchLike,
  onUnauthorized?: (err: ApiError) => void,
): Promise<ApiClient> {
  const trimmed = credential.trim();
  if (!trimmed) throw new ApiError(0, "Enter an API key or a token", "Paste the key or token into the field, then sign in.");
  try {
    await apiClient(trimmed, fetchFn).get("/api/v2/agents?limit=1");
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 403)) throw err;
  }
  store.setItem(CREDENTIAL_KEY, trimmed);
  return apiClient(trimmed, fetchFn, onUnauthorized);
}

/** The client for the credential kept in this tab, if any. */
export function storedClient(store: KeyValueStore, fetchFn?: FetchLike, onUnauthorized?: (err: ApiError) => void): ApiClient | null {
  const credential = store.getItem(CREDENTIAL_KEY);
  return credential ? apiClient(credential, fetchFn, onUnauthorized) : null;
}

export function signOut(store: KeyValueStore): void {
  store.removeItem(CREDENTIAL_KEY);
}
