#!/usr/bin/env node
/**
 * The operator's entry point: flags and environment -> config -> startOperator; stops cleanly
 * on SIGTERM/SIGINT. `kube-usage-operator --help` lists every setting.
 */
import { writeSync } from 'node:fs';
import { ConfigError, parseCommandLine, type CommandLine } from '../operator/config.js';
import { createLogger, errorMessage, type Logger } from '../operator/logging.js';
import { startOperator, type OperatorOverrides } from '../operator/operator.js';
import { exitOnShutdownSignal } from '../operator/runtime/shutdown.js';

/** The environment variable of the one test hook; see testHooks. */
const KILL_AFTER_ALERT_WRITE = 'KUO_TEST_KILL_AFTER_ALERT_WRITE';

/**
 * A test hook for the kill-between-write-and-notify test only
 * (test/integration/announce-kill.test.ts), never set in a deployment: with
 * KUO_TEST_KILL_AFTER_ALERT_WRITE=fired (or =resolved) the process SIGKILLs itself right after
 * the first ResourceAlert status write that records a firing (a resolution), before that
 * transition is handed to the notifiers. It says so on stderr, synchronously, before it dies.
 */
function testHooks(logger: Logger): OperatorOverrides {
  const hook = process.env[KILL_AFTER_ALERT_WRITE];
  if (hook === undefined || hook === '') return {};
  if (hook !== 'fired' && hook !== 'resolved') {
    throw new ConfigError(
      `${KILL_AFTER_ALERT_WRITE} (a test hook) must be "fired", "resolved" or unset, got ${JSON.stringify(hook)}`,
    );
  }
  logger.warn(
    `test hook active: the process kills itself after the first status write of a ${hook} transition`,
    {
      hook: KILL_AFTER_ALERT_WRITE,
    },
  );
  return {
    afterAlertStatusWrite: (alert, recorded) => {
      if (!recorded.some((t) => t.kind === hook)) return;
      const line = {
        level: 'warn',
        message: 'test hook: SIGKILL after the status write, before the notification',
        alert,
        transition: hook,
      };
      writeSync(2, `${JSON.stringify(line)}\n`);
      process.kill(process.pid, 'SIGKILL');
    },
  };
}

async function main(): Promise<void> {
  let commandLine: CommandLine;
  try {
    commandLine = parseCommandLine(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`kube-usage-operator: ${err.message}\nRun with --help to list the settings.\n`);
    process.exit(2);
  }
  if (commandLine.kind === 'help') {
    process.stdout.write(commandLine.text);
    return;
  }
  const { config } = commandLine;
  const logger = createLogger(config.logLevel, { identity: config.identity });
  process.on('unhandledRejection', (reason) =>
    logger.error('unhandled rejection', { error: errorMessage(reason) }),
  );
  try {
    const operator = await startOperator(config, logger, testHooks(logger));
    exitOnShutdownSignal({ shutdown: () => operator.stop(), logger, timeoutMs: config.shutdownTimeoutMs });
  } catch (err) {
    logger.error('operator failed to start', { error: errorMessage(err) });
    process.exit(1);
  }
}

void main();
