/**
 * Structured one-line logs (JSON lines on stdout/stderr), so an operator can grep and a machine can
 * parse. Tests pass a sink to keep the output quiet and print it only when a test fails.
 */
export type LogLevel = 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

export interface LoggerOptions {
  /** Drop every line (overridden by `sink`). */
  quiet?: boolean;
  /** Receives each formatted line instead of the console. */
  sink?: (line: string, level: LogLevel) => void;
  now?: () => number;
}

/** Longest string field kept; client-controlled text must not blow up the log. */
const MAX_FIELD_CHARS = 200;

export function createLogger(opts: LoggerOptions = {}): Logger {
  const now = opts.now ?? Date.now;
  const write = (level: LogLevel, event: string, fields: LogFields = {}): void => {
    if (!opts.sink && opts.quiet) return;
    const line = formatLine(new Date(now()).toISOString(), level, event, fields);
    if (opts.sink) opts.sink(line, level);
    else if (level === 'info') process.stdout.write(`${line}\n`);
    else process.stderr.write(`${line}\n`);
  };
  return {
    info: (e, f) => write('info', e, f),
    warn: (e, f) => write('warn', e, f),
    error: (e, f) => write('error', e, f),
  };
}

export function formatLine(t: string, level: LogLevel, event: string, fields: LogFields): string {
  const out: Record<string, unknown> = { t, level, event };
  for (const [k, v] of Object.entries(fields)) {
    if (k in out) continue;
    out[k] = v instanceof Error ? `${v.name}: ${v.message}` : typeof v === 'string' ? clip(v) : v;
  }
  try {
    return JSON.stringify(out);
  } catch {
    return JSON.stringify({ t, level, event, note: 'unserialisable fields' });
  }
}

function clip(s: string): string {
  return s.length > MAX_FIELD_CHARS ? `${s.slice(0, MAX_FIELD_CHARS)}…` : s;
}
