/**
 * The login form: log in, register, or play as a guest on a chosen site. Talks to the admin's
 * HTTP API and hands the resulting session to `onSession`.
 */
import { ApiError, describeError, type Api } from '../net/api.js';
import {
  MIN_PASSWORD,
  MAX_PASSWORD,
  USER_NAME_RE,
  type SessionReply,
  type SiteListing,
} from '../protocol/messages.js';
import { DEFAULT_SITE, listSites } from '../game/world.js';
import type { ClientError } from './store.js';

export interface LoginForm {
  show(error?: ClientError | null): void;
  hide(): void;
}

function byTestId<T extends HTMLElement>(root: ParentNode, id: string): T {
  const el = root.querySelector<T>(`[data-testid="${id}"]`);
  if (!el) throw new Error(`missing [data-testid=${id}]`);
  return el;
}

export function createLoginForm(
  root: HTMLElement,
  api: Api,
  onSession: (s: SessionReply) => void,
): LoginForm {
  const form = root.querySelector<HTMLFormElement>('form') ?? (root as HTMLFormElement);
  const name = byTestId<HTMLInputElement>(root, 'login-name');
  const password = byTestId<HTMLInputElement>(root, 'login-password');
  const submit = byTestId<HTMLButtonElement>(root, 'login-submit');
  const register = byTestId<HTMLButtonElement>(root, 'login-register');
  const guest = byTestId<HTMLButtonElement>(root, 'login-guest');
  const site = byTestId<HTMLSelectElement>(root, 'login-site');
  const error = byTestId<HTMLElement>(root, 'login-error');
  const buttons = [submit, register, guest];

  let busy = false;

  const setError = (code: string | null, message = ''): void => {
    error.replaceChildren();
    if (code === null) {
      delete error.dataset.code;
      return;
    }
    error.dataset.code = code;
    error.append(describeError(code, message), ' ');
    const c = document.createElement('code');
    c.textContent = code;
    error.append(c);
  };

  const fillSites = (sites: readonly SiteListing[]): void => {
    const keep = site.value || DEFAULT_SITE;
    site.replaceChildren(
      ...sites.map((s) => {
        const o = document.createElement('option');
        o.value = s.id;
        const who = s.users === 1 ? '1 player' : `${s.users} players`;
        o.textContent = `${s.name} — ${who}${s.mode === 'p2p' ? ', P2P' : ''}`;
        return o;
      }),
    );
    site.value = sites.some((s) => s.id === keep) ? keep : (sites[0]?.id ?? '');
  };

  // The world is static: list its sites at once, then refresh with live counts.
  fillSites(listSites().map((s) => ({ id: s.id, name: s.name, mode: 'cs', users: 0 })));
  const refreshSites = (): void => {
    api.sites().then(fillSites, () => undefined);
  };

  const run = async (what: () => Promise<SessionReply>): Promise<void> => {
    if (busy) return;
    busy = true;
    buttons.forEach((b) => (b.disabled = true));
    setError(null);
    try {
      const s = await what();
      password.value = '';
      onSession(s);
    } catch (e) {
      if (e instanceof ApiError) setError(e.code, e.message);
      else setError('ERR_INTERNAL', (e as Error).message);
    } finally {
      busy = false;
      buttons.forEach((b) => (b.disabled = false));
    }
  };

  const credentials = (forRegister: boolean): { name: string; password: string } | null => {
    const n = name.value.trim();
    const p = password.value;
    if (!USER_NAME_RE.test(n)) {
      setError('ERR_NAME_INVALID', '');
      name.focus();
      return null;
    }
    if (p.length === 0 || (forRegister && (p.length < MIN_PASSWORD || p.length > MAX_PASSWORD))) {
      setError('ERR_PASSWORD_INVALID', '');
      password.focus();
      return null;
    }
    return { name: n, password: p };
  };

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const c = credentials(false);
    if (c) void run(() => api.login(c.name, c.password));
  });
  register.addEventListener('click', () => {
    const c = credentials(true);
    if (c) void run(() => api.register(c.name, c.password));
  });
  guest.addEventListener('click', () => {
    // A typed name is the guest's name when it is free.
    void run(() => api.guest(site.value || undefined, name.value.trim() || undefined));
  });

  return {
    show(err) {
      root.hidden = false;
      if (err) setError(err.code, err.message);
      refreshSites();
      if (!name.value) name.focus();
    },
    hide() {
      root.hidden = true;
      setError(null);
    },
  };
}
