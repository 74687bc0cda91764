import { InvalidArgumentError } from 'commander';

/** A commander parser for whole-number flags with bounds and a clear message; `max` defaults to none. */
export function intOption(
  flag: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      const range =
        max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
      throw new InvalidArgumentError(`${flag} takes a whole number ${range}, got "${value}"`);
    }
    return parsed;
  };
}

/** A commander parser for flags that take one of a few words, naming them all when the value is none of them. */
export function choiceOption<T extends string>(
  flag: string,
  choices: readonly T[],
): (value: string) => T {
  return (value) => {
    if ((choices as readonly string[]).includes(value)) return value as T;
    const list = `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}`;
    throw new InvalidArgumentError(`${flag} takes ${list}, got "${value}"`);
  };
}

/** A commander parser for JSON flags. */
export function jsonOption(flag: string): (value: string) => unknown {
  return (value) => {
    try {
      return JSON.parse(value) as unknown;
    } catch (error) {
      throw new InvalidArgumentError(
        `${flag} must be JSON (${(error as Error).message}); quote it for the shell, e.g. ${flag} '{"to":"ada"}'`,
      );
    }
  };
}
