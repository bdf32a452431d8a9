/**
 * Signals for a view that shows one thing at a time (the agent picked last): each call aborts the
 * previous signal (its streams and timers stop) and gives a new one, which also ends with the view.
 * No DOM here, so the unit test runs it in the Worker runtime.
 */
export function restartable(viewSignal: AbortSignal): () => AbortSignal {
  let current: AbortController | null = null;
  return () => {
    current?.abort();
    current = new AbortController();
    return AbortSignal.any([viewSignal, current.signal]);
  };
}
