import { storeContract } from './contract.ts';
import { postgresFactory } from './factory.ts';

storeContract('postgres', () => postgresFactory('contract'));
