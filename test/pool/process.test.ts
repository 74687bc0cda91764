import { poolContract } from './contract.ts';

poolContract('process');
