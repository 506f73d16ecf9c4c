// The architecture table and everything derived from it (README: "How the code is laid out").
export * from './types';
export { ARCH_TABLE, MODEL_TENSORS, LAYER_PREFIX, PEFT_PREFIX, SUPPORTED_ARCHITECTURES, REFUSED_ARCHITECTURES } from './families';
export * from './tensors';
export * from './gguf-names';
export * from './features';
