import { VideoIOError } from './errors.js';
import { resizeBilinear } from './resize.js';
import type {
  ContextViewOptions,
  FrameTensor,
  PatchBox,
  PixelView,
  PixelViewOptions,
} from './types.js';

function checkFrames(frames: FrameTensor, argument: string): [number, number, number] {
  if (!frames || !(frames.frames instanceof Uint8Array) || !Array.isArray(frames.shape)) {
    throw new VideoIOError(
      'E_SHAPE',
      `${argument} must be { frames: Uint8Array, shape: [M, H, W, 3] }`,
    );
  }
  const shape = frames.shape;
  if (shape.length !== 4 || shape[3] !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new VideoIOError(
      'E_SHAPE',
      `${argument}.shape must be [M, H, W, 3] with positive sizes, got [${shape.join(', ')}]`,
    );
  }
  const expected = shape[0] * shape[1] * shape[2] * 3;
  if (frames.frames.length !== expected) {
    throw new VideoIOError(
      'E_SHAPE',
      `${argument}.frames has ${frames.frames.length} bytes but shape [${shape.join(', ')}] needs ${expected}`,
    );
  }
  return [shape[0], shape[1], shape[2]];
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1)
    throw new VideoIOError('E_ARGUMENT', `${name} must be a positive integer, got ${value}`);
  return value;
}

/**
 * CP-LLM's context view: each frame resized to `size × size` with bilinear
 * filtering, aspect ratio ignored.
 *
 * @param frames shape [M, H, W, 3], uint8 RGB
 * @returns shape [M, size, size, 3], uint8 RGB
 */
export function contextView(
  frames: FrameTensor,
  options: ContextViewOptions = {},
): FrameTensor & { shape: [number, number, number, 3] } {
  const [m, h, w] = checkFrames(frames, 'frames');
  const size = positiveInt(options.size ?? 448, 'options.size');
  const out = new Uint8Array(m * size * size * 3);
  for (let i = 0; i < m; i++)
    resizeBilinear(frames.frames, i * h * w * 3, h, w, out, i * size * size * 3, size, size);
  return { frames: out, shape: [m, size, size, 3] };
}

/**
 * The size `[height, width]` a `height × width` frame is resized to for the
 * pixel view: aspect kept, fitted within `fit = [short, long]` oriented like
 * the frame (landscape: `long` wide and `short` high; portrait: `short` wide
 * and `long` high), never smaller than one patch.
 */
export function pixelViewSize(
  height: number,
  width: number,
  fit: [number, number] = [540, 1080],
  patch = 224,
  upscale = true,
): [number, number] {
  const [short, long] = fit;
  const [boxH, boxW] = width >= height ? [short, long] : [long, short];
  let scale = Math.min(boxW / width, boxH / height);
  if (!upscale) scale = Math.min(scale, 1);
  scale = Math.max(scale, patch / width, patch / height);
  return [Math.max(patch, Math.round(height * scale)), Math.max(patch, Math.round(width * scale))];
}

/**
 * Where the K patches lie in a `height × width` frame: the frame is split
 * into an r × c grid of equal cells (r·c ≥ K; the smallest grid whose cells
 * hold a whole patch, closest to the frame's aspect; if none does, the one
 * that crowds least); patch j is centred in cell `floor(j · r·c / K)` in
 * raster order. Patches are disjoint whenever the cells are at least
 * `patch` pixels in each direction.
 */
export function patchLayout(
  height: number,
  width: number,
  patch: number,
  k: number,
): { patches: PatchBox[]; overlapping: boolean } {
  const aspect = width / height;
  let best: { r: number; c: number; key: number[] } | undefined;
  for (let r = 1; r <= k; r++) {
    const c = Math.ceil(k / r);
    const crowding = Math.max((c * patch) / width, (r * patch) / height);
    const fits = crowding <= 1 ? 0 : 1;
    const key = [fits, fits ? crowding : r * c, Math.abs(Math.log(c / r / aspect))];
    if (
      !best ||
      key[0] < best.key[0] ||
      (key[0] === best.key[0] &&
        (key[1] < best.key[1] || (key[1] === best.key[1] && key[2] < best.key[2])))
    ) {
      best = { r, c, key };
    }
  }
  const { r, c } = best!;
  const cells = r * c;
  const patches: PatchBox[] = [];
  for (let j = 0; j < k; j++) {
    const cell = Math.floor((j * cells) / k);
    const row = Math.floor(cell / c);
    const col = cell % c;
    const x = Math.round(((col + 0.5) * width) / c - patch / 2);
    const y = Math.round(((row + 0.5) * height) / r - patch / 2);
    patches.push({
      x: Math.min(width - patch, Math.max(0, x)),
      y: Math.min(height - patch, Math.max(0, y)),
    });
  }
  let overlapping = false;
  for (let a = 0; a < k && !overlapping; a++) {
    for (let b = a + 1; b < k; b++) {
      if (
        Math.abs(patches[a].x - patches[b].x) < patch &&
        Math.abs(patches[a].y - patches[b].y) < patch
      ) {
        overlapping = true;
        break;
      }
    }
  }
  return { patches, overlapping };
}

/**
 * CP-LLM's pixel view: each frame resized with bilinear filtering, aspect
 * kept, to fit within `fit` (see {@link pixelViewSize}), then K
 * `patch × patch` crops laid out by {@link patchLayout}.
 *
 * @param frames shape [M, H, W, 3], uint8 RGB
 * @returns `frames` of shape [M, K, patch, patch, 3], uint8 RGB, plus the layout
 */
export function pixelView(frames: FrameTensor, options: PixelViewOptions = {}): PixelView {
  const [m, h, w] = checkFrames(frames, 'frames');
  const fit = options.fit ?? [540, 1080];
  if (!Array.isArray(fit) || fit.length !== 2) {
    throw new VideoIOError(
      'E_ARGUMENT',
      `options.fit must be [short, long], got ${JSON.stringify(fit)}`,
    );
  }
  const short = positiveInt(Math.min(fit[0], fit[1]), 'options.fit[0]');
  const long = positiveInt(Math.max(fit[0], fit[1]), 'options.fit[1]');
  const patch = positiveInt(options.patch ?? 224, 'options.patch');
  const k = positiveInt(options.k ?? 8, 'options.k');
  const [rh, rw] = pixelViewSize(h, w, [short, long], patch, options.upscale ?? true);
  const { patches, overlapping } = patchLayout(rh, rw, patch, k);
  const resized = new Uint8Array(rh * rw * 3);
  const patchBytes = patch * patch * 3;
  const out = new Uint8Array(m * k * patchBytes);
  const rowBytes = patch * 3;
  for (let i = 0; i < m; i++) {
    resizeBilinear(frames.frames, i * h * w * 3, h, w, resized, 0, rh, rw);
    patches.forEach(({ x, y }, j) => {
      const base = (i * k + j) * patchBytes;
      for (let row = 0; row < patch; row++) {
        const from = ((y + row) * rw + x) * 3;
        out.set(resized.subarray(from, from + rowBytes), base + row * rowBytes);
      }
    });
  }
  return { frames: out, shape: [m, k, patch, patch, 3], resized: [rh, rw], patches, overlapping };
}
