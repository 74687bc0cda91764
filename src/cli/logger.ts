import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

/** The CLI's logger: readable lines on a terminal, JSON lines (one per event) otherwise. */
export function createCliLogger(level: string): Logger {
  if (process.stderr.isTTY) {
    return pino({ level }, pretty({ colorize: true, sync: true, destination: 2, ignore: 'pid,hostname,worker', translateTime: 'HH:MM:ss.l' }));
  }
  return pino({ level }, pino.destination({ fd: 2, sync: true }));
}
