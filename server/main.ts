/**
 * Entry point: `tsx server/main.ts [--dev]`. Reads the environment, starts the Administration
 * Server, and on SIGINT/SIGTERM saves everything before exiting.
 */
import { createAdminServer } from './app.js';
import { optionsFromEnv } from './config.js';
import { createLogger } from './log.js';

const log = createLogger();

async function main(): Promise<void> {
  let options;
  try {
    options = optionsFromEnv(process.env, process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`Configuration error: ${(err as Error).message}\n`);
    process.exit(2);
  }
  // Loud on purpose: a server allowing cheat modes is for hostile-peer tests, never for players.
  if (options.allowCheatModes) log.warn('server.cheat_modes_allowed', { env: 'MMO_ALLOW_CHEAT_MODES=1', note: 'peers started with ?cheat= or --cheat will lie; tests only' });
  const server = await createAdminServer({ ...options, logger: log });
  process.stdout.write(`MMO Administration Server listening on ${server.url}\n`);
  process.stdout.write(
    `Operator page: ${server.url}admin (log in with ${options.adminToken ? 'your MMO_ADMIN_TOKEN' : `the token ${server.adminToken}`})\n`,
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('server.signal', { signal });
    // A hung shutdown must not keep the process alive forever.
    const killer = setTimeout(() => {
      log.error('server.shutdown_timeout', {});
      process.exit(1);
    }, 10_000);
    killer.unref();
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('server.shutdown_failed', { err });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  log.error('server.start_failed', { err });
  process.exit(1);
});
