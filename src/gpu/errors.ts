// Typed GPU errors: the UI and the CLI match on `name`, never on message text.

export class GpuError extends Error {
  override name = 'GpuError';
}

/** No WebGPU API, or no adapter: the environment cannot run the engine at all. */
export class GpuUnavailableError extends GpuError {
  override name = 'GpuUnavailableError';
}

/** The adapter lacks a limit or feature the run needs; says which and what it has. */
export class GpuLimitError extends GpuError {
  override name = 'GpuLimitError';
  constructor(
    readonly limit: string,
    readonly needed: number,
    readonly available: number,
  ) {
    super(`GPU limit ${limit}: need ${needed}, this adapter offers ${available}`);
  }
}

/** The device was lost (driver reset, tab in background too long, destroyed). State on it is gone. */
export class GpuDeviceLostError extends GpuError {
  override name = 'GpuDeviceLostError';
}

/** A WebGPU validation error: a bug in the engine (bad binding, bad shape), never user input. */
export class GpuValidationError extends GpuError {
  override name = 'GpuValidationError';
}

/** The GPU ran out of memory while allocating a buffer. */
export class GpuOutOfMemoryError extends GpuError {
  override name = 'GpuOutOfMemoryError';
}
