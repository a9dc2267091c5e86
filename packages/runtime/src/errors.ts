/**
 * Base class of every error thrown by `@vqlm/runtime`. `code` is a stable
 * string (`E_...`) that callers and the CLI can branch on.
 */
export class RuntimeError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RuntimeError';
    this.code = code;
  }
}

/** A backend could not be initialised (code `E_BACKEND`). */
export class BackendError extends RuntimeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_BACKEND', message, options);
    this.name = 'BackendError';
  }
}

/**
 * A safetensors file is truncated, malformed or asked for something it does
 * not hold. Codes: `E_SAFETENSORS_HEADER`, `E_SAFETENSORS_TRUNCATED`,
 * `E_SAFETENSORS_NAME`, `E_SAFETENSORS_DTYPE`, `E_SAFETENSORS_INDEX`,
 * `E_SAFETENSORS_ARG`, `E_SAFETENSORS_CLOSED`.
 */
export class SafetensorsError extends RuntimeError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'SafetensorsError';
  }
}

/**
 * An ONNX Runtime session could not be created or was fed the wrong inputs.
 * Codes: `E_ONNX_LOAD`, `E_ONNX_INPUT`, `E_ONNX_RUN`, `E_ONNX_DISPOSED`.
 */
export class OnnxSessionError extends RuntimeError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'OnnxSessionError';
  }
}

/** Tensors were left allocated by code that should have freed them (code `E_TENSOR_LEAK`). */
export class TensorLeakError extends RuntimeError {
  readonly before: number;
  readonly after: number;

  constructor(before: number, after: number) {
    super('E_TENSOR_LEAK', `tensor leak: ${after - before} tensor(s) left allocated (before: ${before}, after: ${after})`);
    this.name = 'TensorLeakError';
    this.before = before;
    this.after = after;
  }
}

/** A bad argument to a runtime function (code `E_ARG`). */
export class RuntimeArgumentError extends RuntimeError {
  constructor(message: string) {
    super('E_ARG', message);
    this.name = 'RuntimeArgumentError';
  }
}

/**
 * Two arrays a test expected to be close are not (code `E_NOT_CLOSE`); thrown
 * by `expectArraysClose`. `index` is the first element out of tolerance, or
 * -1 when the lengths differ.
 */
export class ArraysNotCloseError extends RuntimeError {
  readonly index: number;

  constructor(index: number, message: string) {
    super('E_NOT_CLOSE', message);
    this.name = 'ArraysNotCloseError';
    this.index = index;
  }
}
