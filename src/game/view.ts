/**
 * What a user sees of a site, and how an accepted update changes it. The client keeps only this
 * view and changes it only by `applyEvents`, the same in client-server and P2P mode.
 */
import type { GameEvent, Item, SiteSnapshot, UserState } from './types.js';

export interface SiteView {
  site: string;
  users: UserState[];
  items: Item[];
}

export function viewOf(snapshot: SiteSnapshot): SiteView {
  return { site: snapshot.site.site, users: snapshot.users, items: snapshot.site.items };
}

export function applyEvents(view: SiteView, events: readonly GameEvent[]): SiteView {
  let { users, items } = view;
  for (const e of events) {
    switch (e.kind) {
      case 'moved':
        users = users.map((u) => (u.name === e.user ? { ...u, x: e.x, y: e.y } : u));
        break;
      case 'picked':
        items = items.filter((i) => i.id !== e.item.id);
        users = users.map((u) =>
          u.name === e.user ? { ...u, inventory: [...u.inventory, { id: e.item.id, kind: e.item.kind }] } : u,
        );
        break;
      case 'spawned':
        items = [...items, e.item];
        break;
      case 'joined':
        users = [...users.filter((u) => u.name !== e.user.name), e.user].sort((a, b) =>
          a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
        );
        break;
      case 'left':
        users = users.filter((u) => u.name !== e.user.name);
        break;
      case 'said':
      case 'rejected':
        break;
    }
  }
  return { site: view.site, users, items };
}
