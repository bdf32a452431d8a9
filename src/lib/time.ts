/** Storage keeps epoch milliseconds; the API speaks ISO 8601 UTC (`…Z`). */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
