/**
 * Creates the Phaser game in `parent`. Loaded lazily (dynamic import) so Phaser lands in its own
 * chunk and the login page stays light.
 */
import * as Phaser from 'phaser';
import type { GameStore } from './store.js';
import { RenderPacer } from './renderPacer.js';
import { MAP_H_PX, MAP_W_PX, SiteScene } from './scenes/SiteScene.js';

/** Frames per second while something moves: a tile map moving a step at a time looks the same at 30. */
export const ACTIVE_FPS = 30;
/** Frames per second while only the portals, items and the player's ring loop. */
export const IDLE_FPS = 8;

export interface Renderer {
  game: Phaser.Game;
  /** Frames drawn so far (`window.__mmo.frames()`). */
  frames(): number;
}

export function startGame(parent: HTMLElement, store: GameStore): Renderer {
  const scene = new SiteScene(store);
  const game = new Phaser.Game({
    // Canvas 2D, not WebGL: on a machine without GPU compositing (software GL, as here) each WebGL
    // frame is read back through the GPU process that every tab shares, and the tab's main thread,
    // which also runs its Site Server, waits for it; a visible serving tab then made 42 % of its
    // Timeslots. Canvas 2D draws this tile map in the tab itself in a few ms (docs/hosting.md).
    type: Phaser.CANVAS,
    parent,
    width: MAP_W_PX,
    height: MAP_H_PX,
    backgroundColor: '#10141c',
    banner: false,
    // Keys are read in the DOM (input.ts) so the chat box and the game never fight over them.
    input: { keyboard: false, gamepad: false },
    audio: { noAudio: true },
    scale: { mode: Phaser.Scale.FIT, autoCenter: Phaser.Scale.CENTER_BOTH },
    fps: { limit: ACTIVE_FPS },
    scene: [scene],
  });
  // The scene says what changed and what animates; the pacer sets the loop's rate from that
  // (renderPacer.ts: why a serving tab must not draw a still map 30 times a second).
  const pacer = new RenderPacer(game.loop, { activeFps: ACTIVE_FPS, idleFps: IDLE_FPS, now: () => performance.now() });
  scene.pacer = pacer;
  game.events.on(Phaser.Core.Events.POST_RENDER, () => pacer.drawn());
  game.scale.on(Phaser.Scale.Events.RESIZE, () => pacer.changed());
  return { game, frames: () => pacer.frames };
}
