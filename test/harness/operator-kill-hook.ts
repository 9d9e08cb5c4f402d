/**
 * The operator's entry point for the kill-between-write-and-notify test
 * (test/integration/announce-kill.test.ts): the shipped one (cmd/operator.ts) with one override.
 *
 *   operator-kill-hook.ts fired|resolved <operator flags>
 *
 * The process SIGKILLs itself right after the first ResourceAlert status write that records a
 * firing (a resolution), before that transition is handed to the notifiers, and says so on
 * stderr, synchronously, before it dies. It stops cleanly on SIGTERM/SIGINT like the shipped one.
 */
import { writeSync } from 'node:fs';
import { startOperator, type OperatorOverrides } from '../../cmd/operator/start.js';
import { parseCommandLine } from '../../operator/config.js';
import { createLogger, errorMessage } from '../../operator/logging.js';
import { exitOnShutdownSignal } from '../../operator/runtime/shutdown.js';

function killAfterWriting(transition: 'fired' | 'resolved'): OperatorOverrides {
  return {
    afterAlertStatusWrite: (alert, recorded) => {
      if (!recorded.some((t) => t.kind === transition)) return;
      const line = {
        level: 'warn',
        message: 'test hook: SIGKILL after the status write, before the notification',
        alert,
        transition,
      };
      writeSync(2, `${JSON.stringify(line)}\n`);
      process.kill(process.pid, 'SIGKILL');
    },
  };
}

async function main(): Promise<void> {
  const [transition, ...args] = process.argv.slice(2);
  if (transition !== 'fired' && transition !== 'resolved') {
    throw new Error(`the first argument must be "fired" or "resolved", got ${JSON.stringify(transition)}`);
  }
  const commandLine = parseCommandLine(args);
  if (commandLine.kind === 'help') throw new Error('the test entry point takes the settings, not --help');
  const { config } = commandLine;
  const logger = createLogger(config.logLevel, { identity: config.identity });
  process.on('unhandledRejection', (reason) =>
    logger.error('unhandled rejection', { error: errorMessage(reason) }),
  );
  logger.warn(
    `test hook active: the process kills itself after the first status write of a ${transition} transition`,
  );
  try {
    const operator = await startOperator(config, logger, killAfterWriting(transition));
    exitOnShutdownSignal({ shutdown: () => operator.stop(), logger, timeoutMs: config.shutdownTimeoutMs });
  } catch (err) {
    logger.error('operator failed to start', { error: errorMessage(err) });
    process.exit(1);
  }
}

void main();
