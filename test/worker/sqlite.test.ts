import { sqliteFactory } from '../store-contract/factory.ts';
import { workerSuite } from './worker-suite.ts';

workerSuite('sqlite', () => sqliteFactory('worker'));
