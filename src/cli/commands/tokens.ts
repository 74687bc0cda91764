import type { Command } from 'commander';
import { createToken, listTokens, parseScopes, revokeToken, SCOPES } from '../../auth/tokens.ts';
import { ErrorCodes, OffloadError } from '../../core/errors.ts';
import type { Store } from '../../store/contract.ts';
import { getWebhookSecret } from '../../webhooks/secret.ts';
import { createContext, type CommandContext, type GlobalFlags } from '../context.ts';
import { print, printJson, relativeTime, table } from '../output.ts';

/** `offload token create|list|revoke` and `offload webhook secret`: the credentials kept in the store. */
export function registerTokenCommands(program: Command, globals: () => GlobalFlags): void {
  const token = program
    .command('token')
    .description('API tokens for the HTTP server: create, list, revoke');
  token
    .command('create')
    .description('create a token; it is printed once, only its hash is kept')
    .requiredOption('--name <name>', 'who or what uses it, e.g. billing-service')
    .option(
      '--scope <scope>',
      `what it may do, repeatable (${SCOPES.join(', ')}; admin implies the others)`,
      collect,
      [],
    )
    .action((flags: { name: string; scope: string[] }) =>
      withStore(globals, async (store, context) => {
        const { token: secret, info } = await createToken(store, {
          name: flags.name,
          scopes: parseScopes(flags.scope),
        });
        if (context.json) return printJson({ token: secret, ...info });
        print(
          `created token ${info.id} "${info.name}" (${info.scopes.join(', ')}). Keep it now, it is not shown again:\n${secret}`,
        );
      }),
    );
  token
    .command('list')
    .description('list tokens (never their secrets)')
    .action(() =>
      withStore(globals, async (store, context) => {
        const tokens = await listTokens(store);
        if (context.json) return printJson(tokens);
        if (tokens.length === 0)
          return print('no tokens yet: offload token create --name <name> --scope jobs:write');
        const rows = tokens.map((t) => [
          t.id,
          t.name,
          t.scopes.join(','),
          relativeTime(t.createdAt),
          relativeTime(t.lastUsedAt),
          t.revokedAt === null ? 'active' : `revoked ${relativeTime(t.revokedAt)}`,
        ]);
        print(table(['ID', 'NAME', 'SCOPES', 'CREATED', 'LAST USED', 'STATUS'], rows));
      }),
    );
  token
    .command('revoke <id>')
    .description('revoke a token at once')
    .action((id: string) =>
      withStore(globals, async (store, context) => {
        if (!(await revokeToken(store, id))) {
          throw new OffloadError(
            ErrorCodes.INVALID_OPTION,
            `no active token with id ${id}; list them with \`offload token list\``,
            { details: { id } },
          );
        }
        if (context.json) return printJson({ id, revoked: true });
        print(`token ${id} revoked`);
      }),
    );

  program
    .command('webhook')
    .description('webhook settings')
    .command('secret')
    .description('print the secret that signs webhook deliveries, to configure receivers with')
    .action(() =>
      withStore(globals, async (store, context) => {
        const secret = context.config.webhookSecret ?? (await getWebhookSecret(store));
        if (context.json)
          return printJson({ secret, source: context.config.webhookSecret ? 'config' : 'store' });
        print(secret);
      }),
    );
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function withStore(
  globals: () => GlobalFlags,
  action: (store: Store, context: CommandContext) => Promise<void>,
): Promise<void> {
  const context = await createContext(globals());
  const store = await context.openStore();
  try {
    await action(store, context);
  } finally {
    await store.close();
  }
}
