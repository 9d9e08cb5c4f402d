#!/usr/bin/env node
/**
 * The operator's entry point: flags and environment -> config -> startOperator; stops cleanly
 * on SIGTERM/SIGINT. `kube-usage-operator --help` lists every setting.
 */
import { ConfigError, parseCommandLine, type CommandLine } from '../operator/config.js';
import { createLogger, errorMessage } from '../operator/logging.js';
import { startOperator } from './operator/start.js';
import { exitOnShutdownSignal } from '../operator/runtime/shutdown.js';

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
    const operator = await startOperator(config, logger);
    exitOnShutdownSignal({ shutdown: () => operator.stop(), logger, timeoutMs: config.shutdownTimeoutMs });
  } catch (err) {
    logger.error('operator failed to start', { error: errorMessage(err) });
    process.exit(1);
  }
}

void main();
