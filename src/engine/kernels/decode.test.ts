import { describe } from 'vitest';
import { decodeChecks } from './decode.check';
import { itChecks } from './testing';

describe('decode kernels (KV cache): GPU vs CPU', () => itChecks(decodeChecks));
