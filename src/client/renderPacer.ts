/**
 * Decides how often the renderer draws: at `activeFps` while something moves (a new accepted view,
 * a step or a fade, a resize), at `idleFps` while only looping decorations run (portal swirls,
 * bobbing items, the ring under the player), and not at all when nothing on screen moves.
 *
 * Why: a visible tab that also serves a site shares its main thread with the renderer, and every
 * frame drawn (software GL here) holds that thread for tens of milliseconds. Drawing 30 frames a
 * second of a still map made a visible serving tab's Timeslots late and its players' actions
 * 8-16 times slower than with the same tab hidden (bench/tab/visibleServing.ts, docs/hosting.md).
 *
 * Phaser-free so it can be tested: it drives anything with the shape of Phaser's `TimeStep`
 * (`game.loop`), which draws about one frame per `1000 / fps` ms from `wake()` to `sleep()`.
 */

/** How long a tween of these settings runs (a finite one: `repeat` >= 0). */
export function tweenSpan(c: { duration: number; yoyo?: boolean; repeat?: number }): number {
  return c.duration * (c.yoyo ? 2 : 1) * ((c.repeat ?? 0) + 1);
}

export interface FrameLoop {
  readonly running: boolean;
  sleep(): void;
  wake(): void;
  setFPSLimit(fps: number): unknown;
}

export interface PacerOptions {
  /** Frames per second while something moves. */
  activeFps: number;
  /** Frames per second while only looping decorations run. */
  idleFps: number;
  now: () => number;
}

export class RenderPacer {
  /** A change not drawn yet. */
  private dirty = true;
  /** Animations that need the active rate, as [from, to) in `now()` time. */
  private windows: Array<{ from: number; to: number }> = [];
  private ambient = false;
  private fps = 0;
  private frameCount = 0;

  constructor(
    private readonly loop: FrameLoop,
    private readonly opts: PacerOptions,
  ) {}

  /** Frames drawn so far. */
  get frames(): number {
    return this.frameCount;
  }

  /** The rate the loop runs at now (0: asleep). */
  get rate(): number {
    return this.loop.running ? this.fps : 0;
  }

  /** Something on screen changed: draw it now and go on at the active rate until it is drawn. */
  changed(): void {
    this.dirty = true;
    this.apply();
  }

  /** An animation runs from `from` (default now) until `to`: draw at the active rate meanwhile. */
  animate(to: number, from = this.opts.now()): void {
    if (to <= from) return;
    this.windows.push({ from, to });
    this.apply();
  }

  /** Whether looping decorations are on screen (they are drawn at the idle rate). */
  setAmbient(on: boolean): void {
    if (on === this.ambient) return;
    this.ambient = on;
    this.apply();
  }

  /** Call after each frame drawn (Phaser's POST_RENDER). */
  drawn(): void {
    this.frameCount++;
    this.dirty = false;
    this.apply();
  }

  /** The rate wanted at `now`: active during a change or an animation, idle for decorations. */
  private wanted(now: number): number {
    this.windows = this.windows.filter((w) => w.to > now);
    if (this.dirty || this.windows.some((w) => w.from <= now)) return this.opts.activeFps;
    // A window that starts later is noticed by an idle frame (no timer of our own).
    if (this.ambient || this.windows.length > 0) return this.opts.idleFps;
    return 0;
  }

  private apply(): void {
    const fps = this.wanted(this.opts.now());
    if (fps === 0) {
      this.loop.sleep();
      return;
    }
    if (fps !== this.fps) {
      this.fps = fps;
      this.loop.setFPSLimit(fps);
    }
    // Last: Phaser's wake() may draw a frame at once, which calls drawn() and so apply() again.
    if (!this.loop.running) this.loop.wake();
  }
}
