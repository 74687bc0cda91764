import { storeContract } from './contract.ts';
import { sqliteFactory } from './factory.ts';

storeContract('sqlite', () => sqliteFactory('contract'));
