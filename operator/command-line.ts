/**
 * Command-line parsing shared by the operator and the agent: a flag wins over its environment
 * variable, which wins over the default; errors come back as the caller's own error type.
 */
import { CommanderError, InvalidArgumentError, Option, type Command } from 'commander';

export type Env = Readonly<Record<string, string | undefined>>;

/** One flag and the environment variable that stands for it. */
export interface Setting {
  option: Option;
  env: string;
  parse: (text: string) => unknown;
}

/**
 * Declares a program's flags, each with the environment variable that stands for it (named in
 * its help) and the parser of its text, which throws a plain Error whose message says what the
 * text must be. `settings` lists them for {@link parseFlagsAndEnv}.
 */
export function declareFlags(program: Command): {
  settings: Setting[];
  add: (
    flags: string,
    env: string,
    description: string,
    parse: (text: string) => unknown,
    fallback?: [value: unknown, shown: string],
  ) => void;
} {
  const settings: Setting[] = [];
  const add = (
    flags: string,
    env: string,
    description: string,
    parse: (text: string) => unknown,
    fallback?: [value: unknown, shown: string],
  ): void => {
    const option = new Option(flags, `${description} [env ${env}]`).argParser((text: string) => {
      try {
        return parse(text);
      } catch (err) {
        throw new InvalidArgumentError((err as Error).message);
      }
    });
    if (fallback) option.default(fallback[0], fallback[1]);
    program.addOption(option);
    settings.push({ option, env, parse });
  };
  return { settings, add };
}

/** A text setting that must not be blank. */
export function nonEmpty(text: string): string {
  if (text.trim() === '') throw new Error('must not be empty');
  return text;
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
