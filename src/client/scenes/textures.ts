/**
 * Turns the procedural drawings of `art.ts` into Phaser canvas textures, once per key.
 */
import * as Phaser from 'phaser';
import { getSite, tileAt, type TileChar } from '../../game/world.js';
import { TILE, drawItem, drawPortal, drawPortalBase, drawTile, hashString } from '../art.js';
import { drawPlayer } from '../artPlayers.js';

/** Variants drawn per tile type; a tile picks one by position so the ground doesn't look stamped. */
export const TILE_VARIANTS = 3;

function canvasTexture(
  scene: Phaser.Scene,
  key: string,
  w: number,
  h: number,
  draw: (ctx: CanvasRenderingContext2D) => void,
  nearest = true,
): string {
  if (scene.textures.exists(key)) return key;
  const tex = scene.textures.createCanvas(key, w, h);
  if (!tex) throw new Error(`cannot create texture ${key}`);
  draw(tex.getContext());
  tex.refresh();
  if (nearest) tex.setFilter(Phaser.Textures.FilterMode.NEAREST);
  return key;
}

export function tileTexture(scene: Phaser.Scene, site: string, ch: TileChar, variant: number): string {
  return canvasTexture(scene, `tile:${site}:${ch}:${variant}`, TILE, TILE, (ctx) =>
    drawTile(ctx, site, ch, variant),
  );
}

/**
 * A site's whole ground in one texture, from the tile textures: a frame then draws one image
 * instead of one per tile (300 here), which is most of what a still frame costs in Canvas 2D.
 */
export function groundTexture(scene: Phaser.Scene, siteId: string): string {
  const def = getSite(siteId);
  return canvasTexture(scene, `ground:${siteId}`, def.width * TILE, def.height * TILE, (ctx) => {
    for (let y = 0; y < def.height; y++) {
      for (let x = 0; x < def.width; x++) {
        const variant = hashString(`${x},${y}`) % TILE_VARIANTS;
        const key = tileTexture(scene, siteId, tileAt(def, x, y), variant);
        ctx.drawImage(scene.textures.get(key).getSourceImage() as CanvasImageSource, x * TILE, y * TILE);
      }
    }
  });
}

export function itemTexture(scene: Phaser.Scene, kind: string): string {
  return canvasTexture(scene, `item:${kind}`, TILE, TILE, (ctx) => drawItem(ctx, kind), false);
}

export function playerTexture(scene: Phaser.Scene, name: string): string {
  return canvasTexture(scene, `player:${name}`, TILE, TILE, (ctx) => drawPlayer(ctx, name));
}

/** Frames of the portal's turning swirl. */
export const PORTAL_FRAMES = 12;

export function portalTextures(scene: Phaser.Scene): { swirl: string[]; base: string } {
  const swirl: string[] = [];
  for (let i = 0; i < PORTAL_FRAMES; i++) {
    // Turning the drawing, not the sprite: rotated quads render clipped on some GL stacks (SwiftShader).
    swirl.push(
      canvasTexture(
        scene,
        `portal:swirl:${i}`,
        TILE,
        TILE,
        (ctx) => drawPortal(ctx, -i / PORTAL_FRAMES / 3),
        false,
      ),
    );
  }
  return { swirl, base: canvasTexture(scene, 'portal:base', TILE, TILE, drawPortalBase, false) };
}

/** Soft round shadow under players and items. */
export function shadowTexture(scene: Phaser.Scene): string {
  return canvasTexture(
    scene,
    'shadow',
    TILE,
    12,
    (ctx) => {
      ctx.fillStyle = 'rgba(0,0,0,0.32)';
      ctx.beginPath();
      ctx.ellipse(16, 6, 11, 4.5, 0, 0, Math.PI * 2);
      ctx.fill();
    },
    false,
  );
}

/** Ring under the player's own character. */
export function ringTexture(scene: Phaser.Scene): string {
  return canvasTexture(
    scene,
    'ring',
    40,
    18,
    (ctx) => {
      ctx.strokeStyle = '#ffe066';
      ctx.lineWidth = 3;
      ctx.beginPath();
      ctx.ellipse(20, 9, 16, 6.5, 0, 0, Math.PI * 2);
      ctx.stroke();
    },
    false,
  );
}
