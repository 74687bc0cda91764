import { poolContract } from './contract.ts';

poolContract('inline');
