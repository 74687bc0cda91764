import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

/** Fields that may carry a secret; whatever logs them, the line shows `[redacted]`. */
const REDACT = {
  paths: [
    'headers.authorization',
    'headers.cookie',
    'req.headers.authorization',
    'req.headers.cookie',
    'token',
    'secret',
    'webhookSecret',
    '*.token',
    '*.secret',
    '*.webhookSecret',
    '*.password',
  ],
  censor: '[redacted]',
};

/** How the CLI writes its log lines: `pretty` (readable, coloured) or `json` (one object a line). */
export type LogFormat = 'pretty' | 'json';

/** The formats `--log-format` takes. */
export const LOG_FORMATS: readonly LogFormat[] = ['pretty', 'json'];

/** The default format: `pretty` when the log lines (stderr) go to a terminal, `json` otherwise. */
export function defaultLogFormat(): LogFormat {
  return process.stderr.isTTY ? 'pretty' : 'json';
}

/**
 * The CLI's logger, on stderr: readable lines (`pretty`) or JSON lines, one per event (`json`);
 * by default pretty on a terminal and JSON otherwise. Secrets in known fields are redacted.
 */
export function createCliLogger(level: string, format: LogFormat = defaultLogFormat()): Logger {
  if (format === 'pretty') {
    return pino(
      { level, redact: REDACT },
      pretty({
        colorize: process.stderr.isTTY === true,
        sync: true,
        destination: 2,
        ignore: 'pid,hostname,worker',
        singleLine: true,
        translateTime: 'HH:MM:ss.l',
      }),
    );
  }
  return pino({ level, redact: REDACT }, pino.destination({ fd: 2, sync: true }));
}
