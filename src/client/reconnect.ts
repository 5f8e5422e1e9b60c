/**
 * When to try again after the connection to the admin dropped. The session token outlives a
 * server restart (sessions are stored), so the client keeps trying for a while instead of giving
 * the session up after a few seconds: a guest who gave up would come back as a new guest.
 */
export const RECONNECT_FOR_MS = 60_000;
const FIRST_DELAY_MS = 800;
const MAX_DELAY_MS = 5_000;

/** Delay before attempt `attempt` (1, 2, ...) after a drop `sinceDropMs` ago, or null to give up. */
export function reconnectDelay(attempt: number, sinceDropMs: number): number | null {
  if (attempt < 1 || sinceDropMs >= RECONNECT_FOR_MS) return null;
  const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * attempt);
  return Math.min(delay, RECONNECT_FOR_MS - sinceDropMs);
}
