import { describe } from 'vitest';
import { matmulQChecks } from './matmul-q.check';
import { itChecks } from './testing';

describe('quantized matmul and embedding kernels: GPU vs CPU on the same quantized weights', () => itChecks(matmulQChecks));
