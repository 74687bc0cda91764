import { randomBytes } from 'node:crypto';
import type { Store } from '../store/contract.ts';

/** The store setting that holds the generated webhook secret. */
export const WEBHOOK_SECRET_SETTING = 'webhook.secret';

/**
 * The webhook secret kept in the store, generated on first use (`whsec_` and 64 hex digits). Every
 * worker and server on one store gets the same one, so receivers need to be told only once.
 * Use it when no secret is configured: `createWorker({ ..., webhookSecret: await getWebhookSecret(store) })`.
 */
export function getWebhookSecret(store: Store): Promise<string> {
  return store.settingInit({
    key: WEBHOOK_SECRET_SETTING,
    value: `whsec_${randomBytes(32).toString('hex')}`,
  });
}
