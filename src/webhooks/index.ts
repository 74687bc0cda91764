/**
 * offload/webhooks: what a receiver of offload's webhooks needs, and what a worker that delivers
 * them needs: sign and verify (HMAC-SHA256 over the id, the time and the body), the header names,
 * the store's generated secret and the payload's shape. Loads only Node's crypto. See
 * docs/webhooks.md.
 */
export {
  signWebhook,
  verifyWebhook,
  SIGNATURE_HEADER,
  WEBHOOK_ID_HEADER,
  type WebhookPayload,
} from './signature.ts';
export { getWebhookSecret } from './secret.ts';
export type { DeliveryResult } from './delivery.ts';
export { WEBHOOK_TASK, WEBHOOK_QUEUE } from '../store/contract.ts';
