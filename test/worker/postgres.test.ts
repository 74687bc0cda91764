import { postgresFactory } from '../store-contract/factory.ts';
import { workerSuite } from './worker-suite.ts';

workerSuite('postgres', () => postgresFactory('worker'));
