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

/** The CLI's logger: readable lines on a terminal, JSON lines (one per event) otherwise. Secrets in known fields are redacted. */
export function createCliLogger(level: string): Logger {
  if (process.stderr.isTTY) {
    return pino(
      { level, redact: REDACT },
      pretty({
        colorize: true,
        sync: true,
        destination: 2,
        ignore: 'pid,hostname,worker',
        translateTime: 'HH:MM:ss.l',
      }),
    );
  }
  return pino({ level, redact: REDACT }, pino.destination({ fd: 2, sync: true }));
}
