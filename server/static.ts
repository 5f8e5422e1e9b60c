/**
 * Serves the built client (./dist): content types by extension, SPA fallback to index.html for
 * page routes, long caching for Vite's hashed assets, and no way out of the root.
 */
import { createReadStream, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
  '.wav': 'audio/wav',
  '.webmanifest': 'application/manifest+json',
};

export type Fallthrough = (req: IncomingMessage, res: ServerResponse) => void;

/** A handler for GET/HEAD of files under `root`; calls `notFound` when nothing fits. */
export function createStaticHandler(root: string, notFound: Fallthrough) {
  const base = resolve(root);
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = safePath(base, req.url ?? '/');
    if (path === null) {
      notFound(req, res);
      return;
    }
    let file = path;
    let info = await statOrNull(file);
    if (info?.isDirectory()) {
      file = join(file, 'index.html');
      info = await statOrNull(file);
    }
    // Page routes (no extension) fall back to the app; a missing asset is a real 404.
    if (!info?.isFile() && extname(path) === '') {
      file = join(base, 'index.html');
      info = await statOrNull(file);
    }
    if (!info?.isFile()) {
      notFound(req, res);
      return;
    }
    const ext = extname(file).toLowerCase();
    res.statusCode = 200;
    res.setHeader('Content-Type', TYPES[ext] ?? 'application/octet-stream');
    res.setHeader('Content-Length', info.size);
    res.setHeader(
      'Cache-Control',
      file.startsWith(join(base, 'assets') + sep) ? 'public, max-age=31536000, immutable' : 'no-cache',
    );
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = createReadStream(file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  };
}

/** The file path a URL names under `base`, or null if it is malformed or escapes `base`. */
export function safePath(base: string, url: string): string | null {
  const rawPath = url.split('?')[0]?.split('#')[0] ?? '/';
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const full = resolve(base, `.${decoded.startsWith('/') ? '' : '/'}${decoded}`);
  if (full !== base && !full.startsWith(base + sep)) return null;
  // Dotfiles (e.g. .env, .git) are never part of a build.
  if (
    full
      .slice(base.length)
      .split(sep)
      .some((part) => part.startsWith('.'))
  )
    return null;
  return full;
}

async function statOrNull(file: string): Promise<Stats | null> {
  try {
    return await stat(file);
  } catch {
    return null;
  }
}
