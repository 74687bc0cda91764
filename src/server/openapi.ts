import { z } from 'zod';
import type { RouteSpec } from './route.ts';

/** Builds the OpenAPI 3.1 document from the route table, so it always says what the server does. */
export function buildOpenApi(
  routes: readonly RouteSpec[],
  info: { version: string },
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const components: Record<string, unknown> = {};
  const schemaOf = (schema: z.ZodType, io: 'input' | 'output') => {
    const json = z.toJSONSchema(schema, {
      io,
      target: 'draft-2020-12',
      unrepresentable: 'any',
    }) as Record<string, unknown>;
    const definitions = (json.$defs ?? {}) as Record<string, unknown>;
    delete json.$schema;
    delete json.$defs;
    for (const [id, definition] of Object.entries(definitions))
      components[id] = toComponentRefs(definition);
    return toComponentRefs(json);
  };
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters = [
      ...objectParameters(route.params, 'path', schemaOf),
      ...objectParameters(route.query, 'query', schemaOf),
      ...(route.url === '/v1/jobs' && route.method === 'POST'
        ? [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              description: 'Replays return the job first created with this key',
              schema: { type: 'string', maxLength: 255 },
            },
          ]
        : []),
    ];
    paths[path] ??= {};
    paths[path]![route.method.toLowerCase()] = {
      summary: route.summary,
      ...(route.scope ? { security: [{ bearer: [route.scope] }] } : { security: [] }),
      ...(parameters.length ? { parameters } : {}),
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: schemaOf(route.body, 'input') } },
            },
          }
        : {}),
      responses: Object.fromEntries(
        Object.entries(route.responses).map(([status, response]) => [
          status,
          {
            description: response.description,
            ...(response.schema || response.contentType
              ? {
                  content: {
                    [response.contentType ?? 'application/json']: response.schema
                      ? { schema: schemaOf(response.schema, 'output') }
                      : {},
                  },
                }
              : {}),
          },
        ]),
      ),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'offload',
      version: info.version,
      description:
        'Durable background jobs: submit work, get 202 Accepted, learn the outcome by polling, long polling, server-sent events or a signed webhook.',
    },
    components: {
      schemas: components,
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'A token from `offload start` or `offload token create`',
        },
      },
    },
    security: [{ bearer: [] }],
    paths,
  };
}

/** Points `$ref`s of named schemas at `components.schemas`, where the document keeps them once. */
function toComponentRefs(schema: unknown): unknown {
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/$defs/', '"#/components/schemas/'));
}

function objectParameters(
  schema: z.ZodType | undefined,
  where: 'path' | 'query',
  schemaOf: (s: z.ZodType, io: 'input') => unknown,
): unknown[] {
  const shape = (schema as { shape?: Record<string, z.ZodType> } | undefined)?.shape;
  if (!shape) return [];
  return Object.entries(shape).map(([name, field]) => ({
    name,
    in: where,
    required: where === 'path' || !field.safeParse(undefined).success,
    schema: schemaOf(field, 'input'),
  }));
}
