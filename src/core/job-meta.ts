import { z } from 'zod';
import { ErrorCodes, OffloadError } from './errors.ts';
import { describe } from './options.ts';
import { encodeJson } from './payload.ts';

/**
 * Largest `meta` a job may carry, as UTF-8 JSON: 8 KiB. Meta is read with every job (claims, lists),
 * so it is for small facts (a trace context, a tenant, a request id); data goes in the payload.
 */
export const MAX_META_BYTES = 8 * 1024;
/** Most tags a job may carry (after duplicates are dropped). */
export const MAX_TAGS = 20;
/** Most characters of one tag. */
export const MAX_TAG_LENGTH = 64;

/** Control characters (C0, DEL, C1): a tag is printed in lists and URLs, so it holds none. */
const CONTROL = /\p{Cc}/u;

/**
 * Validates a job's `meta` and returns the JSON text a store keeps, or null for none (absent or
 * `{}`). Throws ERR_INVALID_META (naming `field`) when it is not a plain JSON object or its JSON is
 * over {@link MAX_META_BYTES}.
 */
export function encodeMeta(meta: unknown, label: string, field = 'meta'): string | null {
  if (meta === undefined || meta === null) return null;
  if (typeof meta !== 'object' || Array.isArray(meta))
    throw invalid(`${label}: \`${field}\` must be a JSON object, got ${describe(meta)}`, field);
  const json = encodeJson(meta, {
    label: `${label}: \`${field}\``,
    code: ErrorCodes.INVALID_META,
    maxBytes: Number.POSITIVE_INFINITY,
    limitOption: '',
    details: { field },
  });
  if (json === '{}') return null;
  const bytes = json.length * 3 > MAX_META_BYTES ? Buffer.byteLength(json, 'utf8') : 0;
  if (bytes > MAX_META_BYTES)
    throw invalid(
      `${label}: \`${field}\` is ${bytes} bytes of JSON, over the limit of ${MAX_META_BYTES}; keep meta to small facts (ids, a trace context) and put data in the payload`,
      field,
      { bytes, maxBytes: MAX_META_BYTES },
    );
  return json;
}

/**
 * Validates a job's `tags` and returns them without duplicates (first occurrence order), or null
 * for none (absent or empty). Each tag is a string of 1 to {@link MAX_TAG_LENGTH} characters without
 * control characters; at most {@link MAX_TAGS} distinct tags.
 */
export function parseTags(tags: unknown, label: string, field = 'tags'): string[] | null {
  if (tags === undefined || tags === null) return null;
  if (!Array.isArray(tags))
    throw invalid(
      `${label}: \`${field}\` must be an array of strings, got ${describe(tags)}`,
      field,
    );
  if (tags.length === 0) return null;
  const distinct = new Set<string>();
  for (const [i, tag] of tags.entries()) {
    const problem = tagProblem(tag);
    if (problem) throw invalid(`${label}: \`${field}[${i}]\` ${problem}`, `${field}.${i}`);
    distinct.add(tag as string);
  }
  if (distinct.size > MAX_TAGS)
    throw invalid(
      `${label}: \`${field}\` holds ${distinct.size} distinct tags, over the limit of ${MAX_TAGS}`,
      field,
    );
  return [...distinct];
}

/** One tag as a filter field (a listing, a bulk action): refused as an invalid option otherwise. */
export const tagFilterSchema = z
  .unknown()
  .superRefine((tag, ctx) => {
    const problem = tagProblem(tag);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .transform((tag) => tag as string);

/** Why `tag` is no tag, or undefined when it is one. */
export function tagProblem(tag: unknown): string | undefined {
  if (typeof tag !== 'string') return `must be a string, got ${describe(tag)}`;
  if (tag.length === 0 || tag.length > MAX_TAG_LENGTH)
    return `must be 1-${MAX_TAG_LENGTH} characters, got ${tag.length}`;
  if (CONTROL.test(tag)) return 'must not contain control characters';
  return undefined;
}

function invalid(
  message: string,
  field: string,
  extra: Record<string, unknown> = {},
): OffloadError {
  return new OffloadError(ErrorCodes.INVALID_META, message, { details: { field, ...extra } });
}
