import { describe } from 'vitest';
import { addChecks } from './add.check';
import { itChecks } from './testing';

describe('add kernel: GPU vs CPU', () => itChecks(addChecks));
