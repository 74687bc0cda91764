import { z } from 'zod';
import { closest } from './closest.ts';
import { ErrorCodes, OffloadError } from './errors.ts';


/**
 * Validates one options object against its schema and returns it with defaults applied.
 * Unknown keys are refused with a "did you mean" suggestion; every other problem names the option
 * and what it accepts. This is the one place options of public constructors are checked.
 */
export function parseOptions<Schema extends z.ZodObject>(
  label: string,
  schema: Schema,
  input: unknown,
): z.output<Schema> {
  if (input === undefined) input = {};
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid(`${label}: options must be an object, got ${describe(input)}`, label);
  }
  const known = Object.keys(schema.shape);
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) {
      const guess = closest(key, known);
      const hint = guess ? `, did you mean \`${guess}\`?` : `; known options: ${known.join(', ')}`;
      throw invalid(`${label}: unknown option \`${key}\`${hint}`, label, key);
    }
  }
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.join('.');
  throw invalid(`${label}: option \`${path}\` ${issue.message}`, label, path);
}

function invalid(message: string, label: string, option?: string): OffloadError {
  return new OffloadError(ErrorCodes.INVALID_OPTION, message, {
    details: { label, ...(option === undefined ? {} : { option }) },
  });
}

/** A short description of a value's type for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/** Reusable option schemas, so every constructor says the same thing about the same kind of value. */
export const optionSchemas = {
  milliseconds: z.number().int('must be a whole number of milliseconds').min(0, 'must be 0 or more'),
  positiveInt: z.number().int('must be a whole number').min(1, 'must be 1 or more'),
  name: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/,
      'must be 1-200 characters: letters, digits, and _ . : - (starting with a letter or digit)',
    ),
};
