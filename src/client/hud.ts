/**
 * The DOM HUD: player, site, mode, round trip, action delay, inventory, chat log, notices.
 * Reads the store only; writes nothing to it.
 */
import { getSite, isSiteId } from '../game/world.js';
import type { CarriedItem } from '../game/types.js';
import { TILE, drawItem } from './art.js';
import type { GameState, GameStore } from './store.js';

function el<T extends HTMLElement>(root: ParentNode, sel: string): T {
  const e = root.querySelector<T>(sel);
  if (!e) throw new Error(`missing ${sel}`);
  return e;
}

const iconCache = new Map<string, string>();

/** Data URL of an item's icon, drawn with the same art as the map. */
export function itemIcon(kind: string): string {
  let url = iconCache.get(kind);
  if (url === undefined) {
    const c = document.createElement('canvas');
    c.width = TILE;
    c.height = TILE;
    const ctx = c.getContext('2d');
    if (ctx) drawItem(ctx, kind);
    url = c.toDataURL();
    iconCache.set(kind, url);
  }
  return url;
}

const siteLabel = (id: string): string => (isSiteId(id) ? getSite(id).name : id);

function hostingText(s: GameState): string {
  if (s.mode === 'p2p') {
    if (s.closing) return 'Going back to the Administration Server…';
    if (s.view === null) return 'Taking the site state from its Site Servers…';
    const counting = s.servers.filter((x) => x.state !== 'replaced' && x.state !== 'ignored').length;
    return `Hosted by ${counting} Site Servers (players' tabs); you see what a majority of them agreed on.`;
  }
  if (s.blocked) return `Hosted by the Administration Server: not enough free peers to hand it over (${s.blocked}).`;
  return 'Hosted by the Administration Server.';
}

const ms = (v: number | null): string => (v === null ? '—' : `${Math.round(v)} ms`);

export function mountHud(root: HTMLElement, store: GameStore): () => void {
  const user = el(root, '[data-testid="hud-user"]');
  const guest = el(root, '#hud-guest');
  const status = el(root, '[data-testid="hud-status"]');
  const site = el(root, '[data-testid="hud-site"]');
  const siteName = el(root, '#hud-site-name');
  const mode = el(root, '[data-testid="hud-mode"]');
  const rtt = el(root, '[data-testid="hud-rtt"]');
  const delay = el(root, '[data-testid="hud-delay"]');
  const inventory = el(root, '[data-testid="inventory"]');
  const inventoryEmpty = el(root, '#inventory-empty');
  const chatLog = el(root, '[data-testid="chat-log"]');
  const notice = el(root, '[data-testid="notice"]');
  const hosting = el(root, '[data-testid="hud-hosting"]');
  const servers = el(root, '[data-testid="hud-servers"]');
  const serving = el(root, '[data-testid="hud-serving"]');
  const serveSetting = el<HTMLInputElement>(root, '[data-testid="serve-setting"]');

  let lastInv: CarriedItem[] | null = null;
  let lastServers: GameState['servers'] | null = null;
  let lastChat: GameState['chatLog'] | null = null;
  let noticeTimer: ReturnType<typeof setTimeout> | null = null;

  const setText = (e: HTMLElement, text: string): void => {
    if (e.textContent !== text) e.textContent = text;
  };

  const render = (s: GameState): void => {
    setText(user, s.session?.user ?? '');
    guest.hidden = !s.session?.guest;
    status.dataset.status = s.status;
    status.title = s.status;
    setText(site, s.site ?? '');
    setText(siteName, s.site && isSiteId(s.site) ? getSite(s.site).name : '');
    setText(mode, s.mode === 'p2p' ? 'P2P' : s.mode === 'cs' ? 'CS' : '');
    setText(hosting, hostingText(s));
    if (s.servers !== lastServers) {
      lastServers = s.servers;
      servers.replaceChildren(
        ...s.servers.map((x) => {
          const li = document.createElement('li');
          li.dataset.state = x.state;
          li.dataset.server = x.id;
          const id = document.createElement('code');
          // Server ids are `player~key`: the player is what a person recognises.
          id.textContent = x.id.split('~')[0] ?? x.id;
          id.title = x.id;
          const st = document.createElement('span');
          st.textContent = x.state.replace('-', ' ');
          li.append(id, st);
          return li;
        }),
      );
    }
    serving.hidden = s.serving === null;
    setText(serving, s.serving ? `This tab serves ${siteLabel(s.serving)} as a Site Server.` : '');
    serving.dataset.site = s.serving ?? '';
    if (serveSetting.checked !== s.serveSetting) serveSetting.checked = s.serveSetting;
    mode.dataset.mode = s.mode ?? '';
    setText(rtt, ms(s.rtt));
    rtt.dataset.ms = s.rtt === null ? '' : String(Math.round(s.rtt));
    setText(delay, ms(s.lastActionDelay));
    delay.dataset.ms = s.lastActionDelay === null ? '' : String(Math.round(s.lastActionDelay));

    const me = s.view && s.session ? s.view.users.find((u) => u.name === s.session!.user) : undefined;
    const inv = me?.inventory ?? [];
    if (inv !== lastInv) {
      lastInv = inv;
      renderInventory(inv);
    }
    if (s.chatLog !== lastChat) {
      lastChat = s.chatLog;
      chatLog.replaceChildren(
        ...s.chatLog.map((l) => {
          const li = document.createElement('li');
          const b = document.createElement('b');
          b.textContent = l.speaker;
          li.append(b, ': ', l.text);
          return li;
        }),
      );
    }
    renderNotice(s);
  };

  const renderInventory = (inv: readonly CarriedItem[]): void => {
    const counts = new Map<string, number>();
    for (const i of inv) counts.set(i.kind, (counts.get(i.kind) ?? 0) + 1);
    inventory.dataset.count = String(inv.length);
    inventoryEmpty.hidden = inv.length > 0;
    inventory.replaceChildren(
      ...[...counts].map(([kind, n]) => {
        const li = document.createElement('li');
        li.dataset.kind = kind;
        li.dataset.count = String(n);
        li.title = kind;
        const img = document.createElement('img');
        img.src = itemIcon(kind);
        img.alt = '';
        const label = document.createElement('span');
        label.textContent = kind;
        const count = document.createElement('span');
        count.className = 'count';
        count.textContent = `×${n}`;
        li.append(img, label, count);
        return li;
      }),
    );
  };

  const renderNotice = (s: GameState): void => {
    const n = s.notice;
    if (!n) {
      notice.hidden = true;
      return;
    }
    if (notice.dataset.id === String(n.id) && !notice.hidden) return;
    notice.dataset.id = String(n.id);
    notice.textContent = n.text;
    notice.hidden = false;
    if (noticeTimer) clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => (notice.hidden = true), Math.max(0, n.expiresAt - performance.now()));
  };

  render(store.getState());
  const unsubscribe = store.subscribe(render);
  return () => {
    unsubscribe();
    if (noticeTimer) clearTimeout(noticeTimer);
  };
}
