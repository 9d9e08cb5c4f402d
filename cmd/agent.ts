#!/usr/bin/env node
/**
 * kube-usage-agent: the node agent's entry point (same package and image as the operator).
 * Flags and environment -> config -> startAgent; stops cleanly on SIGTERM/SIGINT.
 */
import { AgentConfigError, parseAgentCommandLine, type AgentCommandLine } from '../agent/config.js';
import { startAgent } from '../agent/agent.js';
import { createLogger, errorMessage } from '../operator/logging.js';
import { exitOnShutdownSignal } from '../operator/runtime/shutdown.js';

async function main(): Promise<void> {
  let commandLine: AgentCommandLine;
  try {
    commandLine = parseAgentCommandLine(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof AgentConfigError)) throw err;
    process.stderr.write(`kube-usage-agent: ${err.message}\nRun with --help to list the settings.\n`);
    process.exit(2);
  }
  if (commandLine.kind === 'help') {
    process.stdout.write(commandLine.text);
    return;
  }
  const { config } = commandLine;
  const logger = createLogger(config.logLevel, { component: 'agent', node: config.nodeName });
  process.on('unhandledRejection', (reason) =>
    logger.error('unhandled rejection', { error: errorMessage(reason) }),
  );
  try {
    const agent = await startAgent(config, logger);
    exitOnShutdownSignal({ shutdown: () => agent.stop(), logger });
  } catch (err) {
    logger.error('agent failed to start', { error: errorMessage(err) });
    process.exit(1);
  }
}

void main();
