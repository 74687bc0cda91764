import { poolContract } from './contract.ts';

poolContract('thread');
