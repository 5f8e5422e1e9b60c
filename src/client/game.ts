/**
 * Creates the Phaser game in `parent`. Loaded lazily (dynamic import) so Phaser lands in its own
 * chunk and the login page stays light.
 */
import * as Phaser from 'phaser';
import type { GameStore } from './store.js';
import { MAP_H_PX, MAP_W_PX, SiteScene } from './scenes/SiteScene.js';

export function startGame(parent: HTMLElement, store: GameStore): Phaser.Game {
  return new Phaser.Game({
    type: Phaser.AUTO,
    parent,
    width: MAP_W_PX,
    height: MAP_H_PX,
    backgroundColor: '#10141c',
    banner: false,
    // Keys are read in the DOM (input.ts) so the chat box and the game never fight over them.
    input: { keyboard: false, gamepad: false },
    audio: { noAudio: true },
    scale: { mode: Phaser.Scale.FIT, autoCenter: Phaser.Scale.CENTER_BOTH },
    // A tile map moving a step at a time looks the same at 30 fps, and a tab that also serves a
    // site (or a software GPU) gets half the rendering work.
    fps: { limit: 30 },
    scene: [new SiteScene(store)],
  });
}
