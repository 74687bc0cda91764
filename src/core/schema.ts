import { ErrorCodes, OffloadError } from './errors.ts';

/**
 * The Standard Schema interface (standardschema.dev), implemented by zod, valibot, arktype and
 * others: a task's `schema` may come from any of them.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (
      value: unknown,
    ) => StandardSchemaResult<Output> | Promise<StandardSchemaResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

type StandardSchemaResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | {
      readonly issues: ReadonlyArray<{
        readonly message: string;
        readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
      }>;
    };

export type InferSchemaInput<S> = S extends StandardSchemaV1<infer I, unknown> ? I : never;
export type InferSchemaOutput<S> = S extends StandardSchemaV1<unknown, infer O> ? O : never;

export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { '~standard'?: { validate?: unknown } })['~standard']?.validate === 'function'
  );
}

/** Checks a payload against a task's schema; the error names each field that is wrong. */
export async function validateWithSchema(
  schema: StandardSchemaV1,
  value: unknown,
  taskName: string,
): Promise<unknown> {
  const result = await schema['~standard'].validate(value);
  if (!result.issues) return result.value;
  const fields = result.issues.map((issue) => ({
    path: (issue.path ?? [])
      .map((part) => String(typeof part === 'object' ? part.key : part))
      .join('.'),
    message: issue.message,
  }));
  const problems = fields.map((field) =>
    field.path ? `${field.path}: ${field.message}` : field.message,
  );
  throw new OffloadError(
    ErrorCodes.INVALID_PAYLOAD,
    `payload for task "${taskName}" does not match its schema: ${problems.join('; ')}`,
    { details: { task: taskName, issues: problems, fields } },
  );
}
