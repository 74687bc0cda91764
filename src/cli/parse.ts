import { InvalidArgumentError } from 'commander';

/** A commander parser for whole-number flags with a lower bound and a clear message. */
export function intOption(flag: string, min: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min) throw new InvalidArgumentError(`${flag} takes a whole number of at least ${min}, got "${value}"`);
    return parsed;
  };
}

/** A commander parser for JSON flags. */
export function jsonOption(flag: string): (value: string) => unknown {
  return (value) => {
    try {
      return JSON.parse(value) as unknown;
    } catch (error) {
      throw new InvalidArgumentError(`${flag} must be JSON (${(error as Error).message}); quote it for the shell, e.g. ${flag} '{"to":"ada"}'`);
    }
  };
}
