/**
 * Command-line parsing shared by the operator and the agent: a flag wins over its environment
 * variable, which wins over the default; errors come back as the caller's own error type.
 */
import { CommanderError, type Command, type Option } from 'commander';

export type Env = Readonly<Record<string, string | undefined>>;

/** One flag and the environment variable that stands for it. */
export interface Setting {
  option: Option;
  env: string;
  parse: (text: string) => unknown;
}

export type ParsedFlags =
  { kind: 'values'; values: Record<string, unknown> } | { kind: 'help'; text: string };

export function parseFlagsAndEnv(
  program: Command,
  settings: readonly Setting[],
  argv: readonly string[],
  env: Env,
  fail: (message: string) => Error,
): ParsedFlags {
  let help = '';
  program.exitOverride().configureOutput({ writeOut: (text) => (help += text), writeErr: () => {} });
  try {
    program.parse([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError && err.code === 'commander.helpDisplayed')
      return { kind: 'help', text: help };
    if (err instanceof CommanderError) throw fail(err.message.replace(/^error: /, ''));
    throw err;
  }
  const values = program.opts();
  for (const { option, env: name, parse } of settings) {
    const key = option.attributeName();
    const text = env[name];
    const source = program.getOptionValueSource(key);
    if (text === undefined || text === '' || (source !== undefined && source !== 'default')) continue;
    try {
      values[key] = parse(text);
    } catch (err) {
      throw fail(`environment variable ${name} (${option.long}): ${(err as Error).message}`);
    }
  }
  return { kind: 'values', values };
}
