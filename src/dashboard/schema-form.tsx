import { useState } from 'preact/hooks';
import type { FieldError, JsonSchema } from './api.ts';

/** Whether the form can draw this schema field by field (a flat object of simple fields). */
export function isSimpleObject(
  schema: JsonSchema | null,
): schema is JsonSchema & { properties: Record<string, JsonSchema> } {
  if (!schema || schema.type !== 'object' || !schema.properties) return false;
  return Object.values(schema.properties).every(
    (field) =>
      field.enum || ['string', 'number', 'integer', 'boolean'].includes(String(field.type)),
  );
}

/**
 * A form generated from a task's payload JSON Schema: one input per field, typed by the schema,
 * with the server's field errors shown beside the field they name. Other schemas get a JSON box.
 */
export function PayloadForm({
  schema,
  example,
  errors,
  onSubmit,
}: {
  schema: JsonSchema | null;
  example: unknown;
  errors: FieldError[];
  onSubmit: (payload: unknown) => void;
}) {
  const simple = isSimpleObject(schema);
  const initial = (example ?? {}) as Record<string, unknown>;
  const [values, setValues] = useState<Record<string, string | boolean>>(() =>
    simple
      ? Object.fromEntries(
          Object.entries(schema.properties).map(([key, field]) => [
            key,
            field.type === 'boolean'
              ? initial[key] === true
              : initial[key] === undefined
                ? ''
                : String(initial[key]),
          ]),
        )
      : {},
  );
  const [json, setJson] = useState(() => JSON.stringify(example ?? {}, null, 2));
  const [localError, setLocalError] = useState<string | undefined>(undefined);
  const errorFor = (key: string) =>
    errors.find((e) => e.field.endsWith(`.${key}`) || e.field.endsWith(`payload.${key}`))?.message;

  const submit = (event: Event) => {
    event.preventDefault();
    setLocalError(undefined);
    if (!simple) {
      try {
        onSubmit(JSON.parse(json));
      } catch (error) {
        setLocalError(`The payload is not JSON: ${(error as Error).message}`);
      }
      return;
    }
    const payload: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(schema.properties)) {
      const raw = values[key];
      if (field.type === 'boolean') payload[key] = raw === true;
      else if (raw === '' || raw === undefined) continue;
      else if (field.type === 'number' || field.type === 'integer')
        payload[key] = Number.isFinite(Number(raw)) ? Number(raw) : raw;
      else payload[key] = raw;
    }
    onSubmit(payload);
  };

  return (
    <form onSubmit={submit} class="payload-form">
      {simple ? (
        Object.entries(schema.properties).map(([key, field]) => {
          const id = `field-${key}`;
          const message = errorFor(key);
          const required = schema.required?.includes(key) ?? false;
          const set = (value: string | boolean) => setValues((all) => ({ ...all, [key]: value }));
          return (
            <div class="field">
              <label for={id}>
                {key}
                {required ? ' (required)' : ''}
              </label>
              {field.enum ? (
                <select
                  id={id}
                  value={String(values[key] ?? '')}
                  onChange={(e) => set((e.target as HTMLSelectElement).value)}
                >
                  <option value="">–</option>
                  {field.enum.map((option) => (
                    <option value={String(option)}>{String(option)}</option>
                  ))}
                </select>
              ) : field.type === 'boolean' ? (
                <input
                  id={id}
                  type="checkbox"
                  checked={values[key] === true}
                  onChange={(e) => set((e.target as HTMLInputElement).checked)}
                />
              ) : (
                <input
                  id={id}
                  type={field.type === 'string' ? 'text' : 'text'}
                  inputMode={field.type === 'string' ? undefined : 'decimal'}
                  value={String(values[key] ?? '')}
                  aria-invalid={message ? 'true' : undefined}
                  aria-describedby={message ? `${id}-error` : undefined}
                  onInput={(e) => set((e.target as HTMLInputElement).value)}
                />
              )}
              {field.description && <small>{field.description}</small>}
              {message && (
                <span id={`${id}-error`} class="error" role="alert">
                  {message}
                </span>
              )}
            </div>
          );
        })
      ) : (
        <div class="field">
          <label for="payload-json">Payload (JSON)</label>
          <textarea
            id="payload-json"
            rows={6}
            value={json}
            onInput={(e) => setJson((e.target as HTMLTextAreaElement).value)}
          />
        </div>
      )}
      {localError && (
        <p class="error" role="alert">
          {localError}
        </p>
      )}
      <button type="submit">Enqueue</button>
    </form>
  );
}
