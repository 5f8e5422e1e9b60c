/**
 * A P2P site's refused peer inputs, logged at most once every REFUSAL_LOG_MS (`p2p.refused`): a
 * server or user that keeps sending what the site refuses must not flood the admin's log.
 */
import type { Logger } from '../log.js';

/** Refused inputs are logged at most this often per site. */
const REFUSAL_LOG_MS = 1000;

export class RefusalLog {
  private last = -Infinity;

  constructor(private readonly d: { site: string; now: () => number; log: Logger }) {}

  refuse(from: string, type: string, code: string, why: string): void {
    const now = this.d.now();
    if (now - this.last < REFUSAL_LOG_MS) return;
    this.last = now;
    this.d.log.warn('p2p.refused', { site: this.d.site, from, type, code, why });
  }
}
