/** Admin side of a P2P site: see docs/protocol.md. (Implementation in progress; API is final.) */
import type { SiteCoordinator, SiteCoordinatorOptions } from './api.js';

export function createSiteCoordinator(opts: SiteCoordinatorOptions): SiteCoordinator {
  void opts;
  throw new Error('createSiteCoordinator: not implemented yet');
}
