/** User side of a P2P site: see docs/protocol.md. (Implementation in progress; API is final.) */
import type { SiteUser, SiteUserOptions } from './api.js';

export function createSiteUser(opts: SiteUserOptions): SiteUser {
  void opts;
  throw new Error('createSiteUser: not implemented yet');
}
