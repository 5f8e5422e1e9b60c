/**
 * Keyboard controls, read from DOM events (not Phaser's keyboard) so the chat box and the game
 * never fight over keys. Arrows/WASD move one tile per press and repeat at ~8/s while held;
 * Space picks up; E takes a portal; Enter opens chat. Moves are spaced at least MIN_GAP_MS apart,
 * well under the server's limit of 20 actions/s.
 */
import type { Dir } from '../game/types.js';

export const REPEAT_MS = 125;
export const MIN_GAP_MS = 60;
/** Taps queued ahead of the rate at most. */
export const MAX_QUEUED = 3;
/** A tap that could not be sent this long (not connected, too many in flight) is dropped. */
export const TAP_TTL_MS = 1000;
const TICK_MS = 20;

export interface ControlSink {
  /** Returns false when the move could not be sent now (it is retried if it was a tap). */
  move(dir: Dir): boolean;
  pickup(): void;
  portal(): void;
  openChat(): void;
}

export interface KeyLike {
  key: string;
  code?: string;
  repeat?: boolean;
  altKey?: boolean;
  ctrlKey?: boolean;
  metaKey?: boolean;
  target?: EventTarget | null;
  preventDefault(): void;
}

const DIRS: Record<string, Dir> = {
  ArrowUp: 'up',
  ArrowDown: 'down',
  ArrowLeft: 'left',
  ArrowRight: 'right',
  w: 'up',
  W: 'up',
  s: 'down',
  S: 'down',
  a: 'left',
  A: 'left',
  d: 'right',
  D: 'right',
};

export function dirOf(e: Pick<KeyLike, 'key' | 'code'>): Dir | undefined {
  return (
    DIRS[e.key] ??
    (e.code
      ? ({ KeyW: 'up', KeyS: 'down', KeyA: 'left', KeyD: 'right' }[e.code] as Dir | undefined)
      : undefined)
  );
}

/** True for events typed into a form field (chat box, login inputs). */
export function isTypingTarget(t: EventTarget | null | undefined): boolean {
  if (!t || typeof (t as HTMLElement).tagName !== 'string') return false;
  const el = t as HTMLElement;
  return (
    el.tagName === 'INPUT' ||
    el.tagName === 'TEXTAREA' ||
    el.tagName === 'SELECT' ||
    el.isContentEditable === true
  );
}

export class KeyboardControls {
  private held: Dir[] = [];
  private queue: Array<{ dir: Dir; at: number }> = [];
  private lastMove = -Infinity;
  private nextRepeatAt = Infinity;
  private timer: ReturnType<typeof setInterval> | null = null;
  private detach: (() => void) | null = null;

  constructor(
    private readonly sink: ControlSink,
    private readonly opts: { isActive: () => boolean; now?: () => number; timers?: boolean } = {
      isActive: () => true,
    },
  ) {}

  private now(): number {
    return this.opts.now ? this.opts.now() : performance.now();
  }

  attach(target: Window): void {
    const down = (e: KeyboardEvent): void => this.keyDown(e);
    const up = (e: KeyboardEvent): void => this.keyUp(e);
    const blur = (): void => this.releaseAll();
    target.addEventListener('keydown', down);
    target.addEventListener('keyup', up);
    target.addEventListener('blur', blur);
    this.detach = () => {
      target.removeEventListener('keydown', down);
      target.removeEventListener('keyup', up);
      target.removeEventListener('blur', blur);
    };
  }

  dispose(): void {
    this.detach?.();
    this.releaseAll();
  }

  keyDown(e: KeyLike): void {
    if (!this.opts.isActive() || isTypingTarget(e.target) || e.altKey || e.ctrlKey || e.metaKey) return;
    const dir = dirOf(e);
    if (dir) {
      e.preventDefault();
      if (e.repeat) return; // we repeat ourselves, at our own rate
      this.held = [...this.held.filter((d) => d !== dir), dir];
      if (this.queue.length < MAX_QUEUED) this.queue.push({ dir, at: this.now() });
      this.tick();
      this.ensureTimer();
      return;
    }
    if (e.key === ' ' || e.code === 'Space') {
      e.preventDefault();
      if (!e.repeat) this.sink.pickup();
    } else if (e.key === 'e' || e.key === 'E') {
      e.preventDefault();
      if (!e.repeat) this.sink.portal();
    } else if (e.key === 'Enter') {
      e.preventDefault();
      this.releaseAll();
      this.sink.openChat();
    }
  }

  keyUp(e: KeyLike): void {
    const dir = dirOf(e);
    if (!dir) return;
    this.held = this.held.filter((d) => d !== dir);
    if (this.held.length === 0) this.nextRepeatAt = Infinity;
  }

  /** Drops held keys and queued taps (focus moved to chat, window blurred, logged out). */
  releaseAll(): void {
    this.held = [];
    this.queue = [];
    this.nextRepeatAt = Infinity;
    this.stopTimer();
  }

  /** Sends what is due; runs on a short timer while keys are held or taps are queued. */
  tick(): void {
    const now = this.now();
    if (!this.opts.isActive()) {
      this.releaseAll();
      return;
    }
    while (this.queue.length > 0 && now - this.queue[0]!.at > TAP_TTL_MS) this.queue.shift();
    const first = this.queue[0];
    if (first !== undefined) {
      if (now - this.lastMove >= MIN_GAP_MS && this.sink.move(first.dir)) {
        this.queue.shift();
        this.lastMove = now;
        this.nextRepeatAt = now + REPEAT_MS;
      }
    } else {
      const dir = this.held[this.held.length - 1];
      if (dir !== undefined && now >= this.nextRepeatAt && now - this.lastMove >= MIN_GAP_MS) {
        // Keep the cadence (timers fire late under load) but never bunch up missed repeats.
        this.nextRepeatAt = Math.max(this.nextRepeatAt + REPEAT_MS, now + MIN_GAP_MS);
        if (this.sink.move(dir)) this.lastMove = now;
      }
    }
    if (this.held.length === 0 && this.queue.length === 0) this.stopTimer();
  }

  private ensureTimer(): void {
    if (this.timer || this.opts.timers === false) return;
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
