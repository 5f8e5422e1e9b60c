/** Site Server: see docs/protocol.md. (Implementation in progress; API is final.) */
import type { SiteServer, SiteServerOptions } from './api.js';

export function createSiteServer(opts: SiteServerOptions): SiteServer {
  void opts;
  throw new Error('createSiteServer: not implemented yet');
}
