import { Writable } from 'node:stream';
import winston from 'winston';
import type { Logger } from '../../operator/logging.js';

export interface LogLine {
  level: string;
  message: string;
  [key: string]: unknown;
}

/** A logger at debug level whose lines a test can read. */
export function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    objectMode: true,
    write(info: LogLine, _encoding, done) {
      lines.push(info);
      done();
    },
  });
  const logger = winston.createLogger({
    level: 'debug',
    transports: [new winston.transports.Stream({ stream })],
  });
  return { logger, lines };
}
